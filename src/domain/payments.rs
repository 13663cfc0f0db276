//! Online top-ups, processor-neutral: what is on offer, what a payment record says, and
//! the Stripe webhook signature (pure: the clock and secret are passed in).

use super::ids::UserId;
use crate::error::AppError;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A fixed offer: `credits` for `amount` (smallest currency unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub credits: i64,
    pub amount: i64,
}

/// Default bounds of a free amount (smallest unit): 1.00 to 1000.00.
pub const DEFAULT_MIN_AMOUNT: i64 = 100;
pub const DEFAULT_MAX_AMOUNT: i64 = 100_000;

/// Reject an offer that cannot be sold: non-positive numbers, nothing on offer.
pub fn check_offer(
    packages: &[Package],
    credits_per_unit: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<(), String> {
    if packages.is_empty() && credits_per_unit.is_none() {
        return Err("set packages or credits_per_unit (or both)".into());
    }
    for (i, p) in packages.iter().enumerate() {
        if p.credits <= 0 || p.amount <= 0 {
            return Err(format!(
                "packages[{i}]: credits and amount must be positive"
            ));
        }
    }
    if credits_per_unit.is_some_and(|r| r <= 0) {
        return Err("credits_per_unit must be positive".into());
    }
    let (lo, hi) = (
        min.unwrap_or(DEFAULT_MIN_AMOUNT),
        max.unwrap_or(DEFAULT_MAX_AMOUNT),
    );
    if lo <= 0 || hi < lo {
        return Err("min_amount must be positive and at most max_amount".into());
    }
    Ok(())
}

/// What the customer chose on the top-up page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Index into the packages.
    Package(usize),
    /// A free amount in the smallest unit.
    Amount(i64),
}

/// The offer, resolved: credits and price of one checkout.
pub fn quote(
    packages: &[Package],
    credits_per_unit: Option<i64>,
    min: Option<i64>,
    max: Option<i64>,
    choice: Choice,
) -> Result<Package, AppError> {
    match choice {
        Choice::Package(i) => packages.get(i).copied().ok_or_else(|| {
            AppError::invalid(
                "package",
                format!(
                    "there are {} packages (0 to {})",
                    packages.len(),
                    packages.len().saturating_sub(1)
                ),
            )
        }),
        Choice::Amount(amount) => {
            let rate = credits_per_unit.ok_or_else(|| {
                AppError::invalid(
                    "amount",
                    "this server sells packages only; choose a package",
                )
            })?;
            let (lo, hi) = (
                min.unwrap_or(DEFAULT_MIN_AMOUNT),
                max.unwrap_or(DEFAULT_MAX_AMOUNT),
            );
            if !(lo..=hi).contains(&amount) {
                return Err(AppError::invalid(
                    "amount",
                    format!("the amount must be between {lo} and {hi} (smallest currency unit)"),
                ));
            }
            let credits = amount
                .checked_mul(rate)
                .ok_or_else(|| AppError::invalid("amount", "the amount is out of range"))?;
            Ok(Package { credits, amount })
        }
    }
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Checkout created; the customer has not paid (yet).
    Pending,
    /// Paid and credited (exactly once: `ledger_id`).
    Paid,
    /// The checkout expired unpaid.
    Expired,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Expired => "expired",
        }
    }
}

/// One checkout, as stored under its processor session id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The processor's session id (`cs_...` for Stripe).
    pub id: String,
    pub processor: String,
    pub user_id: UserId,
    pub credits: i64,
    pub amount: i64,
    pub currency: String,
    pub status: PaymentStatus,
    pub created_at_ms: i64,
    #[serde(default)]
    pub paid_at_ms: Option<i64>,
    /// The ledger entry that credited it.
    #[serde(default)]
    pub ledger_id: Option<u64>,
    /// The processor's payment id (Stripe: the PaymentIntent), to match refunds.
    #[serde(default)]
    pub payment_ref: Option<String>,
    /// Refunds and disputes reported by the processor (never debited automatically).
    #[serde(default)]
    pub notices: Vec<PaymentNotice>,
}

/// A refund or dispute the processor reported, for the operator to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotice {
    pub event_id: String,
    /// e.g. `charge.refunded`, `charge.dispute.created`.
    pub kind: String,
    pub amount: i64,
    pub at_ms: i64,
}

/// What the processor says about a checkout when asked (or in a signed event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub id: String,
    pub paid: bool,
    pub expired: bool,
    pub amount: i64,
    pub currency: String,
    /// Our account id, as we put it into the checkout.
    pub reference: Option<String>,
    pub payment_ref: Option<String>,
    /// The credits we wrote into the checkout's metadata when we opened it: lets a paid
    /// checkout whose local record was lost still be credited.
    pub credits: Option<i64>,
}

/// What to do with a payment given the processor's state of its checkout. Credits only
/// from `Pending`, so replays, duplicates and late events change nothing; amounts and
/// account must match what was stored when the checkout was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    Credit,
    Expire,
    Nothing,
}

pub fn settle(p: &Payment, s: &SessionState) -> Result<Settle, String> {
    if s.amount != p.amount || !s.currency.eq_ignore_ascii_case(&p.currency) {
        return Err(format!(
            "session {} says {} {} but {} {} was stored",
            s.id, s.amount, s.currency, p.amount, p.currency
        ));
    }
    if s.reference.as_deref() != Some(p.user_id.to_string().as_str()) {
        return Err(format!("session {} names another account", s.id));
    }
    Ok(match (p.status, s.paid, s.expired) {
        (PaymentStatus::Pending, true, _) => Settle::Credit,
        (PaymentStatus::Pending, false, true) => Settle::Expire,
        // An expired checkout that was paid after all (async methods): credit it.
        (PaymentStatus::Expired, true, _) => Settle::Credit,
        _ => Settle::Nothing,
    })
}

/// How far a Stripe webhook's timestamp may be from now.
pub const STRIPE_TOLERANCE_SECS: i64 = 300;

/// Verify `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`: HMAC-SHA256 with the endpoint
/// secret over `"{t}.{payload}"`, any `v1` matching, `t` within the tolerance.
pub fn verify_stripe_signature(
    header: &str,
    payload: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), AppError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or(AppError::BadSignature)?;
    if (now_secs - t).abs() > STRIPE_TOLERANCE_SECS {
        return Err(AppError::BadSignature);
    }
    let expected = stripe_signature(secret, t, payload);
    if sigs
        .iter()
        .any(|s| s.len() == expected.len() && bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
    {
        Ok(())
    } else {
        Err(AppError::BadSignature)
    }
}

/// The `v1` signature of a payload at time `t` (hex).
pub fn stripe_signature(secret: &str, t: i64, payload: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_check_secret_payload_and_age() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = stripe_signature("whsec_x", 1_000, body);
        let h = format!("t=1000,v1=deadbeef,v1={sig}");
        assert!(verify_stripe_signature(&h, body, "whsec_x", 1_100).is_ok());
        assert!(verify_stripe_signature(&h, body, "whsec_y", 1_100).is_err());
        assert!(verify_stripe_signature(&h, b"{}", "whsec_x", 1_100).is_err());
        assert!(verify_stripe_signature(&h, body, "whsec_x", 1_000 + 301).is_err());
        assert!(verify_stripe_signature("v1=abc", body, "whsec_x", 1_000).is_err());
    }

    #[test]
    fn quotes_come_from_packages_or_the_rate() {
        let p = [Package {
            credits: 1000,
            amount: 500,
        }];
        assert_eq!(
            quote(&p, None, None, None, Choice::Package(0))
                .unwrap()
                .credits,
            1000
        );
        assert!(quote(&p, None, None, None, Choice::Package(1)).is_err());
        assert!(quote(&p, None, None, None, Choice::Amount(500)).is_err());
        assert_eq!(
            quote(&p, Some(2), None, None, Choice::Amount(500))
                .unwrap()
                .credits,
            1000
        );
        assert!(quote(&p, Some(2), None, None, Choice::Amount(99)).is_err());
        assert!(
            quote(
                &p,
                Some(i64::MAX),
                Some(1),
                Some(i64::MAX),
                Choice::Amount(5)
            )
            .is_err()
        );
    }

    #[test]
    fn settling_credits_only_a_pending_payment_that_matches() {
        let p = Payment {
            id: "cs_1".into(),
            processor: "stripe".into(),
            user_id: UserId::new(7),
            credits: 10,
            amount: 500,
            currency: "usd".into(),
            status: PaymentStatus::Pending,
            created_at_ms: 0,
            paid_at_ms: None,
            ledger_id: None,
            payment_ref: None,
            notices: vec![],
        };
        let s = SessionState {
            id: "cs_1".into(),
            paid: true,
            expired: false,
            amount: 500,
            currency: "USD".into(),
            reference: Some("7".into()),
            payment_ref: None,
            credits: Some(10),
        };
        assert_eq!(settle(&p, &s), Ok(Settle::Credit));
        let paid = Payment {
            status: PaymentStatus::Paid,
            ..p.clone()
        };
        assert_eq!(settle(&paid, &s), Ok(Settle::Nothing));
        assert!(
            settle(
                &p,
                &SessionState {
                    amount: 1,
                    ..s.clone()
                }
            )
            .is_err()
        );
        assert!(
            settle(
                &p,
                &SessionState {
                    reference: Some("8".into()),
                    ..s.clone()
                }
            )
            .is_err()
        );
        let unpaid = SessionState {
            paid: false,
            expired: true,
            ..s
        };
        assert_eq!(settle(&p, &unpaid), Ok(Settle::Expire));
        assert_eq!(
            settle(&paid, &unpaid),
            Ok(Settle::Nothing),
            "expiry never undoes a payment"
        );
    }
}

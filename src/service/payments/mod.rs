//! Online top-ups behind one small trait: a processor makes checkouts, tells the state
//! of one, and reads its signed webhooks. Stripe is one module; another processor (an
//! epay-style aggregator, say) is another module implementing [`Processor`].

pub mod stripe;

use super::accounts::Principal;
use crate::clock::SharedClock;
use crate::domain::ids::UserId;
use crate::domain::ledger::LedgerEntry;
use crate::domain::payments::{
    self, Choice, Package, Payment, PaymentNotice, PaymentStatus, SessionState,
};
use crate::error::{AppError, AppResult};
use crate::store::{self, Store};
use std::sync::Arc;

/// What is on sale and in which currency.
#[derive(Debug, Clone)]
pub struct Offer {
    pub currency: String,
    pub packages: Vec<Package>,
    pub credits_per_unit: Option<i64>,
    pub min_amount: i64,
    pub max_amount: i64,
}

/// One checkout to open at the processor.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub user_id: UserId,
    pub username: String,
    pub credits: i64,
    pub amount: i64,
    pub currency: String,
    pub success_url: String,
    pub cancel_url: String,
    /// Sent as the processor's idempotency key: a retried create makes no second checkout.
    pub idempotency_key: String,
}

/// An opened checkout: where to send the customer.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: String,
    pub url: String,
}

/// A verified webhook, reduced to what matters here.
#[derive(Debug, Clone)]
pub enum WebhookEvent {
    /// Something happened to a checkout: ask the processor for its current state.
    Session {
        event_id: String,
        session_id: String,
    },
    /// A refund or dispute, recorded for the operator.
    Notice {
        event_id: String,
        payment_ref: String,
        kind: String,
        amount: i64,
    },
    /// Events this server does not use.
    Ignored { event_id: String, kind: String },
}

#[async_trait::async_trait]
pub trait Processor: Send + Sync {
    /// Short name, used in ledger sources (`stripe:cs_...`) and routes.
    fn name(&self) -> &'static str;
    fn offer(&self) -> &Offer;
    async fn create_checkout(&self, req: &CheckoutRequest) -> AppResult<Checkout>;
    /// The processor's current state of a checkout (authoritative, unlike a webhook body).
    async fn retrieve(&self, session_id: &str) -> AppResult<SessionState>;
    /// Verify a webhook's signature and read it.
    fn parse_webhook(&self, signature: &str, body: &[u8], now_ms: i64) -> AppResult<WebhookEvent>;
}

pub struct Payments {
    store: Store,
    clock: SharedClock,
    processor: Option<Arc<dyn Processor>>,
    public_url: String,
}

/// What a webhook did, for the log and the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    Credited { session_id: String, credits: i64 },
    Unchanged,
    Duplicate,
    Recorded,
    Ignored,
}

impl Payments {
    pub fn new(
        store: Store,
        clock: SharedClock,
        processor: Option<Arc<dyn Processor>>,
        public_url: String,
    ) -> Payments {
        Payments {
            store,
            clock,
            processor,
            public_url,
        }
    }

    pub fn processor(&self) -> AppResult<&Arc<dyn Processor>> {
        self.processor
            .as_ref()
            .ok_or(AppError::PaymentsNotConfigured)
    }

    pub fn offer(&self) -> Option<&Offer> {
        self.processor.as_ref().map(|p| p.offer())
    }

    /// Open a checkout for the caller and remember it as pending.
    pub async fn checkout(&self, who: &Principal, choice: Choice) -> AppResult<(Payment, String)> {
        let p = self.processor()?;
        let o = p.offer();
        let quote = payments::quote(
            &o.packages,
            o.credits_per_unit,
            Some(o.min_amount),
            Some(o.max_amount),
            choice,
        )?;
        let req = CheckoutRequest {
            user_id: who.user.id,
            username: who.user.username.clone(),
            credits: quote.credits,
            amount: quote.amount,
            currency: o.currency.clone(),
            success_url: format!(
                "{}/#/topup?session_id={{CHECKOUT_SESSION_ID}}",
                self.public_url
            ),
            cancel_url: format!("{}/#/topup?cancelled=1", self.public_url),
            idempotency_key: format!("videoapi-{}", crate::domain::ids::random_hex(16)),
        };
        // One retry with the same idempotency key: a lost answer makes no second session.
        let made = match p.create_checkout(&req).await {
            Err(AppError::PaymentProvider { .. }) => p.create_checkout(&req).await?,
            other => other?,
        };
        let payment = Payment {
            id: made.id.clone(),
            processor: p.name().to_string(),
            user_id: who.user.id,
            credits: quote.credits,
            amount: quote.amount,
            currency: o.currency.clone(),
            status: PaymentStatus::Pending,
            created_at_ms: self.clock.now_ms(),
            paid_at_ms: None,
            ledger_id: None,
            payment_ref: None,
            notices: Vec::new(),
        };
        let rec = payment.clone();
        if let Err(e) = self
            .store
            .write(move |txn| store::payments::create(txn, &rec))
            .await
        {
            // The checkout exists at the processor but not here: name it for reconciling.
            tracing::error!(session = %payment.id, user = who.user.id.get(), error = %e,
                "a checkout was opened but could not be recorded");
            return Err(e);
        }
        Ok((payment, made.url))
    }

    /// Ask the processor about a checkout and apply the answer (credit once, expire, or
    /// nothing). Used by webhooks and by the customer's return from the checkout page,
    /// so a lost webhook still credits.
    async fn sync(
        &self,
        session_id: &str,
        event_id: Option<String>,
    ) -> AppResult<(Payment, Option<LedgerEntry>)> {
        let p = self.processor()?;
        let known = {
            let id = session_id.to_string();
            self.store
                .read(move |txn| store::payments::read(txn, &id))
                .await?
        };
        let state = p.retrieve(session_id).await?;
        if known.is_none() {
            self.adopt(&state).await?;
        }
        let now = self.clock.now_ms();
        self.store
            .write(move |txn| {
                let out = store::payments::settle(txn, &state, now)?;
                if let Some(e) = &event_id {
                    store::payments::first_delivery(txn, e, now)?;
                }
                Ok(out)
            })
            .await
    }

    /// A paid checkout this server opened but has no record of (the record's write failed
    /// after the processor made the session): rebuild the record from what we put into
    /// the checkout (account and credits), read back from the processor with our key.
    /// Anything else (another application's checkouts) stays unknown: 404.
    async fn adopt(&self, s: &SessionState) -> AppResult<()> {
        let unknown = || AppError::not_found(format!("payment {}", s.id));
        let p = self.processor()?;
        let (Some(user_id), Some(credits)) = (
            s.reference.as_deref().and_then(|r| r.parse::<u64>().ok()),
            s.credits.filter(|c| *c > 0),
        ) else {
            return Err(unknown());
        };
        if !s.paid || !s.currency.eq_ignore_ascii_case(&p.offer().currency) {
            return Err(unknown());
        }
        let payment = Payment {
            id: s.id.clone(),
            processor: p.name().to_string(),
            user_id: UserId::new(user_id),
            credits,
            amount: s.amount,
            currency: s.currency.to_lowercase(),
            status: PaymentStatus::Pending,
            created_at_ms: self.clock.now_ms(),
            paid_at_ms: None,
            ledger_id: None,
            payment_ref: None,
            notices: Vec::new(),
        };
        tracing::warn!(session = %s.id, user = user_id, "recording a paid checkout that had no local record");
        self.store
            .write(move |txn| {
                if store::users::get(txn, payment.user_id)?.is_none() {
                    return Err(AppError::not_found("user"));
                }
                store::payments::create(txn, &payment)
            })
            .await
            .or_else(|e| match e {
                // A parallel delivery recorded it first: settle as usual.
                AppError::Conflict { .. } => Ok(()),
                AppError::NotFound { .. } => Err(unknown()),
                other => Err(other),
            })
    }

    /// A webhook delivery: verify, drop redeliveries, apply.
    pub async fn webhook(&self, signature: &str, body: &[u8]) -> AppResult<Handled> {
        let p = self.processor()?;
        let event = p.parse_webhook(signature, body, self.clock.now_ms())?;
        let event_id = match &event {
            WebhookEvent::Session { event_id, .. }
            | WebhookEvent::Notice { event_id, .. }
            | WebhookEvent::Ignored { event_id, .. } => event_id.clone(),
        };
        let seen = {
            let e = event_id.clone();
            self.store
                .read(move |txn| store::payments::seen(txn, &e))
                .await?
        };
        if seen {
            return Ok(Handled::Duplicate);
        }
        match event {
            WebhookEvent::Session { session_id, .. } => {
                match self.sync(&session_id, Some(event_id)).await {
                    Ok((p, Some(_))) => {
                        tracing::info!(session = %p.id, credits = p.credits, "payment credited");
                        Ok(Handled::Credited {
                            session_id: p.id,
                            credits: p.credits,
                        })
                    }
                    Ok((_, None)) => Ok(Handled::Unchanged),
                    // A checkout this server did not open (another app on the account).
                    Err(AppError::NotFound { .. }) => Ok(Handled::Ignored),
                    Err(e) => Err(e),
                }
            }
            WebhookEvent::Notice {
                payment_ref,
                kind,
                amount,
                ..
            } => {
                let now = self.clock.now_ms();
                let n = PaymentNotice {
                    event_id: event_id.clone(),
                    kind,
                    amount,
                    at_ms: now,
                };
                let matched = self
                    .store
                    .write(move |txn| {
                        let ok = store::payments::add_notice(txn, &payment_ref, n)?;
                        if ok {
                            store::payments::first_delivery(txn, &event_id, now)?;
                        }
                        Ok(ok)
                    })
                    .await?;
                if matched {
                    tracing::warn!(
                        "a refund or dispute was reported; see the operator's payments page"
                    );
                    Ok(Handled::Recorded)
                } else {
                    // Maybe ahead of the payment's own event: ask to be sent again later.
                    Err(AppError::conflict(
                        "no credited payment matches this event yet; deliver it again later",
                    ))
                }
            }
            WebhookEvent::Ignored { kind, .. } => {
                tracing::debug!(%kind, "webhook event ignored");
                Ok(Handled::Ignored)
            }
        }
    }

    /// The customer is back from the checkout page: settle now if the webhook is late.
    pub async fn refresh(&self, who: &Principal, session_id: &str) -> AppResult<Payment> {
        let id = session_id.to_string();
        let p = self
            .store
            .read(move |txn| store::payments::read(txn, &id))
            .await?
            .filter(|p| p.user_id == who.user.id)
            .ok_or_else(|| AppError::not_found("payment"))?;
        if p.status == PaymentStatus::Paid {
            return Ok(p);
        }
        Ok(self.sync(session_id, None).await?.0)
    }

    pub async fn history(&self, user_id: UserId) -> AppResult<Vec<Payment>> {
        self.store
            .read(move |txn| store::payments::for_user(txn, user_id, 100))
            .await
    }

    pub async fn all(&self, limit: usize) -> AppResult<Vec<Payment>> {
        self.store
            .read(move |txn| store::payments::all(txn, limit))
            .await
    }
}

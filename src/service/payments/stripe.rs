//! Stripe Checkout: sessions created and read through Stripe's HTTP API (form-encoded,
//! `Authorization: Bearer sk_...`, `Idempotency-Key`), webhooks verified with the
//! endpoint secret. Every request goes through the outbound guard.

use super::{Checkout, CheckoutRequest, Offer, Processor, WebhookEvent};
use crate::config::StripeConfig;
use crate::domain::payments::{self, SessionState};
use crate::error::{AppError, AppResult};
use crate::outbound::{self, Policy, Timeouts};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct Stripe {
    http: reqwest::Client,
    policy: Arc<Policy>,
    api_base: String,
    secret_key: String,
    webhook_secret: String,
    offer: Offer,
}

fn provider_error(m: impl std::fmt::Display) -> AppError {
    AppError::PaymentProvider {
        message: m.to_string(),
    }
}

impl Stripe {
    pub fn new(c: &StripeConfig) -> anyhow::Result<Stripe> {
        let policy = if c.allow_private_cidrs.is_empty() {
            Policy::public_only()
        } else {
            Policy::with_cidrs(&c.allow_private_cidrs)
                .map_err(|e| anyhow::anyhow!("payments.stripe.allow_private_cidrs: {e}"))?
        };
        let policy = Arc::new(policy);
        let http = outbound::client(
            policy.clone(),
            Timeouts {
                connect: Duration::from_secs(10),
                total: Some(Duration::from_secs(30)),
                read: None,
            },
        );
        Ok(Stripe {
            http,
            policy,
            api_base: c.api_base.trim_end_matches('/').to_string(),
            secret_key: c.secret_key.clone().unwrap_or_default(),
            webhook_secret: c.webhook_secret.clone().unwrap_or_default(),
            offer: Offer {
                currency: c.currency.to_lowercase(),
                packages: c.packages.clone(),
                credits_per_unit: c.credits_per_unit,
                min_amount: c.min_amount.unwrap_or(payments::DEFAULT_MIN_AMOUNT),
                max_amount: c.max_amount.unwrap_or(payments::DEFAULT_MAX_AMOUNT),
            },
        })
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> AppResult<Value> {
        let req = req
            .bearer_auth(&self.secret_key)
            .build()
            .map_err(provider_error)?;
        // Literal addresses never reach the guarded resolver: check them here.
        self.policy
            .check_url(req.url())
            .map_err(|r| provider_error(format!("refused by the outbound guard: {r}")))?;
        let resp = self
            .http
            .execute(req)
            .await
            .map_err(|e| match outbound::refusal(&e) {
                Some(r) => provider_error(format!("refused by the outbound guard: {r}")),
                None => provider_error(format!("cannot reach Stripe: {e}")),
            })?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| provider_error(format!("Stripe answered {status} with no JSON: {e}")))?;
        if !status.is_success() {
            let msg = body["error"]["message"].as_str().unwrap_or("no message");
            return Err(provider_error(format!("Stripe answered {status}: {msg}")));
        }
        Ok(body)
    }
}

/// A Checkout Session object as this server needs it.
fn session_state(v: &Value) -> AppResult<SessionState> {
    let id = v["id"]
        .as_str()
        .ok_or_else(|| provider_error("a checkout session without an id"))?;
    Ok(SessionState {
        id: id.to_string(),
        paid: v["payment_status"] == "paid",
        expired: v["status"] == "expired",
        amount: v["amount_total"].as_i64().unwrap_or(-1),
        currency: v["currency"].as_str().unwrap_or("").to_string(),
        reference: v["client_reference_id"].as_str().map(str::to_string),
        payment_ref: v["payment_intent"].as_str().map(str::to_string),
        credits: v["metadata"]["credits"]
            .as_str()
            .and_then(|c| c.parse().ok()),
    })
}

#[async_trait::async_trait]
impl Processor for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn offer(&self) -> &Offer {
        &self.offer
    }

    async fn create_checkout(&self, r: &CheckoutRequest) -> AppResult<Checkout> {
        let uid = r.user_id.to_string();
        let amount = r.amount.to_string();
        let name = format!("{} credits", r.credits);
        let credits = r.credits.to_string();
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("mode", "payment"),
                ("success_url", r.success_url.as_str()),
                ("cancel_url", r.cancel_url.as_str()),
                ("client_reference_id", uid.as_str()),
                ("metadata[user_id]", uid.as_str()),
                ("metadata[username]", r.username.as_str()),
                ("metadata[credits]", credits.as_str()),
                ("line_items[0][quantity]", "1"),
                ("line_items[0][price_data][currency]", r.currency.as_str()),
                ("line_items[0][price_data][unit_amount]", amount.as_str()),
                (
                    "line_items[0][price_data][product_data][name]",
                    name.as_str(),
                ),
            ])
            .finish();
        let v = self
            .call(
                self.http
                    .post(format!("{}/v1/checkout/sessions", self.api_base))
                    .header("Idempotency-Key", &r.idempotency_key)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await?;
        let state = session_state(&v)?;
        let url = v["url"]
            .as_str()
            .ok_or_else(|| provider_error("a checkout session without a url"))?;
        if state.amount != r.amount {
            return Err(provider_error("Stripe made a session for another amount"));
        }
        Ok(Checkout {
            id: state.id,
            url: url.to_string(),
        })
    }

    async fn retrieve(&self, session_id: &str) -> AppResult<SessionState> {
        if !session_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(AppError::invalid("session_id", "not a checkout session id"));
        }
        let v = self
            .call(self.http.get(format!(
                "{}/v1/checkout/sessions/{session_id}",
                self.api_base
            )))
            .await?;
        session_state(&v)
    }

    fn parse_webhook(&self, signature: &str, body: &[u8], now_ms: i64) -> AppResult<WebhookEvent> {
        payments::verify_stripe_signature(signature, body, &self.webhook_secret, now_ms / 1000)?;
        let v: Value = serde_json::from_slice(body).map_err(|e| AppError::InvalidJson {
            message: format!("the event is not JSON: {e}"),
        })?;
        let event_id = v["id"]
            .as_str()
            .ok_or_else(|| AppError::invalid("id", "an event without an id"))?
            .to_string();
        let kind = v["type"].as_str().unwrap_or("").to_string();
        let obj = &v["data"]["object"];
        Ok(match kind.as_str() {
            "checkout.session.completed"
            | "checkout.session.async_payment_succeeded"
            | "checkout.session.async_payment_failed"
            | "checkout.session.expired" => WebhookEvent::Session {
                event_id,
                session_id: obj["id"]
                    .as_str()
                    .ok_or_else(|| AppError::invalid("data.object.id", "no session id"))?
                    .to_string(),
            },
            "charge.refunded" | "charge.dispute.created" | "charge.dispute.closed" => {
                let amount = obj["amount_refunded"]
                    .as_i64()
                    .or_else(|| obj["amount"].as_i64())
                    .unwrap_or(0);
                match obj["payment_intent"].as_str() {
                    Some(pi) => WebhookEvent::Notice {
                        event_id,
                        payment_ref: pi.to_string(),
                        kind,
                        amount,
                    },
                    None => WebhookEvent::Ignored { event_id, kind },
                }
            }
            _ => WebhookEvent::Ignored { event_id, kind },
        })
    }
}

//! Credits in from outside over the public API: `POST /v1/account/redeem` (API key) and
//! the payment processors' webhooks (`POST /payments/{processor}/webhook`).

use super::auth::ApiKeyAuth;
use super::client_addr::client_addr;
use super::errors::ApiError;
use super::failures::*;
use super::public::ApiTags;
use crate::app::AppState;
use crate::error::AppError;
use poem::web::Data;
use poem::{IntoResponse, Request};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

/// A redemption code to add to the account.
#[derive(Debug, Clone, Object)]
pub struct RedeemRequest {
    /// The code as printed; case, spaces and dashes do not matter.
    pub code: String,
}

/// A redeemed code.
#[derive(Debug, Clone, Object)]
pub struct Redeemed {
    /// Always `redemption`.
    pub object: String,
    /// Credits the code added.
    pub credits_added: i64,
    /// The balance after redeeming.
    pub credits: i64,
    /// The ledger entry that records it.
    pub ledger_entry_id: u64,
}

impl Redeemed {
    pub fn from_entry(e: &crate::domain::ledger::LedgerEntry) -> Redeemed {
        Redeemed {
            object: "redemption".into(),
            credits_added: e.amount.get(),
            credits: e.balance_after.get(),
            ledger_entry_id: e.id,
        }
    }
}

#[derive(Clone)]
pub struct RedeemApi;

#[OpenApi]
impl RedeemApi {
    /// Redeem a code
    ///
    /// Adds the code's credits to the key's account, as one ledger entry naming the code.
    /// 404 `code_not_found`, 409 `code_used_up`, 410 `code_expired`, 403 `code_disabled`;
    /// after a few unknown codes from one account or address, 429 `too_many_attempts`
    /// with `Retry-After`.
    #[oai(
        path = "/v1/account/redeem",
        method = "post",
        tag = "ApiTags::Account",
        operation_id = "redeem_code"
    )]
    async fn redeem(
        &self,
        state: Data<&AppState>,
        req: &Request,
        auth: ApiKeyAuth,
        body: Json<RedeemRequest>,
    ) -> Result<Json<Redeemed>, Failure<{ AUTH | BODY | E403 | E404 | E409 | E410 | E429 }>> {
        let (entry, _) = state
            .codes
            .redeem(&auth.0, &body.0.code, client_addr(req))
            .await?;
        Ok(Json(Redeemed::from_entry(&entry)))
    }
}

/// Largest webhook body read (Stripe's events are a few KiB).
const WEBHOOK_LIMIT: usize = 256 * 1024;

/// `POST /payments/{processor}/webhook`: the raw body is what the signature covers, so
/// this is a plain handler, not a typed API route.
#[poem::handler]
pub async fn webhook(
    req: &Request,
    body: poem::Body,
    state: Data<&AppState>,
    poem::web::Path(processor): poem::web::Path<String>,
) -> poem::Response {
    let result = async {
        let p = state.payments.processor()?;
        if p.name() != processor {
            return Err(AppError::not_found(format!(
                "payment processor `{processor}`"
            )));
        }
        let bytes =
            body.into_bytes_limit(WEBHOOK_LIMIT)
                .await
                .map_err(|_| AppError::BodyTooLarge {
                    limit_bytes: WEBHOOK_LIMIT as u64,
                })?;
        let sig = req
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        state.payments.webhook(sig, &bytes).await
    }
    .await;
    match result {
        Ok(handled) => {
            tracing::debug!(?handled, "payment webhook");
            poem::Response::builder()
                .content_type("application/json")
                .body(r#"{"received":true}"#)
        }
        Err(e) => ApiError(e).into_response(),
    }
}

//! Per-operation error responses: which error statuses an operation declares in the spec.
//!
//! The status of an error is still chosen only by the code table in `crate::error`; an
//! operation's `Failure<{ E401 | E404 }>` only says which of those statuses it can answer,
//! so Swagger UI and generated clients list exactly those. An error whose status is not
//! declared is still sent, and logged as a spec bug (the API fuzz catches it too).

use super::errors::{ApiError, ErrorBody};
use crate::error::AppError;
use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};

/// An error answer of an operation that declares the statuses in the bit set `S`.
#[derive(Debug, Clone)]
pub struct Failure<const S: u32>(pub ApiError);

// One bit per error status an operation can declare.
pub const E400: u32 = 1 << 0;
pub const E401: u32 = 1 << 1;
pub const E402: u32 = 1 << 2;
pub const E403: u32 = 1 << 3;
pub const E404: u32 = 1 << 4;
pub const E409: u32 = 1 << 5;
pub const E413: u32 = 1 << 6;
pub const E415: u32 = 1 << 7;
pub const E422: u32 = 1 << 8;
pub const E429: u32 = 1 << 9;
pub const E503: u32 = 1 << 10;
/// 401 on console routes: the same status as [`E401`], described for a session.
pub const S401: u32 = 1 << 11;
pub const E410: u32 = 1 << 12;
pub const E502: u32 = 1 << 13;
pub const E507: u32 = 1 << 14;

/// Any JSON body: malformed JSON, too large, wrong content type, invalid fields.
pub const BODY: u32 = E400 | E413 | E415 | E422;
/// Routes behind an API key: 401 for the key, 403 for its address allow-list.
pub const AUTH: u32 = E401 | E403;
/// Console routes behind a session.
pub const SESSION: u32 = S401;
/// Typed query or path parameters that can fail to parse.
pub const PARAMS: u32 = E400 | E422;
/// State-changing console calls: the CSRF guard (403) and the JSON body cap (413).
pub const CONSOLE_WRITE: u32 = E403 | E413;
/// Operator routes: a customer's session is 403.
pub const ADMIN: u32 = S401 | E403;

/// Every status with the description the spec shows for it.
const STATUSES: &[(u32, u16, &str)] = &[
    (
        E400,
        400,
        "Bad request: malformed JSON (`invalid_json`), or an unknown or disabled model \
         (`model_not_found`, `model_disabled`, `provider_not_configured`).",
    ),
    (
        E401,
        401,
        "No or a wrong API key (`missing_api_key`, `invalid_api_key`), an expired key \
         (`key_expired`), or a disabled user (`user_disabled`).",
    ),
    (
        E402,
        402,
        "Not enough credits (`insufficient_credits`), or the key's or account's budget for \
         the period is used up (`key_budget_exceeded`, `user_budget_exceeded`); nothing was \
         created or charged.",
    ),
    (
        E403,
        403,
        "Not allowed: the key may not use this model (`model_not_allowed`) or be used from \
         this address (`ip_not_allowed`), operator pages for customers, or a cross-site \
         console request (`csrf_rejected`).",
    ),
    (E404, 404, "Not found (or owned by someone else)."),
    (E409, 409, "Conflicts with the current state (`conflict`)."),
    (
        E413,
        413,
        "Body or file larger than the limit (`payload_too_large`), or over the account's \
         storage quota (`storage_quota_exceeded`).",
    ),
    (
        E415,
        415,
        "Wrong Content-Type (`unsupported_content_type`), or a file that is not an image, \
         video or audio or not what its part declares (`unsupported_media_type`).",
    ),
    (
        E422,
        422,
        "A field or parameter is invalid (`invalid_field`, `unknown_field`, \
         `unknown_asset_reference`, `upload_not_found`, ...); `param` names it.",
    ),
    (
        E429,
        429,
        "Too many requests (`rate_limited`: the key's or account's `rpm`, `login_throttled`), \
         or the key's queue is full (`queue_full`); retry after `Retry-After` seconds.",
    ),
    (
        S401,
        401,
        "Not logged in or the session expired (`not_logged_in`), or a wrong password \
         (`invalid_credentials`).",
    ),
    (E503, 503, "The service cannot serve the request now."),
    (
        E410,
        410,
        "Gone: the redemption code expired (`code_expired`), or a stored file expired under \
         the retention policy and was deleted (`file_expired`).",
    ),
    (
        E502,
        502,
        "An outside service (the payment processor, the mail server) failed \
         (`payment_provider_error`, `email_failed`).",
    ),
    (
        E507,
        507,
        "The server is low on disk space (`insufficient_storage`); retry later.",
    ),
];

/// The statuses declared by the bit set `s`, in ascending order.
pub fn declared(s: u32) -> Vec<u16> {
    let mut statuses: Vec<u16> = STATUSES
        .iter()
        .filter(|(bit, _, _)| s & bit != 0)
        .map(|(_, status, _)| *status)
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

impl<const S: u32> From<AppError> for Failure<S> {
    fn from(e: AppError) -> Self {
        Failure(ApiError(e))
    }
}

impl<const S: u32> From<ApiError> for Failure<S> {
    fn from(e: ApiError) -> Self {
        Failure(e)
    }
}

impl<const S: u32> From<Failure<S>> for poem::Error {
    fn from(f: Failure<S>) -> Self {
        let status = f.0.0.status();
        if status < 500 && !declared(S).contains(&status) {
            // A spec bug, not the caller's: the answer is still the right one.
            tracing::warn!(status, error = %f.0, "error status not declared for this operation");
        }
        poem::Error::from(f.0)
    }
}

impl<const S: u32> ApiResponse for Failure<S> {
    fn meta() -> MetaResponses {
        let mut seen = Vec::new();
        MetaResponses {
            responses: STATUSES
                .iter()
                // One entry per status: the first description wins when two bits share one.
                .filter(|(bit, status, _)| {
                    S & bit != 0 && !seen.contains(status) && {
                        seen.push(*status);
                        true
                    }
                })
                .map(|(_, status, description)| MetaResponse {
                    description,
                    status: Some(*status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: <ErrorBody as poem_openapi::types::Type>::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        <ErrorBody as poem_openapi::types::Type>::register(registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_bit() {
        let all = STATUSES.iter().fold(0, |acc, (bit, _, _)| {
            assert_eq!(acc & bit, 0, "bit reused");
            acc | bit
        });
        // 401 has two descriptions (API key, console session).
        assert_eq!(declared(all).len(), STATUSES.len() - 1);
        assert_eq!(declared(E401 | E404), vec![401, 404]);
        assert_eq!(declared(ADMIN), vec![401, 403]);
    }
}

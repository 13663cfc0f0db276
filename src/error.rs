//! The error-code table: every failure a caller can see, its HTTP status, type and code.

use std::fmt;

/// Everything that can go wrong in a use case. The HTTP status is chosen here, in
/// [`AppError::status`], never in a handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("model `{model}` does not exist")]
    UnknownModel { model: String },
    #[error("model `{model}` is disabled")]
    ModelDisabled { model: String },
    #[error("no provider is configured for model `{model}`")]
    NoProvider { model: String },
    #[error("{message}")]
    BadRequest { message: String },
    #[error("missing bearer token: send `Authorization: Bearer vga_...`")]
    MissingKey,
    #[error("invalid API key")]
    InvalidKey,
    #[error("this account is disabled")]
    UserDisabled,
    #[error("invalid username or password")]
    BadLogin,
    #[error("not enough credits: this request needs {needed}, the balance is {balance}")]
    InsufficientCredits { needed: i64, balance: i64 },
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{message}")]
    Conflict { message: String },
    #[error("upload exceeds the limit of {limit_bytes} bytes per file")]
    PayloadTooLarge { limit_bytes: u64 },
    #[error("request body is larger than {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: u64 },
    #[error(
        "unsupported media type `{content_type}`: only image, video and audio files are accepted"
    )]
    UnsupportedMediaType { content_type: String },
    #[error("{message}")]
    Invalid { param: String, message: String },
    #[error("prompt references {reference} but only {available} {kind} asset(s) were given")]
    UnknownReference {
        reference: String,
        available: usize,
        kind: &'static str,
    },
    #[error("too many requests, retry later")]
    RateLimited,
    #[error("not logged in, or the session expired: log in to the console again")]
    NotLoggedIn,
    #[error("too many failed login attempts; try again in {retry_after_secs} seconds")]
    LoginThrottled { retry_after_secs: u64 },
    #[error("too many password checks are running; try again in {retry_after_secs} seconds")]
    LoginBusy { retry_after_secs: u64 },
    #[error("cross-site request refused: {reason}")]
    CrossSite { reason: String },
    #[error("database is locked by a running server")]
    DatabaseLocked,
    #[error("storage error: {0}")]
    Storage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The public columns of one row of the code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub status: u16,
    pub kind: &'static str,
    pub code: &'static str,
}

const fn code(status: u16, kind: &'static str, code: &'static str) -> Code {
    Code { status, kind, code }
}

impl AppError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            param: param.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::Conflict {
            message: message.into(),
        }
    }

    pub fn storage(err: impl fmt::Display) -> Self {
        Self::Storage(err.to_string())
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        Self::Internal(err.to_string())
    }

    /// The code table.
    pub fn code(&self) -> Code {
        use AppError::*;
        match self {
            UnknownModel { .. } => code(400, "invalid_request_error", "model_not_found"),
            ModelDisabled { .. } => code(400, "invalid_request_error", "model_disabled"),
            NoProvider { .. } => code(400, "invalid_request_error", "provider_not_configured"),
            BadRequest { .. } => code(400, "invalid_request_error", "bad_request"),
            MissingKey => code(401, "authentication_error", "missing_api_key"),
            InvalidKey => code(401, "authentication_error", "invalid_api_key"),
            UserDisabled => code(401, "authentication_error", "user_disabled"),
            BadLogin => code(401, "authentication_error", "invalid_credentials"),
            InsufficientCredits { .. } => code(402, "insufficient_credits", "insufficient_credits"),
            Forbidden { .. } => code(403, "permission_error", "forbidden"),
            NotFound { .. } => code(404, "not_found_error", "not_found"),
            Conflict { .. } => code(409, "invalid_request_error", "conflict"),
            PayloadTooLarge { .. } | BodyTooLarge { .. } => {
                code(413, "invalid_request_error", "payload_too_large")
            }
            UnsupportedMediaType { .. } => {
                code(415, "invalid_request_error", "unsupported_media_type")
            }
            Invalid { .. } => code(422, "invalid_request_error", "invalid_field"),
            UnknownReference { .. } => {
                code(422, "invalid_request_error", "unknown_asset_reference")
            }
            RateLimited => code(429, "rate_limit_error", "rate_limited"),
            NotLoggedIn => code(401, "authentication_error", "not_logged_in"),
            LoginThrottled { .. } => code(429, "rate_limit_error", "login_throttled"),
            LoginBusy { .. } => code(429, "rate_limit_error", "login_busy"),
            CrossSite { .. } => code(403, "permission_error", "csrf_rejected"),
            DatabaseLocked => code(503, "server_error", "database_locked"),
            Storage(_) | Internal(_) => code(500, "server_error", "internal_error"),
        }
    }

    pub fn status(&self) -> u16 {
        self.code().status
    }

    /// The request field the error is about, when there is one.
    pub fn param(&self) -> Option<String> {
        match self {
            AppError::Invalid { param, .. } => Some(param.clone()),
            AppError::UnknownReference { .. } => Some("prompt".into()),
            AppError::UnknownModel { .. }
            | AppError::ModelDisabled { .. }
            | AppError::NoProvider { .. } => Some("model".into()),
            AppError::PayloadTooLarge { .. } | AppError::UnsupportedMediaType { .. } => {
                Some("files".into())
            }
            _ => None,
        }
    }

    /// Seconds to send in `Retry-After`: every 429 carries one (1 when the error has no
    /// better figure).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::LoginThrottled { retry_after_secs }
            | AppError::LoginBusy { retry_after_secs } => Some((*retry_after_secs).max(1)),
            other if other.status() == 429 => Some(1),
            _ => None,
        }
    }

    /// The message shown to callers. Internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Storage(_) | AppError::Internal(_) => {
                "internal server error; the incident was logged".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<redb::Error> for AppError {
    fn from(e: redb::Error) -> Self {
        AppError::storage(e)
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for AppError {
            fn from(e: $t) -> Self {
                AppError::storage(e)
            }
        }
    )*};
}
from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::DatabaseError
);

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::storage(format!("corrupt record: {e}"))
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::storage(e)
    }
}

pub type AppResult<T> = Result<T, AppError>;

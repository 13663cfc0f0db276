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
    #[error("this API key expired at {expired_at}; ask for a new key")]
    KeyExpired { expired_at: String },
    #[error("this API key may not use model `{model}`; allowed: {allowed}")]
    ModelNotAllowed { model: String, allowed: String },
    #[error("this API key may not be used from {ip}")]
    IpNotAllowed { ip: String },
    #[error(
        "this API key's budget is used up: {spent} of {budget} credits spent {period}, this request needs {needed}"
    )]
    KeyBudgetExceeded {
        budget: i64,
        spent: i64,
        needed: i64,
        period: String,
    },
    #[error(
        "this account's budget is used up: {spent} of {budget} credits spent {period}, this request needs {needed}"
    )]
    UserBudgetExceeded {
        budget: i64,
        spent: i64,
        needed: i64,
        period: String,
    },
    #[error(
        "too many requests: {limit} creates per minute allowed for this {scope}; retry in {retry_after_secs} s"
    )]
    RpmExceeded {
        scope: &'static str,
        limit: u32,
        retry_after_secs: u64,
    },
    #[error(
        "the queue of this {scope} is full ({max_queued} tasks waiting for a free slot); retry later"
    )]
    QueueFull {
        scope: &'static str,
        max_queued: u32,
    },
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
        "the content is {content_type}: only image, video and audio files are accepted ({})",
        crate::error::ACCEPTED_MEDIA
    )]
    UnsupportedMediaType { content_type: String },
    #[error("{message}")]
    Invalid { param: String, message: String },
    /// A body field the request type does not have (with `strict_request_fields`).
    #[error("unknown field \"{field}\"{}", did_you_mean(suggestion))]
    UnknownField {
        field: String,
        suggestion: Option<String>,
    },
    /// A JSON body that is well-formed but not the expected shape (not an object).
    #[error("{message}")]
    InvalidBody { message: String },
    /// A body that is not JSON at all; the message carries the parser's position.
    #[error("{message}")]
    InvalidJson { message: String },
    #[error("{}", content_type_message(expected, got.as_deref()))]
    UnsupportedContentType {
        expected: &'static str,
        got: Option<String>,
    },
    /// An uploaded file whose bytes are not what its part's Content-Type says.
    #[error(
        "declared {declared} but the content is {detected}{}",
        mismatch_hint(*detected_accepted)
    )]
    MediaMismatch {
        declared: String,
        detected: String,
        /// Whether the content is an accepted format (only the label was wrong).
        detected_accepted: bool,
    },
    /// A URL under this server's own `/uploads/` that names no stored file.
    #[error(
        "{url} is not a file you uploaded to this server (it does not exist, has expired, or belongs to another account); upload it again with POST /api/upload"
    )]
    UploadNotFound { param: String, url: String },
    /// An upload would take the account past its storage quota (uploads only).
    #[error(
        "storage quota exceeded: this account stores {used_bytes} bytes in {used_files} file(s) (quota: {}); delete uploads or wait for them to expire",
        quota_words(*quota_bytes, *quota_files)
    )]
    StorageQuotaExceeded {
        used_bytes: u64,
        used_files: u64,
        quota_bytes: Option<u64>,
        quota_files: Option<u64>,
    },
    /// A stored file that retention (or the operator) removed.
    #[error("{key} has expired and was deleted (retention); the record that named it is kept")]
    FileGone { key: String },
    /// Free disk space is below the operator's watermark: nothing new is stored.
    #[error(
        "the server is low on disk space ({free_bytes} bytes free); uploads are paused, try again later"
    )]
    InsufficientStorage { free_bytes: u64 },
    #[error("prompt references {reference} but only {available} {kind} asset(s) were given")]
    UnknownReference {
        reference: String,
        available: usize,
        kind: &'static str,
    },
    /// `POST /v1/videos/{id}/remix` on a model that takes no reference video.
    #[error(
        "model `{model}` cannot remix: it takes no reference video; create a new video instead"
    )]
    RemixUnsupported { model: String },
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
    #[error("no redemption code matches; check for typos")]
    CodeNotFound,
    #[error("this redemption code has already been used the maximum number of times")]
    CodeUsedUp,
    #[error("this redemption code has expired")]
    CodeExpired,
    #[error("this redemption code has been disabled")]
    CodeDisabled,
    /// Guess-shaped attempts (redeem, sign-up, password reset) from one account or address.
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("{message}")]
    RegistrationClosed { message: String },
    #[error("the invite code is missing, used up, expired or unknown")]
    InviteInvalid,
    #[error("the user name `{username}` is taken")]
    UsernameTaken { username: String },
    #[error("this email address already belongs to an account")]
    EmailTaken,
    #[error("{message}")]
    WeakPassword { message: String },
    #[error("this link is invalid, already used or expired; ask for a new one")]
    TokenInvalid,
    #[error(
        "the email address of this account is not verified yet: open the link in the email we sent"
    )]
    EmailNotVerified,
    #[error("email is not configured on this server (no [smtp] section)")]
    EmailNotConfigured,
    #[error("sending the email failed: {message}")]
    EmailFailed { message: String },
    #[error("online payments are not configured on this server")]
    PaymentsNotConfigured,
    #[error("the payment processor failed: {message}")]
    PaymentProvider { message: String },
    #[error("the webhook signature is missing, wrong or too old")]
    BadSignature,
    #[error("database is locked by a running server")]
    DatabaseLocked,
    #[error("writes are impossible right now: {reason}")]
    Unavailable { reason: String },
    #[error("storage error: {0}")]
    Storage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What uploads accept, in the words error messages use.
pub const ACCEPTED_MEDIA: &str = "PNG, JPEG, WebP, GIF, BMP, TIFF, HEIF, AVIF, MP4, MOV, WebM, MKV, AVI, MP3, WAV, OGG, Opus, FLAC, M4A, AAC";

fn quota_words(bytes: Option<u64>, files: Option<u64>) -> String {
    let b = bytes.map_or("unlimited bytes".to_string(), |b| format!("{b} bytes"));
    let f = files.map_or("unlimited files".to_string(), |f| format!("{f} files"));
    format!("{b}, {f}")
}

fn did_you_mean(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" \u{2014} did you mean \"{s}\"?"),
        None => String::new(),
    }
}

fn content_type_message(expected: &str, got: Option<&str>) -> String {
    match got {
        Some(got) => format!("send the body as {expected} (the Content-Type was {got})"),
        None => format!("send the body as {expected}: the Content-Type header is missing"),
    }
}

fn mismatch_hint(detected_accepted: bool) -> &'static str {
    if detected_accepted {
        "; send the matching Content-Type, or application/octet-stream to let the server recognise it"
    } else {
        "; only image, video and audio files are accepted"
    }
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
            KeyExpired { .. } => code(401, "authentication_error", "key_expired"),
            ModelNotAllowed { .. } => code(403, "permission_error", "model_not_allowed"),
            IpNotAllowed { .. } => code(403, "permission_error", "ip_not_allowed"),
            KeyBudgetExceeded { .. } => code(402, "insufficient_credits", "key_budget_exceeded"),
            UserBudgetExceeded { .. } => code(402, "insufficient_credits", "user_budget_exceeded"),
            RpmExceeded { .. } => code(429, "rate_limit_error", "rate_limited"),
            QueueFull { .. } => code(429, "rate_limit_error", "queue_full"),
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
            Invalid { .. } | InvalidBody { .. } => {
                code(422, "invalid_request_error", "invalid_field")
            }
            UnknownField { .. } => code(422, "invalid_request_error", "unknown_field"),
            InvalidJson { .. } => code(400, "invalid_request_error", "invalid_json"),
            UnsupportedContentType { .. } => {
                code(415, "invalid_request_error", "unsupported_content_type")
            }
            MediaMismatch { .. } => code(415, "invalid_request_error", "unsupported_media_type"),
            UploadNotFound { .. } => code(422, "invalid_request_error", "upload_not_found"),
            StorageQuotaExceeded { .. } => {
                code(413, "invalid_request_error", "storage_quota_exceeded")
            }
            FileGone { .. } => code(410, "not_found_error", "file_expired"),
            InsufficientStorage { .. } => code(507, "server_error", "insufficient_storage"),
            UnknownReference { .. } => {
                code(422, "invalid_request_error", "unknown_asset_reference")
            }
            RemixUnsupported { .. } => code(422, "invalid_request_error", "remix_unsupported"),
            RateLimited => code(429, "rate_limit_error", "rate_limited"),
            NotLoggedIn => code(401, "authentication_error", "not_logged_in"),
            LoginThrottled { .. } => code(429, "rate_limit_error", "login_throttled"),
            LoginBusy { .. } => code(429, "rate_limit_error", "login_busy"),
            CrossSite { .. } => code(403, "permission_error", "csrf_rejected"),
            CodeNotFound => code(404, "not_found_error", "code_not_found"),
            CodeUsedUp => code(409, "invalid_request_error", "code_used_up"),
            CodeExpired => code(410, "invalid_request_error", "code_expired"),
            CodeDisabled => code(403, "permission_error", "code_disabled"),
            TooManyAttempts { .. } => code(429, "rate_limit_error", "too_many_attempts"),
            RegistrationClosed { .. } => code(403, "permission_error", "registration_closed"),
            InviteInvalid => code(403, "permission_error", "invite_invalid"),
            UsernameTaken { .. } => code(409, "invalid_request_error", "username_taken"),
            EmailTaken => code(409, "invalid_request_error", "email_taken"),
            WeakPassword { .. } => code(422, "invalid_request_error", "weak_password"),
            TokenInvalid => code(400, "invalid_request_error", "token_invalid"),
            EmailNotVerified => code(403, "authentication_error", "email_not_verified"),
            EmailNotConfigured => code(409, "invalid_request_error", "email_not_configured"),
            EmailFailed { .. } => code(502, "server_error", "email_failed"),
            PaymentsNotConfigured => code(409, "invalid_request_error", "payments_not_configured"),
            PaymentProvider { .. } => code(502, "server_error", "payment_provider_error"),
            BadSignature => code(400, "invalid_request_error", "invalid_signature"),
            DatabaseLocked => code(503, "server_error", "database_locked"),
            Unavailable { .. } => code(503, "server_error", "service_unavailable"),
            Storage(_) | Internal(_) => code(500, "server_error", "internal_error"),
        }
    }

    pub fn status(&self) -> u16 {
        self.code().status
    }

    /// The request field the error is about, when there is one.
    pub fn param(&self) -> Option<String> {
        match self {
            AppError::Invalid { param, .. } | AppError::UploadNotFound { param, .. } => {
                Some(param.clone())
            }
            AppError::UnknownField { field, .. } => Some(field.clone()),
            AppError::UnknownReference { .. } => Some("prompt".into()),
            AppError::CodeNotFound
            | AppError::CodeUsedUp
            | AppError::CodeExpired
            | AppError::CodeDisabled => Some("code".into()),
            AppError::UsernameTaken { .. } => Some("username".into()),
            AppError::EmailTaken => Some("email".into()),
            AppError::WeakPassword { .. } => Some("password".into()),
            AppError::InviteInvalid => Some("invite_code".into()),
            AppError::UnknownModel { .. }
            | AppError::RemixUnsupported { .. }
            | AppError::ModelDisabled { .. }
            | AppError::NoProvider { .. }
            | AppError::ModelNotAllowed { .. } => Some("model".into()),
            AppError::PayloadTooLarge { .. }
            | AppError::UnsupportedMediaType { .. }
            | AppError::StorageQuotaExceeded { .. }
            | AppError::MediaMismatch { .. } => Some("files".into()),
            _ => None,
        }
    }

    /// Seconds to send in `Retry-After`: every 429 carries one (1 when the error has no
    /// better figure).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::LoginThrottled { retry_after_secs }
            | AppError::LoginBusy { retry_after_secs }
            | AppError::TooManyAttempts { retry_after_secs }
            | AppError::RpmExceeded {
                retry_after_secs, ..
            } => Some((*retry_after_secs).max(1)),
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

//! The one error shape, `{"error":{"message","type","code","param"}}`, for handler errors
//! and for everything the framework rejects before a handler runs.

use crate::error::AppError;
use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object, types::ToJSON};

/// Details of an error.
#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    /// Human-readable explanation, safe to show to end users.
    pub message: String,
    /// Error class: `invalid_request_error`, `authentication_error`, `insufficient_credits`,
    /// `permission_error`, `not_found_error`, `rate_limit_error` or `server_error`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Stable machine-readable code, e.g. `model_not_found`, `invalid_api_key`,
    /// `insufficient_credits`, `payload_too_large`, `invalid_field`, `unknown_asset_reference`.
    pub code: String,
    /// The request field the error is about, or null.
    pub param: Option<String>,
}

/// Every error response has this shape.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// An [`AppError`] on its way out as HTTP.
#[derive(Debug, Clone)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

pub fn json_error(
    status: StatusCode,
    kind: &str,
    code: &str,
    message: String,
    param: Option<String>,
) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            message,
            kind: kind.to_string(),
            code: code.to_string(),
            param,
        },
    };
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_json_string())
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn as_response(&self) -> Response {
        let c = self.0.code();
        if c.status >= 500 {
            // Logged once, here at the boundary; callers get a generic message.
            tracing::error!(error = %self.0, "request failed");
        }
        let mut resp = json_error(
            self.status(),
            c.kind,
            c.code,
            self.0.public_message(),
            self.0.param(),
        );
        if let Some(secs) = self.0.retry_after_secs() {
            resp.headers_mut()
                .insert(poem::http::header::RETRY_AFTER, secs.into());
        }
        if c.status == 401 {
            resp.headers_mut().insert(
                poem::http::header::WWW_AUTHENTICATE,
                poem::http::HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}

const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "Unknown or disabled model, or no provider configured for it.",
    ),
    (
        401,
        "Missing bearer token, wrong API key, or disabled user.",
    ),
    (402, "Not enough credits; nothing was created or charged."),
    (403, "Not allowed for this account."),
    (404, "Not found (or owned by someone else)."),
    (409, "Conflicts with the current state."),
    (413, "Upload larger than the configured limit."),
    (415, "Not an image, video or audio file."),
    (
        422,
        "Invalid field, or the prompt references an asset that was not given.",
    ),
    (429, "Too many requests."),
    (500, "Internal error."),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .map(|(status, description)| MetaResponse {
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

/// Turn whatever the framework produced into the JSON error shape. Responses that are
/// already JSON (our own errors) pass through unchanged.
pub async fn catch_all(err: poem::Error) -> Response {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.as_response();
    }
    let message = err.to_string();
    let is_payload = err.is::<poem_openapi::error::ParseRequestPayloadError>()
        || err.is::<poem::error::ParseJsonError>();
    let is_param = err.is::<poem_openapi::error::ParseParamError>();
    let is_auth = err.is::<poem_openapi::error::AuthorizationError>();
    let is_content_type = err.is::<poem_openapi::error::ContentTypeError>();
    let status = err.status();
    if is_auth {
        return ApiError(AppError::MissingKey).as_response();
    }
    if is_payload || is_param {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request_error",
            "invalid_field",
            clean_parse_message(&message),
            field_of(&message),
        );
    }
    if is_content_type {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_content_type",
            message,
            None,
        );
    }
    let (kind, code) = match status.as_u16() {
        404 => ("not_found_error", "not_found"),
        405 => ("invalid_request_error", "method_not_allowed"),
        413 => ("invalid_request_error", "payload_too_large"),
        411 => ("invalid_request_error", "length_required"),
        s if s >= 500 => ("server_error", "internal_error"),
        _ => ("invalid_request_error", "bad_request"),
    };
    let message = match status.as_u16() {
        404 => "no such route; see /docs for the API".to_string(),
        405 => "method not allowed on this route".to_string(),
        s if s >= 500 => {
            tracing::error!(error = %message, "unhandled error");
            "internal server error; the incident was logged".to_string()
        }
        _ => message,
    };
    let status = if status.is_success() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        status
    };
    json_error(status, kind, code, message, None)
}

fn clean_parse_message(msg: &str) -> String {
    let m = msg
        .trim_start_matches("parse request payload error: ")
        .trim_start_matches("failed to parse parameter ");
    let m = m.split(" (occurred while parsing").next().unwrap_or(m);
    format!("invalid request: {m}")
}

/// Best-effort field name from a parse error such as `failed to parse "string" ... (occurred
/// while parsing "CreateGeneration") [field `model`]`.
fn field_of(msg: &str) -> Option<String> {
    for marker in ["field `", "field \""] {
        if let Some(i) = msg.find(marker) {
            let rest = &msg[i + marker.len()..];
            let end = rest.find(['`', '"'])?;
            return Some(rest[..end].to_string());
        }
    }
    None
}

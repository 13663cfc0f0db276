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
    #[oai(nullable)]
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
/// already JSON (our own errors) pass through unchanged. Parse errors are rewritten into
/// plain words: poem-openapi's messages name Rust types (`"CreateGeneration"`,
/// `integer(uint32)`), which mean nothing to a caller.
pub async fn catch_all(err: poem::Error) -> Response {
    if let Some(api) = err.downcast_ref::<ApiError>() {
        return api.as_response();
    }
    if err.is::<poem_openapi::error::AuthorizationError>() {
        return ApiError(AppError::MissingKey).as_response();
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
        return ApiError(payload_error(&e.reason)).as_response();
    }
    if let Some(e) = err.downcast_ref::<poem::error::ParseJsonError>() {
        return ApiError(payload_error(&e.to_string())).as_response();
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        return ApiError(AppError::invalid(
            e.name,
            format!("\"{}\" {}", e.name, plain_reason(&e.reason)),
        ))
        .as_response();
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ContentTypeError>() {
        let got = match e {
            poem_openapi::error::ContentTypeError::NotSupported { content_type } => {
                Some(content_type.clone())
            }
            poem_openapi::error::ContentTypeError::ExpectContentType => None,
        };
        return ApiError(AppError::UnsupportedContentType {
            expected: "JSON (Content-Type: application/json)",
            got,
        })
        .as_response();
    }
    let message = err.to_string();
    let status = err.status();
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

/// A JSON body the framework refused: not JSON at all (the parser's position in plain
/// words), empty, or the wrong shape for the route.
fn payload_error(reason: &str) -> AppError {
    if let Some(message) = syntax_error(reason) {
        return AppError::InvalidJson { message };
    }
    // The whole body was `null` or empty: the error names only the body's own type.
    if reason.starts_with("Expected input type") && reason.ends_with("found null.") {
        return AppError::InvalidJson {
            message: "the request body is empty: send a JSON object".into(),
        };
    }
    let mut message = format!("invalid request body: {}", plain_reason(reason));
    // poem-openapi says what was wrong but not where; the body's fields help find it.
    if let Some(fields) = body_type(reason).and_then(fields_of) {
        message.push_str(&format!(" (this request's fields: {fields})"));
    }
    match field_of(reason) {
        Some(param) => AppError::Invalid { param, message },
        None => AppError::InvalidBody { message },
    }
}

/// The body's own type, the last `(occurred while parsing "Type")` of a parse reason.
fn body_type(reason: &str) -> Option<&str> {
    let marker = "(occurred while parsing \"";
    let i = reason.rfind(marker)?;
    let rest = &reason[i + marker.len()..];
    rest.split('"').next()
}

/// The fields of a documented request type, required ones marked, e.g. `"name"
/// (required), "credits"`.
fn fields_of(type_name: &str) -> Option<String> {
    static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(|| {
        let mut r = Registry::new();
        <crate::http::Apis as poem_openapi::OpenApi>::register(&mut r);
        r
    });
    let schema = REGISTRY.schemas.get(type_name)?;
    let fields: Vec<String> = schema
        .properties
        .iter()
        .map(|(name, _)| {
            if schema.required.contains(name) {
                format!("\"{name}\" (required)")
            } else {
                format!("\"{name}\"")
            }
        })
        .collect();
    (!fields.is_empty()).then(|| fields.join(", "))
}

/// serde_json's syntax errors end in `at line L column C`; those are malformed JSON.
fn syntax_error(reason: &str) -> Option<String> {
    let (what, pos) = reason.rsplit_once(" at line ")?;
    let (line, column) = pos.split_once(" column ")?;
    if line.parse::<u64>().is_err() || column.parse::<u64>().is_err() {
        return None;
    }
    let what = what.replace("EOF while parsing", "the body ended in the middle of");
    Some(format!(
        "the request body is not valid JSON: {what} (line {line}, column {column})"
    ))
}

/// A poem-openapi parse reason without Rust type names: the expected JSON in words and
/// what was found.
fn plain_reason(reason: &str) -> String {
    // Drop every `(occurred while parsing "Type")` wrapper and the `failed to parse "Type": `
    // prefixes; what is left is the innermost reason.
    let mut r = reason.to_string();
    while let Some(i) = r.find(" (occurred while parsing \"") {
        let end = r[i..].find("\")").map(|e| i + e + 2).unwrap_or(r.len());
        r.replace_range(i..end, "");
    }
    while let Some(rest) = r.strip_prefix("failed to parse \"") {
        r = match rest.find("\": ") {
            Some(i) => rest[i + 3..].to_string(),
            None => rest.to_string(),
        };
    }
    if let Some(rest) = r.strip_prefix("Expected input type \"") {
        let (ty, found) = rest.split_once("\", found ").unwrap_or((rest, ""));
        let found = found.trim_end_matches('.');
        if found == "null" {
            return format!(
                "a required field is missing or null (it must be {})",
                type_words(ty)
            );
        }
        return format!("must be {}, not {found}", type_words(ty));
    }
    if let Some(rest) = r.strip_prefix("Type \"") {
        let ty = rest.split('"').next().unwrap_or("");
        return format!("is required ({})", type_words(ty));
    }
    let r = r.trim_end_matches('.');
    if r.contains("invalid digit") || r.contains("number too large") || r.contains("cannot parse") {
        return "must be a whole number".into();
    }
    r.to_string()
}

/// An OpenAPI type name as a caller would say it.
fn type_words(ty: &str) -> &'static str {
    match ty {
        t if t.starts_with("integer(uint") => "a whole number (0 or more)",
        t if t.starts_with("integer") => "a whole number",
        t if t.starts_with("number") => "a number",
        t if t.starts_with("string") => "a string",
        "boolean" => "true or false",
        t if t.starts_with('[') || t.starts_with("array") => "an array",
        _ => "an object",
    }
}

/// Best-effort field name from a parse error, e.g. poem-openapi's `unknown field `x``.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_in_plain_words_without_type_names() {
        let cases = [
            (
                r#"Expected input type "string", found 3. (occurred while parsing "LoginRequest")"#,
                "must be a string, not 3",
            ),
            (
                r#"Type "string" expects an input value. (occurred while parsing "LoginRequest")"#,
                "is required (a string)",
            ),
            (
                r#"failed to parse "integer(uint32)": invalid digit found in string"#,
                "must be a whole number",
            ),
            (
                r#"Expected input type "integer(int64)", found "x". (occurred while parsing "AdjustCredits")"#,
                "must be a whole number, not \"x\"",
            ),
        ];
        for (reason, plain) in cases {
            assert_eq!(plain_reason(reason), plain);
        }
    }

    #[test]
    fn syntax_errors_are_invalid_json_with_the_position() {
        let e = payload_error("EOF while parsing an object at line 1 column 9");
        assert_eq!(e.code().code, "invalid_json");
        assert_eq!(e.status(), 400);
        let msg = e.to_string();
        assert!(
            msg.contains("line 1, column 9") && !msg.contains("EOF"),
            "{msg}"
        );
        let e = payload_error(r#"Expected input type "LoginRequest", found null."#);
        assert_eq!(e.code().code, "invalid_json");
        let e = payload_error(
            r#"Expected input type "string", found null. (occurred while parsing "ChangePassword")"#,
        );
        assert_eq!(e.status(), 422);
        assert_eq!(
            e.to_string(),
            "invalid request body: a required field is missing or null (it must be a string) (this request's fields: \"current_password\" (required), \"new_password\" (required))"
        );
    }
}

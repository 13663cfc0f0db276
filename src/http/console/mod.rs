//! The console's JSON API under `/console/api`: session auth, CSRF guard, customer and
//! operator routes. API keys never work here; the session cookie never works on `/v1`.

pub mod admin;
pub mod admin_money;
pub mod admin_session;
pub mod customer;
pub mod limits;
pub mod money;
pub mod session;
pub mod storage;
pub mod views;

use super::errors::ApiError;
use crate::app::AppState;
use crate::domain::session::COOKIE_NAME;
use crate::error::AppError;
use crate::service::accounts::Principal;
use poem::http::{Method, header};
use poem::{Endpoint, IntoResponse, Request, RequestBody, Response};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, Tags};
use std::sync::Arc;

pub use admin::AdminApi;
pub use admin_session::AdminSession;
pub use customer::ConsoleApi;
pub use session::SessionApi;

#[derive(Tags)]
pub enum ConsoleTags {
    /// The web console's own API (session cookie; not for integrations: use `/v1` with an
    /// API key). State-changing calls need the `X-Requested-With` header.
    Console,
    /// Operator pages of the console: admin sessions only.
    #[oai(rename = "Console · Admin")]
    ConsoleAdmin,
}

/// Every console API, as one member of the OpenAPI service.
pub type ConsoleApis = (
    SessionApi,
    ConsoleApi,
    AdminApi,
    limits::AdminLimitsApi,
    storage::StorageAdminApi,
    money::MoneyConsoleApi,
    admin_money::MoneyAdminApi,
);

pub fn apis() -> ConsoleApis {
    (
        SessionApi,
        ConsoleApi,
        AdminApi,
        limits::AdminLimitsApi,
        storage::StorageAdminApi,
        money::MoneyConsoleApi,
        admin_money::MoneyAdminApi,
    )
}

const SCHEME: &str = "ConsoleSession";

/// The console session: the `videoapi_session` cookie set by `POST /console/api/login`
/// (HttpOnly, SameSite=Strict).
pub struct SessionAuth {
    pub who: Principal,
    /// Hash of this session's token (a password change keeps this one session).
    pub session_hash: String,
}

impl<'a> ApiExtractor<'a> for SessionAuth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "Console session cookie from `POST /console/api/login` (HttpOnly, SameSite=Strict).",
                ),
                name: Some(COOKIE_NAME),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError(AppError::internal("state missing")))?;
        let token = session_cookie(req).ok_or(ApiError(AppError::NotLoggedIn))?;
        let (who, session_hash) = state
            .sessions
            .authenticate(&token)
            .await
            .map_err(ApiError)?;
        Ok(SessionAuth { who, session_hash })
    }
}

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim_matches('"').to_string())
}

/// The `Set-Cookie` value for a session (`None` clears it).
pub fn session_set_cookie(state: &AppState, req: &Request, token: Option<&str>) -> String {
    let https = state.config.public_url.starts_with("https://")
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{COOKIE_NAME}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            crate::domain::session::SESSION_TTL_MS / 1000
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The header every state-changing console call must carry. Browsers cannot add it to a
/// cross-site form post, and a cross-origin `fetch` with it needs a CORS preflight that
/// this server never grants.
pub const CSRF_HEADER: &str = "x-requested-with";

/// Refuse state-changing requests that may come from another site: besides the
/// SameSite=Strict cookie, require the custom header and a same-origin `Origin`.
fn check_same_origin(state: &AppState, req: &Request) -> Result<(), AppError> {
    let cross = |reason: &str| AppError::CrossSite {
        reason: reason.to_string(),
    };
    let headers = req.headers();
    if headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().is_empty())
    {
        return Err(cross("send the header `X-Requested-With: videoapi`"));
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(cross("the request came from another site"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("null");
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let public_host = state
            .config
            .public_url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
            .unwrap_or("");
        let forwarded = headers
            .get("x-forwarded-host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same = !origin_host.is_empty()
            && (origin_host.eq_ignore_ascii_case(host)
                || origin_host.eq_ignore_ascii_case(public_host)
                || origin_host.eq_ignore_ascii_case(forwarded));
        if !same {
            return Err(cross("the Origin header does not match this server"));
        }
    }
    Ok(())
}

/// Around every console route: CSRF checks on state-changing methods, the JSON body cap
/// (not on uploads, which count bytes themselves), and `Cache-Control: no-store`.
pub async fn guard<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError(AppError::internal("state missing")))?;
        check_same_origin(state, &req).map_err(ApiError)?;
    }
    let resp = if req.uri().path().ends_with("/upload") {
        ep.call(req).await?.into_response()
    } else {
        super::limit_body(ep, req).await?
    };
    let mut resp = resp;
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        poem::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

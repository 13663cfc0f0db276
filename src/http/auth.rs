//! The Bearer API-key scheme for the public API.

use super::errors::ApiError;
use crate::app::AppState;
use crate::error::AppError;
use crate::service::accounts::Principal;
use poem::{Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme, auth::Bearer,
};

/// `Authorization: Bearer vga_...` — create keys in the console's API Key page.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", key_name = "Authorization", checker = "check_key")]
pub struct ApiKeyAuth(pub Principal);

async fn check_key(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| ApiError(AppError::internal("state missing")))?;
    Ok(state
        .accounts
        .authenticate_key(&bearer.token, super::client_addr::client_addr(req))
        .await
        .map_err(ApiError)?)
}

/// For routes where a key is optional: the caller when a valid key was sent, `None`
/// when none was sent, 401 when a wrong one was.
pub async fn optional_key(state: &AppState, req: &Request) -> Result<Option<Principal>, ApiError> {
    let Some(value) = req.headers().get(poem::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError(AppError::InvalidKey))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(ApiError(AppError::InvalidKey))?;
    Ok(Some(
        state
            .accounts
            .authenticate_key(token, super::client_addr::client_addr(req))
            .await?,
    ))
}

/// The Bearer key where it is optional (`GET /v1/models`): the spec declares the key
/// scheme with an anonymous alternative, so Swagger UI's "Authorize" sends the key. The
/// caller when a valid key was sent, `None` when none was, 401 when a wrong one was.
pub struct OptionalApiKey(pub Option<Principal>);

impl<'a> ApiExtractor<'a> for OptionalApiKey {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <ApiKeyAuth as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <ApiKeyAuth as ApiExtractor>::security_schemes()
    }

    fn has_security_fallback() -> bool {
        true
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req
            .data::<AppState>()
            .ok_or_else(|| ApiError(AppError::internal("state missing")))?;
        Ok(OptionalApiKey(optional_key(state, req).await?))
    }
}

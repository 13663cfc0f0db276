//! The Bearer API-key scheme for the public API.

use super::errors::ApiError;
use crate::app::AppState;
use crate::error::AppError;
use crate::service::accounts::Principal;
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};

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
        .authenticate_key(&bearer.token)
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
    Ok(Some(state.accounts.authenticate_key(token).await?))
}

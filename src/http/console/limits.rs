//! Operator routes for account limits: an account's own limits and a pricing group's
//! defaults (concurrency, rate, budget across all of an account's keys).

use super::{AdminSession, ConsoleTags};
use crate::app::AppState;
use crate::http::failures::*;
use crate::http::limits::{AccountLimitsInput, LimitsView, LimitsWithUsage};
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;

#[derive(Clone)]
pub struct AdminLimitsApi;

#[OpenApi(prefix_path = "/console/api/admin", tag = "ConsoleTags::ConsoleAdmin")]
impl AdminLimitsApi {
    /// An account's limits and usage
    ///
    /// The limits in force (the account's own over its pricing group's defaults) and
    /// what the account uses now, across all its keys.
    #[oai(path = "/users/:user_id/limits", method = "get")]
    async fn user_limits(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        user_id: Path<u64>,
    ) -> Result<Json<LimitsWithUsage>, Failure<{ ADMIN | PARAMS | E404 }>> {
        let user = state.accounts.user(user_id.0.into()).await?;
        account_usage(&state, &user).await
    }

    /// Set an account's limits
    ///
    /// Missing fields stay as they are; `null` removes the account's own value (the
    /// pricing group's default applies again). Invalid fields are 422 naming the field.
    #[oai(path = "/users/:user_id/limits", method = "put")]
    async fn set_user_limits(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        user_id: Path<u64>,
        body: Json<AccountLimitsInput>,
    ) -> Result<Json<LimitsWithUsage>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | PARAMS | E404 }>>
    {
        let current = state.accounts.user(user_id.0.into()).await?;
        let limits = body.0.apply(&current.limits)?;
        let user = state
            .accounts
            .modify_user(user_id.0.into(), move |u| {
                u.limits = limits;
                Ok(())
            })
            .await?;
        account_usage(&state, &user).await
    }

    /// Set a pricing group's default limits
    ///
    /// Every member without its own value gets these. Missing fields stay as they are;
    /// `null` removes a default.
    #[oai(path = "/pricing-groups/:name/limits", method = "put")]
    async fn set_group_limits(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        name: Path<String>,
        body: Json<AccountLimitsInput>,
    ) -> Result<Json<LimitsView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E404 }>> {
        if state.catalog.group(Some(&name.0)).is_none() {
            return Err(
                crate::error::AppError::not_found(format!("pricing group `{}`", name.0)).into(),
            );
        }
        let current = crate::service::limits::group_limits(&state.store, &name.0).await?;
        let limits = body.0.apply(&current)?;
        crate::service::limits::set_group_limits(&state.store, &name.0, &limits).await?;
        Ok(Json(LimitsView::from_limits(&limits)))
    }
}

async fn account_usage<const S: u32>(
    state: &AppState,
    user: &crate::domain::user::User,
) -> Result<Json<LimitsWithUsage>, Failure<S>> {
    let usage = state.limits.usage(user, None).await?;
    let (_, u) = usage
        .iter()
        .find(|(r, _)| !r.is_key)
        .ok_or_else(|| crate::error::AppError::internal("no account scope"))?;
    Ok(Json(LimitsWithUsage::from_usage(u)))
}

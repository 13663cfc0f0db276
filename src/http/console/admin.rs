//! Operator pages' API: users and credits, pricing groups, channels, models, every task,
//! the ledger. Admin sessions only (403 otherwise); API keys never work here.

use super::customer::task_page;
use super::views::*;
use super::{AdminSession, ConsoleTags};
use crate::app::AppState;
use crate::domain::catalog::{PricingGroup, ProviderConfig};
use crate::domain::ids::{TaskId, UserId};
use crate::error::AppError;
use crate::http::errors::ApiError;
use crate::http::failures::*;
use crate::service::accounts::UserPatch;
use crate::service::tasks::Filter;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use std::collections::HashMap;

const MAX_NOTE: usize = 200;

#[derive(Clone)]
pub struct AdminApi;

async fn usernames(state: &AppState) -> Result<HashMap<UserId, String>, ApiError> {
    Ok(state
        .accounts
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

async fn user_id_by_name(state: &AppState, name: &str) -> Result<Option<UserId>, ApiError> {
    Ok(state
        .accounts
        .user_by_name(name.trim())
        .await?
        .map(|u| u.id))
}

fn check_group(state: &AppState, group: Option<&str>) -> Result<(), AppError> {
    match group {
        Some(g) if state.catalog.group(Some(g)).is_none() => Err(AppError::invalid(
            "pricing_group",
            format!("pricing group `{g}` does not exist"),
        )),
        _ => Ok(()),
    }
}

fn check_channel_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "name",
            "channel name must be 1-64 letters, digits, '_', '-' or '.'",
        ))
    }
}

fn check_base_url(url: &str) -> Result<(), AppError> {
    if url.is_empty() || url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(AppError::invalid(
            "base_url",
            "must be empty or an http(s) URL",
        ))
    }
}

fn provider_view(state: &AppState, p: &ProviderConfig) -> ProviderView {
    let models = state
        .catalog
        .models()
        .iter()
        .filter(|m| m.routes.iter().any(|r| r.provider == p.name))
        .map(|m| m.id.clone())
        .collect();
    ProviderView::from_config(p, state.registry.health.is_healthy(&p.name), models)
}

/// Routes must name existing channels and an upstream model.
fn check_routes(state: &AppState, m: &AdminModel) -> Result<(), AppError> {
    for (i, r) in m.routes.iter().enumerate() {
        if state.catalog.provider(&r.provider).is_none() {
            return Err(AppError::invalid(
                format!("routes[{i}].provider"),
                format!("channel `{}` does not exist", r.provider),
            ));
        }
        if r.upstream_model.trim().is_empty() {
            return Err(AppError::invalid(
                format!("routes[{i}].upstream_model"),
                "the channel's model name is required",
            ));
        }
    }
    Ok(())
}

fn group_view(g: &PricingGroup, users: &[crate::domain::user::User]) -> GroupView {
    GroupView {
        name: g.name.clone(),
        percent: g.percent,
        overrides: g.overrides.clone(),
        users: users
            .iter()
            .filter(|u| u.pricing_group.as_deref() == Some(g.name.as_str()))
            .count() as u64,
    }
}

#[OpenApi(prefix_path = "/console/api/admin", tag = "ConsoleTags::ConsoleAdmin")]
impl AdminApi {
    /// Operator overview
    ///
    /// Users, today's credits sold and spent, tasks in flight, each channel's health and
    /// the newest failed tasks. "Today" starts at midnight `tz_offset_minutes` east of UTC
    /// (the browser's zone; UTC when omitted).
    #[oai(path = "/overview", method = "get")]
    async fn overview(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Minutes east of UTC, -720 to 840 (e.g. 480 for UTC+8).
        tz_offset_minutes: Query<Option<i32>>,
    ) -> Result<Json<AdminOverview>, Failure<{ ADMIN | PARAMS }>> {
        let o = crate::service::overview::operator(
            &state.store,
            &state.catalog,
            &state.registry.health,
            crate::domain::now_ms(),
            tz_offset_minutes.0.unwrap_or(0),
        )
        .await?;
        Ok(Json(AdminOverview::from_overview(o)))
    }

    /// List users
    ///
    /// Every account, optionally only those whose name contains `q`.
    #[oai(path = "/users", method = "get")]
    async fn users(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Part of a user name (case-insensitive).
        q: Query<Option<String>>,
    ) -> Result<Json<Vec<AdminUser>>, Failure<ADMIN>> {
        let q = q.0.unwrap_or_default().trim().to_ascii_lowercase();
        let users = state.accounts.users().await?;
        Ok(Json(
            users
                .iter()
                .filter(|u| q.is_empty() || u.username.to_ascii_lowercase().contains(&q))
                .map(AdminUser::from_user)
                .collect(),
        ))
    }

    /// Create a user
    ///
    /// Starting credits are a top-up entry in the ledger. Without a password one is
    /// generated and returned once.
    #[oai(path = "/users", method = "post")]
    async fn create_user(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        body: Json<CreateUser>,
    ) -> Result<Json<CreatedUser>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E409 }>> {
        let b = body.0;
        let group = b.pricing_group.filter(|g| !g.trim().is_empty());
        check_group(state.0, group.as_deref())?;
        let (user, generated) = state
            .accounts
            .create_user(
                b.username.trim(),
                b.password.filter(|p| !p.is_empty()),
                b.credits.unwrap_or(0),
                b.is_admin.unwrap_or(false),
                group,
                &auth.admin_actor(),
            )
            .await?;
        Ok(Json(CreatedUser {
            user: AdminUser::from_user(&user),
            generated_password: generated,
        }))
    }

    /// Change a user
    ///
    /// Disable/enable (a disabled user's keys and sessions stop working), admin flag,
    /// pricing group (null = list prices), or a new password.
    #[oai(path = "/users/:user_id", method = "patch")]
    async fn update_user(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        user_id: Path<u64>,
        body: Json<UpdateUser>,
    ) -> Result<Json<AdminUser>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | PARAMS | E404 | E409 }>>
    {
        let me = auth.who();
        let b = body.0;
        let id = user_id.0;
        if id == me.user.id && (b.disabled == Some(true) || b.is_admin == Some(false)) {
            return Err(AppError::conflict(
                "you cannot disable yourself or remove your own admin rights",
            )
            .into());
        }
        state.accounts.user(id.into()).await?;
        let pricing_group = match b.pricing_group {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(g) if g.trim().is_empty() => Some(None),
            MaybeUndefined::Value(g) => {
                check_group(state.0, Some(&g))?;
                Some(Some(g))
            }
        };
        if let Some(pw) = b.password.as_deref() {
            crate::domain::user::validate_password(pw)?;
        }
        let user = state
            .accounts
            .update_user(
                id.into(),
                UserPatch {
                    disabled: b.disabled,
                    is_admin: b.is_admin,
                    pricing_group,
                },
            )
            .await?;
        if let Some(pw) = b.password {
            state
                .sessions
                .set_password(id.into(), &pw, None)
                .await
                .map_err(|e| match e {
                    AppError::Invalid { message, .. } => AppError::invalid("password", message),
                    other => other,
                })?;
        }
        if b.disabled == Some(true) {
            state.sessions.end_all(id.into()).await?;
        }
        Ok(Json(AdminUser::from_user(&user)))
    }

    /// Top up or deduct credits
    ///
    /// A positive amount tops up, a negative one deducts (never below zero; 422). The
    /// entry records the operator and the note.
    #[oai(path = "/users/:user_id/credits", method = "post")]
    async fn adjust_credits(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        user_id: Path<u64>,
        body: Json<AdjustCredits>,
    ) -> Result<Json<Adjusted>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | PARAMS | E404 }>> {
        let note = body
            .0
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(AppError::invalid("note", "a note is at most 200 characters").into());
        }
        let user = state.accounts.user(user_id.0.into()).await?;
        let entry = state
            .accounts
            .adjust_credits(user.id, body.0.amount.into(), note, &auth.admin_actor())
            .await?;
        Ok(Json(Adjusted {
            credits: entry.balance_after.get(),
            entry: LedgerView::from_entry(&entry, &user.username),
        }))
    }

    /// A customer's own prices
    ///
    /// The models this customer pays an own price for, above any pricing group.
    #[oai(path = "/users/:user_id/prices", method = "get")]
    async fn user_prices(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        user_id: Path<u64>,
    ) -> Result<Json<Vec<UserPriceView>>, Failure<{ ADMIN | PARAMS | E404 }>> {
        state.accounts.user(user_id.0.into()).await?;
        Ok(Json(
            state
                .catalog
                .user_prices(user_id.0.into())
                .iter()
                .map(UserPriceView::from_price)
                .collect(),
        ))
    }

    /// Set a customer's own price for a model
    ///
    /// `percent` of list price (80 = 20 % off, rounded up) or `credits` per task, second
    /// or bucket as the model bills; both null removes it. Wins over the pricing group.
    /// Tasks already created keep the price they were created with.
    #[oai(path = "/users/:user_id/prices/:model_id", method = "put")]
    async fn put_user_price(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        user_id: Path<u64>,
        model_id: Path<String>,
        body: Json<PutUserPrice>,
    ) -> Result<Json<UserPriceView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | PARAMS | E404 }>>
    {
        state.accounts.user(user_id.0.into()).await?;
        let price = crate::domain::catalog::UserPrice {
            model: model_id.0,
            percent: body.0.percent,
            credits: body.0.credits,
        };
        state
            .catalog
            .put_user_price(user_id.0.into(), price.clone())
            .await?;
        Ok(Json(UserPriceView::from_price(&price)))
    }

    /// List pricing groups
    #[oai(path = "/pricing-groups", method = "get")]
    async fn groups(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<Vec<GroupView>>, Failure<ADMIN>> {
        let users = state.accounts.users().await?;
        Ok(Json(
            state
                .catalog
                .groups()
                .iter()
                .map(|g| group_view(g, &users))
                .collect(),
        ))
    }

    /// Create or change a pricing group
    ///
    /// `percent` scales list prices (80 = 20 % off, rounded up); `overrides` set a model's
    /// unit price outright.
    #[oai(path = "/pricing-groups/:name", method = "put")]
    async fn put_group(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        name: Path<String>,
        body: Json<PutGroup>,
    ) -> Result<Json<GroupView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE }>> {
        let b = body.0;
        for (model, credits) in &b.overrides {
            if state.catalog.model(model).is_none() {
                return Err(AppError::invalid(
                    format!("overrides.{model}"),
                    format!("model `{model}` does not exist"),
                )
                .into());
            }
            if *credits < 0 {
                return Err(AppError::invalid(
                    format!("overrides.{model}"),
                    "prices cannot be negative",
                )
                .into());
            }
        }
        let group = PricingGroup {
            name: name.0.trim().to_string(),
            percent: b.percent,
            overrides: b.overrides,
        };
        state.catalog.put_group(group.clone()).await?;
        let users = state.accounts.users().await?;
        Ok(Json(group_view(&group, &users)))
    }

    /// List channels
    ///
    /// Credentials are masked; nothing secret leaves the server.
    #[oai(path = "/providers", method = "get")]
    async fn providers(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<Vec<ProviderView>>, Failure<ADMIN>> {
        Ok(Json(
            state
                .catalog
                .providers()
                .iter()
                .map(|p| provider_view(state.0, p))
                .collect(),
        ))
    }

    /// Channel kinds this build supports
    ///
    /// From the server's one registration table: the fields each kind uses, its default
    /// base URL and documented regions, and the README section with its row.
    #[oai(path = "/provider-kinds", method = "get")]
    async fn provider_kinds(
        &self,
        _admin: AdminSession,
    ) -> Result<Json<Vec<ProviderKindView>>, Failure<ADMIN>> {
        Ok(Json(
            crate::providers::KINDS
                .iter()
                .map(ProviderKindView::from_spec)
                .collect(),
        ))
    }

    /// Create a channel
    #[oai(path = "/providers", method = "post")]
    async fn create_provider(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        body: Json<ProviderInput>,
    ) -> Result<Json<ProviderView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E409 }>> {
        let b = body.0;
        let name = b.name.clone().unwrap_or_default().trim().to_string();
        check_channel_name(&name)?;
        if state.catalog.provider(&name).is_some() {
            return Err(AppError::conflict(format!("channel `{name}` already exists")).into());
        }
        check_base_url(b.base_url.trim())?;
        let cfg = ProviderConfig {
            name,
            kind: b.kind.trim().to_string(),
            base_url: b.base_url.trim().to_string(),
            api_key: b.api_key.unwrap_or_default(),
            api_secret: b.api_secret.unwrap_or_default(),
            enabled: b.enabled.unwrap_or(true),
            priority: b.priority.unwrap_or(0),
            weight: b.weight.unwrap_or(1),
            settings: b.settings.map(|s| s.0).unwrap_or(serde_json::Value::Null),
        };
        state.catalog.put_provider(cfg.clone()).await?;
        Ok(Json(provider_view(state.0, &cfg)))
    }

    /// Change a channel
    ///
    /// An omitted `api_key`/`api_secret` keeps the stored one; an empty string clears it.
    #[oai(path = "/providers/:name", method = "put")]
    async fn update_provider(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        name: Path<String>,
        body: Json<ProviderInput>,
    ) -> Result<Json<ProviderView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E404 }>> {
        let old = state
            .catalog
            .provider(&name.0)
            .ok_or_else(|| AppError::not_found(format!("channel `{}`", name.0)))?;
        let b = body.0;
        check_base_url(b.base_url.trim())?;
        let cfg = ProviderConfig {
            name: old.name.clone(),
            kind: b.kind.trim().to_string(),
            base_url: b.base_url.trim().to_string(),
            api_key: b.api_key.unwrap_or(old.api_key),
            api_secret: b.api_secret.unwrap_or(old.api_secret),
            enabled: b.enabled.unwrap_or(old.enabled),
            priority: b.priority.unwrap_or(old.priority),
            weight: b.weight.unwrap_or(old.weight),
            settings: b.settings.map(|s| s.0).unwrap_or(old.settings),
        };
        state.catalog.put_provider(cfg.clone()).await?;
        Ok(Json(provider_view(state.0, &cfg)))
    }

    /// Test a channel's connection
    ///
    /// Makes the adapter's free test call with the stored credentials, where it has one.
    #[oai(path = "/providers/:name/test", method = "post")]
    async fn test_provider(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        name: Path<String>,
    ) -> Result<Json<ConnectionTest>, Failure<{ ADMIN | CONSOLE_WRITE | E404 | E422 }>> {
        let cfg = state
            .catalog
            .provider(&name.0)
            .ok_or_else(|| AppError::not_found(format!("channel `{}`", name.0)))?;
        // The registry's test call: the channel's own guarded client, allow-list and timeout.
        let outcome = state.registry.test_channel(&cfg).await;
        let result = ConnectionTest::from_outcome(
            Some(outcome),
            crate::providers::Registry::TEST_TIMEOUT.as_secs(),
        );
        Ok(Json(result))
    }

    /// List models (all, with routes and list prices)
    #[oai(path = "/models", method = "get")]
    async fn models(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<Vec<AdminModel>>, Failure<ADMIN>> {
        Ok(Json(
            state
                .catalog
                .models()
                .iter()
                .map(|m| AdminModel::from_model(m))
                .collect(),
        ))
    }

    /// Create a model
    #[oai(path = "/models", method = "post")]
    async fn create_model(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        body: Json<AdminModel>,
    ) -> Result<Json<AdminModel>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E409 }>> {
        let id = body.0.id.trim().to_string();
        if state.catalog.model(&id).is_some() {
            return Err(AppError::conflict(format!("model `{id}` already exists")).into());
        }
        check_routes(state.0, &body.0)?;
        let model = body.0.into_model();
        state.catalog.put_model(model.clone()).await?;
        Ok(Json(AdminModel::from_model(&model)))
    }

    /// Change a model
    ///
    /// Replaces the model's settings; the path names the model (the body's `id` is
    /// ignored). Tasks already created keep the price they were created with.
    #[oai(path = "/models/:model_id", method = "put")]
    async fn update_model(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        model_id: Path<String>,
        body: Json<AdminModel>,
    ) -> Result<Json<AdminModel>, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E404 }>> {
        if state.catalog.model(&model_id.0).is_none() {
            return Err(AppError::not_found(format!("model `{}`", model_id.0)).into());
        }
        check_routes(state.0, &body.0)?;
        let mut model = body.0.into_model();
        model.id = model_id.0;
        state.catalog.put_model(model.clone()).await?;
        Ok(Json(AdminModel::from_model(&model)))
    }

    /// Every task
    ///
    /// Newest first; filter by user name, model and status.
    #[oai(path = "/tasks", method = "get")]
    // poem-openapi takes every query parameter as its own argument.
    #[allow(clippy::too_many_arguments)]
    async fn tasks(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Exact user name.
        user: Query<Option<String>>,
        /// Public model id.
        model: Query<Option<String>>,
        status: Query<Option<String>>,
        /// Cursor: only tasks older than this task id.
        before: Query<Option<String>>,
        /// Page size, 1-100 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<ConsoleTaskList>, Failure<{ ADMIN | PARAMS }>> {
        let limit = crate::domain::paging::page_limit(limit.0, 50, 100)?;
        let status = parse_status(status.0.as_deref())?;
        let user_id = match user.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => match user_id_by_name(state.0, name).await? {
                Some(id) => Some(id),
                None => {
                    return Ok(Json(ConsoleTaskList {
                        data: Vec::new(),
                        has_more: false,
                        next_cursor: None,
                    }));
                }
            },
        };
        let filter = Filter {
            user_id,
            model: model.0.filter(|m| !m.trim().is_empty()),
            status,
            before: TaskId::cursor(before.0.filter(|b| !b.is_empty()))?,
        };
        let tasks = state.tasks.list(filter, limit + 1).await?;
        let owners: Vec<UserId> = tasks.iter().map(|t| t.user_id).collect();
        let costs: Vec<Option<i64>> = tasks
            .iter()
            .map(|t| t.settlement.as_ref().and_then(|s| s.upstream_cost))
            .collect();
        let names = usernames(state.0).await?;
        let mut page = task_page(state.0, tasks, limit);
        for ((t, uid), cost) in page.data.iter_mut().zip(owners).zip(costs) {
            t.username = names.get(&uid).cloned();
            t.upstream_cost = cost;
            t.margin = cost.map(|c| t.credits_charged.saturating_sub(c));
        }
        Ok(Json(page))
    }

    /// Margins
    ///
    /// Charged, upstream cost and margin of the finished tasks created in
    /// `[from_ms, to_ms)` (default: the last 30 days), overall and per model, channel and
    /// customer.
    #[oai(path = "/margins", method = "get")]
    async fn margins(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Start, Unix milliseconds (inclusive).
        from_ms: Query<Option<i64>>,
        /// End, Unix milliseconds (exclusive).
        to_ms: Query<Option<i64>>,
    ) -> Result<Json<MarginReport>, Failure<{ ADMIN | PARAMS }>> {
        let to = to_ms
            .0
            .unwrap_or_else(|| state.config.clock.now_ms().saturating_add(1));
        let from = from_ms.0.unwrap_or(to.saturating_sub(30 * 86_400_000));
        if from < 0 || to <= from {
            return Err(AppError::invalid(
                "from_ms",
                "from_ms must be at least 0 and before to_ms",
            )
            .into());
        }
        let (report, truncated) = crate::service::reports::margins(&state.store, from, to).await?;
        let names = usernames(state.0).await?;
        let list = |m: &std::collections::BTreeMap<String, crate::domain::margins::Totals>| {
            m.iter()
                .map(|(k, t)| MarginTotals::new(k.clone(), t))
                .collect::<Vec<_>>()
        };
        Ok(Json(MarginReport {
            from_ms: from,
            to_ms: to,
            truncated,
            all: MarginTotals::new(String::new(), &report.all),
            by_model: list(&report.by_model),
            by_channel: list(&report.by_channel),
            by_customer: report
                .by_user
                .iter()
                .map(|(u, t)| {
                    MarginTotals::new(names.get(u).cloned().unwrap_or_else(|| format!("#{u}")), t)
                })
                .collect(),
        }))
    }

    /// The ledger
    ///
    /// Every balance change, newest first; filter by user name and by kind (where the
    /// credits came from).
    #[oai(path = "/ledger", method = "get")]
    async fn ledger(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Exact user name.
        user: Query<Option<String>>,
        /// Cursor: only entries older than this entry id.
        before: Query<Option<u64>>,
        /// Page size, 1-200 (default 50).
        limit: Query<Option<u32>>,
        /// Only entries of this kind (the source of credits): `top_up`, `adjust`,
        /// `redeem`, `payment`, `signup_bonus`, `reserve`, `refund` or `settle`.
        kind: Query<Option<String>>,
    ) -> Result<Json<LedgerPage>, Failure<{ ADMIN | PARAMS }>> {
        let limit = crate::domain::paging::page_limit(limit.0, 50, 200)?;
        let kind = super::admin_money::ledger_kind(kind.0.as_deref())?;
        let user_id = match user.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(name) => match user_id_by_name(state.0, name).await? {
                Some(id) => Some(id),
                None => {
                    return Ok(Json(LedgerPage {
                        data: Vec::new(),
                        has_more: false,
                        next_cursor: None,
                    }));
                }
            },
        };
        let mut entries =
            crate::service::reports::ledger(&state.store, user_id, kind, before.0, limit + 1)
                .await?;
        let has_more = entries.len() > limit;
        entries.truncate(limit);
        let names = usernames(state.0).await?;
        Ok(Json(LedgerPage {
            next_cursor: if has_more {
                entries.last().map(|e| e.id)
            } else {
                None
            },
            has_more,
            data: entries
                .iter()
                .map(|e| {
                    LedgerView::from_entry(
                        e,
                        names.get(&e.user_id).map(String::as_str).unwrap_or("?"),
                    )
                })
                .collect(),
        }))
    }
}

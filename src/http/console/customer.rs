//! The customer's console API: login, keys, overview, tasks, models, generation, upload.

use super::views::*;
use super::{ConsoleTags, SessionAuth};
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::now_ms;
use crate::domain::task::Task;
use crate::http::failures::*;
use crate::http::public::{Accepted, CreateBody};
use crate::http::uploads::{MultipartStream, UploadResult, store_upload};
use crate::http::views::{ModelInfo, ModelList};
use crate::service::tasks::Filter;
use crate::service::uploads::check_own_uploads;
use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;

/// Console task views, with model display names from the catalog.
pub fn console_tasks(state: &AppState, tasks: &[Task]) -> Vec<ConsoleTask> {
    let now = now_ms();
    tasks
        .iter()
        .map(|t| {
            let name = state.catalog.model(&t.model).map(|m| m.name.clone());
            ConsoleTask::from_task(t, &state.config.public_url, name.as_deref(), now)
        })
        .collect()
}

/// `tasks` holds up to `limit + 1` rows; the extra one only says there is more.
pub fn task_page(state: &AppState, mut tasks: Vec<Task>, limit: usize) -> ConsoleTaskList {
    let has_more = tasks.len() > limit;
    tasks.truncate(limit);
    ConsoleTaskList {
        next_cursor: if has_more {
            tasks.last().map(|t| t.id.to_string())
        } else {
            None
        },
        has_more,
        data: console_tasks(state, &tasks),
    }
}

#[derive(Clone)]
pub struct ConsoleApi;

#[OpenApi(prefix_path = "/console/api", tag = "ConsoleTags::Console")]
impl ConsoleApi {
    /// Overview
    ///
    /// Balance, key and task counts, the latest status, the newest tasks and the files
    /// stored against the quota.
    #[oai(path = "/overview", method = "get")]
    async fn overview(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<Overview>, Failure<SESSION>> {
        let o = crate::service::overview::customer(&state.store, auth.who.user.id, 5).await?;
        let (keys, task_count, recent) = (o.keys, o.task_count, o.recent);
        let user = &auth.who.user;
        let usage = state.storage.usage(user.id).await?;
        let quota = state
            .storage
            .quota_of(user.id, user.pricing_group.clone())
            .await?;
        Ok(Json(Overview {
            storage: crate::http::views::StorageView::new(usage, quota),
            username: auth.who.user.username.clone(),
            credits: auth.who.user.credits.get(),
            api_key_count: keys.iter().filter(|k| !k.revoked).count() as u64,
            task_count,
            latest_status: recent.first().map(|t| t.status.as_str().to_string()),
            recent_tasks: console_tasks(state.0, &recent),
        }))
    }

    /// List your API keys
    #[oai(path = "/keys", method = "get")]
    async fn keys(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<Vec<KeyView>>, Failure<SESSION>> {
        let mut keys = state.accounts.list_keys(auth.who.user.id).await?;
        keys.sort_by_key(|k| std::cmp::Reverse(k.id));
        let mut out = Vec::with_capacity(keys.len());
        for k in &keys {
            out.push(key_view(&state, &auth.who.user, k).await?);
        }
        Ok(Json(out))
    }

    /// Create an API key
    ///
    /// The full key is in this response only; it is stored as a hash.
    #[oai(path = "/keys", method = "post")]
    async fn create_key(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        body: Json<CreateKey>,
    ) -> Result<Json<CreatedKey>, Failure<{ SESSION | BODY | CONSOLE_WRITE }>> {
        let name = body.0.name.unwrap_or_default();
        let limits = body.0.settings.apply(Default::default())?;
        crate::service::limits::check_models(&state.catalog, &limits)?;
        let (record, key) = state
            .accounts
            .create_key_with(auth.who.user.id, &name, limits)
            .await?;
        Ok(Json(CreatedKey {
            key,
            info: key_view(&state, &auth.who.user, &record).await?,
        }))
    }

    /// Change an API key's name and limits
    ///
    /// Missing fields stay as they are; `null` removes a limit. Each invalid field is a
    /// 422 `invalid_field` whose `param` names it. Another user's key is 404.
    #[oai(path = "/keys/:key_id", method = "patch")]
    async fn update_key(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        key_id: Path<u64>,
        body: Json<UpdateKey>,
    ) -> Result<Json<KeyView>, Failure<{ SESSION | BODY | CONSOLE_WRITE | E404 }>> {
        let uid = auth.who.user.id;
        let current = state.accounts.key(uid, key_id.0).await?;
        let limits = body.0.settings.apply(current.limits)?;
        crate::service::limits::check_models(&state.catalog, &limits)?;
        let key = state
            .accounts
            .update_key(uid, key_id.0, body.0.name, limits)
            .await?;
        Ok(Json(key_view(&state, &auth.who.user, &key).await?))
    }

    /// Revoke an API key
    ///
    /// The key stops working at once. Another user's key is 404.
    #[oai(path = "/keys/:key_id/revoke", method = "post")]
    async fn revoke_key(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        key_id: Path<u64>,
    ) -> Result<Json<KeyView>, Failure<{ SESSION | CONSOLE_WRITE | PARAMS | E404 }>> {
        let key = state
            .accounts
            .revoke_key(auth.who.user.id, key_id.0)
            .await?;
        Ok(Json(KeyView::from_key(&key)))
    }

    /// Webhook signing secret
    ///
    /// The secret that signs this account's task callbacks (`webhook-signature`,
    /// Standard Webhooks). Made on first use.
    #[oai(path = "/webhook-secret", method = "get")]
    async fn webhook_secret(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<WebhookSecret>, Failure<SESSION>> {
        let s = state.accounts.webhook_secret(auth.who.user.id).await?;
        Ok(Json(WebhookSecret {
            secret: crate::engine::webhooks::display_secret(&s),
        }))
    }

    /// Rotate the webhook signing secret
    ///
    /// Replaces the secret at once: callbacks sent from now on are signed with the new one.
    #[oai(path = "/webhook-secret/rotate", method = "post")]
    async fn rotate_webhook_secret(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<WebhookSecret>, Failure<{ SESSION | CONSOLE_WRITE }>> {
        let s = state
            .accounts
            .rotate_webhook_secret(auth.who.user.id)
            .await?;
        Ok(Json(WebhookSecret {
            secret: crate::engine::webhooks::display_secret(&s),
        }))
    }

    /// Models at your price
    ///
    /// Enabled models with the caller's own prices (pricing group applied).
    #[oai(path = "/models", method = "get")]
    async fn models(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
    ) -> Result<Json<ModelList>, Failure<SESSION>> {
        let group = state.catalog.group(auth.who.user.pricing_group.as_deref());
        let who_id = Some(auth.who.user.id);
        let data = state
            .catalog
            .models()
            .iter()
            .filter(|m| m.enabled)
            .map(|m| {
                let own = who_id.and_then(|u| state.catalog.user_price(u, &m.id));
                ModelInfo::from_model(m, group.as_ref(), own.as_ref())
            })
            .collect();
        Ok(Json(ModelList {
            object: "list".into(),
            data,
        }))
    }

    /// Your tasks
    ///
    /// Newest first, with credit details and elapsed time.
    #[oai(path = "/tasks", method = "get")]
    async fn tasks(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        /// Page size, 1-100 (default 20).
        limit: Query<Option<u32>>,
        /// Cursor: only tasks older than this task id.
        before: Query<Option<String>>,
        /// Only tasks with this status.
        status: Query<Option<String>>,
    ) -> Result<Json<ConsoleTaskList>, Failure<{ SESSION | PARAMS }>> {
        let limit = crate::domain::paging::page_limit(limit.0, 20, 100)?;
        let filter = Filter {
            user_id: Some(auth.who.user.id),
            status: parse_status(status.0.as_deref())?,
            before: TaskId::cursor(before.0.filter(|b| !b.is_empty()))?,
            model: None,
        };
        let tasks = state.tasks.list(filter, limit + 1).await?;
        Ok(Json(task_page(state.0, tasks, limit)))
    }

    /// One of your tasks
    #[oai(path = "/tasks/:task_id", method = "get")]
    async fn task(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        task_id: Path<String>,
    ) -> Result<Json<ConsoleTask>, Failure<{ SESSION | E404 }>> {
        let task = state
            .tasks
            .get(&auth.who, &TaskId::from_path(&task_id.0)?)
            .await?;
        Ok(Json(console_tasks(state.0, &[task]).remove(0)))
    }

    /// Cancel one of your tasks
    ///
    /// Only before it was sent to a channel (409 otherwise); the credits come back.
    #[oai(path = "/tasks/:task_id/cancel", method = "post")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        task_id: Path<String>,
    ) -> Result<Json<ConsoleTask>, Failure<{ SESSION | CONSOLE_WRITE | E404 | E409 }>> {
        let task = state
            .tasks
            .cancel(&auth.who, &TaskId::from_path(&task_id.0)?)
            .await?;
        Ok(Json(console_tasks(state.0, &[task]).remove(0)))
    }

    /// Create a video task from the console
    ///
    /// The same request, rules, prices and ledger as `POST /v1/video/generations`.
    #[oai(path = "/generations", method = "post")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        body: Json<CreateBody>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> Result<Json<Accepted>, Failure<{ SESSION | BODY | CONSOLE_WRITE | E402 | E409 | E429 }>>
    {
        // The console is our own client: it never sends extra fields, so always strict.
        let input = body.0.decode(true)?;
        check_own_uploads(
            &state.storage,
            auth.who.user.id.get(),
            &state.config.public_url,
            &input,
        )
        .await?;
        let (task, _) = state
            .tasks
            .create(&auth.who, input, idempotency_key.0, "console")
            .await?;
        let queue_position = state.tasks.queue_position(&task).await;
        Ok(Json(Accepted {
            task_id: task.id.into(),
            status: task.status.as_str().into(),
            poll_interval_seconds: task.poll_interval_seconds,
            queue_position,
        }))
    }

    /// Estimate a task from the console
    ///
    /// The same as `POST /v1/video/generations/estimate`: what a create would reserve,
    /// with its breakdown; nothing is created or charged. Unlike the API, a short balance
    /// is not a 402 here: the generation center shows the price with a negative
    /// `balance_after`.
    #[oai(path = "/generations/estimate", method = "post")]
    async fn estimate(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        body: Json<CreateBody>,
    ) -> Result<Json<crate::http::views::EstimateView>, Failure<{ SESSION | BODY | CONSOLE_WRITE }>>
    {
        let input = body.0.decode(true)?;
        check_own_uploads(
            &state.storage,
            auth.who.user.id.get(),
            &state.config.public_url,
            &input,
        )
        .await?;
        let e = state.tasks.estimate(&auth.who, input, true).await?;
        Ok(Json(crate::http::views::EstimateView::from_estimate(&e)))
    }

    /// Upload assets from the console
    ///
    /// The same as `POST /api/upload` (multipart field `files`), with the session.
    #[oai(path = "/upload", method = "post")]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: SessionAuth,
        body: MultipartStream,
    ) -> Result<Json<UploadResult>, Failure<{ SESSION | BODY | E403 | E507 }>> {
        Ok(Json(
            store_upload(state.0, auth.who.user.id.get(), body).await?,
        ))
    }
}

/// A key with its usage now.
async fn key_view(
    state: &AppState,
    user: &crate::domain::user::User,
    key: &crate::domain::user::ApiKey,
) -> Result<KeyView, crate::error::AppError> {
    let mut view = KeyView::at(key, state.limits.now_ms());
    let usage = state.limits.usage(user, Some(key.id)).await?;
    view.usage = usage
        .first()
        .filter(|(r, _)| r.is_key)
        .map(|(_, u)| crate::http::limits::UsageView::from_usage(u));
    Ok(view)
}

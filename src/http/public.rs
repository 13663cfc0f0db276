//! The public API of the source document: models, generations, account.

use super::auth::{ApiKeyAuth, OptionalApiKey};
use super::failures::*;
use super::views::*;
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::request::{self, DurationInput, Expect, GenerationInput};
use crate::domain::task::Status;
use crate::error::AppError;
use crate::service::tasks::Filter;
use crate::service::uploads::check_own_uploads;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{Example, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags, Union};
use std::borrow::Cow;

#[derive(Tags)]
pub enum ApiTags {
    /// Models callers can use and what they cost.
    Models,
    /// Upload images, videos and audio for use as references.
    Uploads,
    /// Create video generation tasks and read their results.
    Generations,
    /// The caller's account.
    Account,
    /// Service health.
    Operations,
}

/// `duration`: `"auto"`, a number of seconds, or a numeric string such as `"5"`;
/// per-second models bill this many seconds (`auto` = the model's default).
#[derive(Debug, Clone, Union)]
pub enum DurationValue {
    Seconds(f64),
    Text(String),
}

/// A video generation request. Reference assets in the prompt as `@Image1`, `@Video1`,
/// `@Audio1` (1-based, in the order of the URL arrays); the forwarding layer adapts them
/// to each channel's syntax.
#[derive(Debug, Clone, Object)]
#[oai(example, skip_serializing_if_is_none)]
pub struct CreateGeneration {
    /// Public model id, e.g. `video-2.0-mini-reference-to-video`.
    pub model: String,
    /// `text-to-video`, `image-to-video` or `reference-to-video`; inferred from the assets
    /// when omitted.
    #[oai(rename = "type")]
    pub kind: Option<String>,
    /// The prompt; reference assets as `@Image1`, `@Video1`, `@Audio1`.
    pub prompt: String,
    /// Image URLs. The first is `@Image1`, the second `@Image2`.
    pub image_urls: Option<Vec<String>>,
    /// Video URLs. The first is `@Video1`.
    pub video_urls: Option<Vec<String>>,
    /// Audio URLs. The first is `@Audio1`.
    pub audio_urls: Option<Vec<String>>,
    /// e.g. `720p`, `480p`; see the model's `resolutions`.
    pub resolution: Option<String>,
    // Documented on `DurationValue`: a description here would wrap the union's `$ref` in an
    // `allOf`, which client generators refuse.
    pub duration: Option<DurationValue>,
    /// e.g. `auto`, `16:9`, `9:16`, `1:1`, `21:9`; see the model's `aspect_ratios`.
    pub aspect_ratio: Option<String>,
    /// Generate an audio track; the model's default when omitted.
    pub generate_audio: Option<bool>,
    /// Your own end-user id, kept for audit and troubleshooting.
    pub end_user_id: Option<String>,
    /// Optional: a public http(s) URL that receives the finished task (the same JSON as
    /// `GET /v1/video/generations/{task_id}`) as a POST when it completes or fails.
    /// Headers: `X-VideoApi-Event` (`task.completed`/`task.failed`), `X-VideoApi-Task`, and
    /// `X-VideoApi-Signature: t=<unix>,v1=<hex>` = HMAC-SHA256 of `"<t>.<body>"` keyed with
    /// the hex SHA-256 of the API key that created the task. Retried with backoff until a
    /// 2xx (8 attempts).
    pub callback_url: Option<String>,
}

/// What Swagger UI's "Try it out" sends: the demo text model answers it with a task.
impl Example for CreateGeneration {
    fn example() -> Self {
        CreateGeneration {
            model: "video-2.0-mini-text-to-video".into(),
            kind: Some("text-to-video".into()),
            prompt: "A paper boat drifts across a calm lake at sunrise, slow dolly in".into(),
            image_urls: None,
            video_urls: None,
            audio_urls: None,
            resolution: Some("720p".into()),
            duration: Some(DurationValue::Text("auto".into())),
            aspect_ratio: Some("16:9".into()),
            generate_audio: None,
            end_user_id: Some("customer_001".into()),
            callback_url: None,
        }
    }
}

/// The create body as sent, decoded by [`CreateBody::decode`] so that every problem names
/// its field in plain words. poem-openapi's own messages name Rust types and not the field,
/// and its parsing runs before the handler, where the `strict_request_fields` setting is
/// not known; so parsing here only keeps the JSON and the handler decides.
pub struct CreateBody(serde_json::Value);

/// Every field of [`CreateGeneration`] (a test keeps this in step with the schema).
const FIELDS: &[(&str, Expect)] = &[
    ("model", Expect::Text),
    ("type", Expect::Text),
    ("prompt", Expect::Text),
    ("image_urls", Expect::TextList),
    ("video_urls", Expect::TextList),
    ("audio_urls", Expect::TextList),
    ("resolution", Expect::Text),
    ("duration", Expect::Duration),
    ("aspect_ratio", Expect::Text),
    ("generate_audio", Expect::Bool),
    ("end_user_id", Expect::Text),
    ("callback_url", Expect::Text),
];
const REQUIRED: &[&str] = &["model", "prompt"];

impl CreateBody {
    /// Check the body field by field, then decode it. With `strict`, a field the request
    /// does not have is an error (a typo like `resolutoin` would otherwise be ignored
    /// and billed at the default).
    pub fn decode(self, strict: bool) -> Result<GenerationInput, AppError> {
        let obj = match self.0 {
            serde_json::Value::Object(obj) => obj,
            serde_json::Value::Null => {
                return Err(AppError::InvalidJson {
                    message: "the request body is empty: send a JSON object with at least \"model\" and \"prompt\"".into(),
                });
            }
            other => {
                return Err(AppError::InvalidBody {
                    message: format!(
                        "the request body must be a JSON object, not {}",
                        request::json_kind(&other)
                    ),
                });
            }
        };
        request::check_fields(&obj, FIELDS, REQUIRED, strict)?;
        // Every field was checked above, so this cannot fail on the caller's input; its
        // message would name Rust types, so it is not passed on.
        CreateGeneration::parse_from_json(Some(serde_json::Value::Object(obj)))
            .map(GenerationInput::from)
            .map_err(|e| AppError::internal(e.into_message()))
    }
}

impl Type for CreateBody {
    const IS_REQUIRED: bool = true;
    type RawValueType = serde_json::Value;
    type RawElementValueType = serde_json::Value;

    fn name() -> Cow<'static, str> {
        CreateGeneration::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        CreateGeneration::schema_ref()
    }

    fn register(registry: &mut Registry) {
        CreateGeneration::register(registry)
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl ParseFromJSON for CreateBody {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        Ok(CreateBody(value.unwrap_or_default()))
    }
}

impl ToJSON for CreateBody {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(self.0.clone())
    }
}

impl From<CreateGeneration> for GenerationInput {
    fn from(c: CreateGeneration) -> Self {
        GenerationInput {
            model: c.model,
            kind: c.kind,
            prompt: c.prompt,
            image_urls: c.image_urls.unwrap_or_default(),
            video_urls: c.video_urls.unwrap_or_default(),
            audio_urls: c.audio_urls.unwrap_or_default(),
            resolution: c.resolution,
            duration: c.duration.map(|d| match d {
                DurationValue::Seconds(n) => DurationInput::Number(n),
                DurationValue::Text(t) => DurationInput::Text(t),
            }),
            aspect_ratio: c.aspect_ratio,
            generate_audio: c.generate_audio,
            end_user_id: c.end_user_id,
            callback_url: c.callback_url,
        }
    }
}

/// The task was accepted: poll it every `poll_interval_seconds`.
#[derive(Debug, Clone, Object)]
pub struct Accepted {
    /// `vidgen_<unix ms>_<8 hex>`.
    pub task_id: String,
    /// Always `pending` for a new task.
    pub status: String,
    /// How often to poll `GET /v1/video/generations/{task_id}`.
    pub poll_interval_seconds: u32,
    /// Present while the task waits for a free slot of the key's (or account's)
    /// `max_concurrency`: its 1-based place among that key's waiting tasks. It is
    /// accepted and charged; it starts when a slot frees.
    #[oai(skip_serializing_if_is_none)]
    pub queue_position: Option<u64>,
}

#[derive(ApiResponse)]
pub enum CreateResponse {
    /// Task created; credits reserved.
    #[oai(status = 200)]
    Ok(Json<Accepted>),
}

#[derive(Clone)]
pub struct PublicApi;

#[OpenApi]
impl PublicApi {
    /// List models
    ///
    /// Models that can be called and their current prices. No key needed; with a valid
    /// Bearer key the prices are the caller's own.
    #[oai(
        path = "/v1/models",
        method = "get",
        tag = "ApiTags::Models",
        operation_id = "list_models"
    )]
    async fn models(
        &self,
        state: Data<&AppState>,
        who: OptionalApiKey,
    ) -> Result<Json<ModelList>, Failure<AUTH>> {
        let group = who
            .0
            .as_ref()
            .and_then(|p| state.catalog.group(p.user.pricing_group.as_deref()));
        let who_id = who.0.as_ref().map(|p| p.user.id);
        // A key with a model allow-list sees only those models.
        let allowed = match who
            .0
            .as_ref()
            .and_then(|p| p.key_id.map(|k| (p.user.id, k)))
        {
            Some((uid, kid)) => Some(state.accounts.key(uid, kid).await?.limits),
            None => None,
        };
        let data = state
            .catalog
            .models()
            .iter()
            .filter(|m| m.enabled)
            .filter(|m| allowed.as_ref().is_none_or(|l| l.allows_model(&m.id)))
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

    /// Create a video task
    ///
    /// Returns a local task id at once; generation runs in the background. The price is
    /// reserved now (402 if the balance is short: nothing is created) and refunded if the
    /// task fails. Send an `Idempotency-Key` header to make retries safe: the same key with
    /// the same body returns the same task and is never charged twice.
    #[oai(
        path = "/v1/video/generations",
        method = "post",
        tag = "ApiTags::Generations",
        operation_id = "create_generation"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        body: Json<CreateBody>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> Result<CreateResponse, Failure<{ AUTH | BODY | E402 | E409 | E429 }>> {
        let input = body.0.decode(state.config.strict_request_fields)?;
        check_own_uploads(
            &state.storage,
            auth.0.user.id.get(),
            &state.config.public_url,
            &input,
        )
        .await?;
        let (task, _) = state
            .tasks
            .create(&auth.0, input, idempotency_key.0, "api")
            .await?;
        let queue_position = state.tasks.queue_position(&task).await;
        Ok(CreateResponse::Ok(Json(Accepted {
            task_id: task.id.into(),
            status: task.status.as_str().into(),
            poll_interval_seconds: task.poll_interval_seconds,
            queue_position,
        })))
    }

    /// Estimate a video task
    ///
    /// Takes exactly the body of `POST /v1/video/generations` and answers what that create
    /// would reserve now, with its breakdown. The same checks and errors as a create,
    /// including 402 when the balance is short; nothing is created or charged.
    #[oai(
        path = "/v1/video/generations/estimate",
        method = "post",
        tag = "ApiTags::Generations",
        operation_id = "estimate_generation"
    )]
    async fn estimate(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        body: Json<CreateBody>,
    ) -> Result<Json<EstimateView>, Failure<{ AUTH | BODY | E402 }>> {
        let input = body.0.decode(state.config.strict_request_fields)?;
        check_own_uploads(
            &state.storage,
            auth.0.user.id.get(),
            &state.config.public_url,
            &input,
        )
        .await?;
        let e = state.tasks.estimate(&auth.0, input, false).await?;
        Ok(Json(EstimateView::from_estimate(&e)))
    }

    /// Get a task
    ///
    /// Poll every `poll_interval_seconds` until `completed` or `failed`. A failed task's
    /// reserved credits are refunded automatically (`credits_refunded: true`).
    #[oai(
        path = "/v1/video/generations/:task_id",
        method = "get",
        tag = "ApiTags::Generations",
        operation_id = "get_generation"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        task_id: Path<String>,
    ) -> Result<Json<TaskView>, Failure<{ AUTH | E404 }>> {
        let task = state
            .tasks
            .get(&auth.0, &TaskId::from_path(&task_id.0)?)
            .await?;
        let mut view = TaskView::from_task(&task, &state.config.public_url)
            .expiring(state.storage.video_expiry(&task));
        view.queue_position = state.tasks.queue_position(&task).await;
        Ok(Json(view))
    }

    /// List your tasks
    ///
    /// Newest first. Pass the returned `next_cursor` as `before` for the next page.
    #[oai(
        path = "/v1/video/generations",
        method = "get",
        tag = "ApiTags::Generations",
        operation_id = "list_generations"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        /// Page size, 1-100 (default 20).
        limit: Query<Option<u32>>,
        /// Cursor: only tasks older than this task id.
        before: Query<Option<String>>,
        /// Only tasks with this status.
        status: Query<Option<String>>,
    ) -> Result<Json<TaskList>, Failure<{ AUTH | PARAMS }>> {
        let status = match status.0.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                AppError::invalid("status", "must be pending, processing, completed or failed")
            })?),
        };
        let limit = crate::domain::paging::page_limit(limit.0, 20, 100)?;
        let filter = Filter {
            user_id: Some(auth.0.user.id),
            status,
            before: TaskId::cursor(before.0)?,
            model: None,
        };
        let tasks = state.tasks.list(filter, limit + 1).await?;
        let expiry: Vec<_> = tasks
            .iter()
            .map(|t| state.storage.video_expiry(t))
            .collect();
        let mut page = TaskList::page(tasks, limit, &state.config.public_url);
        for (view, at) in page.data.iter_mut().zip(expiry) {
            *view = view.clone().expiring(at);
        }
        Ok(Json(page))
    }

    /// Cancel a task
    ///
    /// Only a task that was not yet sent to a channel can be cancelled (409 otherwise);
    /// it becomes `failed` with error code `cancelled` and its credits are refunded.
    #[oai(
        path = "/v1/video/generations/:task_id/cancel",
        method = "post",
        tag = "ApiTags::Generations",
        operation_id = "cancel_generation"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        task_id: Path<String>,
    ) -> Result<Json<TaskView>, Failure<{ AUTH | E404 | E409 }>> {
        let task = state
            .tasks
            .cancel(&auth.0, &TaskId::from_path(&task_id.0)?)
            .await?;
        Ok(Json(
            TaskView::from_task(&task, &state.config.public_url)
                .expiring(state.storage.video_expiry(&task)),
        ))
    }

    /// Your account
    ///
    /// The balance in credits and the account name; the calling key's limits and usage
    /// (`key`), the account's own limits across all its keys (`account_limits`), and the
    /// files it stores against its storage quota (`storage`).
    #[oai(
        path = "/v1/account",
        method = "get",
        tag = "ApiTags::Account",
        operation_id = "get_account"
    )]
    async fn account(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
    ) -> Result<Json<Account>, Failure<AUTH>> {
        // Fresh from the store: the principal may come from the auth cache.
        let u = &state.accounts.user(auth.0.user.id).await?;
        let limit_usage = state.limits.usage(u, auth.0.key_id).await?;
        let key = match auth.0.key_id {
            Some(kid) => {
                let k = state.accounts.key(u.id, kid).await?;
                let mut view = crate::http::console::views::KeyView::at(&k, state.limits.now_ms());
                view.usage = limit_usage
                    .iter()
                    .find(|(r, _)| r.is_key)
                    .map(|(_, u)| crate::http::limits::UsageView::from_usage(u));
                Some(view)
            }
            None => None,
        };
        let account_limits = limit_usage
            .iter()
            .find(|(r, _)| !r.is_key)
            .map(|(_, u)| crate::http::limits::LimitsWithUsage::from_usage(u));
        let storage_usage = state.storage.usage(u.id).await?;
        let quota = state
            .storage
            .quota_of(u.id, u.pricing_group.clone())
            .await?;
        Ok(Json(Account {
            object: "account".into(),
            username: u.username.clone(),
            credits: u.credits.get(),
            pricing_group: u.pricing_group.clone(),
            key,
            account_limits,
            storage: crate::http::views::StorageView::new(storage_usage, quota),
        }))
    }

    /// Health check
    ///
    /// `{"status":"ok"}` when the server can read its database and write to it;
    /// `503 service_unavailable` with the reason while writes are impossible (the
    /// database writer is down or stuck, or its last commit failed).
    #[oai(
        path = "/healthz",
        method = "get",
        tag = "ApiTags::Operations",
        operation_id = "healthz"
    )]
    async fn healthz(&self, state: Data<&AppState>) -> Result<Json<Health>, Failure<E503>> {
        crate::service::health::check(&state.store).await?;
        Ok(Json(Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_fields_are_the_schema_fields() {
        let mut registry = Registry::new();
        CreateGeneration::register(&mut registry);
        let schema = &registry.schemas["CreateGeneration"];
        let documented: Vec<&str> = schema.properties.iter().map(|(name, _)| *name).collect();
        let checked: Vec<&str> = FIELDS.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, checked);
        assert_eq!(schema.required, REQUIRED);
    }

    #[test]
    fn decode_names_the_field_in_plain_words() {
        let cases = [
            (
                serde_json::json!({"prompt": "x"}),
                "model",
                "\"model\" is required",
            ),
            (
                serde_json::json!({"model": "m", "prompt": "x", "duration": [5]}),
                "duration",
                "\"duration\" must be \"auto\", a number or a numeric string, not an array",
            ),
            (
                serde_json::json!({"model": "m", "prompt": "x", "image_urls": "u"}),
                "image_urls",
                "\"image_urls\" must be an array of strings, not a string",
            ),
            (
                serde_json::json!({"model": "m", "prompt": "x", "resolutoin": "480p"}),
                "resolutoin",
                "unknown field \"resolutoin\" \u{2014} did you mean \"resolution\"?",
            ),
        ];
        for (body, param, message) in cases {
            let err = CreateBody(body).decode(true).unwrap_err();
            assert_eq!(err.param().as_deref(), Some(param));
            assert_eq!(err.to_string(), message);
        }
        let relaxed = CreateBody(serde_json::json!({"model": "m", "prompt": "x", "seed": 1}));
        assert_eq!(relaxed.decode(false).unwrap().model, "m");
    }
}

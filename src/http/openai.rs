//! The OpenAI Videos API (`/v1/videos`): the official SDKs, LiteLLM and other gateways
//! work unchanged. One task, two views: a video id is the task id of
//! `/v1/video/generations`, with the same keys, credits, engine and storage.

use super::auth::ApiKeyAuth;
use super::errors::ApiError;
use super::failures::*;
use super::public::DurationValue;
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::openai::{self, VideoRequest};
use crate::domain::request::{self, DurationInput, Expect, GenerationInput};
use crate::domain::task::{Status, Task};
use crate::error::AppError;
use crate::service::tasks::Filter;
use crate::service::uploads::{check_own_uploads, save_reference};
use base64::Engine as _;
use poem::web::{Data, StaticFileRequest};
use poem::{Body, FromRequest, IntoResponse, Request, RequestBody, Response};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::registry::{
    MetaMediaType, MetaRequest, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ParseFromJSON, Type};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi, Tags,
};
use serde_json::{Map, Value};

#[derive(Tags)]
pub enum OpenAiTags {
    /// The OpenAI Videos API, served on the same keys, credits and tasks: point an
    /// official `openai` SDK's `base_url` at `<this server>/v1`. A video id is a task id.
    #[oai(rename = "OpenAI-compatible")]
    OpenAiCompatible,
}

/// `input_reference` sent as JSON (as a file, send it as a multipart file part).
#[derive(Debug, Clone, Object)]
pub struct InputReference {
    /// An http(s) URL (e.g. from `POST /api/upload`) or a `data:image/...;base64,` URL.
    pub image_url: Option<String>,
    /// Not supported here (there is no files API): send the image or its URL.
    pub file_id: Option<String>,
}

/// A video request in the OpenAI shape. Send it as `multipart/form-data` (what the SDKs
/// do; `input_reference` may then be an image file part) or as JSON. `seconds` (or the
/// unified `duration`) is a number of seconds or a numeric string (`"4"`, `8`), one of the
/// model's `durations`. The unified fields of
/// `POST /v1/video/generations` are accepted too (SDKs pass them with `extra_body`).
#[derive(Debug, Clone, Object)]
pub struct CreateVideo {
    /// What to generate; reference assets as `@Image1`, `@Video1`, `@Audio1`.
    pub prompt: String,
    /// A public model id from `GET /v1/models`.
    pub model: String,
    // Length in seconds (`"4"`, `8`), one of the model's `durations`. Not a doc comment: a
    // description would wrap the union's `$ref` in an `allOf`, which client generators refuse.
    pub seconds: Option<DurationValue>,
    /// `WIDTHxHEIGHT`, e.g. `1280x720` or `720x1280`: mapped to the model's resolution
    /// and aspect ratio (a size the model cannot make is a 422 naming it).
    pub size: Option<String>,
    /// An image used as the first frame (`@Image1`): a file part, or `{"image_url": ...}`.
    pub input_reference: Option<InputReference>,
    /// `text-to-video`, `image-to-video` or `reference-to-video`.
    #[oai(rename = "type")]
    pub kind: Option<String>,
    /// More images after `input_reference` (`@Image2`...).
    pub image_urls: Option<Vec<String>>,
    pub video_urls: Option<Vec<String>>,
    pub audio_urls: Option<Vec<String>>,
    /// e.g. `720p`; instead of `size`.
    pub resolution: Option<String>,
    // `auto` or seconds, instead of `seconds` (see above for why this is no doc comment).
    pub duration: Option<DurationValue>,
    /// e.g. `16:9`; instead of `size`.
    pub aspect_ratio: Option<String>,
    pub generate_audio: Option<bool>,
    /// A public http(s) URL that receives the finished task (see `/v1/video/generations`).
    pub callback_url: Option<String>,
    pub end_user_id: Option<String>,
}

/// Every field of [`CreateVideo`] (a test keeps this in step with the schema).
const FIELDS: &[(&str, Expect)] = &[
    ("prompt", Expect::Text),
    ("model", Expect::Text),
    ("seconds", Expect::Seconds),
    ("size", Expect::Text),
    ("input_reference", Expect::Reference),
    ("type", Expect::Text),
    ("image_urls", Expect::TextList),
    ("video_urls", Expect::TextList),
    ("audio_urls", Expect::TextList),
    ("resolution", Expect::Text),
    ("duration", Expect::Seconds),
    ("aspect_ratio", Expect::Text),
    ("generate_audio", Expect::Bool),
    ("callback_url", Expect::Text),
    ("end_user_id", Expect::Text),
];
const REQUIRED: &[&str] = &["prompt", "model"];

/// Check the fields one by one (naming the field in plain words), then decode.
fn decode_fields(obj: Map<String, Value>, strict: bool) -> Result<CreateVideo, AppError> {
    request::check_fields(&obj, FIELDS, REQUIRED, strict)?;
    let mut known: Map<String, Value> = obj
        .into_iter()
        .filter(|(k, _)| FIELDS.iter().any(|(f, _)| f == k))
        .collect();
    // A bare URL is accepted as `{"image_url": ...}`.
    if let Some(Value::String(url)) = known.get("input_reference") {
        let url = url.clone();
        known.insert(
            "input_reference".into(),
            serde_json::json!({ "image_url": url }),
        );
    }
    CreateVideo::parse_from_json(Some(Value::Object(known))).map_err(|e| {
        AppError::invalid(
            "input_reference",
            format!("the body could not be read: {}", e.into_message()),
        )
    })
}

/// Text parts are small; this bounds what a multipart body can hold in memory.
const MAX_TEXT_PART: usize = 64 * 1024;
const MAX_PARTS: usize = 200;
/// JSON bodies of this route are read here, so they get the same cap as the rest of `/v1`.
const JSON_LIMIT: usize = 1024 * 1024;

/// The create body as sent: JSON or multipart, read by the handler (which knows the data
/// dir for file parts and the `strict_request_fields` setting).
pub enum CreateVideoBody {
    Json(Body),
    Multipart { boundary: String, body: Body },
}

impl<'a> ApiExtractor<'a> for CreateVideoBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        CreateVideo::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![
                MetaMediaType {
                    content_type: "multipart/form-data",
                    schema: CreateVideo::schema_ref(),
                },
                MetaMediaType {
                    content_type: "application/json",
                    schema: CreateVideo::schema_ref(),
                },
            ],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let ct = request
            .content_type()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ct.starts_with("multipart/form-data") {
            let boundary = multer::parse_boundary(&ct).map_err(|e| {
                ApiError(AppError::invalid(
                    "input_reference",
                    format!(
                        "bad multipart content type ({e}): let the HTTP client set the boundary"
                    ),
                ))
            })?;
            Ok(CreateVideoBody::Multipart {
                boundary,
                body: body.take()?,
            })
        } else if ct.starts_with("application/json") {
            Ok(CreateVideoBody::Json(body.take()?))
        } else {
            Err(ApiError(AppError::UnsupportedContentType {
                expected: "multipart/form-data or application/json",
                got: request.content_type().map(str::to_string),
            })
            .into())
        }
    }
}

impl CreateVideoBody {
    /// The fields as JSON; a file part `input_reference` is stored like an upload and
    /// stands in the fields as `{"image_url": <its URL>}`.
    async fn read(self, state: &AppState, owner: u64) -> Result<Map<String, Value>, AppError> {
        match self {
            CreateVideoBody::Json(body) => {
                let bytes = body.into_bytes_limit(JSON_LIMIT).await.map_err(|_| {
                    AppError::BodyTooLarge {
                        limit_bytes: JSON_LIMIT as u64,
                    }
                })?;
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Err(AppError::InvalidJson {
                        message:
                            "the request body is empty: send at least \"model\" and \"prompt\""
                                .into(),
                    });
                }
                match serde_json::from_slice::<Value>(&bytes) {
                    Ok(Value::Object(obj)) => Ok(obj),
                    Ok(_) => Err(AppError::InvalidBody {
                        message: "the request body must be a JSON object".into(),
                    }),
                    Err(e) => Err(AppError::InvalidJson {
                        message: format!("the body is not valid JSON: {e}"),
                    }),
                }
            }
            CreateVideoBody::Multipart { boundary, body } => {
                read_multipart(state, owner, &boundary, body).await
            }
        }
    }
}

async fn read_multipart(
    state: &AppState,
    owner: u64,
    boundary: &str,
    body: Body,
) -> Result<Map<String, Value>, AppError> {
    let bad = |e: multer::Error| {
        AppError::invalid("input_reference", format!("malformed multipart body: {e}"))
    };
    let mut mp = multer::Multipart::new(body.into_bytes_stream(), boundary);
    let mut obj = Map::new();
    let mut parts = 0;
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(AppError::invalid(
                "input_reference",
                format!("at most {MAX_PARTS} multipart fields"),
            ));
        }
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some()
            || field
                .content_type()
                .is_some_and(|m| m.type_() != "text" && m.essence_str() != "application/json");
        if name == "input_reference" && is_file {
            if obj.contains_key("input_reference") {
                return Err(AppError::invalid(
                    "input_reference",
                    "send one input_reference image (it is the first frame)",
                ));
            }
            let filename = field.file_name().unwrap_or("reference").to_string();
            let declared = field.content_type().map(|m| m.to_string());
            let saved = save_reference(
                &state.storage,
                owner,
                &filename,
                declared.as_deref(),
                &mut field,
                state.config.max_upload_bytes,
            )
            .await?;
            let url = format!("{}/{}", state.config.public_url, saved.key);
            obj.insert(name, serde_json::json!({ "image_url": url }));
            continue;
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            text.extend_from_slice(&chunk);
            if text.len() > MAX_TEXT_PART {
                return Err(AppError::invalid(
                    name,
                    format!("a text field is limited to {MAX_TEXT_PART} bytes"),
                ));
            }
        }
        let text = String::from_utf8(text)
            .map_err(|_| AppError::invalid(name.clone(), "must be UTF-8 text"))?;
        put_form_field(&mut obj, &name, text);
    }
    Ok(obj)
}

/// Place a form field in the JSON the JSON route would have received: `name[]` appends to
/// an array (how the SDKs send lists), `a[b]` sets a key of an object, `true`/`false` of
/// a boolean field become booleans.
fn put_form_field(obj: &mut Map<String, Value>, name: &str, text: String) {
    if let Some(list) = name.strip_suffix("[]") {
        let entry = obj
            .entry(list.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(Value::String(text));
        }
        return;
    }
    if let Some((outer, inner)) = name.strip_suffix(']').and_then(|n| n.split_once('[')) {
        let entry = obj
            .entry(outer.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(inner.to_string(), Value::String(text));
        }
        return;
    }
    let is_bool = FIELDS.iter().any(|(f, e)| *f == name && *e == Expect::Bool);
    let value = match (is_bool, text.as_str()) {
        (true, "true" | "True" | "1") => Value::Bool(true),
        (true, "false" | "False" | "0") => Value::Bool(false),
        _ => Value::String(text),
    };
    obj.insert(name.to_string(), value);
}

fn duration(v: Option<DurationValue>) -> Option<DurationInput> {
    v.map(|d| match d {
        DurationValue::Seconds(n) => DurationInput::Number(n),
        DurationValue::Text(t) => DurationInput::Text(t),
    })
}

/// The URL `input_reference` stands for: an http(s) URL as it is, a data URL stored like
/// an upload.
async fn reference_url(
    state: &AppState,
    owner: u64,
    reference: Option<InputReference>,
) -> Result<Option<String>, AppError> {
    let url = match reference {
        None => return Ok(None),
        Some(InputReference {
            image_url: Some(u), ..
        }) => u,
        Some(InputReference {
            file_id: Some(_), ..
        }) => {
            return Err(AppError::invalid(
                "input_reference",
                "file_id is not supported: send the image as a file or as {\"image_url\": ...}",
            ));
        }
        Some(_) => {
            return Err(AppError::invalid(
                "input_reference",
                "input_reference needs an image file or {\"image_url\": ...}",
            ));
        }
    };
    let Some(data) = url.strip_prefix("data:") else {
        return Ok(Some(url));
    };
    let (meta, payload) = data.split_once(',').unwrap_or((data, ""));
    let declared = meta.strip_suffix(";base64").ok_or_else(|| {
        AppError::invalid(
            "input_reference",
            "a data URL must be base64: data:image/png;base64,...",
        )
    })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| AppError::invalid("input_reference", format!("bad base64 data: {e}")))?;
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
    let saved = save_reference(
        &state.storage,
        owner,
        "reference",
        Some(declared).filter(|d| !d.is_empty()),
        stream,
        state.config.max_upload_bytes,
    )
    .await?;
    Ok(Some(format!("{}/{}", state.config.public_url, saved.key)))
}

impl CreateVideo {
    fn into_request(self, input_reference: Option<String>) -> VideoRequest {
        VideoRequest {
            model: self.model.clone(),
            prompt: self.prompt.clone(),
            seconds: duration(self.seconds),
            size: self.size,
            input_reference,
            unified: GenerationInput {
                model: self.model,
                kind: self.kind,
                prompt: self.prompt,
                image_urls: self.image_urls.unwrap_or_default(),
                video_urls: self.video_urls.unwrap_or_default(),
                audio_urls: self.audio_urls.unwrap_or_default(),
                resolution: self.resolution,
                duration: duration(self.duration),
                aspect_ratio: self.aspect_ratio,
                generate_audio: self.generate_audio,
                end_user_id: self.end_user_id,
                callback_url: self.callback_url,
            },
        }
    }
}

/// Why a video failed.
#[derive(Debug, Clone, Object)]
pub struct VideoError {
    /// e.g. `demo_failure`, `deadline_exceeded`, `cancelled`, or the channel's own code.
    pub code: String,
    pub message: String,
}

/// A video job in the OpenAI shape; the same task as `GET /v1/video/generations/{id}`.
#[derive(Debug, Clone, Object)]
pub struct Video {
    /// The task id (`vidgen_...`), valid on both APIs.
    pub id: String,
    /// Always `video`.
    pub object: String,
    /// The public model id.
    pub model: String,
    /// `queued`, `in_progress`, `completed` or `failed` (= `pending`, `processing`,
    /// `completed`, `failed` of the task).
    pub status: String,
    /// Percent done, 0–100; never goes down (an estimate while upstream works).
    pub progress: u8,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds when it finished; null before.
    #[oai(nullable)]
    pub completed_at: Option<i64>,
    /// Unix seconds after which retention deletes the stored video (`content` then
    /// answers 410 `file_expired`); null before completion or when kept until deleted.
    #[oai(nullable)]
    pub expires_at: Option<i64>,
    /// Seconds billed, as a string (`"5"`).
    pub seconds: String,
    /// `WIDTHxHEIGHT` of the asked resolution and aspect ratio (`auto` shows as 16:9).
    pub size: String,
    pub prompt: String,
    /// Null unless `failed`; a failed video's credits are refunded.
    #[oai(nullable)]
    pub error: Option<VideoError>,
}

impl Video {
    /// With the stored video's expiry (retention), once completed.
    pub fn expiring(mut self, storage: &crate::storage::Storage, t: &Task) -> Video {
        self.expires_at = storage
            .video_expiry(t)
            .filter(|_| t.status == Status::Completed)
            .map(|ms| ms / 1000);
        self
    }

    pub fn from_task(t: &Task, now_ms: i64) -> Video {
        let r = &t.request;
        Video {
            id: t.id.to_string(),
            object: "video".into(),
            model: t.model.clone(),
            status: openai::status(t).into(),
            progress: openai::progress(t, now_ms),
            created_at: t.created_at_ms / 1000,
            completed_at: t
                .finished_at_ms
                .filter(|_| t.status.is_terminal())
                .map(|ms| ms / 1000),
            expires_at: None,
            seconds: r.seconds.to_string(),
            size: openai::size_of(&r.resolution, &r.aspect_ratio)
                .unwrap_or_else(|| r.resolution.clone()),
            prompt: r.prompt.clone(),
            error: t
                .error
                .as_ref()
                .filter(|_| t.status == Status::Failed)
                .map(|e| VideoError {
                    code: e.code.clone(),
                    message: e.message.clone(),
                }),
        }
    }
}

/// A page of videos.
#[derive(Debug, Clone, Object)]
pub struct VideoList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Video>,
    pub has_more: bool,
    #[oai(nullable)]
    pub first_id: Option<String>,
    /// Pass as `after` for the next page.
    #[oai(nullable)]
    pub last_id: Option<String>,
}

/// The answer to a delete.
#[derive(Debug, Clone, Object)]
pub struct DeletedVideo {
    pub id: String,
    /// Always `video.deleted`.
    pub object: String,
    pub deleted: bool,
}

/// A remix: the new prompt.
#[derive(Debug, Clone, Object)]
pub struct RemixVideo {
    pub prompt: String,
}

#[derive(ApiResponse)]
pub enum VideoResponse {
    /// The video; `openai-poll-after-ms` says when to ask again (the SDKs' poll helpers
    /// read it).
    #[oai(status = 200)]
    Ok(
        Json<Video>,
        #[oai(header = "openai-poll-after-ms")] Option<u64>,
    ),
}

/// The video file (or a byte range of it).
pub struct FileResponse(Response);

impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

impl ApiResponse for FileResponse {
    fn meta() -> MetaResponses {
        let binary = || {
            vec![MetaMediaType {
                content_type: "video/mp4",
                schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format(
                    "string", "binary",
                ))),
            }]
        };
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The MP4 file.",
                    status: Some(200),
                    status_range: None,
                    content: binary(),
                    headers: vec![],
                },
                MetaResponse {
                    description: "The byte range asked for with `Range`.",
                    status: Some(206),
                    status_range: None,
                    content: binary(),
                    headers: vec![],
                },
                MetaResponse {
                    description: "With object storage (`[storage] serve = \"redirect\"`, the default there): `Location` is a short-lived presigned URL of the file.",
                    status: Some(302),
                    status_range: None,
                    content: vec![],
                    headers: vec![],
                },
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

fn poll_after_ms(state: &AppState, t: &Task) -> Option<u64> {
    (!t.status.is_terminal()).then(|| {
        state
            .config
            .poll_interval_ms
            .unwrap_or(u64::from(t.poll_interval_seconds) * 1000)
    })
}

#[derive(Clone)]
pub struct OpenAiApi;

#[OpenApi]
impl OpenAiApi {
    /// Create a video
    ///
    /// The OpenAI `videos.create`: multipart (what the SDKs send) or JSON. Billed,
    /// validated and run exactly like `POST /v1/video/generations` (402 when the balance
    /// is short, nothing created); `Idempotency-Key` makes retries safe.
    #[oai(
        path = "/v1/videos",
        method = "post",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        body: CreateVideoBody,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> Result<VideoResponse, Failure<{ AUTH | BODY | E402 | E409 | E429 }>> {
        let owner = auth.0.user.id.get();
        let fields = body.read(state.0, owner).await?;
        let create = decode_fields(fields, state.config.strict_request_fields)?;
        let model = state.catalog.usable_model(&create.model)?;
        let reference = reference_url(state.0, owner, create.input_reference.clone()).await?;
        let input = openai::to_generation_input(&model, create.into_request(reference))?;
        check_own_uploads(&state.storage, owner, &state.config.public_url, &input).await?;
        let (task, _) = state
            .tasks
            .create(&auth.0, input, idempotency_key.0, "api")
            .await?;
        let after = poll_after_ms(state.0, &task);
        Ok(VideoResponse::Ok(
            Json(Video::from_task(&task, crate::domain::now_ms()).expiring(&state.storage, &task)),
            after,
        ))
    }

    /// Retrieve a video
    #[oai(
        path = "/v1/videos/:video_id",
        method = "get",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn retrieve(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        video_id: Path<String>,
    ) -> Result<VideoResponse, Failure<{ AUTH | E404 }>> {
        let task = state
            .tasks
            .get(&auth.0, &TaskId::from_path(&video_id.0)?)
            .await?;
        let after = poll_after_ms(state.0, &task);
        Ok(VideoResponse::Ok(
            Json(Video::from_task(&task, crate::domain::now_ms()).expiring(&state.storage, &task)),
            after,
        ))
    }

    /// List videos
    ///
    /// Your videos, newest first (`order=desc`, default) or oldest first (`asc`). Pass the
    /// page's `last_id` as `after` for the next page.
    #[oai(
        path = "/v1/videos",
        method = "get",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        /// A video id from the previous page.
        after: Query<Option<String>>,
        /// Page size, 1-100 (default 20).
        limit: Query<Option<u32>>,
        /// `desc` (newest first, default) or `asc`.
        order: Query<Option<String>>,
    ) -> Result<Json<VideoList>, Failure<{ AUTH | PARAMS }>> {
        let limit = crate::domain::paging::page_limit(limit.0, 20, 100)?;
        let after = match after.0.filter(|a| !a.is_empty()) {
            None => None,
            Some(a) => Some(TaskId::parse(&a).ok_or_else(|| {
                AppError::invalid("after", "must be a video id from a previous page")
            })?),
        };
        let mut tasks = match order.0.as_deref() {
            None | Some("") | Some("desc") => {
                let filter = Filter {
                    user_id: Some(auth.0.user.id),
                    status: None,
                    before: after,
                    model: None,
                };
                state.tasks.list(filter, limit + 1).await?
            }
            Some("asc") => {
                state
                    .tasks
                    .list_oldest_first(&auth.0, after, limit + 1)
                    .await?
            }
            Some(_) => return Err(AppError::invalid("order", "must be asc or desc").into()),
        };
        let has_more = tasks.len() > limit;
        tasks.truncate(limit);
        let now = crate::domain::now_ms();
        Ok(Json(VideoList {
            object: "list".into(),
            first_id: tasks.first().map(|t| t.id.to_string()),
            last_id: tasks.last().map(|t| t.id.to_string()),
            has_more,
            data: tasks
                .iter()
                .map(|t| Video::from_task(t, now).expiring(&state.storage, t))
                .collect(),
        }))
    }

    /// Delete a video
    ///
    /// A video not yet sent upstream is cancelled and its credits refunded; a finished
    /// one's stored files are removed (its credits stay as they were; the record stays,
    /// so it can still be read). A video upstream is working on cannot be deleted yet (409).
    #[oai(
        path = "/v1/videos/:video_id",
        method = "delete",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        video_id: Path<String>,
    ) -> Result<Json<DeletedVideo>, Failure<{ AUTH | E404 | E409 }>> {
        let task = state
            .tasks
            .delete(&auth.0, &TaskId::from_path(&video_id.0)?, &state.storage)
            .await?;
        Ok(Json(DeletedVideo {
            id: task.id.into(),
            object: "video.deleted".into(),
            deleted: true,
        }))
    }

    /// Download video content
    ///
    /// The stored MP4 (`Range` requests answer 206); with object storage, a 302 to a
    /// short-lived presigned URL (or the file proxied, by setting). `variant=thumbnail` or
    /// `spritesheet`: no still images are kept, so these are 404.
    #[oai(
        path = "/v1/videos/:video_id/content",
        method = "get",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn content(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        req: &Request,
        video_id: Path<String>,
        /// `video` (default), `thumbnail` or `spritesheet`.
        variant: Query<Option<String>>,
    ) -> Result<FileResponse, Failure<{ AUTH | E404 | E410 | PARAMS }>> {
        let task = state
            .tasks
            .get(&auth.0, &TaskId::from_path(&video_id.0)?)
            .await?;
        match variant.0.as_deref() {
            None | Some("") | Some("video") => {}
            Some("thumbnail" | "spritesheet") => {
                return Err(
                    AppError::not_found("thumbnail (no still image is kept for videos)").into(),
                );
            }
            Some(_) => {
                return Err(AppError::invalid(
                    "variant",
                    "must be video, thumbnail or spritesheet",
                )
                .into());
            }
        }
        if task.status != Status::Completed {
            return Err(AppError::not_found(format!(
                "video content (the video is {})",
                openai::status(&task)
            ))
            .into());
        }
        let output = task
            .outputs
            .first()
            .ok_or_else(|| AppError::not_found("video content (its files were deleted)"))?;
        if state.storage.is_gone(&output.key).await {
            return Err(AppError::FileGone {
                key: output.key.clone(),
            }
            .into());
        }
        if state.storage.s3().is_some() {
            let resp = crate::http::files::serve_object(&state.storage, &output.key, req).await;
            return Ok(FileResponse(resp));
        }
        let path = state.storage.path_of(&output.key)?;
        let ranges = StaticFileRequest::from_request_without_body(req)
            .await
            .map_err(AppError::internal)?;
        let resp = ranges
            .create_response(&path, false, false)
            .map_err(|e| match e {
                poem::error::StaticFileError::NotFound => {
                    AppError::not_found("video content (its files were deleted)")
                }
                other => AppError::invalid("Range", other.to_string()),
            })?
            .into_response();
        Ok(FileResponse(resp))
    }

    /// Remix a video
    ///
    /// A new video of the same model, length and size from a completed one, with a new
    /// prompt: the source video is its `@Video1`. Models that take no reference video
    /// answer 422 `remix_unsupported`.
    #[oai(
        path = "/v1/videos/:video_id/remix",
        method = "post",
        tag = "OpenAiTags::OpenAiCompatible"
    )]
    async fn remix(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        video_id: Path<String>,
        body: Json<RemixVideo>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
    ) -> Result<VideoResponse, Failure<{ AUTH | BODY | E402 | E404 | E409 | E429 }>> {
        let task = state
            .tasks
            .remix(
                &auth.0,
                &TaskId::from_path(&video_id.0)?,
                body.0.prompt,
                &state.config.public_url,
                idempotency_key.0,
            )
            .await?;
        let after = poll_after_ms(state.0, &task);
        Ok(VideoResponse::Ok(
            Json(Video::from_task(&task, crate::domain::now_ms()).expiring(&state.storage, &task)),
            after,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_fields_are_the_schema_fields() {
        let mut registry = Registry::new();
        CreateVideo::register(&mut registry);
        let schema = &registry.schemas["CreateVideo"];
        let documented: Vec<&str> = schema.properties.iter().map(|(name, _)| *name).collect();
        let checked: Vec<&str> = FIELDS.iter().map(|(name, _)| *name).collect();
        assert_eq!(documented, checked);
        assert_eq!(schema.required, REQUIRED);
    }

    #[test]
    fn form_fields_become_the_json_the_sdks_mean() {
        let mut obj = Map::new();
        for (k, v) in [
            ("prompt", "a cat"),
            ("seconds", "8"),
            ("generate_audio", "false"),
            ("image_urls[]", "https://a/1.png"),
            ("image_urls[]", "https://a/2.png"),
            ("input_reference[image_url]", "https://a/0.png"),
        ] {
            put_form_field(&mut obj, k, v.to_string());
        }
        assert_eq!(
            Value::Object(obj),
            serde_json::json!({
                "prompt": "a cat", "seconds": "8", "generate_audio": false,
                "image_urls": ["https://a/1.png", "https://a/2.png"],
                "input_reference": {"image_url": "https://a/0.png"}
            })
        );
    }

    #[test]
    fn unknown_and_mistyped_fields_name_the_field() {
        let obj = |v: Value| v.as_object().unwrap().clone();
        let err = decode_fields(
            obj(serde_json::json!({"prompt": "p", "model": "m", "sise": "1280x720"})),
            true,
        )
        .unwrap_err();
        assert_eq!(err.param().as_deref(), Some("sise"));
        assert!(err.to_string().contains("\"size\""), "{err}");
        let err = decode_fields(obj(serde_json::json!({"prompt": "p"})), true).unwrap_err();
        assert_eq!(err.param().as_deref(), Some("model"));
        let err = decode_fields(
            obj(serde_json::json!({"prompt": "p", "model": "m", "seconds": [4]})),
            true,
        )
        .unwrap_err();
        assert_eq!(err.param().as_deref(), Some("seconds"));
        let relaxed = decode_fields(
            obj(serde_json::json!({"prompt": "p", "model": "m", "user": "x"})),
            false,
        )
        .unwrap();
        assert_eq!(relaxed.model, "m");
    }
}

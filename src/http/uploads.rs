//! `POST /api/upload`: a multipart body streamed straight to disk.

use super::auth::ApiKeyAuth;
use super::errors::ApiError;
use super::failures::{AUTH, BODY, E507, Failure};
use super::public::ApiTags;
use crate::app::AppState;
use crate::error::AppError;
use crate::service::uploads::save_multipart;
use poem::web::Data;
use poem::{Body, Request, RequestBody};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, Object, OpenApi};

/// A `multipart/form-data` body read as a stream (poem's own `Upload` would spool whole
/// files first, defeating the size cap).
pub struct MultipartStream {
    boundary: String,
    body: Body,
}

impl Payload for MultipartStream {
    const CONTENT_TYPE: &'static str = "multipart/form-data";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .to_ascii_lowercase()
            .starts_with("multipart/form-data")
    }

    fn schema_ref() -> MetaSchemaRef {
        let file = MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "binary")));
        let files = MetaSchema {
            items: Some(Box::new(file)),
            description: Some("One or more image, video or audio files."),
            ..MetaSchema::new("array")
        };
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            properties: vec![("files", MetaSchemaRef::Inline(Box::new(files)))],
            required: vec!["files"],
            ..MetaSchema::new("object")
        }))
    }
}

impl ParsePayload for MultipartStream {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let ct = request.content_type().unwrap_or_default();
        let boundary = multer::parse_boundary(ct).map_err(|e| {
            ApiError(AppError::invalid(
                "files",
                format!("bad multipart content type ({e}): let the HTTP client set the boundary"),
            ))
        })?;
        Ok(MultipartStream {
            boundary,
            body: body.take()?,
        })
    }
}

impl<'a> ApiExtractor<'a> for MultipartStream {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Self::CONTENT_TYPE,
                schema: Self::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            None if declares_no_body(request) => Err(ApiError(AppError::invalid(
                "files",
                "the request has no body: send multipart/form-data with one or more files in the field \"files\"",
            ))
            .into()),
            other => Err(ApiError(AppError::UnsupportedContentType {
                expected: "multipart/form-data with the files in the field \"files\"",
                got: other.map(str::to_string),
            })
            .into()),
        }
    }
}

/// A request that says it carries nothing: `Content-Length: 0`, or neither a length nor a
/// chunked body.
fn declares_no_body(request: &Request) -> bool {
    let h = request.headers();
    match h.get(poem::http::header::CONTENT_LENGTH) {
        Some(v) => v.to_str().is_ok_and(|v| v.trim() == "0"),
        None => !h.contains_key(poem::http::header::TRANSFER_ENCODING),
    }
}

/// A stored file.
#[derive(Debug, Clone, Object)]
pub struct UploadedFile {
    /// The name the file was sent with.
    pub filename: String,
    /// The type recognised from the file's bytes (not the declared one); the file is
    /// served with it and stored with its extension.
    pub content_type: String,
    /// Bytes stored.
    pub size: u64,
    /// Storage key, e.g. `uploads/<id>/image.png`.
    pub key: String,
    /// Public URL of the file; use it in `image_urls`, `video_urls` or `audio_urls`.
    pub url: String,
    /// Unix seconds after which retention deletes the file (its URL then answers 410
    /// `file_expired`); null when uploads are kept until deleted. A task that is still
    /// running keeps the uploads it references until it ends.
    #[oai(nullable)]
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Object)]
pub struct UploadResult {
    pub data: Vec<UploadedFile>,
}

#[derive(Clone)]
pub struct UploadApi;

#[OpenApi]
impl UploadApi {
    /// Upload assets
    ///
    /// Upload images, videos and audio (multipart field `files`, one or many). Returns URLs
    /// that generation requests can reference. Other file types are refused with 415; a
    /// file over the size limit, or an account over its storage quota, with 413
    /// (`storage_quota_exceeded` names the usage); a server low on disk with 507
    /// `insufficient_storage`. On any of these nothing of the request is kept. Each file
    /// carries `expires_at`: retention deletes it then.
    #[oai(
        path = "/api/upload",
        method = "post",
        tag = "ApiTags::Uploads",
        operation_id = "upload_assets"
    )]
    async fn upload(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        body: MultipartStream,
    ) -> Result<Json<UploadResult>, Failure<{ AUTH | BODY | E507 }>> {
        Ok(Json(
            store_upload(state.0, auth.0.user.id.get(), body).await?,
        ))
    }
}

/// Shared by the public and the console upload routes.
pub async fn store_upload(
    state: &AppState,
    owner: u64,
    body: MultipartStream,
) -> Result<UploadResult, ApiError> {
    let stream = body.body.into_bytes_stream();
    let files = save_multipart(
        &state.storage,
        owner,
        &body.boundary,
        stream,
        state.config.max_upload_bytes,
    )
    .await?;
    let base = &state.config.public_url;
    Ok(UploadResult {
        data: files
            .into_iter()
            .map(|f| UploadedFile {
                url: format!("{base}/{}", f.key),
                filename: f.filename,
                content_type: f.content_type,
                size: f.size,
                key: f.key,
                expires_at: f.expires_at_ms.map(|ms| ms / 1000),
            })
            .collect(),
    })
}

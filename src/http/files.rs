//! Serving stored uploads and mirrored videos (streamed, with ranges) and the console.

use crate::error::AppError;
use crate::http::errors::ApiError;
use crate::storage::Storage;
use poem::endpoint::{EmbeddedFilesEndpoint, StaticFilesEndpoint};
use poem::error::{ResponseError, StaticFileError};
use poem::http::HeaderValue;
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};
use rust_embed::RustEmbed;
use std::path::PathBuf;

/// The console, embedded from `web/`.
#[derive(RustEmbed)]
#[folder = "web/"]
pub struct WebAssets;

/// Files under `dir`, never rendered as pages: `nosniff` and a sandboxing CSP, so an
/// uploaded file cannot run script on this origin. A file retention removed answers
/// 410 `file_expired` rather than 404 (`prefix` is the key's first segment).
pub fn stored_files(
    dir: PathBuf,
    storage: Storage,
    prefix: &'static str,
) -> impl Endpoint<Output = Response> {
    StaticFilesEndpoint::new(dir)
        .into_endpoint()
        .catch_error(|e: StaticFileError| async move { static_file_error(e) })
        .map_to_response()
        .around(move |ep, req| {
            let storage = storage.clone();
            async move {
                let rest = req.uri().path().trim_start_matches('/').to_string();
                let resp = ep.call(req).await?;
                if resp.status() == poem::http::StatusCode::NOT_FOUND {
                    let key = format!("{prefix}/{rest}");
                    if storage.is_gone(&key).await {
                        return Ok(ApiError(AppError::FileGone { key }).as_response());
                    }
                }
                Ok(resp)
            }
        })
        .map(|mut resp: Response| async move {
            let h = resp.headers_mut();
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            h.insert(
                "cache-control",
                HeaderValue::from_static("public, max-age=86400"),
            );
            resp
        })
}

/// Static-file errors in the JSON shape and without a filesystem path: poem's 403 names
/// the absolute path it refused, so a path outside the folder is just "not found".
fn static_file_error(e: StaticFileError) -> Response {
    match e {
        StaticFileError::Forbidden(_)
        | StaticFileError::NotFound
        | StaticFileError::InvalidPath => ApiError(AppError::not_found("file")).as_response(),
        StaticFileError::Io(io) => ApiError(AppError::internal(io)).as_response(),
        other => other.as_response(),
    }
}

/// The README, as plain text: the console's channel dialog links each kind to its row.
#[poem::handler]
pub fn readme() -> Response {
    Response::builder()
        .content_type("text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-cache")
        .body(include_str!("../../README.md"))
}

pub fn console() -> impl Endpoint<Output = Response> {
    EmbeddedFilesEndpoint::<WebAssets>::new()
        .map_to_response()
        .map(|mut resp: Response| async move {
            let h = resp.headers_mut();
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
            // Scripts and styles only from this origin; media may come from the public
            // URL (which can be another host behind a proxy) or from local previews.
            h.insert(
                "content-security-policy",
                HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; \
                     img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; \
                     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                     frame-ancestors 'none'",
                ),
            );
            // Revalidate with the ETag so a new binary's console is picked up at once.
            h.insert("cache-control", HeaderValue::from_static("no-cache"));
            resp
        })
}

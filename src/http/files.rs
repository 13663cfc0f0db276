//! Serving stored uploads and mirrored videos (streamed, with ranges; from object storage
//! a presigned redirect or a proxied stream) and the console.

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
                if storage.s3().is_some() {
                    let key = format!("{prefix}/{rest}");
                    return Ok(serve_object(&storage, &key, &req).await);
                }
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
            if !h.contains_key("cache-control") {
                h.insert(
                    "cache-control",
                    HeaderValue::from_static("public, max-age=86400"),
                );
            }
            resp
        })
}

/// A stored file from object storage: a 302 to a short-lived presigned URL, or (setting
/// `serve = "proxy"`) the object streamed through, honouring one byte range as the local
/// files do. 404 for no such file, 410 for one retention removed.
pub async fn serve_object(storage: &Storage, key: &str, req: &poem::Request) -> Response {
    match object_response(storage, key, req).await {
        Ok(r) => r,
        Err(e) => ApiError(e).as_response(),
    }
}

async fn object_response(
    storage: &Storage,
    key: &str,
    req: &poem::Request,
) -> Result<Response, AppError> {
    use poem::http::{Method, StatusCode, header};
    let Some(s3) = storage.s3() else {
        return Err(AppError::not_found("file"));
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .finish());
    }
    // The record says whether the file exists: no request to the bucket for a 404.
    let missing = || async {
        if storage.is_gone(key).await {
            AppError::FileGone {
                key: key.to_string(),
            }
        } else {
            AppError::not_found("file")
        }
    };
    if !crate::storage::local::is_safe_key(key) {
        return Err(AppError::not_found("file"));
    }
    let Some(record) = storage.record(key).await? else {
        return Err(missing().await);
    };
    if s3.settings().serve == crate::storage::s3::Serve::Redirect {
        let url = s3.presign(key).await?;
        return Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, url)
            // The URL expires: a cached redirect would outlive it.
            .header(header::CACHE_CONTROL, "no-store")
            .finish());
    }
    let range = match req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        None => None,
        Some(r) => match byte_range(r, record.size) {
            Ok(r) => r,
            Err(()) => {
                return Ok(Response::builder()
                    .status(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{}", record.size))
                    .finish());
            }
        },
    };
    let Some(obj) = s3.get(key, range.clone()).await? else {
        return Err(missing().await);
    };
    let mut resp = Response::builder()
        .header(
            header::CONTENT_TYPE,
            mime_guess::from_path(key).first_or_octet_stream().as_ref(),
        )
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, obj.range.end - obj.range.start);
    if let Some(etag) = &obj.etag {
        resp = resp.header(header::ETAG, etag.as_str());
    }
    if range.is_some() {
        resp = resp.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                obj.range.start,
                obj.range.end.saturating_sub(1),
                obj.total
            ),
        );
    }
    if *req.method() == Method::HEAD {
        return Ok(resp.finish());
    }
    Ok(resp.body(poem::Body::from_bytes_stream(obj.body)))
}

/// The first range of a `Range: bytes=...` header as a half-open range within `size`:
/// `Ok(None)` for a header that is not a byte range (served whole, as the local files
/// are), `Err` for one that cannot be satisfied (416).
fn byte_range(header: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    let first = spec.split(',').next().unwrap_or("").trim();
    let Some((a, b)) = first.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Ok(start), Err(_)) if b.is_empty() => start..size,
        (Err(_), Ok(n)) if a.is_empty() => size.saturating_sub(n)..size,
        _ => return Ok(None),
    };
    if range.start >= size || range.is_empty() {
        return Err(());
    }
    Ok(Some(range))
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

#[cfg(test)]
mod tests {
    #[test]
    fn byte_ranges_match_the_local_files() {
        use super::byte_range;
        assert_eq!(byte_range("bytes=0-3", 10), Ok(Some(0..4)));
        assert_eq!(byte_range("bytes=5-", 10), Ok(Some(5..10)));
        assert_eq!(byte_range("bytes=-3", 10), Ok(Some(7..10)));
        assert_eq!(byte_range("bytes=8-100", 10), Ok(Some(8..10)));
        assert_eq!(byte_range("bytes=10-", 10), Err(()));
        assert_eq!(byte_range("items=0-1", 10), Ok(None));
    }
}

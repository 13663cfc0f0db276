//! Asset uploads: multipart streamed to disk, size-capped per file, recognised by their
//! bytes (media types only).

use crate::domain::request::{self, GenerationInput};
use crate::error::{AppError, AppResult};
use crate::storage::{NewUpload, Storage, safe_stem};
use futures_util::Stream;

/// One stored upload, as the API reports it.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub key: String,
    /// When retention removes it (unix ms); `None` = kept until deleted.
    pub expires_at_ms: Option<i64>,
}

/// Files per request; with the per-file cap this bounds a request's disk use.
pub const MAX_FILES: usize = 20;

/// One accepted format: what [`infer`] calls it, the type we serve it as (the one
/// `mime_guess` gives for `ext`, which the file server uses), and the declared types that
/// count as agreeing with it. SVG is absent on purpose: an image that can carry script.
#[derive(Debug)]
struct Format {
    sniffed: &'static str,
    served: &'static str,
    ext: &'static str,
    declared: &'static [&'static str],
}

// Containers that share one byte layout (ISO-BMFF, Matroska, Ogg) accept each other's
// declared types: a browser may label an .m4a as video/mp4 and a .webm as audio/webm.
const BMFF: &[&str] = &[
    "video/mp4",
    "audio/mp4",
    "video/x-m4v",
    "audio/m4a",
    "audio/x-m4a",
    "video/quicktime",
];
const MATROSKA: &[&str] = &[
    "video/webm",
    "audio/webm",
    "video/x-matroska",
    "audio/x-matroska",
];
const OGG: &[&str] = &["audio/ogg", "video/ogg", "application/ogg", "audio/opus"];

const FORMATS: &[Format] = &[
    fmt(
        "image/png",
        "image/png",
        "png",
        &["image/png", "image/x-png", "image/apng"],
    ),
    fmt(
        "image/jpeg",
        "image/jpeg",
        "jpg",
        &["image/jpeg", "image/jpg", "image/pjpeg"],
    ),
    fmt("image/webp", "image/webp", "webp", &["image/webp"]),
    fmt("image/gif", "image/gif", "gif", &["image/gif"]),
    fmt(
        "image/bmp",
        "image/bmp",
        "bmp",
        &["image/bmp", "image/x-bmp", "image/x-ms-bmp"],
    ),
    fmt(
        "image/tiff",
        "image/tiff",
        "tiff",
        &["image/tiff", "image/tif"],
    ),
    fmt(
        "image/heif",
        "image/heif",
        "heif",
        &["image/heif", "image/heic"],
    ),
    fmt(
        "image/avif",
        "image/avif",
        "avif",
        &["image/avif", "image/heif"],
    ),
    fmt("video/mp4", "video/mp4", "mp4", BMFF),
    fmt("video/x-m4v", "video/x-m4v", "m4v", BMFF),
    fmt("video/quicktime", "video/quicktime", "mov", BMFF),
    fmt("video/webm", "video/webm", "webm", MATROSKA),
    fmt("video/x-matroska", "video/x-matroska", "mkv", MATROSKA),
    fmt(
        "video/x-msvideo",
        "video/x-msvideo",
        "avi",
        &["video/x-msvideo", "video/avi", "video/msvideo"],
    ),
    fmt(
        "audio/mpeg",
        "audio/mpeg",
        "mp3",
        &["audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mp3"],
    ),
    fmt(
        "audio/x-wav",
        "audio/wav",
        "wav",
        &["audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"],
    ),
    fmt("audio/ogg", "audio/ogg", "ogg", OGG),
    fmt("audio/opus", "audio/ogg", "ogg", OGG),
    fmt(
        "audio/x-flac",
        "audio/flac",
        "flac",
        &["audio/flac", "audio/x-flac"],
    ),
    fmt("audio/m4a", "audio/m4a", "m4a", BMFF),
    fmt(
        "audio/aac",
        "audio/aac",
        "aac",
        &["audio/aac", "audio/x-aac", "audio/aacp"],
    ),
];

const fn fmt(
    sniffed: &'static str,
    served: &'static str,
    ext: &'static str,
    declared: &'static [&'static str],
) -> Format {
    Format {
        sniffed,
        served,
        ext,
        declared,
    }
}

/// Bytes read before deciding what a file is; every accepted format shows itself well
/// within this, and the rest of the file is streamed without being held.
const SNIFF_BYTES: usize = 8 * 1024;

/// What the first bytes of a file are, in a word a caller understands, when they are not
/// an accepted format: the sniffed type, or text, or unknown binary data.
fn describe(head: &[u8]) -> String {
    if looks_like_markup(head) {
        let start = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
        if start.contains("<svg") {
            return "image/svg+xml (refused: SVG can carry script)".into();
        }
        return "text/html".into();
    }
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    // A cut in the middle of a character at the end of the sniffed bytes is still text.
    match std::str::from_utf8(head) {
        Ok(_) => "text/plain".into(),
        Err(e) if e.error_len().is_none() => "text/plain".into(),
        Err(_) => "unrecognised binary data (application/octet-stream)".into(),
    }
}

/// Decide what an upload is from its first bytes, checked against the declared type (the
/// part's Content-Type). A missing or generic declared type lets the bytes decide; a
/// specific one that disagrees with them is refused, naming both.
fn recognise(declared: Option<&str>, head: &[u8]) -> Result<&'static Format, AppError> {
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    // Markup first: some HTML starts with bytes another matcher would also claim.
    let format = if looks_like_markup(head) {
        None
    } else {
        infer::get(head).and_then(|k| FORMATS.iter().find(|f| f.sniffed == k.mime_type()))
    };
    match (format, declared) {
        (Some(f), None) => Ok(f),
        (Some(f), Some(d)) if f.declared.contains(&d.as_str()) || f.served == d => Ok(f),
        (Some(f), Some(d)) => Err(AppError::MediaMismatch {
            declared: d,
            detected: f.served.to_string(),
            detected_accepted: true,
        }),
        (None, Some(d)) => Err(AppError::MediaMismatch {
            declared: d,
            detected: describe(head),
            detected_accepted: false,
        }),
        (None, None) => Err(AppError::UnsupportedMediaType {
            content_type: describe(head),
        }),
    }
}

/// Whether the first bytes look like markup a browser might render as a page.
fn looks_like_markup(head: &[u8]) -> bool {
    let trimmed: Vec<u8> = head
        .iter()
        .copied()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(16)
        .collect();
    let lower = String::from_utf8_lossy(&trimmed).to_ascii_lowercase();
    lower.starts_with("<!doctype")
        || lower.starts_with("<html")
        || lower.starts_with("<script")
        || lower.starts_with("<svg")
        || lower.starts_with("<?xml")
}

/// Every asset URL under this server's own `/uploads/` must name a stored file of the
/// caller's: checked before anything is charged, since no channel could fetch it later,
/// and another account's upload is not theirs to reuse. Files stored before uploads had
/// owners (owner 0) count as anyone's.
pub async fn check_own_uploads(
    storage: &Storage,
    owner: u64,
    public_url: &str,
    input: &GenerationInput,
) -> AppResult<()> {
    for own in request::own_uploads(public_url, input) {
        let mine = storage
            .record(&own.key)
            .await?
            .is_some_and(|r| r.owner == owner || r.owner == 0);
        if !mine || !storage.exists(&own.key).await {
            return Err(AppError::UploadNotFound {
                param: own.param,
                url: own.url,
            });
        }
    }
    Ok(())
}

/// Store an OpenAI `input_reference` image (a file part or a data URL's bytes) like an
/// upload. The key is derived from the content, so a retried request (same
/// `Idempotency-Key`, same file) names the same URL and is recognised as the same body.
pub async fn save_reference<S, E>(
    storage: &Storage,
    owner: u64,
    filename: &str,
    declared: Option<&str>,
    mut body: S,
    limit: u64,
) -> AppResult<Uploaded>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    use sha2::{Digest, Sha256};
    let bad = |e: E| AppError::invalid("input_reference", format!("cannot read the file: {e}"));
    storage.admit_upload(owner).await?;
    let mut head: Vec<u8> = Vec::new();
    let mut rest = None;
    while head.len() < SNIFF_BYTES {
        match body.next().await {
            Some(chunk) => head.extend_from_slice(&chunk.map_err(bad)?),
            None => {
                rest = Some(());
                break;
            }
        }
        if head.len() as u64 > limit {
            return Err(AppError::PayloadTooLarge { limit_bytes: limit });
        }
    }
    if head.is_empty() {
        return Err(AppError::invalid(
            "input_reference",
            "input_reference is empty: send the image's bytes",
        ));
    }
    let format = recognise(declared, &head)?;
    if !format.served.starts_with("image/") {
        return Err(AppError::invalid(
            "input_reference",
            format!(
                "input_reference must be an image (it is used as the first frame), not {}",
                format.served
            ),
        ));
    }
    let mut hash = Sha256::new();
    let mut part = storage.create(limit).await?;
    hash.update(&head);
    part.write(&head).await?;
    drop(head);
    if rest.is_none() {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(bad)?;
            hash.update(&chunk);
            part.write(&chunk).await?;
        }
    }
    let digest = hex::encode(hash.finalize());
    let key = format!(
        "uploads/ref-{}/{}.{}",
        &digest[..24],
        safe_stem(filename),
        format.ext
    );
    let size = storage.finish(part, &key).await?;
    let expires = match storage
        .record_uploads(owner, &[NewUpload { key: &key, size }])
        .await
    {
        Ok(e) => e.into_iter().next().flatten(),
        Err(e) => {
            storage.remove(&key).await;
            return Err(e);
        }
    };
    Ok(Uploaded {
        filename: filename.to_string(),
        content_type: format.served.to_string(),
        size,
        key,
        expires_at_ms: expires,
    })
}

/// Store every `files` part of a multipart body. All or nothing: on any error the files
/// already written by this request are removed.
pub async fn save_multipart<S>(
    storage: &Storage,
    owner: u64,
    boundary: &str,
    body: S,
    limit: u64,
) -> AppResult<Vec<Uploaded>>
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    storage.admit_upload(owner).await?;
    let mut saved: Vec<Uploaded> = Vec::new();
    let mut result = read_parts(storage, boundary, body, limit, &mut saved).await;
    if result.is_ok() && !saved.is_empty() {
        // One record per file, all in one transaction within the quota.
        let new: Vec<NewUpload> = saved
            .iter()
            .map(|u| NewUpload {
                key: &u.key,
                size: u.size,
            })
            .collect();
        match storage.record_uploads(owner, &new).await {
            Ok(expiry) => {
                for (u, e) in saved.iter_mut().zip(expiry) {
                    u.expires_at_ms = e;
                }
            }
            Err(e) => result = Err(e),
        }
    }
    if let Err(e) = result {
        for u in &saved {
            storage.remove(&u.key).await;
        }
        return Err(e);
    }
    if saved.is_empty() {
        return Err(AppError::invalid(
            "files",
            "send at least one file in the multipart field `files`",
        ));
    }
    Ok(saved)
}

async fn read_parts<S>(
    storage: &Storage,
    boundary: &str,
    body: S,
    limit: u64,
    saved: &mut Vec<Uploaded>,
) -> AppResult<()>
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    let mut mp = multer::Multipart::new(body, boundary);
    let bad = |e: multer::Error| {
        let message = match e {
            multer::Error::IncompleteStream => "the multipart body is empty or cut short: send one or more files in the field \"files\"".to_string(),
            other => format!("malformed multipart body: {other}"),
        };
        AppError::invalid("files", message)
    };
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        if field.name() != Some("files") {
            // Drain and ignore other fields: they are not part of the contract.
            while field.chunk().await.map_err(bad)?.is_some() {}
            continue;
        }
        if saved.len() >= MAX_FILES {
            return Err(AppError::invalid(
                "files",
                format!("at most {MAX_FILES} files per request"),
            ));
        }
        let filename = field.file_name().unwrap_or("file").to_string();
        let declared = field.content_type().map(|m| m.to_string());
        // Hold only the first bytes to recognise the file; the rest is streamed to disk.
        let mut head: Vec<u8> = Vec::new();
        while head.len() < SNIFF_BYTES {
            match field.chunk().await.map_err(bad)? {
                Some(chunk) => head.extend_from_slice(&chunk),
                None => break,
            }
            if head.len() as u64 > limit {
                return Err(AppError::PayloadTooLarge { limit_bytes: limit });
            }
        }
        if head.is_empty() {
            return Err(AppError::invalid(
                "files",
                format!("\"{filename}\" is empty: send the file's bytes"),
            ));
        }
        let format = recognise(declared.as_deref(), &head)?;
        let ext = format.ext;
        let content_type = format.served.to_string();
        let key = format!(
            "uploads/{}/{}.{ext}",
            crate::domain::ids::random_hex(12),
            safe_stem(&filename)
        );
        // The key is known before the bytes: object storage writes it in place.
        let mut part = storage.create_at(&key, limit).await?;
        part.write(&head).await?;
        drop(head);
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            part.write(&chunk).await?;
        }
        let size = storage.finish(part, &key).await?;
        saved.push(Uploaded {
            filename,
            content_type,
            size,
            key,
            expires_at_ms: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png() -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        b.extend_from_slice(&[0; 16]);
        b
    }

    #[test]
    fn the_bytes_decide_and_a_generic_declared_type_defers_to_them() {
        for declared in [None, Some("application/octet-stream"), Some("image/png")] {
            let f = recognise(declared, &png()).unwrap();
            assert_eq!((f.served, f.ext), ("image/png", "png"), "{declared:?}");
        }
        let mp3 = [0xFF, 0xFB, 0x90, 0x00, 1, 2, 3];
        assert_eq!(recognise(Some("audio/mp3"), &mp3).unwrap().ext, "mp3");
        let mut m4a = b"\0\0\0\x20ftypM4A \0\0\0\0".to_vec();
        m4a.resize(32, 0);
        assert_eq!(recognise(Some("video/mp4"), &m4a).unwrap().ext, "m4a");
    }

    #[test]
    fn a_declared_type_that_disagrees_with_the_bytes_names_both() {
        let err = recognise(Some("image/png"), b"just some notes\n").unwrap_err();
        assert_eq!(err.status(), 415);
        assert!(
            err.to_string()
                .starts_with("declared image/png but the content is text/plain"),
            "{err}"
        );
        let err = recognise(None, b"<?xml version=\"1.0\"?><svg/>").unwrap_err();
        assert!(err.to_string().contains("image/svg+xml"), "{err}");
        let err = recognise(Some("image/jpeg"), &png()).unwrap_err();
        assert!(err.to_string().contains("content is image/png"), "{err}");
        for (declared, bytes) in [
            (None, b"<svg onload=alert(1)>".to_vec()),
            (None, b"%PDF-1.4 ...".to_vec()),
            (Some("image/svg+xml"), b"<svg/>".to_vec()),
            (Some("image/png"), b"<!doctype html><p>".to_vec()),
            (None, vec![0, 1, 2, 0xFE, 0xFF, 0x80]),
        ] {
            assert_eq!(recognise(declared, &bytes).unwrap_err().status(), 415);
        }
    }

    #[test]
    fn served_types_are_what_the_file_server_sends_for_the_extension() {
        for f in FORMATS {
            let guessed = mime_guess::from_ext(f.ext).first_raw();
            assert_eq!(guessed, Some(f.served), "{}", f.ext);
        }
    }

    #[test]
    fn markup_is_detected() {
        assert!(looks_like_markup(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_markup(b"<script>alert(1)</script>"));
        assert!(!looks_like_markup(b"\x89PNG\r\n"));
    }
}

//! Asset uploads: multipart streamed to disk, size-capped per file, media types only.

use crate::error::{AppError, AppResult};
use crate::storage::{Storage, safe_stem};
use futures_util::Stream;

/// One stored upload, as the API reports it.
#[derive(Debug, Clone)]
pub struct Uploaded {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub key: String,
}

/// Files per request; with the per-file cap this bounds a request's disk use.
pub const MAX_FILES: usize = 20;

/// The media type we accept and the extension we store it under. SVG is refused: it is
/// an image that can carry script.
pub fn classify(declared: Option<&str>, filename: &str) -> Result<(String, String), AppError> {
    let guessed = mime_guess::from_path(filename)
        .first_raw()
        .map(str::to_string);
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    let ct = declared
        .or(guessed)
        .unwrap_or_else(|| "application/octet-stream".into());
    let media = ct.starts_with("image/") || ct.starts_with("video/") || ct.starts_with("audio/");
    if !media || ct.contains("svg") || ct.contains("xml") || ct.contains("html") {
        return Err(AppError::UnsupportedMediaType { content_type: ct });
    }
    let ext = match ct.as_str() {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "image/bmp" => "bmp",
        "image/tiff" => "tiff",
        "image/heic" => "heic",
        "image/avif" => "avif",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "video/x-matroska" => "mkv",
        "video/x-msvideo" => "avi",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/ogg" => "ogg",
        "audio/mp4" | "audio/x-m4a" | "audio/m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/webm" => "weba",
        _ => "bin",
    };
    Ok((ct, ext.to_string()))
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

/// Store every `files` part of a multipart body. All or nothing: on any error the files
/// already written by this request are removed.
pub async fn save_multipart<S>(
    storage: &Storage,
    boundary: &str,
    body: S,
    limit: u64,
) -> AppResult<Vec<Uploaded>>
where
    S: Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    let mut saved: Vec<Uploaded> = Vec::new();
    let result = read_parts(storage, boundary, body, limit, &mut saved).await;
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
    let bad =
        |e: multer::Error| AppError::invalid("files", format!("malformed multipart body: {e}"));
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
        let (content_type, ext) = classify(field.content_type().map(|m| m.as_ref()), &filename)?;
        let mut part = storage.create(limit).await?;
        let mut first = true;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if first {
                first = false;
                if looks_like_markup(&chunk) {
                    return Err(AppError::UnsupportedMediaType {
                        content_type: "text/html".into(),
                    });
                }
            }
            part.write(&chunk).await?;
        }
        if part.written() == 0 {
            return Err(AppError::invalid("files", format!("`{filename}` is empty")));
        }
        let key = format!(
            "uploads/{}/{}.{ext}",
            crate::domain::ids::random_hex(12),
            safe_stem(&filename)
        );
        let size = part.finish(storage, &key).await?;
        saved.push(Uploaded {
            filename,
            content_type,
            size,
            key,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_accepted_and_others_refused() {
        assert_eq!(
            classify(Some("image/png"), "a.png").unwrap(),
            ("image/png".into(), "png".into())
        );
        assert_eq!(classify(None, "clip.mp4").unwrap().1, "mp4");
        assert_eq!(
            classify(Some("application/octet-stream"), "x.mp3")
                .unwrap()
                .0,
            "audio/mpeg"
        );
        for (ct, name) in [
            (Some("text/html"), "a.html"),
            (Some("image/svg+xml"), "a.svg"),
            (None, "a.exe"),
            (Some("application/pdf"), "a.pdf"),
        ] {
            assert_eq!(classify(ct, name).unwrap_err().status(), 415, "{name}");
        }
    }

    #[test]
    fn markup_is_detected() {
        assert!(looks_like_markup(b"  <!DOCTYPE html><html>"));
        assert!(looks_like_markup(b"<script>alert(1)</script>"));
        assert!(!looks_like_markup(b"\x89PNG\r\n"));
    }
}

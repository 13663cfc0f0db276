//! The S3-compatible backend (AWS S3, MinIO, R2, B2, Garage...): multipart uploads with
//! bounded memory, presigned GETs, bulk deletes, and a sweep of abandoned multipart uploads.

pub use super::s3_settings::{BackendChoice, BackendOptions, S3Settings, Serve};

use crate::error::{AppError, AppResult};
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::MultipartStore;
use object_store::path::Path as ObjectPath;
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, WriteMultipart,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Bytes per multipart part. S3 wants at least 5 MiB per part (but the last); a file
/// smaller than one part is sent with a single PUT and never starts a multipart upload.
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once per upload: with one part being filled, an upload holds at
/// most three parts in memory (24 MiB), whatever its size.
const PARTS_IN_FLIGHT: usize = 2;
/// Where an upload whose final key is not known yet is written first.
const TMP_DIR: &str = "tmp/";
/// Longest single request to the bucket (a part, or a proxied download to a slow client).
const OBJECT_TIMEOUT: Duration = Duration::from_secs(3600);
/// Multipart uploads and `tmp/` objects older than this are leftovers of a crash.
pub const ABANDONED_AFTER_MS: i64 = 24 * 3_600_000;

/// Media in a bucket, under the configured prefix.
#[derive(Clone)]
pub struct S3Files {
    store: Arc<AmazonS3>,
    settings: Arc<S3Settings>,
    http: reqwest::Client,
}

/// An object being read: its total size, the byte range this read covers, its stream.
pub struct ObjectRead {
    pub total: u64,
    pub range: std::ops::Range<u64>,
    pub etag: Option<String>,
    /// Unix milliseconds.
    pub last_modified_ms: i64,
    pub body: futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>,
}

/// An incomplete multipart upload found in the bucket.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
}

fn store_error(e: object_store::Error) -> AppError {
    AppError::internal(format!("object storage: {e}"))
}

impl S3Files {
    pub fn open(settings: &S3Settings) -> AppResult<S3Files> {
        crate::tls::ensure_crypto_provider();
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(
                        settings
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    )
                    // The default 30 s covers a whole request, body included: a proxied
                    // video to a slow client would be cut off mid-stream.
                    .with_timeout(OBJECT_TIMEOUT),
            );
        if let Some(e) = &settings.endpoint {
            b = b.with_endpoint(e);
        }
        let store = b
            .build()
            .map_err(|e| AppError::internal(format!("object storage settings: {e}")))?;
        Ok(S3Files {
            store: Arc::new(store),
            settings: Arc::new(settings.clone()),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(AppError::internal)?,
        })
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    fn path(&self, key: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{key}", self.settings.prefix))
    }

    /// Start writing; `key` when already known (else a `tmp/` object copied at the end).
    pub fn begin(&self, key: Option<&str>, limit: u64) -> S3Part {
        S3Part {
            files: self.clone(),
            key: key.map(str::to_string),
            target: None,
            buffer: Vec::new(),
            buffered: 0,
            writer: None,
            written: 0,
            limit,
        }
    }

    /// Size of a stored object; `None` when there is none.
    pub async fn size_of(&self, key: &str) -> AppResult<Option<u64>> {
        match self.store.head(&self.path(key)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    pub async fn exists(&self, key: &str) -> bool {
        matches!(self.size_of(key).await, Ok(Some(_)))
    }

    pub async fn remove(&self, key: &str) {
        if let Err(e) = self.store.delete(&self.path(key)).await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::warn!(key, error = %e, "cannot delete an object");
        }
    }

    /// Bulk delete (one request per 1000 keys where the service supports it).
    pub async fn remove_many(&self, keys: Vec<String>) {
        let paths: Vec<_> = keys.iter().map(|k| Ok(self.path(k))).collect();
        let mut results = self
            .store
            .delete_stream(futures_util::stream::iter(paths).boxed());
        while let Some(r) = results.next().await {
            if let Err(e) = r
                && !matches!(e, object_store::Error::NotFound { .. })
            {
                tracing::warn!(error = %e, "cannot delete an object");
            }
        }
    }

    /// A GET URL for `key` valid for the configured lifetime.
    pub async fn presign(&self, key: &str) -> AppResult<String> {
        let ttl = Duration::from_secs(self.settings.presign_seconds);
        self.store
            .signed_url(reqwest::Method::GET, &self.path(key), ttl)
            .await
            .map(|u| u.to_string())
            .map_err(store_error)
    }

    /// Read `key`, whole or a byte range; `Ok(None)` when there is no such object.
    pub async fn get(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> AppResult<Option<ObjectRead>> {
        let opts = GetOptions::default().with_range(range.map(GetRange::Bounded));
        match self.store.get_opts(&self.path(key), opts).await {
            Ok(r) => Ok(Some(ObjectRead {
                total: r.meta.size,
                range: r.range.clone(),
                etag: r.meta.e_tag.clone(),
                last_modified_ms: r.meta.last_modified.timestamp_millis(),
                body: r
                    .into_stream()
                    .map(|c| c.map_err(std::io::Error::other))
                    .boxed(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Read a byte range (the MP4 reader's seeks).
    pub async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> AppResult<bytes::Bytes> {
        self.store
            .get_range(&self.path(key), range)
            .await
            .map_err(store_error)
    }

    /// Every object under `dir` (`uploads/`, `videos/`, `tmp/`): key without the prefix,
    /// size, last-modified (unix ms).
    pub async fn list(&self, dir: &str) -> AppResult<Vec<(String, u64, i64)>> {
        let prefix = self.path(dir.trim_end_matches('/'));
        let mut out = Vec::new();
        let mut s = self.store.list(Some(&prefix));
        while let Some(m) = s.next().await {
            let m = m.map_err(store_error)?;
            let full = m.location.to_string();
            let key = full
                .strip_prefix(&self.settings.prefix)
                .unwrap_or(&full)
                .to_string();
            out.push((key, m.size, m.last_modified.timestamp_millis()));
        }
        Ok(out)
    }

    /// Incomplete multipart uploads under the prefix (one listing page: up to 1000).
    /// object_store has no call for this, so it is a presigned `ListMultipartUploads`.
    pub async fn pending_uploads(&self) -> AppResult<Vec<PendingUpload>> {
        let mut query = vec![("uploads".to_string(), String::new())];
        if !self.settings.prefix.is_empty() {
            query.push(("prefix".to_string(), self.settings.prefix.clone()));
        }
        let mut opts = SignedUrlOptions::new();
        opts.extra_query = query;
        let url = self
            .store
            .signed_url_opts(
                reqwest::Method::GET,
                &ObjectPath::from(""),
                Duration::from_secs(60),
                &opts,
            )
            .await
            .map_err(store_error)?;
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| AppError::internal(format!("object storage: {e}")))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| AppError::internal(format!("object storage: {e}")))?;
        if !status.is_success() {
            return Err(AppError::internal(format!(
                "object storage: listing multipart uploads answered {status}: {}",
                body.chars().take(300).collect::<String>()
            )));
        }
        Ok(parse_pending(&body))
    }

    /// Abort multipart uploads and delete `tmp/` objects started before `before_ms`:
    /// what a crash left behind. Returns how many were removed.
    pub async fn sweep_abandoned(&self, before_ms: i64) -> AppResult<usize> {
        let mut removed = 0;
        for u in self.pending_uploads().await? {
            if u.initiated_ms < before_ms {
                let id = u.upload_id.clone();
                match self
                    .store
                    .abort_multipart(&ObjectPath::from(u.key.as_str()), &id)
                    .await
                {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(key = u.key, error = %e, "cannot abort an upload"),
                }
            }
        }
        let stale: Vec<String> = self
            .list(TMP_DIR)
            .await?
            .into_iter()
            .filter(|(_, _, at)| *at < before_ms)
            .map(|(k, _, _)| k)
            .collect();
        removed += stale.len();
        if !stale.is_empty() {
            self.remove_many(stale).await;
        }
        Ok(removed)
    }

    /// Upload a local file to `key` (the migration), streamed in parts.
    pub async fn put_file(&self, key: &str, path: &Path) -> AppResult<u64> {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(path).await?;
        let mut part = self.begin(Some(key), u64::MAX);
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            part.write(bytes::Bytes::copy_from_slice(&buf[..n])).await?;
        }
        part.finish(key).await
    }
}

/// `<Upload><Key>..</Key><UploadId>..</UploadId><Initiated>..</Initiated></Upload>`.
fn parse_pending(xml: &str) -> Vec<PendingUpload> {
    let field = |block: &str, tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = block.find(&open)? + open.len();
        let end = block[start..].find(&close)? + start;
        Some(
            block[start..end]
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'"),
        )
    };
    xml.split("<Upload>")
        .skip(1)
        .filter_map(|block| {
            let block = block.split("</Upload>").next()?;
            let initiated = field(block, "Initiated")?;
            Some(PendingUpload {
                key: field(block, "Key")?,
                upload_id: field(block, "UploadId")?,
                initiated_ms: initiated
                    .parse::<jiff::Timestamp>()
                    .map(|t| t.as_millisecond())
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// An object being written. Small files are held until [`S3Part::finish`] and sent with
/// one PUT; past one part a multipart upload starts, and an unfinished one is aborted
/// when the part is dropped (a client that went away, a refused file): an incomplete
/// multipart upload is never an object.
pub struct S3Part {
    files: S3Files,
    key: Option<String>,
    /// Where the multipart upload writes (the key, or a `tmp/` object).
    target: Option<String>,
    buffer: Vec<bytes::Bytes>,
    buffered: usize,
    writer: Option<WriteMultipart>,
    written: u64,
    limit: u64,
}

fn content_type(key: &str) -> Attributes {
    let mut a = Attributes::new();
    a.insert(
        Attribute::ContentType,
        mime_guess::from_path(key)
            .first_or_octet_stream()
            .to_string()
            .into(),
    );
    a
}

impl S3Part {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Append a chunk; past the limit the upload is dropped (aborted) and 413 returned.
    pub async fn write(&mut self, chunk: bytes::Bytes) -> AppResult<()> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(AppError::PayloadTooLarge {
                limit_bytes: self.limit,
            });
        }
        if let Some(w) = self.writer.as_mut() {
            w.put(chunk);
            return w
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(store_error);
        }
        self.buffered += chunk.len();
        self.buffer.push(chunk);
        if self.buffered >= PART_BYTES {
            let target = self
                .key
                .clone()
                .unwrap_or_else(|| format!("{TMP_DIR}{}", crate::domain::ids::random_hex(12)));
            let opts = PutMultipartOptions {
                attributes: content_type(&target),
                ..Default::default()
            };
            let upload = self
                .files
                .store
                .put_multipart_opts(&self.files.path(&target), opts)
                .await
                .map_err(store_error)?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            for b in self.buffer.drain(..) {
                w.put(b);
            }
            self.buffered = 0;
            self.target = Some(target);
            self.writer = Some(w);
            if let Some(w) = self.writer.as_mut() {
                w.wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(store_error)?;
            }
        }
        Ok(())
    }

    /// Complete the object at `key` (the one given at the start, if any).
    pub async fn finish(mut self, key: &str) -> AppResult<u64> {
        if let Some(k) = &self.key
            && k != key
        {
            return Err(AppError::internal(format!(
                "an upload started for {k} was finished as {key}"
            )));
        }
        let Some(w) = self.writer.take() else {
            let payload: PutPayload = std::mem::take(&mut self.buffer).into_iter().collect();
            let opts = PutOptions {
                attributes: content_type(key),
                ..Default::default()
            };
            self.files
                .store
                .put_opts(&self.files.path(key), payload, opts)
                .await
                .map_err(store_error)?;
            return Ok(self.written);
        };
        // `finish` aborts the upload itself when a part or the completion fails.
        w.finish().await.map_err(store_error)?;
        let target = self.target.take().unwrap_or_default();
        if target != key {
            let (from, to) = (self.files.path(&target), self.files.path(key));
            let copied = self.files.store.copy(&from, &to).await;
            self.files.remove(&target).await;
            copied.map_err(store_error)?;
        }
        Ok(self.written)
    }
}

impl Drop for S3Part {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            // Drop cannot await: the abort runs on its own. Should it not happen (the
            // process dies), the janitor's sweep aborts the upload a day later.
            match tokio::runtime::Handle::try_current() {
                Ok(h) => {
                    let target = self.target.clone().unwrap_or_default();
                    h.spawn(async move {
                        if let Err(e) = w.abort().await {
                            tracing::warn!(key = target, error = %e, "cannot abort an upload");
                        }
                    });
                }
                Err(_) => drop(w),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_uploads_are_read_from_the_listing() {
        let xml = "<ListMultipartUploadsResult><Upload><Key>p/uploads/a/b.mp4</Key>\
                   <UploadId>xyz</UploadId><Initiated>2026-12-01T20:00:00.000Z</Initiated>\
                   </Upload></ListMultipartUploadsResult>";
        let p = parse_pending(xml);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].key.as_str(), p[0].upload_id.as_str()),
            ("p/uploads/a/b.mp4", "xyz")
        );
        assert!(p[0].initiated_ms > 1_700_000_000_000);
    }
}

//! The backend behind the storage facade: the local disk or an S3-compatible bucket, with
//! one set of operations (write a file in a stream, check, read, delete) for both.

use super::local::{LocalFiles, LocalPart};
use super::s3::{S3Files, S3Part};
use crate::error::{AppError, AppResult};
use futures_util::{Stream, StreamExt};
use std::io::{Read, Seek, SeekFrom};

#[derive(Clone)]
pub enum Files {
    Local(LocalFiles),
    S3(S3Files),
}

/// A file being written; discarded (a local `.part` removed, a multipart upload
/// aborted) unless [`crate::storage::Storage::finish`] is called.
pub enum PartFile {
    Local(LocalPart),
    S3(S3Part),
}

impl PartFile {
    /// Append a chunk; past the limit the file is discarded and 413 returned.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        match self {
            PartFile::Local(p) => p.write(chunk).await,
            PartFile::S3(p) => p.write(bytes::Bytes::copy_from_slice(chunk)).await,
        }
    }

    pub fn written(&self) -> u64 {
        match self {
            PartFile::Local(p) => p.written(),
            PartFile::S3(p) => p.written(),
        }
    }
}

impl Files {
    /// Start writing a file whose key is decided at the end.
    pub async fn create(&self, limit: u64) -> AppResult<PartFile> {
        match self {
            Files::Local(f) => Ok(PartFile::Local(f.create(limit).await?)),
            Files::S3(f) => Ok(PartFile::S3(f.begin(None, limit))),
        }
    }

    /// Start writing `key` (an object store then writes it in place, no copy at the end).
    pub async fn create_at(&self, key: &str, limit: u64) -> AppResult<PartFile> {
        match self {
            Files::Local(f) => {
                f.path_of(key)?;
                Ok(PartFile::Local(f.create(limit).await?))
            }
            Files::S3(f) => {
                if !super::local::is_safe_key(key) {
                    return Err(AppError::not_found("file"));
                }
                Ok(PartFile::S3(f.begin(Some(key), limit)))
            }
        }
    }

    pub async fn finish(&self, part: PartFile, key: &str) -> AppResult<u64> {
        match (self, part) {
            (Files::Local(f), PartFile::Local(p)) => p.finish(f, key).await,
            (Files::S3(_), PartFile::S3(p)) => {
                if !super::local::is_safe_key(key) {
                    return Err(AppError::not_found("file"));
                }
                p.finish(key).await
            }
            _ => Err(AppError::internal("a file finished on another backend")),
        }
    }

    /// Copy a stream into `key`, refusing more than `limit` bytes.
    pub async fn save_stream<S, E>(&self, key: &str, limit: u64, mut stream: S) -> AppResult<u64>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut part = self.create_at(key, limit).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| AppError::internal(format!("download failed: {e}")))?;
            match &mut part {
                PartFile::S3(p) => p.write(chunk).await?,
                PartFile::Local(p) => p.write(&chunk).await?,
            }
        }
        self.finish(part, key).await
    }

    pub async fn exists(&self, key: &str) -> bool {
        match self {
            Files::Local(f) => f.exists(key).await,
            Files::S3(f) => super::local::is_safe_key(key) && f.exists(key).await,
        }
    }

    pub async fn remove(&self, key: &str) {
        match self {
            Files::Local(f) => f.remove(key).await,
            Files::S3(f) => {
                if super::local::is_safe_key(key) {
                    f.remove(key).await
                }
            }
        }
    }

    pub async fn remove_many(&self, keys: Vec<String>) {
        match self {
            Files::Local(f) => f.remove_many(keys).await,
            Files::S3(f) => {
                let keys = keys
                    .into_iter()
                    .filter(|k| super::local::is_safe_key(k))
                    .collect();
                f.remove_many(keys).await
            }
        }
    }

    /// A blocking reader over a stored file (run it in `spawn_blocking`): the MP4 header
    /// reader seeks through it.
    pub async fn reader(&self, key: &str) -> Option<Box<dyn ReadSeek>> {
        match self {
            Files::Local(f) => {
                let path = f.path_of(key).ok()?;
                let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
                    .await
                    .ok()?
                    .ok()?;
                Some(Box::new(std::io::BufReader::new(file)))
            }
            Files::S3(f) => {
                if !super::local::is_safe_key(key) {
                    return None;
                }
                let size = f.size_of(key).await.ok()??;
                Some(Box::new(ObjectReader {
                    files: f.clone(),
                    key: key.to_string(),
                    handle: tokio::runtime::Handle::current(),
                    size,
                    pos: 0,
                    block: (0, bytes::Bytes::new()),
                }))
            }
        }
    }
}

pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Ranged GETs behind `Read + Seek`, a block at a time (MP4 box headers are small reads
/// far apart: one request each, not the whole object).
struct ObjectReader {
    files: S3Files,
    key: String,
    handle: tokio::runtime::Handle,
    size: u64,
    pos: u64,
    /// The last block read: its offset and bytes.
    block: (u64, bytes::Bytes),
}

const READ_BLOCK: u64 = 256 * 1024;

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let (start, data) = &self.block;
        let inside = self.pos >= *start && self.pos < start + data.len() as u64;
        if !inside {
            let end = (self.pos + READ_BLOCK.max(buf.len() as u64)).min(self.size);
            let range = self.pos..end;
            let bytes = self
                .handle
                .block_on(self.files.get_range(&self.key, range))
                .map_err(std::io::Error::other)?;
            self.block = (self.pos, bytes);
        }
        let (start, data) = &self.block;
        let from = (self.pos - start) as usize;
        let n = buf.len().min(data.len() - from);
        buf[..n].copy_from_slice(&data[from..from + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ObjectReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| std::io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

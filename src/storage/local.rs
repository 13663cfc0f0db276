//! The local disk backend: safe names, size caps while streaming, `.part` files renamed
//! into place only when complete.

use crate::error::{AppError, AppResult};
use futures_util::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

#[derive(Debug, Clone)]
pub struct LocalFiles {
    root: PathBuf,
}

/// A file being written; removed unless [`LocalPart::finish`] is called.
pub struct LocalPart {
    tmp: PathBuf,
    file: Option<tokio::fs::File>,
    written: u64,
    limit: u64,
    done: bool,
}

/// Create `dir` (and missing parents) as owner-only (0700), and tighten it if it
/// already exists. Tightening is best effort: a directory the operator prepared with
/// other owners keeps working, with a warning.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        tighten(dir, 0o700);
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Make an existing file or directory owner-only (`mode` 0600 or 0700) when group or
/// others can reach it.
pub fn tighten(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(path) else {
            return;
        };
        if meta.permissions().mode() & 0o077 != 0
            && let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot make it owner-only");
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

impl LocalFiles {
    pub fn open(data_dir: &Path) -> AppResult<LocalFiles> {
        private_dir(data_dir)?;
        for sub in ["uploads", "videos", "tmp"] {
            private_dir(&data_dir.join(sub))?;
        }
        // Leftovers of writes a crash interrupted.
        if let Ok(entries) = std::fs::read_dir(data_dir.join("tmp")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(".part") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(LocalFiles {
            root: data_dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Start writing a file of at most `limit` bytes.
    pub async fn create(&self, limit: u64) -> AppResult<LocalPart> {
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}.part", crate::domain::ids::random_hex(12)));
        let mut open = tokio::fs::OpenOptions::new();
        open.write(true).create_new(true);
        // Owner-only from the first byte; the rename keeps the mode.
        #[cfg(unix)]
        open.mode(0o600);
        let file = open.open(&tmp).await?;
        Ok(LocalPart {
            tmp,
            file: Some(file),
            written: 0,
            limit,
            done: false,
        })
    }

    /// Absolute path of a stored key; keys never leave the storage root.
    pub fn path_of(&self, key: &str) -> AppResult<PathBuf> {
        if !is_safe_key(key) {
            return Err(AppError::not_found("file"));
        }
        Ok(self.root.join(key))
    }

    /// Whether `key` names a stored file (a key outside the root names none).
    pub async fn exists(&self, key: &str) -> bool {
        match self.path_of(key) {
            Ok(p) => tokio::fs::metadata(&p).await.is_ok_and(|m| m.is_file()),
            Err(_) => false,
        }
    }

    /// Copy a stream into `key`, refusing more than `limit` bytes.
    pub async fn save_stream<S, E>(&self, key: &str, limit: u64, mut stream: S) -> AppResult<u64>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut part = self.create(limit).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| AppError::internal(format!("download failed: {e}")))?;
            part.write(&chunk).await?;
        }
        part.finish(self, key).await
    }

    /// Delete a stored file and, for uploads, its now-empty per-upload folder.
    pub async fn remove(&self, key: &str) {
        if let Ok(p) = self.path_of(key) {
            let _ = tokio::fs::remove_file(&p).await;
            if key.starts_with("uploads/")
                && let Some(parent) = p.parent()
            {
                let _ = tokio::fs::remove_dir(parent).await;
            }
        }
    }
}

impl LocalFiles {
    /// Delete many stored files in one blocking task (the janitor's batches): one thread
    /// hop for the whole batch instead of two per file.
    pub async fn remove_many(&self, keys: Vec<String>) {
        let root = self.root.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let files = LocalFiles { root };
            for key in keys {
                if let Ok(p) = files.path_of(&key) {
                    let _ = std::fs::remove_file(&p);
                    if key.starts_with("uploads/")
                        && let Some(parent) = p.parent()
                    {
                        let _ = std::fs::remove_dir(parent);
                    }
                }
            }
        })
        .await;
    }
}

impl LocalPart {
    /// Append a chunk; past the limit the file is discarded and 413 returned.
    pub async fn write(&mut self, chunk: &[u8]) -> AppResult<()> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(AppError::PayloadTooLarge {
                limit_bytes: self.limit,
            });
        }
        match self.file.as_mut() {
            Some(f) => f.write_all(chunk).await.map_err(AppError::from),
            None => Err(AppError::internal("file already closed")),
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flush, fsync and move into place at `key`.
    pub async fn finish(mut self, storage: &LocalFiles, key: &str) -> AppResult<u64> {
        let dest = storage.path_of(key)?;
        if let Some(mut f) = self.file.take() {
            f.flush().await?;
            f.sync_all().await?;
        }
        if let Some(parent) = dest.parent() {
            let mut dirs = tokio::fs::DirBuilder::new();
            dirs.recursive(true);
            #[cfg(unix)]
            dirs.mode(0o700);
            dirs.create(parent).await?;
        }
        tokio::fs::rename(&self.tmp, &dest).await?;
        self.done = true;
        Ok(self.written)
    }
}

impl Drop for LocalPart {
    fn drop(&mut self) {
        if !self.done {
            // Best effort and synchronous: Drop cannot await, and the file is small
            // metadata work for the OS.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Whether `key` names a file under `uploads/` or `videos/` without leaving them.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && (key.starts_with("uploads/") || key.starts_with("videos/"))
}

/// A file name reduced to safe characters, keeping a readable stem.
pub fn safe_stem(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = base.rsplit_once('.').map(|(s, _)| s).unwrap_or(base);
    let cleaned: String = stem
        .chars()
        .filter_map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                Some(c)
            } else if c == ' ' || c == '.' {
                Some('-')
            } else {
                None
            }
        })
        .take(64)
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_safe() {
        assert_eq!(safe_stem("../../etc/passwd"), "passwd");
        assert_eq!(safe_stem("my photo.final.png"), "my-photo-final");
        assert_eq!(safe_stem("图片.png"), "file");
        assert_eq!(safe_stem(".htaccess"), "file");
    }

    #[test]
    fn keys_cannot_escape_the_root() {
        let s = LocalFiles {
            root: PathBuf::from("/data"),
        };
        assert!(s.path_of("uploads/a/b.png").is_ok());
        for bad in [
            "../x",
            "uploads/../../x",
            "/etc/passwd",
            "tmp/x.part",
            "uploads//x",
            "",
        ] {
            assert!(s.path_of(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn over_limit_write_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalFiles::open(dir.path()).unwrap();
        let mut p = s.create(4).await.unwrap();
        p.write(b"abc").await.unwrap();
        assert!(p.write(b"de").await.is_err());
        drop(p);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }
}

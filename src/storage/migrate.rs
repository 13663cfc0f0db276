//! `videoapi storage migrate --to s3`: local media moved into the bucket under the same
//! keys, so the same URLs serve them once the backend is switched. Safe to re-run.

use super::local::LocalFiles;
use super::s3::{S3Files, S3Settings};
use crate::error::AppResult;
use std::path::Path;

/// What a migration did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Files uploaded now.
    pub copied: u64,
    /// Files already in the bucket with the same size (an earlier, interrupted run).
    pub skipped: u64,
    /// Files that could not be uploaded (left on disk; a re-run retries them).
    pub failed: u64,
    /// Bytes uploaded now.
    pub bytes: u64,
}

/// Upload every local file under `data_dir` that the bucket lacks (or holds with another
/// size), then, unless `keep_local`, delete the local copy once the bucket has it with the
/// right size. An interrupted run leaves each file either on disk or in the bucket (or
/// both), so running again finishes the job.
pub async fn to_s3(
    data_dir: &Path,
    s3: &S3Settings,
    keep_local: bool,
    mut progress: impl FnMut(&str, &str),
) -> AppResult<Migrated> {
    let bucket = S3Files::open(s3)?;
    let local = LocalFiles::open(data_dir)?;
    let root = data_dir.to_path_buf();
    let found = tokio::task::spawn_blocking(move || super::walk_keys(&root))
        .await
        .map_err(crate::error::AppError::internal)?;
    let mut done = Migrated::default();
    for (key, size) in found {
        let there = match bucket.size_of(&key).await {
            Ok(s) => s,
            Err(e) => {
                progress(&key, &format!("failed: {e}"));
                done.failed += 1;
                continue;
            }
        };
        if there == Some(size) {
            done.skipped += 1;
        } else {
            let path = local.path_of(&key)?;
            match bucket.put_file(&key, &path).await {
                Ok(n) if bucket.size_of(&key).await.ok().flatten() == Some(n) && n == size => {
                    done.copied += 1;
                    done.bytes += n;
                    progress(&key, "copied");
                }
                Ok(_) => {
                    progress(
                        &key,
                        "failed: the bucket holds another size (changed while copying?)",
                    );
                    done.failed += 1;
                    continue;
                }
                Err(e) => {
                    progress(&key, &format!("failed: {e}"));
                    done.failed += 1;
                    continue;
                }
            }
        }
        if !keep_local {
            local.remove(&key).await;
        }
    }
    Ok(done)
}

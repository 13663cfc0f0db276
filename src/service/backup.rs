//! `backup` and `restore`: a consistent database copy plus a manifest of the media it
//! names (optionally the media too), and putting one back on a stopped server.

use crate::error::{AppError, AppResult};
use crate::store::{self, Store};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const DB_FILE: &str = "videoapi.redb";
pub const MANIFEST: &str = "manifest.json";
pub const MEDIA_DIR: &str = "media";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub created_at_ms: i64,
    pub database: String,
    /// Whether the files themselves were copied under `media/`.
    pub media_copied: bool,
    pub files: Vec<ManifestFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    pub key: String,
    pub size: u64,
    pub owner: u64,
    pub kind: crate::domain::media::MediaKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupReport {
    pub dir: PathBuf,
    pub tables: usize,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// Files the manifest names that were not on disk when copying media.
    pub missing: Vec<String>,
}

/// Copy the database through one read transaction into `dest/videoapi.redb`, write the
/// media manifest from the same snapshot, and with `with_media` copy (hard-link where
/// possible) every listed file under `dest/media/`. Runs while the server serves.
pub fn backup(
    store: &Store,
    data_dir: &Path,
    dest: &Path,
    with_media: bool,
) -> AppResult<BackupReport> {
    if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
        return Err(AppError::conflict(format!(
            "{} is not empty: back up into a new directory",
            dest.display()
        )));
    }
    crate::storage::private_dir(dest)?;
    let (copied, records) = store.read_now(|txn| {
        let copied = store::backup::export(txn, &dest.join(DB_FILE))?;
        Ok((copied, store::backup::manifest(txn)?))
    })?;
    crate::storage::tighten(&dest.join(DB_FILE), 0o600);
    copy_secrets(data_dir, dest)?;
    let mut missing = Vec::new();
    let mut bytes = 0u64;
    if with_media {
        for (key, _) in &records {
            let from = data_dir.join(key);
            let to = dest.join(MEDIA_DIR).join(key);
            if let Some(parent) = to.parent() {
                crate::storage::private_dir(parent)?;
            }
            if std::fs::hard_link(&from, &to).is_err() && std::fs::copy(&from, &to).is_err() {
                missing.push(key.clone());
            }
        }
    }
    let files: Vec<ManifestFile> = records
        .into_iter()
        .map(|(key, r)| {
            bytes += r.size;
            ManifestFile {
                key,
                size: r.size,
                owner: r.owner,
                kind: r.kind,
                expires_at_ms: r.expires_at_ms,
            }
        })
        .collect();
    let manifest = Manifest {
        created_at_ms: crate::domain::now_ms(),
        database: DB_FILE.into(),
        media_copied: with_media,
        files,
    };
    let count = manifest.files.len();
    std::fs::write(
        dest.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest).map_err(AppError::internal)?,
    )?;
    Ok(BackupReport {
        dir: dest.to_path_buf(),
        tables: copied.tables,
        rows: copied.rows,
        files: count,
        bytes,
        missing,
    })
}

#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// Where the database that was replaced went (`None` when there was none).
    pub previous: Option<PathBuf>,
    pub files_restored: usize,
    /// Files the manifest names that are on neither the backup nor the data dir.
    pub missing: Vec<String>,
}

/// Data-dir files that are neither database nor media but that the records depend on.
const SECRETS: &[&str] = &[crate::config::CALLBACK_KEY_FILE];

fn copy_secrets(from: &Path, to: &Path) -> AppResult<()> {
    for name in SECRETS {
        let src = from.join(name);
        if src.is_file() {
            std::fs::copy(&src, to.join(name))?;
            crate::storage::tighten(&to.join(name), 0o600);
        }
    }
    Ok(())
}

/// Put a backup in place on a stopped server: the current database is kept aside as
/// `videoapi.redb.before-restore-<ms>`, never overwritten.
pub fn restore(src: &Path, data_dir: &Path) -> AppResult<RestoreReport> {
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(src.join(MANIFEST)).map_err(|e| {
            AppError::invalid("DIR", format!("{} is not a backup: {e}", src.display()))
        })?)
        .map_err(|e| AppError::invalid("DIR", format!("unreadable manifest: {e}")))?;
    let db_src = src.join(&manifest.database);
    // Open the backup once: a truncated or corrupt copy is refused before anything moves.
    store::backup::verify_file(&db_src)
        .map_err(|e| AppError::invalid("DIR", format!("{}: {e}", db_src.display())))?;
    crate::storage::private_dir(data_dir)?;
    let db_path = data_dir.join(DB_FILE);
    let mut previous = None;
    if db_path.exists() {
        if store::backup::is_locked(&db_path) {
            return Err(AppError::DatabaseLocked);
        }
        let aside = data_dir.join(format!(
            "{DB_FILE}.before-restore-{}",
            crate::domain::now_ms()
        ));
        std::fs::rename(&db_path, &aside)?;
        previous = Some(aside);
    }
    let tmp = data_dir.join(format!("{DB_FILE}.restoring"));
    std::fs::copy(&db_src, &tmp)?;
    crate::storage::tighten(&tmp, 0o600);
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &db_path)?;
    // The restored tasks' callback URLs were signed with the backup's key.
    copy_secrets(src, data_dir)?;
    let mut restored = 0;
    let mut missing = Vec::new();
    for f in &manifest.files {
        if !crate::storage::local::is_safe_key(&f.key) {
            return Err(AppError::invalid(
                "DIR",
                format!("the manifest names an unsafe path: {}", f.key),
            ));
        }
        let to = data_dir.join(&f.key);
        if to.is_file() {
            continue;
        }
        let from = src.join(MEDIA_DIR).join(&f.key);
        if from.is_file() {
            if let Some(parent) = to.parent() {
                crate::storage::private_dir(parent)?;
            }
            std::fs::copy(&from, &to)?;
            restored += 1;
        } else {
            missing.push(f.key.clone());
        }
    }
    Ok(RestoreReport {
        previous,
        files_restored: restored,
        missing,
    })
}

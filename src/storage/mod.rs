//! Stored files behind one facade: the bytes (local disk or S3 backend), a record per
//! file (owner, size, expiry) kept with them, quotas, and the free-space guard.

pub mod backend;
pub mod guard;
pub mod janitor;
pub mod local;
pub mod migrate;
pub mod s3;
pub mod s3_settings;

pub use backend::PartFile;
pub use local::{LocalFiles, private_dir, safe_stem, tighten};

use crate::clock::SharedClock;
use crate::domain::ids::UserId;
use crate::domain::media::{
    Disk, MediaKind, MediaOverrides, Quota, Quotas, Retention, Usage, video_task_id,
};
use crate::error::{AppError, AppResult};
use crate::store::media::MediaRecord;
use crate::store::{self, Store};
use futures_util::Stream;
use guard::{DiskGuard, SharedProbe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the operator set for stored media.
#[derive(Debug, Clone, Default)]
pub struct MediaSettings {
    pub retention: Retention,
    pub quotas: Quotas,
    pub low_free_bytes: u64,
    pub critical_free_bytes: u64,
    pub probe: SharedProbe,
    /// The bucket when media lives in object storage (`[storage] backend = "s3"`).
    pub s3: Option<s3::S3Settings>,
}

#[derive(Clone)]
pub struct Storage {
    files: backend::Files,
    /// The data directory (database, and media with the local backend).
    root: PathBuf,
    store: Store,
    settings: Arc<MediaSettings>,
    /// Retention and quotas in force: the config's with the console's overrides applied.
    live: Arc<std::sync::RwLock<Live>>,
    edit_lock: Arc<tokio::sync::Mutex<()>>,
    clock: SharedClock,
    guard: Arc<DiskGuard>,
}

/// The settings in force now; swapped whole when the operator saves new ones, so a save
/// applies to the next upload or mirror without a restart.
#[derive(Debug, Clone, Default)]
struct Live {
    retention: Retention,
    quotas: Quotas,
    overrides: MediaOverrides,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.files {
            backend::Files::Local(_) => write!(f, "Storage({})", self.root.display()),
            backend::Files::S3(s) => write!(f, "Storage(s3://{})", s.settings().bucket),
        }
    }
}

/// One upload to record: key, size.
pub struct NewUpload<'a> {
    pub key: &'a str,
    pub size: u64,
}

/// Every stored file under the root (`uploads/<dir>/<name>`, `videos/<name>`) and its size.
pub(crate) fn walk_keys(root: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let list = |dir: &Path| -> Vec<std::fs::DirEntry> {
        std::fs::read_dir(dir)
            .map(|r| r.flatten().collect())
            .unwrap_or_default()
    };
    for e in list(&root.join("videos")) {
        if let Ok(m) = e.metadata()
            && m.is_file()
        {
            out.push((
                format!("videos/{}", e.file_name().to_string_lossy()),
                m.len(),
            ));
        }
    }
    for d in list(&root.join("uploads")) {
        for e in list(&d.path()) {
            if let Ok(m) = e.metadata()
                && m.is_file()
            {
                out.push((
                    format!(
                        "uploads/{}/{}",
                        d.file_name().to_string_lossy(),
                        e.file_name().to_string_lossy()
                    ),
                    m.len(),
                ));
            }
        }
    }
    out.retain(|(k, _)| local::is_safe_key(k));
    out
}

impl Storage {
    pub fn open(
        data_dir: &Path,
        store: Store,
        settings: MediaSettings,
        clock: SharedClock,
    ) -> AppResult<Storage> {
        let files = match &settings.s3 {
            None => backend::Files::Local(LocalFiles::open(data_dir)?),
            Some(s) => backend::Files::S3(s3::S3Files::open(s)?),
        };
        let guard = DiskGuard::new(
            data_dir,
            settings.probe.clone(),
            settings.low_free_bytes,
            settings.critical_free_bytes,
        );
        let overrides = store.read_now(store::media::overrides)?.unwrap_or_default();
        let (retention, quotas) = overrides.apply((&settings.retention, &settings.quotas));
        let live = Live {
            retention,
            quotas,
            overrides,
        };
        let s = Storage {
            files,
            root: data_dir.to_path_buf(),
            store,
            settings: Arc::new(settings),
            live: Arc::new(std::sync::RwLock::new(live)),
            edit_lock: Arc::default(),
            clock,
            guard: Arc::new(guard),
        };
        s.publish_usage();
        Ok(s)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bucket, when media lives in object storage.
    pub fn s3(&self) -> Option<&s3::S3Files> {
        match &self.files {
            backend::Files::S3(s) => Some(s),
            backend::Files::Local(_) => None,
        }
    }

    /// The config's settings (before the console's overrides).
    pub fn settings(&self) -> &MediaSettings {
        &self.settings
    }

    /// The retention periods in force (saved from the console, else the config's).
    pub fn retention(&self) -> Retention {
        self.live
            .read()
            .expect("media settings lock")
            .retention
            .clone()
    }

    /// The quotas in force (group quotas saved from the console win over the config's).
    pub fn quotas(&self) -> Quotas {
        self.live
            .read()
            .expect("media settings lock")
            .quotas
            .clone()
    }

    /// What the operator saved from the console.
    pub fn overrides(&self) -> MediaOverrides {
        self.live
            .read()
            .expect("media settings lock")
            .overrides
            .clone()
    }

    /// Save retention periods (operator console). New uploads and mirrors get expiries
    /// from them at once; files already stored keep the expiry they were recorded with.
    pub async fn set_retention(&self, r: Retention) -> AppResult<()> {
        self.edit_overrides(move |o| o.retention = Some(r)).await
    }

    /// Save (or with `None`, clear) a pricing group's storage quota (operator console).
    pub async fn set_group_quota(&self, group: String, quota: Option<Quota>) -> AppResult<()> {
        self.edit_overrides(move |o| match quota {
            Some(q) => {
                o.group_quotas.insert(group, q);
            }
            None => {
                o.group_quotas.remove(&group);
            }
        })
        .await
    }

    async fn edit_overrides(
        &self,
        edit: impl FnOnce(&mut MediaOverrides) + Clone + Send + 'static,
    ) -> AppResult<()> {
        // One save at a time, so the settings swapped in are the last ones committed.
        let _one = self.edit_lock.lock().await;
        let saved = self
            .store
            .write(move |txn| store::media::edit_overrides(txn, edit))
            .await?;
        let (retention, quotas) = saved.apply((&self.settings.retention, &self.settings.quotas));
        *self.live.write().expect("media settings lock") = Live {
            retention,
            quotas,
            overrides: saved,
        };
        Ok(())
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn guard(&self) -> &DiskGuard {
        &self.guard
    }

    /// Start writing a file of at most `limit` bytes.
    pub async fn create(&self, limit: u64) -> AppResult<PartFile> {
        self.files.create(limit).await
    }

    /// Start writing a file of at most `limit` bytes whose key is known already (object
    /// storage then writes it in place instead of copying it at the end).
    pub async fn create_at(&self, key: &str, limit: u64) -> AppResult<PartFile> {
        self.files.create_at(key, limit).await
    }

    pub async fn finish(&self, part: PartFile, key: &str) -> AppResult<u64> {
        self.files.finish(part, key).await
    }

    /// The file's path with the local backend; with object storage there is none (404).
    pub fn path_of(&self, key: &str) -> AppResult<PathBuf> {
        match &self.files {
            backend::Files::Local(f) => f.path_of(key),
            backend::Files::S3(_) => Err(AppError::not_found("file")),
        }
    }

    /// A stored file's bytes when it holds at most `limit` (an input image to inline);
    /// `None` when there is no such file, 413 when it is larger.
    pub async fn read_small(&self, key: &str, limit: u64) -> AppResult<Option<Vec<u8>>> {
        match &self.files {
            backend::Files::Local(f) => {
                let Ok(path) = f.path_of(key) else {
                    return Ok(None);
                };
                match tokio::fs::metadata(&path).await {
                    Ok(m) if m.len() > limit => {
                        Err(AppError::PayloadTooLarge { limit_bytes: limit })
                    }
                    Ok(_) => Ok(Some(tokio::fs::read(&path).await?)),
                    Err(_) => Ok(None),
                }
            }
            backend::Files::S3(s) => {
                if !local::is_safe_key(key) {
                    return Ok(None);
                }
                match s.size_of(key).await? {
                    None => Ok(None),
                    Some(n) if n > limit => Err(AppError::PayloadTooLarge { limit_bytes: limit }),
                    Some(n) => Ok(Some(s.get_range(key, 0..n).await?.to_vec())),
                }
            }
        }
    }

    /// A blocking `Read + Seek` over a stored file, for `spawn_blocking` readers.
    pub async fn reader(&self, key: &str) -> Option<Box<dyn backend::ReadSeek>> {
        self.files.reader(key).await
    }

    pub async fn exists(&self, key: &str) -> bool {
        self.files.exists(key).await
    }

    /// Whether new files may be stored now; 507 below the low watermark.
    pub fn room_for_upload(&self) -> AppResult<()> {
        match self.guard.check() {
            (Disk::Ok, _) => Ok(()),
            (_, free_bytes) => Err(AppError::InsufficientStorage { free_bytes }),
        }
    }

    /// The engine asks before mirroring a result: below the low watermark the task waits
    /// (and stays unfinished) instead of failing.
    pub fn may_mirror(&self) -> bool {
        matches!(self.guard.check().0, Disk::Ok)
    }

    /// Refuse an upload before reading it when the disk is low or the account is full.
    pub async fn admit_upload(&self, owner: UserId) -> AppResult<()> {
        self.room_for_upload()?;
        let owner = owner.get();
        let quotas = self.quotas();
        self.store
            .read(move |txn| store::media::check_room(txn, owner, &quotas))
            .await
    }

    /// Record finished uploads for `owner` within the quota (all or none: over it, the
    /// caller removes the files). Returns each file's expiry.
    pub async fn record_uploads(
        &self,
        owner: UserId,
        files: &[NewUpload<'_>],
    ) -> AppResult<Vec<Option<i64>>> {
        let owner = owner.get();
        let now = self.clock.now_ms();
        let expires = self.retention().upload_expiry(now);
        let rows: Vec<(String, MediaRecord)> = files
            .iter()
            .map(|f| {
                (
                    f.key.to_string(),
                    MediaRecord {
                        owner,
                        kind: MediaKind::Upload,
                        size: f.size,
                        created_at_ms: now,
                        expires_at_ms: expires,
                        task_id: None,
                    },
                )
            })
            .collect();
        let quotas = self.quotas();
        let added: u64 = files.iter().map(|f| f.size).sum();
        self.store
            .write(move |txn| store::media::add(txn, &rows, Some(&quotas)))
            .await?;
        crate::metrics::METRICS.storage_add(MediaKind::Upload, added as i64, files.len() as i64);
        Ok(vec![expires; files.len()])
    }

    /// Copy a mirrored result of `task` into `key`, refusing more than `limit` bytes, and
    /// record it as the task owner's video with the model's retention. A file whose
    /// record cannot be written is removed, so no video is stored without one.
    pub async fn save_video<S, E>(
        &self,
        task: &crate::domain::task::Task,
        key: &str,
        limit: u64,
        stream: S,
    ) -> AppResult<u64>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let size = self.files.save_stream(key, limit, stream).await?;
        let now = self.clock.now_ms();
        let rec = MediaRecord {
            owner: task.user_id.get(),
            kind: MediaKind::Video,
            size,
            created_at_ms: now,
            expires_at_ms: self.retention().video_expiry(&task.model, now),
            task_id: Some(task.id.to_string()),
        };
        let rows = vec![(key.to_string(), rec)];
        if let Err(e) = self
            .store
            .write(move |txn| store::media::add(txn, &rows, None))
            .await
        {
            self.files.remove(key).await;
            return Err(e);
        }
        crate::metrics::METRICS.storage_add(MediaKind::Video, size as i64, 1);
        Ok(size)
    }

    /// Give files stored before files had records (an upgrade) a record, once: uploads
    /// owned by nobody (owner 0: any account may still reference them), videos by their
    /// task's owner, both expiring one retention period from now.
    pub async fn adopt_unrecorded(&self) -> AppResult<usize> {
        // Object storage was filled by this server or `storage migrate`, which records
        // what it moves: nothing there predates records.
        if self.s3().is_some() || self.store.read(store::media::adopted).await? {
            return Ok(0);
        }
        let root = self.root.clone();
        let found = tokio::task::spawn_blocking(move || walk_keys(&root))
            .await
            .map_err(AppError::internal)?;
        let mut adopted = 0;
        for chunk in found.chunks(janitor::BATCH) {
            let keys: Vec<String> = chunk.iter().map(|(k, _)| k.clone()).collect();
            let missing = self
                .store
                .read(move |txn| store::media::unrecorded(txn, &keys))
                .await?;
            let now = self.clock.now_ms();
            let mut rows = Vec::new();
            for (key, size) in chunk.iter().filter(|(k, _)| missing.contains(k)) {
                let rec = match video_task_id(key) {
                    Some(id) => {
                        let id = id.to_string();
                        let task = self
                            .store
                            .read(move |txn| store::tasks::read(txn, &id))
                            .await?;
                        let model = task.as_ref().map(|t| t.model.clone()).unwrap_or_default();
                        MediaRecord {
                            owner: task.as_ref().map_or(0, |t| t.user_id.get()),
                            kind: MediaKind::Video,
                            size: *size,
                            created_at_ms: now,
                            expires_at_ms: self.retention().video_expiry(&model, now),
                            task_id: task.map(|t| t.id.into()),
                        }
                    }
                    None => MediaRecord {
                        owner: 0,
                        kind: MediaKind::Upload,
                        size: *size,
                        created_at_ms: now,
                        expires_at_ms: self.retention().upload_expiry(now),
                        task_id: None,
                    },
                };
                rows.push((key.clone(), rec));
            }
            adopted += rows.len();
            if !rows.is_empty() {
                self.store
                    .write(move |txn| store::media::add(txn, &rows, None))
                    .await?;
            }
        }
        self.store.write(store::media::mark_adopted).await?;
        if adopted > 0 {
            tracing::info!(
                files = adopted,
                "recorded files stored before retention existed"
            );
            self.publish_usage();
        }
        Ok(adopted)
    }

    /// With object storage: abort multipart uploads and remove `tmp/` objects a crash
    /// left behind (started over a day ago by the server clock). Returns how many.
    pub async fn sweep_abandoned(&self) -> AppResult<usize> {
        let Some(s3) = self.s3() else {
            return Ok(0);
        };
        let before = self.clock.now_ms() - s3::ABANDONED_AFTER_MS;
        let n = s3.sweep_abandoned(before).await?;
        if n > 0 {
            tracing::info!(
                uploads = n,
                "aborted multipart uploads a crash left in the bucket"
            );
        }
        Ok(n)
    }

    /// When a finished task's videos expire (unix ms), by the same rule the record used.
    pub fn video_expiry(&self, task: &crate::domain::task::Task) -> Option<i64> {
        if task.outputs.is_empty() {
            return None;
        }
        let done = task.finished_at_ms.unwrap_or(task.updated_at_ms);
        self.retention().video_expiry(&task.model, done)
    }

    /// Delete a stored file and its record (a user's delete, a failed write's cleanup).
    pub async fn remove(&self, key: &str) {
        self.forget(key, None).await;
    }

    /// Delete a file; with `gone_at` its URL answers 410 afterwards. Bytes first, record
    /// second: a crash in between leaves a record of a missing file, which the janitor
    /// clears at its expiry, never an unrecorded file that nothing would remove.
    pub(crate) async fn forget(&self, key: &str, gone_at: Option<i64>) -> Option<MediaRecord> {
        self.files.remove(key).await;
        let k = key.to_string();
        let rec = match self
            .store
            .write(move |txn| store::media::remove(txn, &k, gone_at))
            .await
        {
            Ok(rec) => rec,
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot forget a stored file's record");
                return None;
            }
        };
        if let Some(r) = &rec {
            crate::metrics::METRICS.storage_add(r.kind, -(r.size as i64), -1);
        }
        rec
    }

    /// The operator's purge: every file of `owner`, in bounded batches. Their URLs answer
    /// 410 afterwards; tasks keep their records.
    pub async fn purge_owner(&self, owner: UserId) -> AppResult<(u64, u64)> {
        let owner = owner.get();
        let (mut files, mut bytes) = (0u64, 0u64);
        loop {
            let keys = self
                .store
                .read(move |txn| store::media::keys_of(txn, owner, janitor::BATCH))
                .await?;
            if keys.is_empty() {
                return Ok((files, bytes));
            }
            self.files.remove_many(keys.clone()).await;
            let now = self.clock.now_ms();
            let removed = self
                .store
                .write(move |txn| store::media::remove_many(txn, &keys, Some(now)))
                .await?;
            for r in &removed {
                crate::metrics::METRICS.storage_add(r.kind, -(r.size as i64), -1);
                files += 1;
                bytes += r.size;
            }
        }
    }

    /// Set (or with `None`, clear) an account's own quota.
    pub async fn set_quota(
        &self,
        user: UserId,
        quota: Option<crate::domain::media::Quota>,
    ) -> AppResult<()> {
        let user = user.get();
        self.store
            .write(move |txn| store::media::set_quota(txn, user, quota))
            .await
    }

    /// Every account's own quota (those the operator set).
    pub async fn own_quotas(
        &self,
    ) -> AppResult<std::collections::HashMap<u64, crate::domain::media::Quota>> {
        self.store.read(store::media::own_quotas).await
    }

    /// Every account that stores files, with its usage and own quota.
    pub async fn usage_by_user(
        &self,
    ) -> AppResult<Vec<(u64, Usage, Option<crate::domain::media::Quota>)>> {
        self.store
            .read(|txn| {
                let mut out = Vec::new();
                for (user, usage) in store::media::usage_all(txn)? {
                    out.push((user, usage, store::media::own_quota(txn, user)?));
                }
                Ok(out)
            })
            .await
    }

    /// Whether `key` was removed by retention (its URL answers 410).
    pub async fn is_gone(&self, key: &str) -> bool {
        let k = key.to_string();
        self.store
            .read(move |txn| store::media::is_gone(txn, &k))
            .await
            .unwrap_or(false)
    }

    pub async fn record(&self, key: &str) -> AppResult<Option<MediaRecord>> {
        let k = key.to_string();
        self.store.read(move |txn| store::media::get(txn, &k)).await
    }

    pub async fn usage(&self, user: UserId) -> AppResult<Usage> {
        let user = user.get();
        self.store
            .read(move |txn| store::media::usage(txn, user))
            .await
    }

    /// The quota that applies to `user` (own, else pricing group, else default).
    pub async fn quota_of(
        &self,
        user: UserId,
        group: Option<String>,
    ) -> AppResult<crate::domain::media::Quota> {
        let user = user.get();
        let own = self
            .store
            .read(move |txn| store::media::own_quota(txn, user))
            .await?;
        Ok(self.quotas().for_user(own, group.as_deref()))
    }

    /// Bytes stored by kind, for the metrics, from the usage table (start-up).
    fn publish_usage(&self) {
        let Ok(all) = self.store.read_now(store::media::usage_all) else {
            return;
        };
        let (mut u, mut v) = ((0i64, 0i64), (0i64, 0i64));
        for (_, x) in all {
            u.0 += x.upload_bytes as i64;
            u.1 += x.upload_files as i64;
            v.0 += x.video_bytes as i64;
            v.1 += x.video_files as i64;
        }
        let m = &crate::metrics::METRICS;
        m.storage_set(MediaKind::Upload, u.0, u.1);
        m.storage_set(MediaKind::Video, v.0, v.1);
    }
}

//! The janitor: removes stored files whose retention ran out, a bounded batch per pass,
//! in expiry order from an index (so a restart simply resumes where the index stands);
//! below the critical free-space watermark it also removes the files that expire soonest.

use super::Storage;
use crate::domain::media::{Disk, MediaKind};
use crate::error::AppResult;
use crate::store::{self, Store};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Files handled per pass: one write transaction and a bounded burst of deletions, so
/// requests keep being served at their usual latency while a backlog drains.
pub const BATCH: usize = 500;
/// Pause between passes while a backlog drains.
const BETWEEN_BATCHES: Duration = Duration::from_millis(20);
/// Pause when nothing is due.
const IDLE: Duration = Duration::from_secs(60);
/// An expired upload that an unfinished task still names is looked at again this much
/// later (and kept, however many times, until the task ends).
const HOLD_MS: i64 = 3_600_000;
/// How often object storage is swept for multipart uploads a crash abandoned (a listing
/// request: cheap, but not for every pass while a backlog drains).
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

pub struct Janitor {
    storage: Storage,
    store: Store,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub removed: usize,
    pub bytes: u64,
    /// Expired uploads kept because an unfinished task references them.
    pub held: usize,
    /// A full batch was handled: more may be waiting.
    pub more: bool,
}

impl Janitor {
    pub fn new(storage: Storage, store: Store) -> Arc<Janitor> {
        Arc::new(Janitor { storage, store })
    }

    /// Run passes until `stop` flips: back to back while there is a backlog.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        if let Err(e) = self.storage.adopt_unrecorded().await {
            tracing::warn!(error = %e, "cannot record files stored before retention existed");
        }
        // The first pass waits a while: start-up is busy enough (resumed tasks), and the
        // expiry index keeps until then.
        let mut pause = IDLE;
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = self.storage.sweep_abandoned().await {
                    tracing::warn!(error = %e, "cannot sweep abandoned multipart uploads");
                }
            }
            pause = match self.run_once(BATCH).await {
                Ok(p) if p.more => BETWEEN_BATCHES,
                Ok(_) => IDLE,
                Err(e) => {
                    tracing::warn!(error = %e, "janitor pass failed");
                    IDLE
                }
            };
        }
    }

    /// One pass over at most `limit` files.
    pub async fn run_once(&self, limit: usize) -> AppResult<Pass> {
        let now = self.storage.now_ms();
        // With object storage, deleting media frees no local disk: only the database's
        // disk is guarded, and files go at their expiry only.
        let critical =
            self.storage.guard().check().0 == Disk::Critical && self.storage.s3().is_none();
        // Below the critical watermark, the soonest to expire go even if not yet due.
        let due = self
            .store
            .read(move |txn| store::media::by_expiry(txn, now, !critical, limit))
            .await?;
        let mut pass = Pass {
            more: due.len() >= limit,
            ..Pass::default()
        };
        if due.is_empty() {
            return Ok(pass);
        }
        let held = if due.iter().any(|(k, _)| k.starts_with("uploads/")) {
            self.store.read(uploads_in_use).await?
        } else {
            HashSet::new()
        };
        let mut remove = Vec::new();
        let mut postpone = Vec::new();
        for (key, at) in due {
            if held.contains(&key) {
                postpone.push(key);
            } else if critical && at > now && self.storage.guard().check().0 != Disk::Critical {
                // Enough space freed: files not yet due stay.
                break;
            } else {
                remove.push(key);
            }
        }
        // Bytes first, records second: a crash in between leaves records whose files are
        // already gone, which the next pass removes again (idempotent).
        self.storage.files.remove_many(remove.clone()).await;
        pass.held = postpone.len();
        let keys = remove.clone();
        let removed = self
            .store
            .write(move |txn| {
                for k in &postpone {
                    store::media::postpone(txn, k, now.saturating_add(HOLD_MS))?;
                }
                store::media::remove_many(txn, &keys, Some(now))
            })
            .await?;
        let m = &crate::metrics::METRICS;
        for r in &removed {
            m.storage_add(r.kind, -(r.size as i64), -1);
            pass.bytes += r.size;
        }
        pass.removed = removed.len();
        m.janitor_removed.inc_by(pass.removed as u64);
        if pass.removed > 0 {
            tracing::info!(
                files = pass.removed,
                bytes = pass.bytes,
                held = pass.held,
                "janitor removed expired files"
            );
        }
        Ok(pass)
    }
}

/// Upload keys named by unfinished tasks: those are kept past their expiry until the
/// task ends (an upstream may still fetch them).
fn uploads_in_use(txn: &redb::ReadTransaction) -> AppResult<HashSet<String>> {
    let mut keys = HashSet::new();
    for id in store::tasks::active_ids(txn)? {
        let Some(task) = store::tasks::read(txn, &id)? else {
            continue;
        };
        let r = &task.request;
        for url in r
            .image_urls
            .iter()
            .chain(&r.video_urls)
            .chain(&r.audio_urls)
        {
            if let Some(key) = upload_key_of(url) {
                keys.insert(key);
            }
        }
    }
    Ok(keys)
}

/// The storage key in a URL of this server's uploads (whatever the public URL was then).
fn upload_key_of(url: &str) -> Option<String> {
    let i = url.find("/uploads/")?;
    let key = &url[i + 1..];
    let key = key.split(['?', '#']).next().unwrap_or(key);
    (MediaKind::of_key(key) == Some(MediaKind::Upload)).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn upload_keys_come_from_urls() {
        assert_eq!(
            super::upload_key_of("https://x.example/uploads/ab/c.png?x=1").as_deref(),
            Some("uploads/ab/c.png")
        );
        assert_eq!(super::upload_key_of("https://x.example/a.png"), None);
    }
}

//! Free-space watermarks for the data directory: below the low one nothing new is stored
//! (uploads 507, mirroring waits), below the critical one the janitor frees space early.

use crate::domain::media::{Disk, disk_state};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Bytes available to this process on the filesystem holding `path`.
pub trait FreeSpace: Send + Sync + 'static {
    fn free_bytes(&self, path: &Path) -> Option<u64>;
}

/// The real filesystem, through `statvfs` (blocks available to unprivileged users).
pub struct StatVfs;

impl FreeSpace for StatVfs {
    fn free_bytes(&self, path: &Path) -> Option<u64> {
        let s = rustix::fs::statvfs(path).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }
}

/// A figure set by hand: tests shrink the "disk" without filling one.
#[derive(Clone)]
pub struct FixedFreeSpace(Arc<AtomicU64>);

impl FixedFreeSpace {
    pub fn new(bytes: u64) -> FixedFreeSpace {
        FixedFreeSpace(Arc::new(AtomicU64::new(bytes)))
    }
    pub fn set(&self, bytes: u64) {
        self.0.store(bytes, Ordering::SeqCst);
    }
}

impl FreeSpace for FixedFreeSpace {
    fn free_bytes(&self, _path: &Path) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst))
    }
}

/// Not a setting: how free space is measured (`statvfs` unless a test injects one).
#[derive(Clone)]
pub struct SharedProbe(Arc<dyn FreeSpace>);

impl SharedProbe {
    pub fn new(p: impl FreeSpace) -> SharedProbe {
        SharedProbe(Arc::new(p))
    }
}

impl Default for SharedProbe {
    fn default() -> Self {
        SharedProbe::new(StatVfs)
    }
}

impl fmt::Debug for SharedProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedProbe")
    }
}

pub struct DiskGuard {
    root: PathBuf,
    probe: SharedProbe,
    pub low_bytes: u64,
    pub critical_bytes: u64,
    /// The last state seen, so a change is logged once rather than on every request.
    last: AtomicU8,
}

impl DiskGuard {
    pub fn new(root: &Path, probe: SharedProbe, low_bytes: u64, critical_bytes: u64) -> DiskGuard {
        DiskGuard {
            root: root.to_path_buf(),
            probe,
            low_bytes,
            critical_bytes,
            last: AtomicU8::new(0),
        }
    }

    /// Measure now (one `statvfs`: cheap enough per upload and per mirror).
    pub fn check(&self) -> (Disk, u64) {
        // An unmeasurable filesystem is treated as roomy: refusing every upload because
        // statvfs failed would be worse than the risk it guards against.
        let free = self.probe.0.free_bytes(&self.root).unwrap_or(u64::MAX);
        let state = disk_state(free, self.low_bytes, self.critical_bytes);
        let m = &crate::metrics::METRICS;
        m.storage_free_bytes.set(free.min(i64::MAX as u64) as i64);
        m.storage_low.set(i64::from(state != Disk::Ok));
        let code = match state {
            Disk::Ok => 1,
            Disk::Low => 2,
            Disk::Critical => 3,
        };
        let before = self.last.swap(code, Ordering::Relaxed);
        if before != code {
            match state {
                Disk::Ok if before > 1 => {
                    tracing::info!(
                        free_bytes = free,
                        "disk space recovered; uploads and mirroring resume"
                    )
                }
                Disk::Ok => {}
                Disk::Low => tracing::warn!(
                    free_bytes = free,
                    low_watermark = self.low_bytes,
                    "disk space below the low watermark: uploads refused (507), mirroring paused"
                ),
                Disk::Critical => tracing::warn!(
                    free_bytes = free,
                    critical_watermark = self.critical_bytes,
                    "disk space below the critical watermark: the janitor deletes the files that expire soonest"
                ),
            }
        }
        (state, free)
    }
}

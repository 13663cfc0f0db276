//! Rules for stored media: retention periods, per-user quotas and free-space watermarks.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const SECOND_MS: i64 = 1000;

/// Parse a retention period: `30s`, `15m`, `12h`, `7d`, `2w`, or `0` (keep forever).
/// A bare number is seconds. `None` means forever.
pub fn parse_period(s: &str) -> Result<Option<i64>, String> {
    let t = s.trim();
    let bad = || format!("\"{s}\" is not a period: write it like 30s, 12h, 7d or 0 (forever)");
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: i64 = num.parse().map_err(|_| bad())?;
    let mult = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let ms = n
        .checked_mul(mult)
        .and_then(|v| v.checked_mul(SECOND_MS))
        .ok_or_else(bad)?;
    Ok((ms > 0).then_some(ms))
}

/// How long stored files live, in milliseconds (`None` = forever).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub uploads_ms: Option<i64>,
    pub videos_ms: Option<i64>,
    /// Per public model: how long its mirrored videos live (overrides `videos_ms`).
    pub models: BTreeMap<String, Option<i64>>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            uploads_ms: Some(7 * 86_400 * SECOND_MS),
            videos_ms: Some(30 * 86_400 * SECOND_MS),
            models: BTreeMap::new(),
        }
    }
}

impl Retention {
    pub fn upload_expiry(&self, created_ms: i64) -> Option<i64> {
        self.uploads_ms.map(|ttl| created_ms.saturating_add(ttl))
    }

    pub fn video_expiry(&self, model: &str, created_ms: i64) -> Option<i64> {
        let ttl = match self.models.get(model) {
            Some(ttl) => *ttl,
            None => self.videos_ms,
        };
        ttl.map(|ttl| created_ms.saturating_add(ttl))
    }
}

/// What an account may keep; `None` = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(default)]
    pub bytes: Option<u64>,
    #[serde(default)]
    pub files: Option<u64>,
}

/// Quota defaults and per pricing group overrides (TOML `[quotas]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quotas {
    pub default: Quota,
    pub groups: BTreeMap<String, Quota>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            default: Quota {
                bytes: Some(1024 * 1024 * 1024),
                files: Some(1000),
            },
            groups: BTreeMap::new(),
        }
    }
}

impl Quotas {
    /// The quota that applies: the user's own, else the pricing group's, else the default.
    pub fn for_user(&self, own: Option<Quota>, group: Option<&str>) -> Quota {
        own.or_else(|| group.and_then(|g| self.groups.get(g).copied()))
            .unwrap_or(self.default)
    }
}

/// What the operator saved in the console; each part present wins over the config's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaOverrides {
    /// Retention periods (uploads, videos, per model), replacing the config's whole.
    #[serde(default)]
    pub retention: Option<Retention>,
    /// Storage quotas per pricing group, each replacing that group's from the config.
    #[serde(default)]
    pub group_quotas: BTreeMap<String, Quota>,
}

impl MediaOverrides {
    /// The retention and quotas in force: these overrides over the config's `base`.
    pub fn apply(&self, base: (&Retention, &Quotas)) -> (Retention, Quotas) {
        let retention = self.retention.clone().unwrap_or_else(|| base.0.clone());
        let mut quotas = base.1.clone();
        for (g, q) in &self.group_quotas {
            quotas.groups.insert(g.clone(), *q);
        }
        (retention, quotas)
    }
}

/// What an account stores now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub upload_bytes: u64,
    pub upload_files: u64,
    pub video_bytes: u64,
    pub video_files: u64,
}

impl Usage {
    pub fn bytes(&self) -> u64 {
        self.upload_bytes.saturating_add(self.video_bytes)
    }
    pub fn files(&self) -> u64 {
        self.upload_files.saturating_add(self.video_files)
    }
}

/// Whether `add_bytes` more in `add_files` more uploads fit the quota. Only uploads count:
/// a mirrored video was paid for and is never refused (retention bounds those).
pub fn admit(usage: Usage, quota: Quota, add_bytes: u64, add_files: u64) -> Result<(), AppError> {
    let bytes = usage.upload_bytes.saturating_add(add_bytes);
    let files = usage.upload_files.saturating_add(add_files);
    let over_bytes = quota.bytes.is_some_and(|q| bytes > q);
    let over_files = quota.files.is_some_and(|q| files > q);
    if over_bytes || over_files {
        return Err(AppError::StorageQuotaExceeded {
            used_bytes: usage.upload_bytes,
            used_files: usage.upload_files,
            quota_bytes: quota.bytes,
            quota_files: quota.files,
        });
    }
    Ok(())
}

/// Where free space stands against the two watermarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disk {
    /// Above the low watermark: everything runs.
    Ok,
    /// Below the low watermark: uploads are refused (507) and mirroring waits.
    Low,
    /// Below the critical watermark too: the janitor also deletes files that expire
    /// soonest, before their time, until free space is back above it.
    Critical,
}

pub fn disk_state(free_bytes: u64, low_bytes: u64, critical_bytes: u64) -> Disk {
    if free_bytes < critical_bytes {
        Disk::Critical
    } else if free_bytes < low_bytes {
        Disk::Low
    } else {
        Disk::Ok
    }
}

/// A kind of stored file, as keys start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Upload,
    Video,
}

impl MediaKind {
    pub fn of_key(key: &str) -> Option<MediaKind> {
        if key.starts_with("uploads/") {
            Some(MediaKind::Upload)
        } else if key.starts_with("videos/") {
            Some(MediaKind::Video)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Upload => "upload",
            MediaKind::Video => "video",
        }
    }
}

/// The task a mirrored video belongs to, from its key `videos/<task id>-<n>-<hex>.mp4`.
pub fn video_task_id(key: &str) -> Option<&str> {
    let name = key.strip_prefix("videos/")?;
    let id = name.split('-').next()?;
    (!id.is_empty() && id != name).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let day = 86_400_000;
        for (s, want) in [
            ("30s", Some(30_000)),
            ("90", Some(90_000)),
            ("12h", Some(12 * 3_600_000)),
            ("7d", Some(7 * day)),
            ("2w", Some(14 * day)),
            ("0", None),
            ("0d", None),
        ] {
            assert_eq!(parse_period(s), Ok(want), "{s}");
        }
        for bad in ["", "d", "7x", "-1d", "1.5d", "99999999999999999999d"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn models_override_video_retention() {
        let mut r = Retention::default();
        r.models.insert("keep".into(), None);
        r.models.insert("short".into(), Some(1000));
        assert_eq!(r.video_expiry("keep", 5), None);
        assert_eq!(r.video_expiry("short", 5), Some(1005));
        assert_eq!(r.video_expiry("other", 0), Some(30 * 86_400_000));
        assert_eq!(r.upload_expiry(0), Some(7 * 86_400_000));
    }

    #[test]
    fn quota_table() {
        let q = Quota {
            bytes: Some(100),
            files: Some(2),
        };
        let used = |b, f| Usage {
            upload_bytes: b,
            upload_files: f,
            video_bytes: 10_000,
            video_files: 50,
        };
        assert!(admit(used(0, 0), q, 100, 1).is_ok());
        assert!(admit(used(50, 1), q, 51, 1).is_err());
        assert!(admit(used(50, 2), q, 1, 1).is_err());
        assert!(admit(used(50, 1), Quota::default(), u64::MAX, 9).is_ok());
        let e = admit(used(90, 1), q, 20, 1).unwrap_err();
        assert_eq!(e.status(), 413);
        assert!(e.to_string().contains("90 bytes in 1 file"), "{e}");
    }

    #[test]
    fn watermarks() {
        assert_eq!(disk_state(1000, 500, 100), Disk::Ok);
        assert_eq!(disk_state(499, 500, 100), Disk::Low);
        assert_eq!(disk_state(99, 500, 100), Disk::Critical);
    }

    #[test]
    fn video_keys_name_their_task() {
        assert_eq!(
            video_task_id("videos/vidgen_1_ab-0-cd.mp4"),
            Some("vidgen_1_ab")
        );
        assert_eq!(video_task_id("videos/x.mp4"), None);
        assert_eq!(video_task_id("uploads/a-b"), None);
    }
}

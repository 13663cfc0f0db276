//! Response bodies of the public API and their mapping from domain records.

use crate::domain::catalog::{Model, PricingGroup};
use crate::domain::pricing;
use crate::domain::task::{Status, Task};
use poem_openapi::Object;

#[derive(Debug, Clone, Object)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ModelInfo>,
}

/// How a model is billed.
#[derive(Debug, Clone, Object)]
pub struct BillingInfo {
    /// `per_task` or `per_second`.
    pub mode: String,
    /// Credits per task, or per second of video (at the first listed resolution).
    pub credits: i64,
    /// Credits per task or second for each resolution.
    pub resolution_credits: std::collections::BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Object)]
pub struct ModelInfo {
    /// The public model id to send as `model`.
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub name: String,
    pub description: String,
    pub billing: BillingInfo,
    pub features: Vec<String>,
    /// Accepted `type` values.
    pub types: Vec<String>,
    pub resolutions: Vec<String>,
    /// Accepted `duration` seconds (or `auto`).
    pub durations: Vec<u32>,
    /// Seconds billed for `duration: "auto"`.
    pub default_duration: u32,
    pub aspect_ratios: Vec<String>,
    pub max_images: u32,
    pub max_videos: u32,
    pub max_audios: u32,
    pub supports_audio: bool,
    /// Suggested polling interval for this model's tasks.
    pub poll_interval_seconds: u32,
}

impl ModelInfo {
    pub fn from_model(m: &Model, group: Option<&PricingGroup>) -> ModelInfo {
        let c = &m.capabilities;
        let first_res = c.resolutions.first().cloned().unwrap_or_default();
        ModelInfo {
            id: m.id.clone(),
            object: "model".into(),
            name: m.name.clone(),
            description: m.description.clone(),
            billing: BillingInfo {
                mode: m.billing.mode.as_str().into(),
                // Shown only; creating a task with a price out of range is a 422.
                credits: pricing::unit_price(m, &first_res, group).unwrap_or(i64::MAX),
                resolution_credits: c
                    .resolutions
                    .iter()
                    .map(|r| {
                        let p = pricing::unit_price(m, r, group).unwrap_or(i64::MAX);
                        (r.clone(), p)
                    })
                    .collect(),
            },
            features: m.features.clone(),
            types: c.types.clone(),
            resolutions: c.resolutions.clone(),
            durations: c.durations.clone(),
            default_duration: c.default_duration,
            aspect_ratios: c.aspect_ratios.clone(),
            max_images: c.max_images,
            max_videos: c.max_videos,
            max_audios: c.max_audios,
            supports_audio: c.supports_audio,
            poll_interval_seconds: m.poll_interval_seconds,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct TaskMetadata {
    pub credits_reserved: i64,
    /// The public model id the task was created with.
    pub public_model: String,
    /// How prompts reference assets: always `@Image1/@Video1/@Audio1`.
    pub asset_reference_style: String,
}

/// Why a task failed.
#[derive(Debug, Clone, Object)]
pub struct TaskErrorView {
    /// e.g. `demo_failure`, `deadline_exceeded`, `cancelled`, or the channel's own code.
    pub code: String,
    pub message: String,
}

/// A task as callers see it.
#[derive(Debug, Clone, Object)]
pub struct TaskView {
    pub task_id: String,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    /// The first video, once `completed`; served by this gateway.
    #[oai(nullable)]
    pub url: Option<String>,
    /// Container format of `url`, e.g. `mp4`.
    #[oai(nullable)]
    pub format: Option<String>,
    /// Every generated video URL.
    pub generated: Vec<String>,
    /// Extra outputs (reserved; empty today).
    pub outputs: Vec<String>,
    pub metadata: TaskMetadata,
    /// Credits held for this task.
    pub credits_reserved: i64,
    /// True when the reservation was returned (failed or cancelled tasks).
    pub credits_refunded: bool,
    /// Null unless `failed`.
    #[oai(nullable)]
    pub error: Option<TaskErrorView>,
    /// Same as `generated`.
    pub videos: Vec<String>,
    /// Unix seconds after which retention deletes the videos: `url` then answers 410
    /// `file_expired` while this record stays. Null before completion, or when videos
    /// are kept until deleted.
    #[oai(nullable)]
    pub expires_at: Option<i64>,
    /// Present while a `pending` task waits for a free slot of its key's (or account's)
    /// `max_concurrency`: its 1-based place in that queue.
    #[oai(skip_serializing_if_is_none)]
    pub queue_position: Option<u64>,
}

impl TaskView {
    pub fn from_task(t: &Task, public_url: &str) -> TaskView {
        let videos: Vec<String> = if t.status == Status::Completed {
            t.outputs
                .iter()
                .map(|o| format!("{public_url}/{}", o.key))
                .collect()
        } else {
            Vec::new()
        };
        TaskView {
            task_id: t.id.clone(),
            status: t.status.as_str().into(),
            url: videos.first().cloned(),
            format: videos.first().map(|_| "mp4".to_string()),
            generated: videos.clone(),
            outputs: Vec::new(),
            metadata: TaskMetadata {
                credits_reserved: t.credits_reserved,
                public_model: t.model.clone(),
                asset_reference_style: "@Image1/@Video1/@Audio1".into(),
            },
            credits_reserved: t.credits_reserved,
            credits_refunded: t.credits_refunded,
            error: t
                .error
                .as_ref()
                .filter(|_| t.status == Status::Failed)
                .map(|e| TaskErrorView {
                    code: e.code.clone(),
                    message: e.message.clone(),
                }),
            videos,
            expires_at: None,
            queue_position: None,
        }
    }

    /// With the videos' expiry (unix ms, from the storage's retention rule).
    pub fn expiring(mut self, expires_at_ms: Option<i64>) -> TaskView {
        self.expires_at = expires_at_ms
            .filter(|_| !self.videos.is_empty())
            .map(|ms| ms / 1000);
        self
    }
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, Object)]
pub struct TaskList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<TaskView>,
    pub has_more: bool,
    /// Pass as `before` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

impl TaskList {
    /// `tasks` holds up to `limit + 1` rows; the extra one only says there is more.
    pub fn page(mut tasks: Vec<Task>, limit: usize, public_url: &str) -> TaskList {
        let has_more = tasks.len() > limit;
        tasks.truncate(limit);
        TaskList {
            object: "list".into(),
            next_cursor: if has_more {
                tasks.last().map(|t| t.id.clone())
            } else {
                None
            },
            has_more,
            data: tasks
                .iter()
                .map(|t| TaskView::from_task(t, public_url))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct Account {
    /// Always `account`.
    pub object: String,
    pub username: String,
    /// Current balance in credits.
    pub credits: i64,
    #[oai(nullable)]
    pub pricing_group: Option<String>,
    /// The calling API key: its settings, limits and usage now.
    #[oai(skip_serializing_if_is_none)]
    pub key: Option<crate::http::console::views::KeyView>,
    /// The account's own limits across all its keys, with usage.
    #[oai(skip_serializing_if_is_none)]
    pub account_limits: Option<crate::http::limits::LimitsWithUsage>,
    /// Files this account stores and its quota.
    pub storage: StorageView,
}

/// Stored files of one account. Only uploads count against the quota; mirrored videos
/// are listed too (retention bounds them).
#[derive(Debug, Clone, Object)]
pub struct StorageView {
    /// Bytes stored (uploads and videos).
    pub bytes: u64,
    /// Files stored (uploads and videos).
    pub files: u64,
    pub upload_bytes: u64,
    pub upload_files: u64,
    pub video_bytes: u64,
    pub video_files: u64,
    /// Upload bytes allowed; null = no limit.
    #[oai(nullable)]
    pub quota_bytes: Option<u64>,
    /// Upload files allowed; null = no limit.
    #[oai(nullable)]
    pub quota_files: Option<u64>,
}

impl StorageView {
    pub fn new(u: crate::domain::media::Usage, q: crate::domain::media::Quota) -> StorageView {
        StorageView {
            bytes: u.bytes(),
            files: u.files(),
            upload_bytes: u.upload_bytes,
            upload_files: u.upload_files,
            video_bytes: u.video_bytes,
            video_files: u.video_files,
            quota_bytes: q.bytes,
            quota_files: q.files,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct Health {
    pub status: String,
    pub version: String,
}

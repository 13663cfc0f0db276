//! Response bodies of the public API and their mapping from domain records.

use crate::domain::catalog::{Model, PricingGroup, UserPrice};
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
    /// `per_task`, `per_second` or `per_duration`.
    pub mode: String,
    /// Credits per task, per second of video, or for the shortest duration bucket (at the
    /// first listed resolution), at your price.
    pub credits: i64,
    /// Credits per task or second for each resolution.
    pub resolution_credits: std::collections::BTreeMap<String, i64>,
    /// The whole price matrix at your price: one row per resolution, duration, audio
    /// and video input the model accepts, with what a task of that shape reserves.
    pub prices: Vec<PriceCell>,
}

/// What one shape of task costs you.
#[derive(Debug, Clone, Object)]
pub struct PriceCell {
    pub resolution: String,
    pub duration_seconds: u32,
    pub generate_audio: bool,
    /// With at least one `video_urls` entry.
    pub video_input: bool,
    pub credits: i64,
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
    pub fn from_model(
        m: &Model,
        group: Option<&PricingGroup>,
        user: Option<&UserPrice>,
    ) -> ModelInfo {
        let c = &m.capabilities;
        let first_res = c.resolutions.first().cloned().unwrap_or_default();
        let sheet = pricing::sheet(m, group, user);
        ModelInfo {
            id: m.id.clone(),
            object: "model".into(),
            name: m.name.clone(),
            description: m.description.clone(),
            billing: BillingInfo {
                mode: m.billing.mode.as_str().into(),
                // Shown only; creating a task with a price out of range is a 422.
                credits: pricing::unit_price(m, &first_res, group, user).unwrap_or(i64::MAX),
                resolution_credits: c
                    .resolutions
                    .iter()
                    .map(|r| {
                        let p = pricing::unit_price(m, r, group, user).unwrap_or(i64::MAX);
                        (r.clone(), p)
                    })
                    .collect(),
                prices: pricing::combinations(m)
                    .into_iter()
                    .map(|j| PriceCell {
                        credits: pricing::quote(&sheet, &j, 1).map_or(i64::MAX, |q| q.total.get()),
                        resolution: j.resolution,
                        duration_seconds: j.seconds,
                        generate_audio: j.audio,
                        video_input: j.video_input,
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
    /// What the task finally cost: null until it is settled on what was made (0 for a
    /// failed task). Never more than `credits_reserved`.
    #[oai(nullable)]
    pub credits_charged: Option<i64>,
    /// How the price was made up, and the settlement once completed.
    pub billing: TaskBilling,
}

/// One line of a price.
#[derive(Debug, Clone, Object)]
pub struct BreakdownLine {
    /// What the line is for, e.g. `720p · 5 s × 36 credits/s`, `audio ×150%`.
    pub item: String,
    /// What it adds (negative for a discount or a cap).
    pub credits: i64,
}

impl BreakdownLine {
    fn all(lines: &[pricing::Line]) -> Vec<BreakdownLine> {
        lines
            .iter()
            .map(|l| BreakdownLine {
                item: l.item.clone(),
                credits: l.credits,
            })
            .collect()
    }
}

/// The price applied: the matrix cell and where the customer's price came from.
#[derive(Debug, Clone, Object)]
pub struct PriceBilling {
    /// `per_task`, `per_second` or `per_duration`.
    pub mode: String,
    /// The matrix cell used: credits per task, per second or per duration bucket.
    pub unit_credits: i64,
    /// Seconds billed for `per_second`, otherwise 1.
    pub billed_units: i64,
    /// `list`, `group:<name>` (your pricing group) or `user` (your own price).
    pub price_source: String,
}

impl PriceBilling {
    pub fn from_price(p: &pricing::AppliedPrice) -> PriceBilling {
        PriceBilling {
            mode: p.mode.as_str().into(),
            unit_credits: p.unit_credits,
            billed_units: p.units,
            price_source: p
                .sheet
                .as_ref()
                .map(|s| s.source.clone())
                .or_else(|| p.pricing_group.as_ref().map(|g| format!("group:{g}")))
                .unwrap_or_else(|| "list".into()),
        }
    }
}

/// A task's billing: the price reserved at creation, then the settlement.
#[derive(Debug, Clone, Object)]
pub struct TaskBilling {
    /// `per_task`, `per_second` or `per_duration`.
    pub mode: String,
    pub unit_credits: i64,
    pub billed_units: i64,
    /// `list`, `group:<name>` or `user`.
    pub price_source: String,
    /// How `credits_reserved` adds up (the price at creation; later price changes do not
    /// touch it).
    pub breakdown: Vec<BreakdownLine>,
    /// Null until the task completed and was settled.
    #[oai(nullable)]
    pub settlement: Option<SettlementView>,
}

/// The charge on what was made: its price, capped at the reservation.
#[derive(Debug, Clone, Object)]
pub struct SettlementView {
    pub charged: i64,
    /// Returned to the balance (`credits_reserved - charged`).
    pub refunded: i64,
    /// Seconds billed for the video made.
    pub duration_seconds: u32,
    pub videos: u32,
    /// The price of what was made exceeded the reservation and was cut to it.
    pub capped: bool,
    /// How `charged` adds up.
    pub breakdown: Vec<BreakdownLine>,
}

impl TaskBilling {
    pub fn from_task(t: &Task) -> TaskBilling {
        let p = PriceBilling::from_price(&t.price);
        TaskBilling {
            mode: p.mode,
            unit_credits: p.unit_credits,
            billed_units: p.billed_units,
            price_source: p.price_source,
            breakdown: if t.price.breakdown.is_empty() {
                vec![BreakdownLine {
                    item: "price".into(),
                    credits: t.price.total.get(),
                }]
            } else {
                BreakdownLine::all(&t.price.breakdown)
            },
            settlement: t.settlement.as_ref().map(|s| SettlementView {
                charged: s.charged.get(),
                refunded: s.refunded.get(),
                duration_seconds: s.seconds,
                videos: s.videos,
                capped: s.capped,
                breakdown: BreakdownLine::all(&s.breakdown),
            }),
        }
    }
}

/// What a create with the same body would cost you now; nothing was created or charged.
#[derive(Debug, Clone, Object)]
pub struct EstimateView {
    pub model: String,
    /// What a create would reserve now.
    pub credits: i64,
    pub billing: PriceBilling,
    /// How `credits` adds up; the lines sum to it.
    pub breakdown: Vec<BreakdownLine>,
    /// Seconds billed (`auto` = the model's default).
    pub duration_seconds: u32,
    /// Your balance after such a create.
    pub balance_after: i64,
}

impl EstimateView {
    pub fn from_estimate(e: &crate::service::tasks::Estimate) -> EstimateView {
        EstimateView {
            model: e.model.clone(),
            credits: e.price.total.get(),
            billing: PriceBilling::from_price(&e.price),
            breakdown: BreakdownLine::all(&e.price.breakdown),
            duration_seconds: e.seconds,
            balance_after: e.balance_after,
        }
    }
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
            task_id: t.id.to_string(),
            status: t.status.as_str().into(),
            url: videos.first().cloned(),
            format: videos.first().map(|_| "mp4".to_string()),
            generated: videos.clone(),
            outputs: Vec::new(),
            metadata: TaskMetadata {
                credits_reserved: t.credits_reserved.get(),
                public_model: t.model.clone(),
                asset_reference_style: "@Image1/@Video1/@Audio1".into(),
            },
            credits_reserved: t.credits_reserved.get(),
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
            credits_charged: match (t.credits_charged, t.status) {
                (Some(c), _) => Some(c.get()),
                (None, Status::Failed) if t.credits_refunded => Some(0),
                _ => None,
            },
            billing: TaskBilling::from_task(t),
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
                tasks.last().map(|t| t.id.to_string())
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

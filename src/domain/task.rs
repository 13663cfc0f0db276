//! The task record and its state machine: pending → processing → completed | failed.

use super::pricing::AppliedPrice;
use super::request::UnifiedRequest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Status::Pending,
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// Where the engine is with a task; finer than the public status and never shown raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Waiting to be sent upstream (public: pending).
    Queued,
    /// A submission was recorded before calling upstream; its outcome is not known yet.
    /// A restart that finds this must not blindly submit again.
    Submitting { route: usize },
    /// Upstream accepted it (public: processing).
    Submitted { upstream_id: String },
    /// Upstream finished; results are being copied into local storage (public: processing).
    Mirroring { results: Vec<ResultRef> },
    /// Terminal.
    Done,
}

/// Where a finished upstream video can be fetched; internal only, never shown to callers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRef {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u32>,
    /// Fingerprint of the channel key needed to fetch it, when the URL needs auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskError {
    pub code: String,
    pub message: String,
}

/// A mirrored output video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// Storage key, e.g. `videos/vidgen_..._x.mp4`; the URL is `<public url>/<key>`.
    pub key: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub user_id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<u64>,
    pub model: String,
    pub request: UnifiedRequest,
    pub price: AppliedPrice,
    pub status: Status,
    pub phase: Phase,
    pub credits_reserved: i64,
    pub credits_refunded: bool,
    /// What the task finally cost; `None` until settled (and on tasks settled before
    /// settlement existed, which kept their reservation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits_charged: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<super::settlement::Settlement>,
    pub poll_interval_seconds: u32,
    /// Route chosen for the current or last submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_model: Option<String>,
    /// Fingerprint of the channel key the task was submitted with; it is polled with the
    /// same one (never the key itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Routes that already refused this task with a retryable error (indexes into the model).
    #[serde(default)]
    pub tried_routes: Vec<usize>,
    pub submit_attempts: u32,
    #[serde(default)]
    pub outputs: Vec<Output>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
    pub deadline_ms: i64,
    /// `api` or `console`.
    pub source: String,
}

impl Task {
    /// Only a task nobody sent upstream yet can be cancelled: after that, upstream is
    /// already spending money on it.
    pub fn can_cancel(&self) -> bool {
        self.status == Status::Pending && self.phase == Phase::Queued
    }

    /// Elapsed milliseconds from creation to finish (or to `now`).
    pub fn elapsed_ms(&self, now_ms: i64) -> i64 {
        self.finished_at_ms.unwrap_or(now_ms) - self.created_at_ms
    }

    /// Mark failed; the caller refunds in the same transaction.
    pub fn fail(&mut self, code: &str, message: &str, now_ms: i64) {
        self.status = Status::Failed;
        self.phase = Phase::Done;
        self.error = Some(TaskError {
            code: code.into(),
            message: message.into(),
        });
        self.finished_at_ms = Some(now_ms);
        self.updated_at_ms = now_ms;
    }
}

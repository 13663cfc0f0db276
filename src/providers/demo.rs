//! The built-in demo provider: a real MP4 after a delay, no upstream account needed.
//! A prompt containing `demo:fail` fails after the delay (to try the refund path);
//! `demo:reject` is refused at submission; `demo:empty` succeeds with no video (as an
//! upstream that filtered its output would).

use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, SubmitJob};
use crate::domain::task::ResultRef;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

static LANDSCAPE: &[u8] = include_bytes!("../../assets/demo.mp4");
static PORTRAIT: &[u8] = include_bytes!("../../assets/demo-9x16.mp4");

/// Submissions seen per task id in this process, so tests can prove "submitted once".
static SUBMISSIONS: LazyLock<Mutex<HashMap<String, u32>>> = LazyLock::new(Default::default);

pub fn submissions(task_id: &str) -> u32 {
    SUBMISSIONS
        .lock()
        .expect("demo lock")
        .get(task_id)
        .copied()
        .unwrap_or(0)
}

pub struct Demo {
    delay: Duration,
}

impl Demo {
    pub fn new(delay: Duration) -> Demo {
        Demo { delay }
    }
}

fn now_ms() -> i64 {
    crate::domain::now_ms()
}

#[async_trait]
impl Provider for Demo {
    fn kind(&self) -> &'static str {
        "demo"
    }

    // The upstream id is derived from our task id, so a second submission is harmless.
    fn idempotent_submit(&self) -> bool {
        true
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        if job.request.prompt.contains("demo:reject") {
            return Err(ProviderError::final_error(
                "demo_rejected",
                "the demo provider refused this prompt (it contains demo:reject)",
            ));
        }
        *SUBMISSIONS
            .lock()
            .expect("demo lock")
            .entry(job.task_id.to_string())
            .or_default() += 1;
        let outcome = if job.request.prompt.contains("demo:fail") {
            "fail"
        } else if job.request.prompt.contains("demo:empty") {
            "empty"
        } else {
            "ok"
        };
        let shape = if job.request.aspect_ratio == "9:16" {
            "portrait"
        } else {
            "landscape"
        };
        let ready = now_ms() + self.delay.as_millis() as i64;
        // `demo:made=<seconds>` in the prompt: report a video of that length instead of
        // the one asked for; `demo:made=measure` reports none, so the file is measured.
        let made = job
            .request
            .prompt
            .split_whitespace()
            .find_map(|w| w.strip_prefix("demo:made="))
            .map_or_else(|| job.request.seconds.to_string(), str::to_string);
        Ok(format!("demo:{ready}:{outcome}:{shape}:{made}"))
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError> {
        let parts: Vec<&str> = job.upstream_id.split(':').collect();
        let [_, ready, outcome, shape, seconds] = parts.as_slice() else {
            return Err(ProviderError::BadResponse {
                message: "unknown demo id".into(),
            });
        };
        let ready: i64 = ready.parse().map_err(|_| ProviderError::BadResponse {
            message: "bad demo id".into(),
        })?;
        if now_ms() < ready {
            return Ok(PollOutcome::Running);
        }
        if *outcome == "fail" {
            return Ok(PollOutcome::Failed {
                code: "demo_failure".into(),
                message:
                    "the demo provider failed this task on purpose (prompt contains demo:fail)"
                        .into(),
            });
        }
        if *outcome == "empty" {
            return Ok(PollOutcome::Succeeded(Vec::new()));
        }
        Ok(PollOutcome::Succeeded(vec![ResultRef {
            url: format!("demo://{shape}"),
            duration_seconds: seconds.parse().ok(),
            ..ResultRef::default()
        }]))
    }

    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError> {
        let bytes: &'static [u8] = if result.url == "demo://portrait" {
            PORTRAIT
        } else {
            LANDSCAPE
        };
        let chunks = bytes
            .chunks(64 * 1024)
            .map(|c| Ok(bytes::Bytes::from_static(c)));
        Ok(Box::pin(futures_util::stream::iter(
            chunks.collect::<Vec<_>>(),
        )))
    }

    async fn test_connection(&self) -> Result<String, ProviderError> {
        Ok("the demo provider is built in and always reachable".into())
    }
}

//! The built-in demo provider: a real MP4 after a delay, no upstream account needed.
//! A prompt containing `demo:fail` fails after the delay (to try the refund path);
//! `demo:reject` is refused at submission; `demo:empty` succeeds with no video (as an
//! upstream that filtered its output would); `demo:made=<seconds>` reports a video of that
//! length (`demo:made=measure`: none, so the file is measured).
//!
//! It has no wire, so it is not a [`Describe`](super::generic::Describe): the whole task
//! lives in its upstream id (`demo:<ready ms>:<outcome>:<shape>:<seconds>`).

use super::generic::{failed, video};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, ProviderResult, SubmitJob};
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
    let seen = SUBMISSIONS.lock().expect("demo lock");
    seen.get(task_id).copied().unwrap_or(0)
}

pub struct Demo {
    pub delay: Duration,
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

    async fn submit(&self, job: SubmitJob<'_>) -> ProviderResult<String> {
        let prompt = &job.request.prompt;
        if prompt.contains("demo:reject") {
            let msg = "the demo provider refused this prompt (it contains demo:reject)";
            return Err(ProviderError::final_error("demo_rejected", msg));
        }
        let mut seen = SUBMISSIONS.lock().expect("demo lock");
        *seen.entry(job.task_id.to_string()).or_default() += 1;
        let tagged = |o: &&str| prompt.contains(&format!("demo:{o}"));
        let outcome = ["fail", "empty"].into_iter().find(tagged).unwrap_or("ok");
        let shape = match job.request.aspect_ratio.as_str() {
            "9:16" => "portrait",
            _ => "landscape",
        };
        let ready = crate::domain::now_ms() + self.delay.as_millis() as i64;
        let made = (prompt.split_whitespace())
            .find_map(|w| w.strip_prefix("demo:made="))
            .map_or_else(|| job.request.seconds.to_string(), str::to_string);
        Ok(format!("demo:{ready}:{outcome}:{shape}:{made}"))
    }

    async fn poll(&self, job: PollJob<'_>) -> ProviderResult<PollOutcome> {
        let bad = || ProviderError::bad("unknown demo id");
        let parts: Vec<&str> = job.upstream_id.split(':').collect();
        let [_, ready, outcome, shape, seconds] = parts.as_slice() else {
            return Err(bad());
        };
        if crate::domain::now_ms() < ready.parse::<i64>().map_err(|_| bad())? {
            return Ok(PollOutcome::Running);
        }
        let why = "the demo provider failed this task on purpose (prompt contains demo:fail)";
        Ok(match *outcome {
            "fail" => failed(Some("demo_failure".into()), Some(why.into())),
            "empty" => PollOutcome::Succeeded(Vec::new()),
            _ => video(format!("demo://{shape}"), seconds.parse().ok(), None),
        })
    }

    async fn download(&self, result: &ResultRef) -> ProviderResult<ByteStream> {
        let bytes = match result.url.as_str() {
            "demo://portrait" => PORTRAIT,
            _ => LANDSCAPE,
        };
        let chunks = bytes.chunks(64 * 1024);
        let chunks = chunks.map(|c| Ok(bytes::Bytes::from_static(c)));
        Ok(Box::pin(futures_util::stream::iter(chunks)))
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        Ok("the demo provider is built in and always reachable".into())
    }
}

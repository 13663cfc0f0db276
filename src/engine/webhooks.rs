//! Task callbacks: POST the finished task to its `callback_url`, signed with HMAC-SHA256,
//! retried with backoff from the durable outbox until delivered or given up.

use crate::domain::task::{Status, Task};
use crate::error::AppResult;
use crate::store::{self, Store, outbox::Pending};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Renders the body: the same JSON as `GET /v1/video/generations/{task_id}`.
pub type Render = Arc<dyn Fn(&Task) -> String + Send + Sync>;

const MAX_ATTEMPTS: u32 = 8;
const BATCH: usize = 32;

pub struct Webhooks {
    pub store: Store,
    pub render: Render,
    pub allow_private: bool,
    /// First retry delay; doubles per attempt, capped at one hour.
    pub retry_base: Duration,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &[u8], unix: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{unix}.{body}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

enum Outcome {
    Delivered,
    Retry(String),
    GiveUp(String),
}

impl Webhooks {
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "callback delivery round failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(self.retry_base.as_millis().clamp(50, 1000) as u64)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Deliver everything due now; returns how many were attempted.
    pub async fn tick(&self) -> AppResult<usize> {
        let now = crate::domain::now_ms();
        let due = self
            .store
            .read(move |txn| store::outbox::due(txn, now, BATCH))
            .await?;
        let n = due.len();
        let rounds = due.into_iter().map(|(id, p)| self.deliver(id, p));
        futures_util::future::join_all(rounds).await;
        Ok(n)
    }

    async fn deliver(&self, id: String, pending: Pending) {
        let key = id.clone();
        let loaded = self
            .store
            .read(move |txn| {
                let Some(task) = store::tasks::read(txn, &key)? else {
                    return Ok(None);
                };
                let secret = match task.key_id {
                    Some(k) => store::users::key_hash(txn, k)?,
                    None => None,
                };
                Ok(Some((task, secret)))
            })
            .await;
        let outcome = match loaded {
            Ok(Some((task, secret))) => self.send(&task, secret.as_deref()).await,
            Ok(None) => Outcome::GiveUp("task no longer exists".into()),
            Err(e) => Outcome::Retry(e.to_string()),
        };
        let attempts = pending.attempts + 1;
        let id2 = id.clone();
        let result = match outcome {
            Outcome::Delivered => {
                crate::metrics::METRICS.webhooks_delivered.inc();
                self.store
                    .write(move |txn| store::outbox::remove(txn, &id2))
                    .await
            }
            Outcome::Retry(why) if attempts < MAX_ATTEMPTS => {
                let delay = self
                    .retry_base
                    .saturating_mul(1 << attempts.min(16))
                    .min(Duration::from_secs(3600));
                tracing::info!(task = %id, attempts, %why, "callback not delivered; will retry");
                let next = Pending {
                    attempts,
                    next_at_ms: crate::domain::now_ms() + delay.as_millis() as i64,
                };
                self.store
                    .write(move |txn| store::outbox::reschedule(txn, &id2, &next))
                    .await
            }
            Outcome::Retry(why) | Outcome::GiveUp(why) => {
                crate::metrics::METRICS.webhooks_failed.inc();
                tracing::warn!(task = %id, attempts, %why, "callback given up");
                self.store
                    .write(move |txn| store::outbox::remove(txn, &id2))
                    .await
            }
        };
        if let Err(e) = result {
            tracing::warn!(task = %id, error = %e, "cannot record callback outcome");
        }
    }

    async fn send(&self, task: &Task, secret: Option<&str>) -> Outcome {
        let Some(url) = task.request.callback_url.as_deref() else {
            return Outcome::GiveUp("no callback_url".into());
        };
        use crate::outbound::{OutboundError, pinned_client};
        let client = match pinned_client(url, self.allow_private, Duration::from_secs(10)).await {
            Ok(c) => c,
            Err(OutboundError::Unresolvable(why)) => return Outcome::Retry(why),
            Err(OutboundError::Private(why)) | Err(OutboundError::Invalid(why)) => {
                return Outcome::GiveUp(why);
            }
        };
        let body = (self.render)(task);
        let event = if task.status == Status::Completed {
            "task.completed"
        } else {
            "task.failed"
        };
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-videoapi-event", event)
            .header("x-videoapi-task", &task.id);
        if let Some(secret) = secret {
            let now = crate::domain::now_ms() / 1000;
            req = req.header(
                "x-videoapi-signature",
                signature(secret.as_bytes(), now, &body),
            );
        }
        match req.body(body).send().await {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) => Outcome::Retry(format!("callback answered {}", r.status())),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_stable_hmac_of_timestamp_and_body() {
        let a = super::signature(b"secret", 1700000000, "{}");
        assert_eq!(a, super::signature(b"secret", 1700000000, "{}"));
        assert!(a.starts_with("t=1700000000,v1="));
        assert_ne!(a, super::signature(b"other", 1700000000, "{}"));
        assert_eq!(a.len(), "t=1700000000,v1=".len() + 64);
    }
}

//! Task callbacks: POST the finished task to its `callback_url`, signed with the account's
//! secret (Standard Webhooks headers plus our `X-VideoApi-*`), retried with backoff from
//! the durable outbox until delivered or given up, fairly across tenants.
//!
//! Fairness: due callbacks are read tenant by tenant from the outbox's due index, handed
//! out round-robin, at most [`PER_TENANT`] in flight per account and [`GLOBAL`] in all.
//! Each delivery runs on its own; the dispatcher never waits for the slowest one, so a
//! tenant whose receiver fails or hangs only ever occupies its own slots.

use crate::domain::task::{Status, Task};
use crate::error::AppResult;
use crate::outbound::{OutboundError, Policy, Timeouts, refusal};
use crate::store::{self, Store, outbox::Pending};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Renders the body: the same JSON as `GET /v1/video/generations/{task_id}`.
pub type Render = Arc<dyn Fn(&Task) -> String + Send + Sync>;

const MAX_ATTEMPTS: u32 = 8;
/// Deliveries in flight per account.
pub const PER_TENANT: usize = 4;
/// Deliveries in flight in all.
pub const GLOBAL: usize = 64;
/// Most tenants looked at per dispatch round.
const MAX_TENANTS: usize = 10_000;
/// A receiver must accept the connection quickly ...
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// ... and answer the whole request within this.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Webhooks {
    pub store: Store,
    pub render: Render,
    /// First retry delay; doubles per attempt, capped at one hour.
    pub retry_base: Duration,
    policy: Arc<Policy>,
    client: reqwest::Client,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (`X-VideoApi-Signature`).
pub fn signature(secret: &[u8], unix: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{unix}.{body}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Standard Webhooks `webhook-signature`: `v1,<base64 HMAC-SHA256(secret, "<id>.<t>.<body>")>`.
pub fn standard_signature(secret: &[u8], id: &str, unix: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{id}.{unix}.{body}").as_bytes());
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// How a secret is shown to its account: `whsec_<base64>`.
pub fn display_secret(secret: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

enum Outcome {
    Delivered,
    Retry(String),
    GiveUp(String),
}

/// What the dispatcher knows about deliveries in flight.
#[derive(Default)]
struct InFlight {
    per_tenant: HashMap<u64, usize>,
    ids: HashSet<String>,
    /// Which callback each running delivery carries (to free its slot even on a panic).
    by_task: HashMap<tokio::task::Id, (u64, String)>,
}

impl Webhooks {
    /// `allow_private`: deliver to private addresses too (`allow_private_callbacks`).
    pub fn new(store: Store, render: Render, allow_private: bool, retry_base: Duration) -> Self {
        let policy = Arc::new(if allow_private {
            Policy::any_address()
        } else {
            Policy::public_only()
        });
        let client = crate::outbound::client(
            policy.clone(),
            Timeouts {
                connect: CONNECT_TIMEOUT,
                total: Some(TOTAL_TIMEOUT),
                read: None,
            },
        );
        Webhooks {
            store,
            render,
            retry_base,
            policy,
            client,
        }
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        match self.store.write(store::outbox::backfill).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(callbacks = n, "indexed outbox rows by due time"),
            Err(e) => tracing::warn!(error = %e, "cannot index the outbox"),
        }
        let idle = Duration::from_millis(self.retry_base.as_millis().clamp(50, 250) as u64);
        let mut running: JoinSet<()> = JoinSet::new();
        let mut inflight = InFlight::default();
        let mut next_tenant = 0u64;
        loop {
            if let Err(e) = self
                .dispatch(&mut running, &mut inflight, &mut next_tenant)
                .await
            {
                tracing::warn!(error = %e, "callback dispatch round failed");
            }
            tokio::select! {
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    // A delivery that panicked is known by its task id only.
                    let key = match done {
                        Ok((tid, _)) => Some(tid),
                        Err(e) => Some(e.id()),
                    };
                    if let Some((user, id)) = key.and_then(|k| inflight.by_task.remove(&k)) {
                        inflight.ids.remove(&id);
                        if let Some(n) = inflight.per_tenant.get_mut(&user) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                inflight.per_tenant.remove(&user);
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {
                    // Unfinished deliveries stay in the outbox and are sent again later.
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    return;
                }
            }
        }
    }

    /// Start what is due, round-robin over tenants from `next_tenant`, within the caps.
    async fn dispatch(
        self: &Arc<Self>,
        running: &mut JoinSet<()>,
        inflight: &mut InFlight,
        next_tenant: &mut u64,
    ) -> AppResult<()> {
        let free = GLOBAL.saturating_sub(running.len());
        if free == 0 {
            return Ok(());
        }
        let now = crate::domain::now_ms();
        let busy: HashMap<u64, usize> = inflight.per_tenant.clone();
        let busy_ids = inflight.ids.clone();
        let start = *next_tenant;
        let mut queues: Vec<(u64, VecDeque<(String, Pending)>)> = self
            .store
            .read(move |txn| {
                let mut tenants = store::outbox::tenants_due(txn, now, MAX_TENANTS)?;
                // Rotate: this round starts with the first tenant at or after `start`.
                let split = tenants.partition_point(|&u| u < start);
                tenants.rotate_left(split);
                let mut out = Vec::new();
                for u in tenants {
                    let taken = busy.get(&u).copied().unwrap_or(0);
                    let slots = PER_TENANT.saturating_sub(taken);
                    if slots == 0 {
                        continue;
                    }
                    let q: VecDeque<_> = store::outbox::due_for(txn, u.into(), now, slots + taken)?
                        .into_iter()
                        .filter(|(id, _)| !busy_ids.contains(id))
                        .take(slots)
                        .collect();
                    if !q.is_empty() {
                        out.push((u, q));
                    }
                }
                Ok(out)
            })
            .await?;
        let mut started = 0;
        let mut last = None;
        'rounds: while queues.iter().any(|(_, q)| !q.is_empty()) {
            for (user, q) in queues.iter_mut() {
                if started >= free {
                    break 'rounds;
                }
                let Some((id, pending)) = q.pop_front() else {
                    continue;
                };
                *inflight.per_tenant.entry(*user).or_default() += 1;
                inflight.ids.insert(id.clone());
                let me = self.clone();
                let user = *user;
                let handle = running.spawn({
                    let id = id.clone();
                    async move { me.deliver(id, pending).await }
                });
                inflight.by_task.insert(handle.id(), (user, id));
                started += 1;
                last = Some(user);
            }
        }
        // The next round starts after the last tenant served, so none is always first.
        if let Some(u) = last {
            *next_tenant = u.wrapping_add(1);
        }
        Ok(())
    }

    async fn deliver(&self, id: String, pending: Pending) {
        let key = id.clone();
        let loaded = self
            .store
            .read(move |txn| {
                let Some(task) = store::tasks::read(txn, &key)? else {
                    return Ok(None);
                };
                let key_hash = match task.key_id {
                    Some(k) => store::users::key_hash(txn, k)?,
                    None => None,
                };
                let secret = store::webhook_secrets::read(txn, task.user_id)?;
                Ok(Some((task, key_hash, secret)))
            })
            .await;
        let outcome = match loaded {
            Ok(Some((task, key_hash, secret))) => {
                self.send(&task, key_hash.as_deref(), secret.as_deref())
                    .await
            }
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
                    user_id: pending.user_id,
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

    async fn send(&self, task: &Task, key_hash: Option<&str>, secret: Option<&[u8]>) -> Outcome {
        let Some(url) = task.request.callback_url.as_deref() else {
            return Outcome::GiveUp("no callback_url".into());
        };
        let give_up_or_retry = |e: &OutboundError| match e {
            OutboundError::Unresolvable(why) => Outcome::Retry(why.clone()),
            OutboundError::Private(why) | OutboundError::Invalid(why) => {
                Outcome::GiveUp(why.clone())
            }
        };
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return Outcome::GiveUp(format!("not a URL: {url}"));
        };
        if let Err(e) = self.policy.check_url(&parsed) {
            return give_up_or_retry(&e);
        }
        let body = (self.render)(task);
        let event = if task.status == Status::Completed {
            "task.completed"
        } else {
            "task.failed"
        };
        let now = crate::domain::now_ms() / 1000;
        let mut req = self
            .client
            .post(parsed)
            .header("content-type", "application/json")
            .header("x-videoapi-event", event)
            .header("x-videoapi-task", task.id.as_str());
        // X-VideoApi-Signature keeps its old key for tasks made with an API key (receivers
        // already verify it with the key's SHA-256); console tasks use the account secret.
        if let Some(legacy) = key_hash.map(str::as_bytes).or(secret) {
            req = req.header("x-videoapi-signature", signature(legacy, now, &body));
        }
        if let Some(secret) = secret {
            req = req
                .header("webhook-id", task.id.as_str())
                .header("webhook-timestamp", now.to_string())
                .header(
                    "webhook-signature",
                    standard_signature(secret, &task.id, now, &body),
                );
        }
        match req.body(body).send().await {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) => Outcome::Retry(format!("callback answered {}", r.status())),
            Err(e) => match refusal(&e) {
                Some(o) => give_up_or_retry(o),
                None => Outcome::Retry(e.to_string()),
            },
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

    #[test]
    fn standard_signature_matches_the_specification_example() {
        // The example from the Standard Webhooks specification.
        use base64::Engine as _;
        let secret = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            super::standard_signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            super::display_secret(&secret),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
    }
}

//! The task scheduler: one timer queue drives every unfinished task — submit, poll with
//! the model's interval and backoff, mirror results, enforce deadlines, resume on start.

pub mod webhooks;

use crate::domain::now_ms;
use crate::domain::task::{Output, Phase, ResultRef, Status, Task};
use crate::error::{AppError, AppResult};
use crate::providers::{PollJob, PollOutcome, Provider, ProviderError, Registry, SubmitJob};
use crate::service::catalog::Catalog;
use crate::storage::Storage;
use crate::store::{self, Store};
use rand::Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Tasks worked on at once across all channels.
const MAX_IN_FLIGHT: usize = 64;
const MAX_BACKOFF: Duration = Duration::from_secs(300);

pub struct EngineSettings {
    pub poll_interval_override: Option<Duration>,
    pub max_result_bytes: u64,
}

pub struct Engine {
    store: Store,
    storage: Storage,
    catalog: Arc<Catalog>,
    registry: Arc<Registry>,
    settings: EngineSettings,
    due: mpsc::UnboundedSender<(Instant, String)>,
    due_rx: Mutex<Option<mpsc::UnboundedReceiver<(Instant, String)>>>,
    /// Tasks with a timer or a worker; one of each at most, so nothing runs twice.
    scheduled: Mutex<HashSet<String>>,
    /// Consecutive unreadable or failed polls, kept in memory: a restart forgives them.
    failures: Mutex<HashMap<String, u32>>,
    permits: Arc<Semaphore>,
    key_turn: std::sync::atomic::AtomicUsize,
}

/// What to do with a task after one step.
enum Next {
    After(Duration),
    /// The channel has no free slot: wait for one (holding no engine permit) and step
    /// again with it, instead of re-reading the task on a timer.
    Busy(Arc<crate::providers::limit::Limiter>),
    Done,
}

impl Engine {
    pub fn new(
        store: Store,
        storage: Storage,
        catalog: Arc<Catalog>,
        registry: Arc<Registry>,
        settings: EngineSettings,
    ) -> Arc<Engine> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(Engine {
            store,
            storage,
            catalog,
            registry,
            settings,
            due: tx,
            due_rx: Mutex::new(Some(rx)),
            scheduled: Mutex::new(HashSet::new()),
            failures: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            key_turn: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Ask for a task to be worked on after `delay` (ignored if it already is scheduled).
    pub fn schedule(&self, task_id: &str, delay: Duration) {
        let fresh = self
            .scheduled
            .lock()
            .expect("engine lock")
            .insert(task_id.to_string());
        if fresh {
            let _ = self.due.send((Instant::now() + delay, task_id.to_string()));
        }
    }

    /// Every unfinished task, staggered a little so a restart does not stampede upstream.
    pub async fn resume(&self) -> AppResult<usize> {
        let ids = self.store.read(store::tasks::active_ids).await?;
        for (i, id) in ids.iter().enumerate() {
            self.schedule(id, Duration::from_millis((i as u64 % 100) * 5));
        }
        Ok(ids.len())
    }

    /// The scheduler loop; returns after `shutdown` flips, once in-flight steps finished.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(mut rx) = self.due_rx.lock().expect("engine lock").take() else {
            return;
        };
        let mut timers: BinaryHeap<Reverse<(Instant, u64, String)>> = BinaryHeap::new();
        let mut seq = 0u64;
        let mut workers = JoinSet::new();
        loop {
            let next = timers.peek().map(|Reverse((t, _, _))| *t);
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some((at, id)) => { seq += 1; timers.push(Reverse((at, seq, id))); }
                    None => break,
                },
                _ = sleep_until_opt(next) => {
                    let now = Instant::now();
                    while let Some(Reverse((at, _, _))) = timers.peek() {
                        if *at > now { break; }
                        let Reverse((_, _, id)) = timers.pop().expect("peeked");
                        let engine = self.clone();
                        workers.spawn(async move { engine.work(id).await });
                    }
                },
                Some(_) = workers.join_next(), if !workers.is_empty() => {},
                _ = shutdown.changed() => break,
            }
        }
        // Let in-flight steps record what they did; a step cut short is resumed on start.
        let drain = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(20), drain)
            .await
            .is_err()
        {
            tracing::warn!("engine stopped with steps still running; they resume on next start");
        }
    }

    async fn work(self: Arc<Self>, id: String) {
        let mut slot = None;
        // `Some(delay)`: step again after it; `None`: the task needs nothing more.
        let again = loop {
            let permit = self.permits.clone().acquire_owned().await;
            crate::metrics::METRICS.engine_in_flight.inc();
            let result = self.step(&id, slot.take()).await;
            crate::metrics::METRICS.engine_in_flight.dec();
            drop(permit);
            match result {
                Ok(Next::Busy(limiter)) => slot = Some(limiter.acquire().await),
                Ok(Next::After(d)) => break Some(d),
                Ok(Next::Done) => break None,
                Err(e) => {
                    tracing::error!(task = %id, error = %e, "engine step failed; retrying");
                    break Some(self.backoff(&id));
                }
            }
        };
        self.scheduled.lock().expect("engine lock").remove(&id);
        match again {
            Some(d) => self.schedule(&id, d),
            None => {
                self.failures.lock().expect("engine lock").remove(&id);
                // A finished task frees its key's/account's slot: wake who waits for it.
                match crate::service::limits::freed(&self.store, &id).await {
                    Ok(next) => next.iter().for_each(|t| self.schedule(t, Duration::ZERO)),
                    Err(e) => tracing::warn!(task = %id, error = %e, "could not wake queued tasks"),
                }
            }
        }
    }

    /// Advance one task by one step.
    async fn step(&self, id: &str, slot: Option<crate::providers::limit::Slot>) -> AppResult<Next> {
        let key = id.to_string();
        let Some(task) = self
            .store
            .read(move |txn| store::tasks::read(txn, &key))
            .await?
        else {
            return Ok(Next::Done);
        };
        if task.status.is_terminal() {
            return Ok(Next::Done);
        }
        if now_ms() >= task.deadline_ms {
            self.cancel_upstream(&task).await;
            self.fail(
                id,
                "deadline_exceeded",
                "the task did not finish before its deadline; credits were refunded",
            )
            .await?;
            return Ok(Next::Done);
        }
        match task.phase.clone() {
            Phase::Queued => {
                // The key's/account's concurrency limit: a task held back stays pending;
                // `limits::freed` wakes it, the re-check is only a safety net.
                if !crate::service::limits::may_start(&self.store, id).await? {
                    return Ok(Next::After(self.interval_secs(5)));
                }
                self.submit(task, None, slot).await
            }
            Phase::Submitting { route } => self.resubmit_after_crash(task, route).await,
            Phase::Submitted { upstream_id } => self.poll(task, upstream_id, slot).await,
            Phase::Mirroring { results } => self.mirror(task, results).await,
            Phase::Done => Ok(Next::Done),
        }
    }

    /// A submission was recorded but its outcome was lost (crash or kill). Only an
    /// adapter that deduplicates by our task id may send it again.
    async fn resubmit_after_crash(&self, task: Task, route: usize) -> AppResult<Next> {
        let provider = task.provider.as_deref().and_then(|p| self.registry.get(p));
        match provider {
            Some(p) if p.idempotent_submit() => self.submit(task, Some(route), None).await,
            _ => {
                self.fail(
                    &task.id,
                    "submission_unknown",
                    "the service restarted while submitting this task and the channel cannot confirm it; credits were refunded",
                )
                .await?;
                Ok(Next::Done)
            }
        }
    }

    fn pick_route(&self, task: &Task, model: &crate::domain::catalog::Model) -> Option<usize> {
        let mut candidates: Vec<(usize, i32, u32)> = model
            .routes
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                !task.tried_routes.contains(i)
                    && self
                        .catalog
                        .provider(&r.provider)
                        .is_some_and(|p| p.enabled)
                    && self.registry.health.is_healthy(&r.provider)
                    // Only routes whose adapter can send this request (create checked
                    // that at least one can).
                    && self
                        .registry
                        .get(&r.provider)
                        .is_some_and(|p| p.check_route(&r.upstream_model, &r.settings, &task.request).is_ok())
            })
            .map(|(i, r)| (i, r.priority, r.weight.max(1)))
            .collect();
        let best = candidates.iter().map(|c| c.1).max()?;
        candidates.retain(|c| c.1 == best);
        let total: u32 = candidates.iter().map(|c| c.2).sum();
        let mut roll = rand::rng().random_range(0..total);
        for (i, _, w) in &candidates {
            if roll < *w {
                return Some(*i);
            }
            roll -= w;
        }
        candidates.first().map(|c| c.0)
    }

    async fn submit(
        &self,
        task: Task,
        forced_route: Option<usize>,
        slot: Option<crate::providers::limit::Slot>,
    ) -> AppResult<Next> {
        let Some(model) = self.catalog.model(&task.model) else {
            self.fail(
                &task.id,
                "model_removed",
                "the model was removed before the task was submitted; credits were refunded",
            )
            .await?;
            return Ok(Next::Done);
        };
        let route_idx = match forced_route.or_else(|| self.pick_route(&task, &model)) {
            Some(i) if i < model.routes.len() => i,
            _ => {
                if !task.tried_routes.is_empty() {
                    // Every route refused with a retryable error: start over after a pause.
                    let id = task.id.clone();
                    self.store
                        .write(move |txn| {
                            store::tasks::update(txn, &id, |t| {
                                t.tried_routes.clear();
                                Ok(true)
                            })
                        })
                        .await?;
                }
                return Ok(Next::After(self.backoff(&task.id)));
            }
        };
        let route = model.routes[route_idx].clone();
        let Some(provider) = self.registry.get(&route.provider) else {
            return Ok(Next::After(self.backoff(&task.id)));
        };
        // The channel's pacing: come back later rather than wait holding a worker.
        // A slot handed in was waited for on this task's last busy channel; it is only
        // good for that channel.
        let limiter = self.registry.limiter(&route.provider);
        let _slot = match slot.filter(|s| s.is_for(&limiter)) {
            Some(slot) => slot,
            None => match limiter.try_acquire() {
                Ok(slot) => slot,
                Err(_) => return Ok(Next::Busy(limiter)),
            },
        };
        // A resend (same route after an unknown outcome) must use the same key: the
        // upstream deduplicates per account.
        let credential = match (forced_route, &task.credential) {
            (Some(_), Some(c)) => Some(c.clone()),
            _ => {
                // Round robin over the channel's keys.
                let ids = provider.credentials();
                let n = self
                    .key_turn
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (!ids.is_empty()).then(|| ids[n % ids.len()].clone())
            }
        };
        // Record the attempt before calling upstream, so a crash mid-call is visible.
        let id = task.id.clone();
        let (pname, umodel) = (route.provider.clone(), route.upstream_model.clone());
        let cred = credential.clone();
        let recorded = self
            .store
            .write(move |txn| {
                store::tasks::update(txn, &id, |t| {
                    if t.status != Status::Pending {
                        return Ok(false);
                    }
                    t.phase = Phase::Submitting { route: route_idx };
                    t.submit_attempts += 1;
                    t.provider = Some(pname);
                    t.upstream_model = Some(umodel);
                    t.credential = cred;
                    Ok(true)
                })
            })
            .await?;
        if !recorded.is_some_and(|t| t.phase == Phase::Submitting { route: route_idx }) {
            return Ok(Next::Done);
        }
        let job = SubmitJob {
            task_id: &task.id,
            upstream_model: &route.upstream_model,
            request: &task.request,
            route_settings: &route.settings,
            credential: credential.as_deref(),
            callback_url: None,
        };
        let result = provider.submit(job).await;
        self.note_health(&route.provider, result.as_ref().err());
        self.note_retry_after(&route.provider, result.as_ref().err());
        let id = task.id.clone();
        match result {
            Ok(upstream_id) => {
                self.store
                    .write(move |txn| {
                        store::tasks::update(txn, &id, |t| {
                            t.status = Status::Processing;
                            t.phase = Phase::Submitted { upstream_id };
                            t.submitted_at_ms = Some(now_ms());
                            Ok(true)
                        })
                    })
                    .await?;
                Ok(Next::After(self.poll_interval(&model)))
            }
            Err(ProviderError::Retryable {
                message,
                retry_after,
            }) => {
                tracing::warn!(task = %task.id, provider = %route.provider, %message, "submission refused; will retry");
                let more_routes = model.routes.len() > 1;
                self.store
                    .write(move |txn| {
                        store::tasks::update(txn, &id, |t| {
                            t.phase = Phase::Queued;
                            if more_routes && !t.tried_routes.contains(&route_idx) {
                                t.tried_routes.push(route_idx);
                            }
                            Ok(true)
                        })
                    })
                    .await?;
                if more_routes {
                    return Ok(Next::After(Duration::from_millis(10)));
                }
                Ok(Next::After(
                    retry_after.unwrap_or_else(|| self.backoff(&task.id)),
                ))
            }
            Err(ProviderError::Ambiguous { message })
            | Err(ProviderError::BadResponse { message }) => {
                if provider.idempotent_submit() {
                    tracing::warn!(task = %task.id, %message, "submission outcome unknown; resending with the same id");
                    return Ok(Next::After(self.backoff(&task.id)));
                }
                self.fail(
                    &task.id,
                    "upstream_unreachable",
                    &format!("the channel did not confirm the submission ({message}); credits were refunded"),
                )
                .await?;
                Ok(Next::Done)
            }
            Err(ProviderError::Final { code, message }) => {
                self.fail(&task.id, &code, &message).await?;
                Ok(Next::Done)
            }
            Err(ProviderError::Channel { code, message }) => {
                // The channel (not the request) is at fault and nothing was created: try
                // another route; with none left, fail and refund rather than wait.
                tracing::warn!(task = %task.id, provider = %route.provider, %code, %message, "channel refused the submission");
                let updated = self
                    .store
                    .write(move |txn| {
                        store::tasks::update(txn, &id, |t| {
                            t.phase = Phase::Queued;
                            if !t.tried_routes.contains(&route_idx) {
                                t.tried_routes.push(route_idx);
                            }
                            Ok(true)
                        })
                    })
                    .await?;
                if updated.is_some_and(|t| self.pick_route(&t, &model).is_some()) {
                    return Ok(Next::After(Duration::from_millis(10)));
                }
                self.fail(
                    &task.id,
                    "channel_unavailable",
                    "no channel could accept this task right now; credits were refunded",
                )
                .await?;
                Ok(Next::Done)
            }
        }
    }

    async fn poll(
        &self,
        task: Task,
        upstream_id: String,
        slot: Option<crate::providers::limit::Slot>,
    ) -> AppResult<Next> {
        let Some(provider) = task.provider.as_deref().and_then(|p| self.registry.get(p)) else {
            // Channel disabled or removed: keep the task until it comes back or the deadline.
            return Ok(Next::After(self.backoff(&task.id)));
        };
        let model = self.catalog.model(&task.model);
        let settings = model
            .as_ref()
            .and_then(|m| {
                m.routes
                    .iter()
                    .find(|r| Some(&r.provider) == task.provider.as_ref())
                    .map(|r| r.settings.clone())
            })
            .unwrap_or(serde_json::Value::Null);
        let channel = task.provider.clone().unwrap_or_default();
        let slot = match slot {
            Some(slot) => slot,
            None => {
                let limiter = self.registry.limiter(&channel);
                match limiter.try_acquire() {
                    Ok(slot) => slot,
                    Err(_) => return Ok(Next::Busy(limiter)),
                }
            }
        };
        let job = PollJob {
            task_id: &task.id,
            upstream_id: &upstream_id,
            upstream_model: task.upstream_model.as_deref().unwrap_or_default(),
            route_settings: &settings,
            credential: task.credential.as_deref(),
        };
        let outcome = provider.poll(job).await;
        drop(slot);
        self.note_health(&channel, outcome.as_ref().err());
        self.note_retry_after(&channel, outcome.as_ref().err());
        match outcome {
            Ok(PollOutcome::Queued) | Ok(PollOutcome::Running) => {
                self.failures.lock().expect("engine lock").remove(&task.id);
                Ok(Next::After(self.task_interval(&task)))
            }
            Ok(PollOutcome::Succeeded(results)) if results.is_empty() => {
                self.fail(
                    &task.id,
                    "empty_result",
                    "the channel reported success without a video; credits were refunded",
                )
                .await?;
                Ok(Next::Done)
            }
            Ok(PollOutcome::Succeeded(results)) => {
                let id = task.id.clone();
                let saved = results.clone();
                self.store
                    .write(move |txn| {
                        store::tasks::update(txn, &id, |t| {
                            t.phase = Phase::Mirroring { results: saved };
                            Ok(true)
                        })
                    })
                    .await?;
                self.mirror(task, results).await
            }
            Ok(PollOutcome::Failed { code, message }) => {
                self.fail(&task.id, &code, &message).await?;
                Ok(Next::Done)
            }
            Err(ProviderError::Retryable {
                retry_after: Some(after),
                ..
            }) => Ok(Next::After(after)),
            Err(ProviderError::Final { code, message }) => {
                self.fail(&task.id, &code, &message).await?;
                Ok(Next::Done)
            }
            // One unreadable answer proves nothing: back off, the deadline ends it.
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "poll failed; backing off");
                Ok(Next::After(self.backoff(&task.id)))
            }
        }
    }

    /// Best effort: ask upstream to stop a task whose deadline passed, so it is not
    /// generated (and paid for) after we refunded it. Failures are only logged.
    async fn cancel_upstream(&self, task: &Task) {
        let Phase::Submitted { upstream_id } = &task.phase else {
            return;
        };
        let Some(provider) = task.provider.as_deref().and_then(|p| self.registry.get(p)) else {
            return;
        };
        let settings = self
            .catalog
            .model(&task.model)
            .and_then(|m| {
                m.routes
                    .iter()
                    .find(|r| Some(&r.provider) == task.provider.as_ref())
                    .map(|r| r.settings.clone())
            })
            .unwrap_or(serde_json::Value::Null);
        let job = PollJob {
            task_id: &task.id,
            upstream_id,
            upstream_model: task.upstream_model.as_deref().unwrap_or_default(),
            route_settings: &settings,
            credential: task.credential.as_deref(),
        };
        if let Err(e) = provider.cancel(job).await {
            tracing::warn!(task = %task.id, error = %e, "upstream cancel failed");
        }
    }

    /// Copy every result into local storage, then (and only then) mark completed.
    async fn mirror(&self, task: Task, results: Vec<ResultRef>) -> AppResult<Next> {
        let Some(provider) = task.provider.as_deref().and_then(|p| self.registry.get(p)) else {
            return Ok(Next::After(self.backoff(&task.id)));
        };
        // Low on disk: the task waits (still unfinished) rather than fail.
        if !self.storage.may_mirror() {
            let wait = self.settings.poll_interval_override;
            return Ok(Next::After(wait.unwrap_or(Duration::from_secs(30))));
        }
        let mut outputs = Vec::with_capacity(results.len());
        for (i, r) in results.iter().enumerate() {
            let key = format!(
                "videos/{}-{i}-{}.mp4",
                task.id,
                crate::domain::ids::random_hex(4)
            );
            match self.download(provider.as_ref(), r, &key).await {
                Ok(size) => outputs.push(Output { key, size }),
                Err(Fetch::Gone(msg)) => {
                    self.remove_outputs(&outputs).await;
                    self.fail(&task.id, "result_unavailable", &msg).await?;
                    return Ok(Next::Done);
                }
                Err(Fetch::Retry(msg)) => {
                    tracing::warn!(task = %task.id, %msg, "mirroring failed; will retry");
                    self.remove_outputs(&outputs).await;
                    return Ok(Next::After(self.backoff(&task.id)));
                }
            }
        }
        let id = task.id.clone();
        let kept = outputs.clone();
        // Settlement (issue 11): what was made and the route's cost, settled in the write
        // that completes the task.
        let made = crate::service::settlement::made(&self.storage, &results, &outputs).await;
        let cost = crate::service::settlement::route_cost(&self.catalog, &task);
        let done = self
            .store
            .write(move |txn| store::tasks::complete(txn, &id, kept, &made, cost.as_ref()))
            .await?;
        match done {
            Some(t) if t.status == Status::Completed && t.outputs == outputs => {
                crate::metrics::METRICS.task_finished(&t.model, "completed");
            }
            _ => self.remove_outputs(&outputs).await,
        }
        Ok(Next::Done)
    }

    async fn download(
        &self,
        provider: &dyn Provider,
        r: &ResultRef,
        key: &str,
    ) -> Result<u64, Fetch> {
        let stream = provider.download(r).await.map_err(|e| match e {
            ProviderError::Final { message, .. } => Fetch::Gone(message),
            other => Fetch::Retry(other.to_string()),
        })?;
        self.storage
            .save_stream(key, self.settings.max_result_bytes, stream)
            .await
            .map_err(|e| match e {
                AppError::PayloadTooLarge { limit_bytes } => Fetch::Gone(format!(
                    "the result video is larger than the {limit_bytes}-byte limit"
                )),
                other => Fetch::Retry(other.to_string()),
            })
    }

    async fn remove_outputs(&self, outputs: &[Output]) {
        for o in outputs {
            self.storage.remove(&o.key).await;
        }
    }

    async fn fail(&self, id: &str, code: &str, message: &str) -> AppResult<()> {
        let (id, c, message) = (id.to_string(), code.to_string(), message.to_string());
        let task = self
            .store
            .write(move |txn| store::tasks::fail_and_refund(txn, &id, &c, &message))
            .await?;
        if let Some(t) = task.filter(|t| t.error.as_ref().is_some_and(|e| e.code == code)) {
            let m = &crate::metrics::METRICS;
            m.task_finished(&t.model, "failed");
            m.credits_refunded.inc_by(t.credits_reserved.max(0) as u64);
        }
        Ok(())
    }

    fn note_health(&self, provider: &str, err: Option<&ProviderError>) {
        match err {
            None => self.registry.health.record_ok(provider),
            Some(e) if e.counts_against_health() => {
                self.registry.health.record_error(provider);
                crate::metrics::METRICS
                    .upstream_errors
                    .get_or_create(&crate::metrics::ProviderLabels {
                        provider: provider.to_string(),
                    })
                    .inc();
            }
            Some(_) => {}
        }
    }

    /// A 429 with `Retry-After` pauses the whole channel, not just this task.
    fn note_retry_after(&self, provider: &str, err: Option<&ProviderError>) {
        if let Some(ProviderError::Retryable {
            retry_after: Some(after),
            ..
        }) = err
        {
            self.registry.limiter(provider).pause(*after);
        }
    }

    fn poll_interval(&self, model: &crate::domain::catalog::Model) -> Duration {
        self.interval_secs(model.poll_interval_seconds)
    }

    fn task_interval(&self, task: &Task) -> Duration {
        self.interval_secs(task.poll_interval_seconds)
    }

    fn interval_secs(&self, secs: u32) -> Duration {
        let base = self
            .settings
            .poll_interval_override
            .unwrap_or(Duration::from_secs(u64::from(secs.max(1))));
        jitter(base)
    }

    /// Exponential backoff per task, from the poll interval up to five minutes.
    fn backoff(&self, id: &str) -> Duration {
        let n = {
            let mut f = self.failures.lock().expect("engine lock");
            let n = f.entry(id.to_string()).or_default();
            *n = n.saturating_add(1);
            *n
        };
        let base = self
            .settings
            .poll_interval_override
            .unwrap_or(Duration::from_secs(2));
        jitter(base.saturating_mul(1u32 << n.min(10)).min(MAX_BACKOFF))
    }
}

enum Fetch {
    /// The result cannot be fetched any more (expired, too big): fail the task.
    Gone(String),
    Retry(String),
}

fn jitter(d: Duration) -> Duration {
    let factor = rand::rng().random_range(0.9..1.1);
    d.mul_f64(factor)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

//! The task scheduler: one timer book drives every unfinished task through a fixed pool of
//! workers — submit, poll on an adaptive cadence, mirror results, enforce deadlines,
//! resume on start. Each step picks a state-machine event (`domain::task`); the store
//! applies it with its ledger effects; this module only performs the I/O around it.

pub mod callbacks;
pub mod scheduler;
pub mod webhooks;

use crate::clock::SharedClock;
use crate::domain::ids::TaskId;
use crate::domain::task::{self, Event, Output, Phase, ResultRef, Status, Task};
use crate::error::{AppError, AppResult};
use crate::providers::limit::{Limiter, Slot};
use crate::providers::{PollJob, PollOutcome, Provider, ProviderError, Registry, SubmitJob};
use crate::service::catalog::Catalog;
use crate::storage::Storage;
use crate::store::{self, Store, tasks::Outcome};
use rand::Rng;
use scheduler::{Due, Scheduler, TaskKey};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// Steps worked on at once across all channels: the fixed worker pool. A task that is
/// not being stepped costs only its timer entry.
const WORKERS: usize = 64;
/// Base of the backoff when no poll interval override is set.
const BACKOFF_BASE_MS: i64 = 2_000;
/// Longest the scheduler sleeps without looking at the clock again (a test clock moves
/// without waking it).
const MAX_IDLE: Duration = Duration::from_millis(250);

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
    clock: SharedClock,
    /// Signs per-task callback URLs; `None` when upstreams cannot reach this gateway.
    callbacks: Option<callbacks::Signer>,
    book: Mutex<Scheduler>,
    started: std::time::Instant,
    /// Wakes the scheduler loop when a timer moved earlier or a worker finished.
    wake: Notify,
    /// Told after every step, for [`Engine::run_until_idle`].
    step_done: Notify,
    /// Tasks waiting for a slot on a busy channel, and which channels have a waiter.
    parked: Mutex<Parking>,
    /// Tasks handed a channel slot by a waiter, to be stepped next (with that slot).
    ready: Mutex<VecDeque<(TaskKey, Slot)>>,
    key_turn: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Parking {
    by_channel: HashMap<String, VecDeque<TaskKey>>,
    waiters: Vec<tokio::task::AbortHandle>,
}

/// What to do with a task after one step.
enum Next {
    /// Step again at this clock time (ms).
    At(i64),
    /// Step again at this clock time, and on the clock no later than the deadline.
    AtBy(i64, i64),
    /// The channel has no free slot: park until a waiter hands one over.
    Busy(String, Arc<Limiter>),
    Done,
}

impl crate::service::tasks::TaskQueue for Engine {
    fn enqueue(&self, task_id: &str) {
        self.schedule(task_id, Duration::ZERO);
    }
}

impl Engine {
    pub fn new(
        store: Store,
        storage: Storage,
        catalog: Arc<Catalog>,
        registry: Arc<Registry>,
        settings: EngineSettings,
        clock: SharedClock,
        callbacks: Option<callbacks::Signer>,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            storage,
            catalog,
            registry,
            settings,
            clock,
            callbacks,
            book: Mutex::new(Scheduler::default()),
            started: std::time::Instant::now(),
            wake: Notify::new(),
            step_done: Notify::new(),
            parked: Mutex::new(Parking::default()),
            ready: Mutex::new(VecDeque::new()),
            key_turn: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Real milliseconds since the engine started (the second clock of a timer).
    fn real_now(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    /// Both clocks now.
    fn now_due(&self) -> Due {
        Due {
            clock: self.now(),
            real: self.real_now(),
        }
    }

    /// The timer for clock time `at`: that far ahead on both clocks.
    fn due_at(&self, at: i64) -> Due {
        let now = self.now_due();
        let ahead = at.saturating_sub(now.clock).max(0);
        Due {
            clock: at,
            real: now.real.saturating_add(ahead),
        }
    }

    /// Have a task stepped after `delay` (or sooner if it already is due sooner).
    pub fn schedule(&self, task_id: &str, delay: Duration) {
        let due = self.due_at(self.now().saturating_add(delay.as_millis() as i64));
        if self
            .book
            .lock()
            .expect("engine lock")
            .schedule(task_id, due)
        {
            self.wake.notify_one();
        }
    }

    /// Unfinished tasks the engine holds (timers, running, parked).
    pub fn held(&self) -> usize {
        self.book.lock().expect("engine lock").len()
    }

    /// Every unfinished task, spread over up to two seconds so a restart does not
    /// stampede upstream (or this machine) with one step per task at once.
    pub async fn resume(&self) -> AppResult<usize> {
        let ids = self.store.read(store::tasks::active_ids).await?;
        let now = self.now();
        let mut book = self.book.lock().expect("engine lock");
        for (i, id) in ids.iter().enumerate() {
            book.schedule(id, self.due_at(now + (i as i64 % 1_000) * 2));
        }
        Ok(ids.len())
    }

    /// A completion callback for `task_id` with `token`: when the token is this task's,
    /// poll it at once (upstream is asked; the call itself proves nothing). False when
    /// the token does not match.
    pub fn callback(&self, task_id: &TaskId, token: &str) -> bool {
        let Some(signer) = &self.callbacks else {
            return false;
        };
        if !signer.verify(task_id, token) {
            return false;
        }
        self.schedule(task_id, Duration::ZERO);
        true
    }

    /// The scheduler loop; returns after `shutdown` flips, once in-flight steps finished.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut workers = JoinSet::new();
        loop {
            // Fill the pool: tasks handed a slot first, then due timers.
            while workers.len() < WORKERS {
                let Some((id, slot)) = self.next_job() else {
                    break;
                };
                let engine = self.clone();
                workers.spawn(async move { engine.work(id, slot).await });
            }
            let idle = if workers.len() < WORKERS {
                let (next, held) = {
                    let mut book = self.book.lock().expect("engine lock");
                    (book.next_due(), book.len())
                };
                crate::metrics::METRICS.engine_tasks_held.set(held as i64);
                next.map(|due| Duration::from_millis((due - self.real_now()).max(0) as u64))
                    .unwrap_or(MAX_IDLE)
                    .min(MAX_IDLE)
            } else {
                MAX_IDLE
            };
            tokio::select! {
                _ = tokio::time::sleep(idle) => {},
                _ = self.wake.notified() => {},
                Some(_) = workers.join_next(), if !workers.is_empty() => {},
                _ = shutdown.changed() => break,
            }
        }
        for w in self.parked.lock().expect("engine lock").waiters.drain(..) {
            w.abort();
        }
        // Let in-flight steps record what they did; a step cut short is resumed on start.
        let drain = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(4), drain)
            .await
            .is_err()
        {
            tracing::warn!("engine stopped with steps still running; they resume on next start");
        }
    }

    fn next_job(&self) -> Option<(TaskKey, Option<Slot>)> {
        if let Some((id, slot)) = self.ready.lock().expect("engine lock").pop_front() {
            return Some((id, Some(slot)));
        }
        let now = self.now_due();
        let id = self.book.lock().expect("engine lock").pop_due(now)?;
        Some((id, None))
    }

    /// Step every task due now once, plus those handed a channel slot, inline; returns how
    /// many steps ran. Tests drive the engine with this and a manual clock.
    pub async fn run_once(self: &Arc<Self>) -> usize {
        let mut jobs = Vec::new();
        while let Some(job) = self.next_job() {
            jobs.push(job);
        }
        let n = jobs.len();
        for (id, slot) in jobs {
            self.clone().work(id, slot).await;
        }
        n
    }

    /// Step until nothing is due at the clock's current time and no step is running
    /// (bounded): tests move a manual clock, then call this instead of waiting.
    pub async fn run_until_idle(self: &Arc<Self>) {
        for _ in 0..10_000 {
            let stepped = self.run_once().await;
            let running = self.book.lock().expect("engine lock").running();
            let ready = !self.ready.lock().expect("engine lock").is_empty();
            if stepped == 0 && running == 0 && !ready {
                return;
            }
            if stepped == 0 {
                // A step of the background loop is still going: wait for its end.
                let done = self.step_done.notified();
                let _ = tokio::time::timeout(Duration::from_millis(20), done).await;
            }
        }
        tracing::warn!("run_until_idle gave up: the engine kept finding work");
    }

    async fn work(self: Arc<Self>, id: TaskKey, slot: Option<Slot>) {
        crate::metrics::METRICS.engine_in_flight.inc();
        let result = self.step(&id, slot).await;
        crate::metrics::METRICS.engine_in_flight.dec();
        let next = match result {
            Ok(Next::At(at)) => Some(self.due_at(at)),
            Ok(Next::AtBy(at, deadline)) => {
                let mut due = self.due_at(at);
                due.clock = due.clock.min(deadline);
                Some(due)
            }
            Ok(Next::Done) => None,
            Ok(Next::Busy(channel, limiter)) => {
                self.park(id, channel, limiter);
                self.step_done.notify_waiters();
                return;
            }
            Err(e) => {
                tracing::error!(task = %id, error = %e, "engine step failed; retrying");
                Some(self.due_at(self.now() + self.backoff(&id)))
            }
        };
        self.book.lock().expect("engine lock").finish(&id, next);
        if next.is_none() {
            // A finished task frees its key's/account's slot: wake who waits for it.
            match crate::service::limits::freed(&self.store, &id).await {
                Ok(woken) => woken.iter().for_each(|t| self.schedule(t, Duration::ZERO)),
                Err(e) => tracing::warn!(task = %id, error = %e, "could not wake queued tasks"),
            }
        }
        self.wake.notify_one();
        self.step_done.notify_waiters();
    }

    /// Wait for `channel`'s next free slot without a timer or a future per task: one
    /// waiter per busy channel hands slots to parked tasks in arrival order.
    fn park(self: &Arc<Self>, id: TaskKey, channel: String, limiter: Arc<Limiter>) {
        self.book.lock().expect("engine lock").park(&id);
        let mut parking = self.parked.lock().expect("engine lock");
        let queue = parking.by_channel.entry(channel.clone()).or_default();
        queue.push_back(id);
        if queue.len() > 1 {
            return; // its waiter is running
        }
        let engine = self.clone();
        let waiter = tokio::spawn(async move {
            loop {
                let slot = limiter.acquire().await;
                let (next, last) = {
                    let mut parking = engine.parked.lock().expect("engine lock");
                    let queue = parking.by_channel.entry(channel.clone()).or_default();
                    let next = queue.pop_front();
                    let last = queue.is_empty();
                    // An empty queue goes: the next task to park starts a new waiter.
                    if last {
                        parking.by_channel.remove(&channel);
                    }
                    (next, last)
                };
                let Some(id) = next else { break };
                engine.book.lock().expect("engine lock").unpark(&id);
                engine
                    .ready
                    .lock()
                    .expect("engine lock")
                    .push_back((id, slot));
                engine.wake.notify_one();
                if last {
                    break;
                }
            }
        });
        parking.waiters.retain(|w| !w.is_finished());
        parking.waiters.push(waiter.abort_handle());
    }

    /// Apply one state-machine event in its own write transaction (with its ledger
    /// effects). `None`: the task is gone.
    async fn apply(&self, id: &str, event: Event) -> AppResult<Option<Outcome>> {
        let now = self.now();
        let key = id.to_string();
        let out = self
            .store
            .write(move |txn| store::tasks::apply(txn, &key, event, now))
            .await?;
        if let Some(o) = &out
            && o.applied.is_ok()
            && o.task.status.is_terminal()
        {
            self.ended(&o.task);
        }
        Ok(out)
    }

    /// Applied and still current: the step may go on with the task it returns.
    async fn advance(&self, id: &str, event: Event) -> AppResult<Option<Task>> {
        Ok(self
            .apply(id, event)
            .await?
            .and_then(|o| o.applied.is_ok().then_some(o.task)))
    }

    async fn fail(&self, id: &str, code: &str, message: &str) -> AppResult<Next> {
        let event = Event::Failed {
            code: code.into(),
            message: message.into(),
        };
        self.apply(id, event).await?;
        Ok(Next::Done)
    }

    /// A task reached completed or failed (after its transaction committed).
    fn ended(&self, t: &Task) {
        let m = &crate::metrics::METRICS;
        m.task_finished(&t.model, t.status.as_str());
        if t.status == Status::Failed {
            m.credits_refunded.inc_by(t.credits_reserved.counter());
        }
        // The slot a key or account held for it is released in its transaction
        // (`store::limits::release`); the tasks waiting for it are woken in `work`.
    }

    /// Seam: whether results may be copied in now (a disk guard says no; the task waits
    /// in mirroring rather than fail).
    fn may_mirror(&self, _task: &Task) -> bool {
        self.storage.may_mirror()
    }

    /// Advance one task by one step.
    async fn step(&self, id: &str, slot: Option<Slot>) -> AppResult<Next> {
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
        if self.now() >= task.deadline_ms {
            self.cancel_upstream(&task).await;
            self.apply(id, Event::DeadlinePassed).await?;
            return Ok(Next::Done);
        }
        let next = match task.phase.clone() {
            Phase::Queued => {
                // The key's/account's concurrency limit: a task held back stays pending;
                // `limits::freed` wakes it, the re-check is only a safety net.
                if !crate::service::limits::may_start(&self.store, id).await? {
                    return Ok(Next::At(self.now() + 5_000));
                }
                self.submit(task.clone(), None, slot).await
            }
            Phase::Submitting { route } => self.resubmit_after_crash(task.clone(), route).await,
            Phase::Submitted { upstream_id } => self.poll(task.clone(), upstream_id, slot).await,
            Phase::Mirroring { .. } if !self.may_mirror(&task) => Ok(Next::At(self.now() + 5_000)),
            Phase::Mirroring { results } => self.mirror(task.clone(), results, false).await,
            Phase::Done => Ok(Next::Done),
        }?;
        // Never sleep past the deadline on the clock: the step then fails the task on
        // time. (Real time keeps the natural delay, so a stopped test clock does not make
        // the task spin towards a deadline it never reaches.)
        Ok(match next {
            Next::At(at) => Next::AtBy(at, task.deadline_ms),
            other => other,
        })
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
                .await
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

    /// The per-task callback URL, when upstreams can reach this gateway.
    fn callback_url(&self, task_id: &TaskId) -> Option<String> {
        self.callbacks.as_ref().map(|s| s.url(task_id))
    }

    async fn submit(
        &self,
        task: Task,
        forced_route: Option<usize>,
        slot: Option<Slot>,
    ) -> AppResult<Next> {
        let Some(model) = self.catalog.model(&task.model) else {
            return self
                .fail(
                    &task.id,
                    "model_removed",
                    "the model was removed before the task was submitted; credits were refunded",
                )
                .await;
        };
        let route_idx = match forced_route.or_else(|| self.pick_route(&task, &model)) {
            Some(i) if i < model.routes.len() => i,
            _ => {
                if !task.tried_routes.is_empty() {
                    // Every route refused with a retryable error: start over after a pause.
                    self.apply(&task.id, Event::RoutesReset).await?;
                }
                return Ok(Next::At(self.now() + self.backoff(&task.id)));
            }
        };
        let route = model.routes[route_idx].clone();
        let Some(provider) = self.registry.get(&route.provider) else {
            return Ok(Next::At(self.now() + self.backoff(&task.id)));
        };
        // The channel's pacing: park rather than wait holding a worker. A slot handed in
        // was waited for on this task's last busy channel; it is only good for that one.
        let limiter = self.registry.limiter(&route.provider);
        let _slot = match slot.filter(|s| s.is_for(&limiter)) {
            Some(slot) => slot,
            None => match limiter.try_acquire() {
                Ok(slot) => slot,
                Err(_) => return Ok(Next::Busy(route.provider.clone(), limiter)),
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
        // Record the attempt before calling upstream, so a crash mid-call is visible. A
        // resend after a crash is already in Submitting and goes straight on.
        if forced_route.is_none() {
            let event = Event::Submitting {
                route: route_idx,
                provider: route.provider.clone(),
                upstream_model: route.upstream_model.clone(),
                credential: credential.clone(),
            };
            if self.advance(&task.id, event).await?.is_none() {
                return Ok(Next::Done);
            }
        }
        let callback_url = self.callback_url(&task.id);
        let job = SubmitJob {
            task_id: &task.id,
            upstream_model: &route.upstream_model,
            request: &task.request,
            route_settings: &route.settings,
            credential: credential.as_deref(),
            callback_url: callback_url.as_deref(),
        };
        let result = provider.submit(job).await;
        self.note_health(&route.provider, result.as_ref().err());
        self.note_retry_after(&route.provider, result.as_ref().err());
        match result {
            Ok(upstream_id) => {
                self.book.lock().expect("engine lock").succeeded(&task.id);
                self.advance(&task.id, Event::Accepted { upstream_id })
                    .await?;
                // The first poll comes soon: a short job is seen at once.
                let callback = self.callbacks.is_some() && provider.completion_callback();
                Ok(Next::At(
                    self.now() + self.poll_delay(0, model.poll_interval_seconds, callback),
                ))
            }
            Err(ProviderError::Retryable {
                message,
                retry_after,
            }) => {
                tracing::warn!(task = %task.id, provider = %route.provider, %message, "submission refused; will retry");
                let more_routes = model.routes.len() > 1;
                let event = Event::Requeued {
                    route: route_idx,
                    skip_route: more_routes,
                };
                self.apply(&task.id, event).await?;
                if more_routes {
                    return Ok(Next::At(self.now() + 10));
                }
                let wait = retry_after
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or_else(|| self.backoff(&task.id));
                Ok(Next::At(self.now() + wait))
            }
            Err(ProviderError::Ambiguous { message })
            | Err(ProviderError::BadResponse { message }) => {
                if provider.idempotent_submit() {
                    tracing::warn!(task = %task.id, %message, "submission outcome unknown; resending with the same id");
                    return Ok(Next::At(self.now() + self.backoff(&task.id)));
                }
                self.fail(
                    &task.id,
                    "upstream_unreachable",
                    &format!("the channel did not confirm the submission ({message}); credits were refunded"),
                )
                .await
            }
            Err(ProviderError::Final { code, message }) => {
                self.fail(&task.id, &code, &message).await
            }
            Err(ProviderError::Channel { code, message }) => {
                // The channel (not the request) is at fault and nothing was created: try
                // another route; with none left, fail and refund rather than wait.
                tracing::warn!(task = %task.id, provider = %route.provider, %code, %message, "channel refused the submission");
                let event = Event::Requeued {
                    route: route_idx,
                    skip_route: true,
                };
                let updated = self.advance(&task.id, event).await?;
                if updated.is_some_and(|t| self.pick_route(&t, &model).is_some()) {
                    return Ok(Next::At(self.now() + 10));
                }
                self.fail(
                    &task.id,
                    "channel_unavailable",
                    "no channel could accept this task right now; credits were refunded",
                )
                .await
            }
        }
    }

    fn route_settings(&self, task: &Task) -> serde_json::Value {
        self.catalog
            .model(&task.model)
            .and_then(|m| {
                m.routes
                    .iter()
                    .find(|r| Some(&r.provider) == task.provider.as_ref())
                    .map(|r| r.settings.clone())
            })
            .unwrap_or(serde_json::Value::Null)
    }

    async fn poll(&self, task: Task, upstream_id: String, slot: Option<Slot>) -> AppResult<Next> {
        let Some(provider) = task.provider.as_deref().and_then(|p| self.registry.get(p)) else {
            // Channel disabled or removed: keep the task until it comes back or the deadline.
            return Ok(Next::At(self.now() + self.backoff(&task.id)));
        };
        let settings = self.route_settings(&task);
        let channel = task.provider.clone().unwrap_or_default();
        let limiter = self.registry.limiter(&channel);
        let slot = match slot.filter(|s| s.is_for(&limiter)) {
            Some(slot) => slot,
            None => match limiter.try_acquire() {
                Ok(slot) => slot,
                Err(_) => return Ok(Next::Busy(channel, limiter)),
            },
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
                self.book.lock().expect("engine lock").succeeded(&task.id);
                let age = self.now() - task.submitted_at_ms.unwrap_or(task.created_at_ms);
                let callback = self.callbacks.is_some() && provider.completion_callback();
                Ok(Next::At(
                    self.now() + self.poll_delay(age, task.poll_interval_seconds, callback),
                ))
            }
            Ok(PollOutcome::Succeeded(results)) if results.is_empty() => {
                self.fail(
                    &task.id,
                    "empty_result",
                    "the channel reported success without a video; credits were refunded",
                )
                .await
            }
            Ok(PollOutcome::Succeeded(results)) => {
                if self.may_mirror(&task) {
                    // Straight on: the results are recorded with the completion (or
                    // before a retry), saving a write on the way to `completed`.
                    return self.mirror(task, results, true).await;
                }
                let event = Event::UpstreamSucceeded { results };
                self.advance(&task.id, event).await?;
                Ok(Next::At(self.now() + 5_000))
            }
            Ok(PollOutcome::Failed { code, message }) => self.fail(&task.id, &code, &message).await,
            Err(ProviderError::Retryable {
                retry_after: Some(after),
                ..
            }) => Ok(Next::At(self.now() + after.as_millis() as i64)),
            Err(ProviderError::Final { code, message }) => {
                self.fail(&task.id, &code, &message).await
            }
            // One unreadable answer proves nothing: back off, the deadline ends it.
            Err(e) => {
                tracing::warn!(task = %task.id, error = %e, "poll failed; backing off");
                Ok(Next::At(self.now() + self.backoff(&task.id)))
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
        let settings = self.route_settings(task);
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
    /// `from_poll`: the task is still `submitted` (upstream just said it succeeded); the
    /// move to mirroring is written in the same transaction as the completion.
    async fn mirror(
        &self,
        task: Task,
        results: Vec<ResultRef>,
        from_poll: bool,
    ) -> AppResult<Next> {
        let Some(provider) = task.provider.as_deref().and_then(|p| self.registry.get(p)) else {
            return Ok(Next::At(self.now() + self.backoff(&task.id)));
        };
        let succeeded = Event::UpstreamSucceeded {
            results: results.clone(),
        };
        let mut outputs = Vec::with_capacity(results.len());
        for (i, r) in results.iter().enumerate() {
            let key = format!(
                "videos/{}-{i}-{}.mp4",
                task.id,
                crate::domain::ids::random_hex(4)
            );
            match self.download(provider.as_ref(), &task, r, &key).await {
                Ok(size) => outputs.push(Output { key, size }),
                Err(Fetch::Gone(msg)) => {
                    self.remove_outputs(&outputs).await;
                    return self.fail(&task.id, "result_unavailable", &msg).await;
                }
                Err(Fetch::Retry(msg)) => {
                    tracing::warn!(task = %task.id, %msg, "mirroring failed; will retry");
                    self.remove_outputs(&outputs).await;
                    if from_poll {
                        // Keep what upstream said: the retry mirrors without asking again.
                        self.advance(&task.id, succeeded).await?;
                    }
                    return Ok(Next::At(self.now() + self.backoff(&task.id)));
                }
            }
        }
        // Completion: the charge settles in this same transaction (Effect::Settle).
        let mut events = Vec::with_capacity(2);
        if from_poll {
            events.push(succeeded);
        }
        events.push(Event::Mirrored {
            outputs: outputs.clone(),
        });
        let now = self.now();
        let id = task.id.clone();
        // Settlement (issue 11): what was made and the route's cost, settled in the write
        // that completes the task.
        let made = crate::service::settlement::made(&self.storage, &results, &outputs).await;
        let cost = crate::service::settlement::route_cost(&self.catalog, &task);
        let done = self
            .store
            .write(move |txn| store::tasks::apply_all(txn, &id, events, now, &made, cost.as_ref()))
            .await?;
        match done {
            Some(o) if o.applied.is_ok() => self.ended(&o.task),
            _ => self.remove_outputs(&outputs).await,
        }
        Ok(Next::Done)
    }

    async fn download(
        &self,
        provider: &dyn Provider,
        task: &Task,
        r: &ResultRef,
        key: &str,
    ) -> Result<u64, Fetch> {
        let stream = provider.download(r).await.map_err(|e| match e {
            ProviderError::Final { message, .. } => Fetch::Gone(message),
            other => Fetch::Retry(other.to_string()),
        })?;
        self.storage
            .save_video(task, key, self.settings.max_result_bytes, stream)
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

    /// Milliseconds to the next poll (see [`task::poll_delay_ms`]); a configured override
    /// (tests, demos) replaces the whole cadence.
    fn poll_delay(&self, age_ms: i64, interval_secs: u32, callback: bool) -> i64 {
        if let Some(o) = self.settings.poll_interval_override {
            return jitter(o.as_millis() as i64);
        }
        let interval = i64::from(interval_secs.max(1)) * 1_000;
        jitter(task::poll_delay_ms(age_ms, interval, callback))
    }

    /// Exponential backoff per task, from the poll interval up to five minutes.
    fn backoff(&self, id: &str) -> i64 {
        let n = self.book.lock().expect("engine lock").failed(id);
        let base = self
            .settings
            .poll_interval_override
            .map(|d| d.as_millis() as i64)
            .unwrap_or(BACKOFF_BASE_MS);
        jitter(task::backoff_ms(n, base))
    }
}

enum Fetch {
    /// The result cannot be fetched any more (expired, too big): fail the task.
    Gone(String),
    Retry(String),
}

/// ±10 %, so tasks created together do not poll together forever.
fn jitter(ms: i64) -> i64 {
    let factor = rand::rng().random_range(0.9..1.1);
    ((ms as f64) * factor) as i64
}

//! Task use cases: create (validate, price, reserve, queue), read, list, cancel, and the
//! OpenAI Videos extras (delete, remix).

use super::accounts::Principal;
use super::catalog::Catalog;
use crate::domain::ids::TaskId;
use crate::domain::pricing;
use crate::domain::request::{self, GenerationInput};
use crate::domain::task::{Event, Phase, Status, Task};
use crate::error::{AppError, AppResult};
use crate::providers::Registry;
use crate::store::{self, Store, tasks::Created, tasks::Idempotency};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Which tasks a listing returns (the store reads it as is).
pub use crate::store::tasks::Filter;

/// Where a new task is handed for work. The engine implements it; services never name
/// the engine (it depends on them, not the other way round).
pub trait TaskQueue: Send + Sync {
    fn enqueue(&self, task_id: &str);
}

pub struct Tasks {
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub registry: Arc<Registry>,
    pub queue: Arc<dyn TaskQueue>,
    pub clock: crate::clock::SharedClock,
    pub deadline: Duration,
    pub allow_private_callbacks: bool,
    pub limits: Arc<super::limits::LimitsService>,
}

pub const MAX_PAGE: usize = 100;

/// What a create would reserve, and the balance it would leave.
pub struct Estimate {
    pub model: String,
    pub seconds: u32,
    pub price: pricing::AppliedPrice,
    pub balance_after: i64,
}

impl Tasks {
    /// Validate against the model and its routes, then reserve and insert in one
    /// transaction, then queue. Nothing is charged when any check fails.
    pub async fn create(
        &self,
        who: &Principal,
        input: GenerationInput,
        idempotency_key: Option<String>,
        source: &str,
    ) -> AppResult<(Task, bool)> {
        // The caller's key and account limits: rate first (every create counts), then the
        // key's model allow-list (in `prepare`); budgets and the queue are judged in the
        // write below.
        let (rules, key) = self.limits.caller(&who.user, who.key_id).await?;
        self.limits.check_rate(&rules)?;
        let (model, req, price) = self.prepare(who, input, key.as_ref())?;
        let now = self.clock.now_ms();
        let fingerprint = idempotency_key.as_ref().map(|_| {
            let body = serde_json::to_vec(&(&model.id, &req)).unwrap_or_default();
            hex::encode(Sha256::digest(body))
        });
        if let Some(k) = &idempotency_key
            && (k.is_empty() || k.len() > 200)
        {
            return Err(AppError::invalid(
                "Idempotency-Key",
                "must be 1-200 characters",
            ));
        }
        let task = Task {
            id: TaskId::new(now),
            user_id: who.user.id,
            key_id: who.key_id,
            model: model.id.clone(),
            credits_reserved: price.total,
            price,
            request: req,
            status: Status::Pending,
            phase: Phase::Queued,
            credits_refunded: false,
            credits_charged: None,
            settlement: None,
            poll_interval_seconds: model.poll_interval_seconds,
            provider: None,
            upstream_model: None,
            credential: None,
            tried_routes: Vec::new(),
            submit_attempts: 0,
            outputs: Vec::new(),
            error: None,
            created_at_ms: now,
            updated_at_ms: now,
            submitted_at_ms: None,
            finished_at_ms: None,
            deadline_ms: now + self.deadline.as_millis() as i64,
            source: source.to_string(),
        };
        let actor = who.actor();
        let at_ms = self.limits.now_ms();
        let (created, admission) = self
            .store
            .write(move |txn| {
                let idem = match (&idempotency_key, &fingerprint) {
                    (Some(key), Some(fp)) => Some(Idempotency {
                        key,
                        fingerprint: fp,
                    }),
                    _ => None,
                };
                // Budgets and the queue are checked in the transaction that reserves, so
                // parallel creates cannot overspend or overfill; a refusal writes nothing.
                let replay = match &idem {
                    Some(i) => store::limits::idempotent_replay(txn, task.user_id, i.key)?,
                    None => false,
                };
                let admission = match replay {
                    true => None,
                    false => Some(store::limits::check_new(
                        txn,
                        &rules,
                        task.credits_reserved.get(),
                    )?),
                };
                let created = store::tasks::create(txn, task, &actor, idem)?;
                if let (Created::New(t), Some(a)) = (&created, admission) {
                    store::limits::record_new(txn, t, at_ms, a)?;
                }
                Ok((created, admission))
            })
            .await?;
        match created {
            Created::New(task) => {
                let m = &crate::metrics::METRICS;
                m.tasks_created
                    .get_or_create(&crate::metrics::ModelLabels {
                        model: task.model.clone(),
                    })
                    .inc();
                m.credits_reserved.inc_by(task.credits_reserved.counter());
                // A queued task is left alone until a slot frees (the engine wakes it).
                if admission != Some(crate::domain::limits::Admission::Queue) {
                    self.queue.enqueue(&task.id);
                }
                Ok((task, false))
            }
            Created::Existing(task) => Ok((task, true)),
        }
    }

    /// Everything a create checks before it writes: the model, the request, a route that
    /// takes it, and the caller's price (the snapshot stored on the task).
    fn prepare(
        &self,
        who: &Principal,
        input: GenerationInput,
        key: Option<&crate::domain::user::ApiKey>,
    ) -> AppResult<(
        Arc<crate::domain::catalog::Model>,
        request::UnifiedRequest,
        pricing::AppliedPrice,
    )> {
        let model = self.catalog.usable_model(&input.model)?;
        if let Some(k) = key
            && !k.limits.allows_model(&model.id)
        {
            return Err(AppError::ModelNotAllowed {
                model: model.id.clone(),
                allowed: k.limits.models.join(", "),
            });
        }
        let req = request::normalize(&model, input)?;
        if let Some(cb) = &req.callback_url
            && !self.allow_private_callbacks
            && crate::domain::network::url_host(cb)
                .is_none_or(crate::domain::network::is_internal_host)
        {
            return Err(AppError::invalid(
                "callback_url",
                "callback_url must be a public http(s) address",
            ));
        }
        self.check_routes(&model, &req)?;
        let group = self.catalog.group(who.user.pricing_group.as_deref());
        let user = self.catalog.user_price(who.user.id, &model.id);
        let price = pricing::price(&model, &req, group.as_ref(), user.as_ref())?;
        Ok((model, req, price))
    }

    /// What a create with this body would cost, with the same checks and errors (402
    /// when the balance is short, unless `allow_short`: the console shows the price and a
    /// negative `balance_after` instead); nothing is written.
    pub async fn estimate(
        &self,
        who: &Principal,
        input: GenerationInput,
        allow_short: bool,
    ) -> AppResult<Estimate> {
        // The same key rules as a create, except the rate: an estimate creates nothing.
        let (_, key) = self.limits.caller(&who.user, who.key_id).await?;
        let (model, req, price) = self.prepare(who, input, key.as_ref())?;
        let uid = who.user.id;
        let balance = self
            .store
            .read(move |txn| crate::store::users::read(txn, uid))
            .await?
            .ok_or_else(|| AppError::not_found("user"))?
            .credits;
        let total = price.total;
        let balance_after = match crate::domain::credits::reserve(balance, total) {
            Err(AppError::InsufficientCredits { .. }) if allow_short => balance
                .checked_sub(total)
                .map_err(|_| AppError::invalid("model", "the price is out of range"))?,
            other => other?,
        };
        Ok(Estimate {
            model: model.id.clone(),
            seconds: req.seconds,
            price,
            balance_after: balance_after.get(),
        })
    }

    /// At least one enabled route must accept the request as its adapter would send it.
    fn check_routes(
        &self,
        model: &crate::domain::catalog::Model,
        req: &request::UnifiedRequest,
    ) -> AppResult<()> {
        let mut first_err = None;
        for r in &model.routes {
            let Some(adapter) = self.registry.get(&r.provider) else {
                continue;
            };
            if !self
                .catalog
                .provider(&r.provider)
                .is_some_and(|p| p.enabled)
            {
                continue;
            }
            match adapter.check_route(&r.upstream_model, &r.settings, req) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| AppError::NoProvider {
            model: model.id.clone(),
        }))
    }

    /// The caller's own task; anyone else's is "not found".
    pub async fn get(&self, who: &Principal, id: &TaskId) -> AppResult<Task> {
        let key = id.clone();
        let task = self
            .store
            .read(move |txn| store::tasks::read(txn, &key))
            .await?;
        match task {
            Some(t) if t.user_id == who.user.id => Ok(t),
            _ => Err(AppError::not_found("task")),
        }
    }

    pub async fn list(&self, filter: Filter, limit: usize) -> AppResult<Vec<Task>> {
        let limit = limit.clamp(1, MAX_PAGE);
        self.store
            .read(move |txn| store::tasks::list(txn, &filter, limit))
            .await
    }

    /// Cancel a task nobody sent upstream yet; its credits come back in the same write.
    pub async fn cancel(&self, who: &Principal, id: &TaskId) -> AppResult<Task> {
        self.get(who, id).await?;
        let key = id.clone();
        let now = self.clock.now_ms();
        let cancelled = self
            .store
            .write(move |txn| {
                let out = store::tasks::apply(txn, &key, Event::Cancelled, now)?
                    .ok_or_else(|| AppError::not_found("task"))?;
                match out.applied {
                    Ok(()) => Ok(out.task),
                    Err(_) => Err(AppError::conflict(format!(
                        "task is {} and was already sent to the channel; only pending tasks that were not submitted can be cancelled",
                        out.task.status.as_str()
                    ))),
                }
            })
            .await
            .inspect(|t| {
                let m = &crate::metrics::METRICS;
                m.task_finished(&t.model, "failed");
                m.credits_refunded.inc_by(t.credits_reserved.counter());
            })?;
        self.wake_after(id).await;
        Ok(cancelled)
    }

    /// A task finished outside the engine (cancelled): start who waits for its slot.
    async fn wake_after(&self, id: &TaskId) {
        match super::limits::freed(&self.store, id).await {
            Ok(ids) => ids.iter().for_each(|t| self.queue.enqueue(t)),
            Err(e) => tracing::warn!(task = %id, error = %e, "could not wake queued tasks"),
        }
    }

    /// A waiting task's 1-based place in its key's (or account's) queue.
    pub async fn queue_position(&self, task: &Task) -> Option<u64> {
        if task.status != Status::Pending {
            return None;
        }
        self.limits.queue_position(task).await.unwrap_or_default()
    }

    /// The caller's tasks oldest first, after the task id `after` (the OpenAI `order=asc`).
    pub async fn list_oldest_first(
        &self,
        who: &Principal,
        after: Option<TaskId>,
        limit: usize,
    ) -> AppResult<Vec<Task>> {
        let uid = who.user.id;
        let limit = limit.clamp(1, MAX_PAGE + 1);
        self.store
            .read(move |txn| store::tasks::list_oldest_first(txn, uid, after.as_deref(), limit))
            .await
    }

    /// Delete a video: a task not yet sent upstream is cancelled and refunded; a finished
    /// one loses its stored files (its ledger entries stay); one upstream is working on
    /// is a 409, since upstream is already spending money on it.
    pub async fn delete(
        &self,
        who: &Principal,
        id: &TaskId,
        storage: &crate::storage::Storage,
    ) -> AppResult<Task> {
        let task = self.get(who, id).await?;
        if task.can_cancel() {
            return self.cancel(who, id).await;
        }
        if !task.status.is_terminal() {
            return Err(AppError::conflict(
                "the video is being generated upstream and cannot be deleted yet; delete it once it is completed or failed",
            ));
        }
        let key = id.to_string();
        let before = self
            .store
            .write(move |txn| store::tasks::clear_outputs(txn, &key))
            .await?
            .ok_or_else(|| AppError::not_found("task"))?;
        // Files go after the record: a crash in between leaves files no task names
        // (harmless), never a task naming missing files.
        for o in &before.outputs {
            storage.remove(&o.key).await;
        }
        Ok(before)
    }

    /// Remix a finished video: a new task of the same model with the source video as
    /// `@Video1`, where the model takes a reference video.
    pub async fn remix(
        &self,
        who: &Principal,
        id: &TaskId,
        prompt: String,
        public_url: &str,
        idempotency_key: Option<String>,
    ) -> AppResult<Task> {
        let source = self.get(who, id).await?;
        let model = self.catalog.usable_model(&source.model)?;
        let input = crate::domain::openai::remix_input(&source, &model, prompt, public_url)?;
        let (task, _) = self.create(who, input, idempotency_key, "api").await?;
        Ok(task)
    }
}

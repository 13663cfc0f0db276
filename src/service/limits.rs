//! API key and account limits as use cases: the rules that apply to a caller, the rate
//! limit (a token bucket per key and account), the engine's "may it start now?" and
//! "a slot freed" questions, queue positions and usage.

use crate::clock::SharedClock;
use crate::domain::ids::UserId;
use crate::domain::limits::{self, Limits};
use crate::domain::user::{ApiKey, User};
use crate::error::{AppError, AppResult};
use crate::store::limits::{Rule, Usage, key_scope, user_scope};
use crate::store::{self, ReadTxn, Store};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// The server clock as governor's clock, so rate limits move with a test's ManualClock.
#[derive(Clone)]
struct BucketClock(SharedClock);

impl Clock for BucketClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(
            u64::try_from(self.0.now_ms())
                .unwrap_or(0)
                .saturating_mul(1_000_000),
        )
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, BucketClock, NoOpMiddleware<Nanos>>;

/// One scope's rate state: its bucket (rebuilt when the rpm changes) and the times of
/// the creates of the last minute (for "requests this minute").
struct RateState {
    rpm: Option<u32>,
    bucket: Option<Arc<Bucket>>,
    recent: VecDeque<i64>,
}

/// How many create times a scope remembers, at most (bounded memory with no rpm set).
const RECENT_CAP: usize = 10_000;
const MINUTE_MS: i64 = 60_000;

pub struct LimitsService {
    store: Store,
    clock: SharedClock,
    tz: jiff::tz::TimeZone,
    rates: Mutex<HashMap<String, RateState>>,
}

/// A key's or account's limits with what it uses now.
#[derive(Debug, Clone)]
pub struct ScopeUsage {
    pub limits: Limits,
    pub usage: Usage,
    /// Creates in the last minute.
    pub requests_this_minute: u64,
    /// When the current budget period began and ends (`None` for `total`).
    pub period: Option<(i64, i64)>,
}

impl LimitsService {
    pub fn new(store: Store, clock: SharedClock, time_zone: &str) -> AppResult<LimitsService> {
        let tz = limits::time_zone(time_zone).map_err(AppError::internal)?;
        Ok(LimitsService {
            store,
            clock,
            tz,
            rates: Mutex::new(HashMap::new()),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The rules for a caller now: the key's (when there is one), then the account's
    /// (its own settings over its pricing group's defaults).
    pub fn rules(&self, user: &User, key: Option<&ApiKey>, group: &Limits) -> Vec<Rule> {
        let now = self.now_ms();
        let first = |l: &Limits| limits::first_bucket(l.budget_period, now, &self.tz);
        let mut out = Vec::with_capacity(2);
        if let Some(k) = key {
            out.push(Rule {
                scope: key_scope(k.id),
                is_key: true,
                first_bucket: first(&k.limits.limits),
                limits: k.limits.limits.clone(),
            });
        }
        let ul = user.limits.or(group);
        out.push(Rule {
            scope: user_scope(user.id),
            is_key: false,
            first_bucket: first(&ul),
            limits: ul,
        });
        out
    }

    /// The rules for a caller, reading the group defaults and the key fresh.
    pub async fn rules_for(&self, user: &User, key_id: Option<u64>) -> AppResult<Vec<Rule>> {
        Ok(self.caller(user, key_id).await?.0)
    }

    /// The caller's rules and key, read fresh (a key edited a moment ago counts at once).
    pub async fn caller(
        &self,
        user: &User,
        key_id: Option<u64>,
    ) -> AppResult<(Vec<Rule>, Option<ApiKey>)> {
        let (uid, group) = (user.id, user.pricing_group.clone());
        let (user, key, group) = self
            .store
            .read(move |txn| {
                let user =
                    store::users::read(txn, uid)?.ok_or_else(|| AppError::not_found("user"))?;
                let key = key_id
                    .map(|id| store::users::read_key(txn, id))
                    .transpose()?
                    .flatten();
                let group = match &group {
                    Some(g) => store::limits::group_limits(txn, g)?,
                    None => Limits::default(),
                };
                Ok((user, key, group))
            })
            .await?;
        Ok((self.rules(&user, key.as_ref(), &group), key))
    }

    /// Count a create against the key's and the account's `rpm`; 429 when a bucket is
    /// empty (nothing else is counted then).
    pub fn check_rate(&self, rules: &[Rule]) -> AppResult<()> {
        let now = self.now_ms();
        let mut rates = self.rates.lock().expect("rate lock");
        // The key's bucket first, then the account's: a create refused by the account's
        // bucket has used a token of the key's (governor cannot peek), which errs on the
        // side of fewer requests.
        for rule in rules {
            let state = rates
                .entry(rule.scope.clone())
                .or_insert_with(|| RateState {
                    rpm: None,
                    bucket: None,
                    recent: VecDeque::new(),
                });
            if state.rpm != rule.limits.rpm {
                state.rpm = rule.limits.rpm;
                state.bucket = rule.limits.rpm.and_then(NonZeroU32::new).map(|n| {
                    Arc::new(RateLimiter::direct_with_clock(
                        Quota::per_minute(n),
                        BucketClock(self.clock.clone()),
                    ))
                });
            }
            if let Some(bucket) = &state.bucket
                && let Err(not_until) = bucket.check()
            {
                let wait = not_until.wait_time_from(BucketClock(self.clock.clone()).now());
                return Err(AppError::RpmExceeded {
                    scope: if rule.is_key { "API key" } else { "account" },
                    limit: rule.limits.rpm.unwrap_or(0),
                    retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                });
            }
        }
        for rule in rules {
            if let Some(state) = rates.get_mut(&rule.scope) {
                trim(&mut state.recent, now);
                if state.recent.len() >= RECENT_CAP {
                    state.recent.pop_front();
                }
                state.recent.push_back(now);
            }
        }
        Ok(())
    }

    fn requests_this_minute(&self, scope: &str) -> u64 {
        let now = self.now_ms();
        let mut rates = self.rates.lock().expect("rate lock");
        match rates.get_mut(scope) {
            Some(state) => {
                trim(&mut state.recent, now);
                state.recent.len() as u64
            }
            None => 0,
        }
    }

    /// A waiting task's 1-based place in its queue; `None` when it is not waiting.
    pub async fn queue_position(&self, task: &crate::domain::task::Task) -> AppResult<Option<u64>> {
        if task.status.is_terminal() {
            return Ok(None);
        }
        let id = task.id.clone();
        self.store
            .read(move |txn| {
                let Some(slot) = store::limits::read_slot(txn, &id)? else {
                    return Ok(None);
                };
                if slot.state != store::limits::SlotState::Waiting {
                    return Ok(None);
                }
                let rules = task_rules(txn, slot.user_id, slot.key_id)?;
                store::limits::queue_position(txn, &id, &rules)
            })
            .await
    }

    /// Limits and usage of the key (when given) and of the account.
    pub async fn usage(
        &self,
        user: &User,
        key_id: Option<u64>,
    ) -> AppResult<Vec<(Rule, ScopeUsage)>> {
        let rules = self.rules_for(user, key_id).await?;
        let now = self.now_ms();
        let mut out = Vec::new();
        for rule in rules {
            let (scope, first) = (rule.scope.clone(), rule.first_bucket);
            let usage = self
                .store
                .read(move |txn| store::limits::usage(txn, &scope, first))
                .await?;
            let period = limits::period_bounds(rule.limits.budget_period, now, &self.tz);
            let requests_this_minute = self.requests_this_minute(&rule.scope);
            out.push((
                rule.clone(),
                ScopeUsage {
                    limits: rule.limits,
                    usage,
                    requests_this_minute,
                    period,
                },
            ));
        }
        Ok(out)
    }
}

fn trim(recent: &mut VecDeque<i64>, now: i64) {
    while recent.front().is_some_and(|t| now - *t >= MINUTE_MS) {
        recent.pop_front();
    }
}

/// The concurrency rules of a stored task's key and account, read in `txn` (no budget
/// period is needed to start or wake tasks).
fn task_rules(txn: &ReadTxn, user_id: UserId, key_id: Option<u64>) -> AppResult<Vec<Rule>> {
    let Some(user) = store::users::read(txn, user_id)? else {
        return Ok(Vec::new());
    };
    let key = key_id
        .map(|id| store::users::read_key(txn, id))
        .transpose()?
        .flatten();
    let group = match &user.pricing_group {
        Some(g) => store::limits::group_limits(txn, g)?,
        None => Limits::default(),
    };
    let mut out = Vec::with_capacity(2);
    if let Some(k) = key {
        out.push(Rule {
            scope: key_scope(k.id),
            is_key: true,
            limits: k.limits.limits.clone(),
            first_bucket: None,
        });
    }
    out.push(Rule {
        scope: user_scope(user.id),
        is_key: false,
        limits: user.limits.or(&group),
        first_bucket: None,
    });
    Ok(out)
}

/// A pricing group's default limits (none set: all unlimited).
pub async fn group_limits(store: &Store, group: &str) -> AppResult<Limits> {
    let group = group.to_string();
    store
        .read(move |txn| store::limits::group_limits(txn, &group))
        .await
}

/// Replace a pricing group's default limits.
pub async fn set_group_limits(store: &Store, group: &str, limits: &Limits) -> AppResult<()> {
    let (group, limits) = (group.to_string(), limits.clone());
    store
        .write(move |txn| store::limits::set_group_limits(txn, &group, &limits))
        .await
}

/// The engine asks before submitting a task: may it start now? A task holding a slot
/// may; a waiting one takes a free slot if it is among the oldest waiting. A task held
/// back stays `pending` and is woken by [`freed`] when a slot frees.
pub async fn may_start(store: &Store, task_id: &str) -> AppResult<bool> {
    enum Gate {
        Go,
        Wait,
        Try(Vec<Rule>),
    }
    let id = task_id.to_string();
    let gate = store
        .read(move |txn| {
            let Some(slot) = store::limits::read_slot(txn, &id)? else {
                return Ok(Gate::Go);
            };
            if slot.state != store::limits::SlotState::Waiting {
                return Ok(Gate::Go);
            }
            let rules = task_rules(txn, slot.user_id, slot.key_id)?;
            // A cheap read first: most checks of a waiting task say "not yet".
            Ok(match store::limits::looks_startable(txn, &id, &rules)? {
                true => Gate::Try(rules),
                false => Gate::Wait,
            })
        })
        .await?;
    match gate {
        Gate::Go => Ok(true),
        Gate::Wait => Ok(false),
        Gate::Try(rules) => {
            let id = task_id.to_string();
            store
                .write(move |txn| store::limits::try_start(txn, &id, &rules))
                .await
        }
    }
}

/// The engine tells after a task finished: which waiting tasks of its key and account
/// may now take the freed slots (the oldest first). The engine schedules them; each then
/// takes its slot through [`may_start`].
pub async fn freed(store: &Store, task_id: &str) -> AppResult<Vec<String>> {
    let id = task_id.to_string();
    store
        .read(move |txn| {
            let Some(slot) = store::limits::read_slot(txn, &id)? else {
                return Ok(Vec::new());
            };
            let rules = task_rules(txn, slot.user_id, slot.key_id)?;
            let mut out: Vec<String> = Vec::new();
            for rule in &rules {
                let Some(max) = rule.limits.max_concurrency else {
                    continue;
                };
                let usage = store::limits::usage(txn, &rule.scope, None)?;
                let free = u64::from(max).saturating_sub(usage.held) as usize;
                for t in store::limits::waiting_heads(txn, &rule.scope, free)? {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
            Ok(out)
        })
        .await
}

/// Every model of a key's allow-list must exist (a typo would lock the key out of all).
pub fn check_models(
    catalog: &crate::service::catalog::Catalog,
    limits: &limits::KeyLimits,
) -> AppResult<()> {
    match limits
        .models
        .iter()
        .find(|m| catalog.model(m.trim()).is_none())
    {
        Some(m) => Err(AppError::invalid(
            "models",
            format!(
                "model `{}` does not exist; use the ids of GET /v1/models",
                m.trim()
            ),
        )),
        None => Ok(()),
    }
}

//! Limits on the redb side: concurrency slots and the wait queue per key and account,
//! and spend per key and account derived from the ledger entries of their tasks.
//!
//! Everything here runs inside the caller's write transaction, so a create's budget
//! check, its reservation and its place in the queue commit together, and a task's slot
//! is freed in the transaction that finishes it. Nothing lives only in memory: slots and
//! the queue survive restarts and crashes.

use super::tables::*;
use super::{decode, encode};
use crate::domain::ids::{TaskId, UserId};
use crate::domain::limits::{self, Admission, Limits, Scope, TOTAL_BUCKET};
use crate::domain::task::Task;
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, Table, WriteTransaction};
use serde::{Deserialize, Serialize};

pub fn create_tables(txn: &WriteTransaction) -> AppResult<()> {
    txn.open_table(LIMIT_TASKS)?;
    txn.open_table(SLOTS_HELD)?;
    txn.open_table(SLOTS_WAITING)?;
    txn.open_table(SLOT_COUNTS)?;
    txn.open_table(SPEND)?;
    txn.open_table(GROUP_LIMITS)?;
    Ok(())
}

/// Where a task stands in its scopes' queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    Held,
    Waiting,
    /// Finished: no slot, no place in a queue; the row stays so later ledger entries
    /// (refund, settlement) still find the scopes and period the task spends in.
    Done,
}

/// What the limits remember of a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskSlot {
    pub user_id: UserId,
    pub key_id: Option<u64>,
    /// Creation time by the server clock: the spend bucket and the queue order.
    pub at_ms: i64,
    pub state: SlotState,
}

impl TaskSlot {
    fn scopes(&self) -> Vec<String> {
        scopes(self.user_id, self.key_id)
    }
}

pub fn key_scope(key_id: u64) -> String {
    format!("k{key_id}")
}

pub fn user_scope(user_id: UserId) -> String {
    format!("u{user_id}")
}

/// A task's scopes: its key (when created with one), then its account.
pub fn scopes(user_id: UserId, key_id: Option<u64>) -> Vec<String> {
    key_id
        .map(key_scope)
        .into_iter()
        .chain(std::iter::once(user_scope(user_id)))
        .collect()
}

/// The limits of one scope, and the first spend bucket of its current budget period
/// (`None`: the all-time total).
#[derive(Debug, Clone)]
pub struct Rule {
    pub scope: String,
    pub is_key: bool,
    pub limits: Limits,
    pub first_bucket: Option<i64>,
}

impl Rule {
    fn period_words(&self) -> String {
        match self.limits.budget_period {
            limits::BudgetPeriod::Total => "in total".into(),
            limits::BudgetPeriod::Daily => "today".into(),
            limits::BudgetPeriod::Monthly => "this month".into(),
        }
    }

    fn scope_word(&self) -> &'static str {
        if self.is_key { "API key" } else { "account" }
    }
}

fn counts(
    table: &impl ReadableTable<&'static str, (u64, u64)>,
    scope: &str,
) -> AppResult<(u64, u64)> {
    Ok(table.get(scope)?.map(|v| v.value()).unwrap_or((0, 0)))
}

fn bump(
    table: &mut Table<&'static str, (u64, u64)>,
    scope: &str,
    held: i64,
    waiting: i64,
) -> AppResult<()> {
    let (h, w) = counts(table, scope)?;
    let next = (
        h.saturating_add_signed(held),
        w.saturating_add_signed(waiting),
    );
    if next == (0, 0) {
        table.remove(scope)?;
    } else {
        table.insert(scope, next)?;
    }
    Ok(())
}

/// Credits spent by a scope's tasks from `first_bucket` on (`None`: all time).
pub fn spent(
    table: &impl ReadableTable<(&'static str, i64), i64>,
    scope: &str,
    first_bucket: Option<i64>,
) -> AppResult<i64> {
    match first_bucket {
        None => Ok(table
            .get((scope, TOTAL_BUCKET))?
            .map(|v| v.value())
            .unwrap_or(0)),
        Some(first) => {
            let mut sum: i64 = 0;
            for row in table.range((scope, first)..(scope, TOTAL_BUCKET))? {
                let (_, v) = row?;
                sum = sum.saturating_add(v.value());
            }
            Ok(sum)
        }
    }
}

/// Move a scope's spend for tasks created at `at_ms` by `delta` credits.
fn add_spend(txn: &WriteTransaction, scope: &str, at_ms: i64, delta: i64) -> AppResult<()> {
    let mut table = txn.open_table(SPEND)?;
    for bucket in [limits::spend_bucket(at_ms), TOTAL_BUCKET] {
        let now = table.get((scope, bucket))?.map(|v| v.value()).unwrap_or(0);
        let next = now
            .checked_add(delta)
            .ok_or_else(|| AppError::internal("spend counter overflow"))?;
        if next == 0 {
            table.remove((scope, bucket))?;
        } else {
            table.insert((scope, bucket), next)?;
        }
    }
    Ok(())
}

/// Check a new task against its scopes' budgets and queues, writing nothing: a refusal
/// must leave the transaction as it was. Returns whether it starts now or queues.
pub fn check_new(txn: &WriteTransaction, rules: &[Rule], price: i64) -> AppResult<Admission> {
    let spend = txn.open_table(SPEND)?;
    for rule in rules {
        let Some(budget) = rule.limits.budget else {
            continue;
        };
        let spent = spent(&spend, &rule.scope, rule.first_bucket)?;
        if !limits::within_budget(Some(budget), spent, price) {
            let (budget, spent, needed, period) = (budget, spent, price, rule.period_words());
            return Err(if rule.is_key {
                AppError::KeyBudgetExceeded {
                    budget,
                    spent,
                    needed,
                    period,
                }
            } else {
                AppError::UserBudgetExceeded {
                    budget,
                    spent,
                    needed,
                    period,
                }
            });
        }
    }
    let table = txn.open_table(SLOT_COUNTS)?;
    let mut scopes = Vec::with_capacity(rules.len());
    for rule in rules {
        let (held, waiting) = counts(&table, &rule.scope)?;
        scopes.push(Scope {
            max_concurrency: rule.limits.max_concurrency,
            max_queued: rule.limits.max_queued,
            held,
            waiting,
        });
    }
    let admission = limits::admit(&scopes);
    if let Admission::Full(i) = admission {
        return Err(AppError::QueueFull {
            scope: rules[i].scope_word(),
            max_queued: rules[i].limits.max_queued.unwrap_or(0),
        });
    }
    Ok(admission)
}

/// Record a created task: its slot or place in the queue in every scope, and its
/// reservation as spend (the reserve entry was written before this row existed).
pub fn record_new(
    txn: &WriteTransaction,
    task: &Task,
    at_ms: i64,
    admission: Admission,
) -> AppResult<()> {
    let slot = TaskSlot {
        user_id: task.user_id,
        key_id: task.key_id,
        at_ms,
        state: if admission == Admission::Start {
            SlotState::Held
        } else {
            SlotState::Waiting
        },
    };
    let scopes = slot.scopes();
    {
        let mut rows = txn.open_table(if slot.state == SlotState::Held {
            SLOTS_HELD
        } else {
            SLOTS_WAITING
        })?;
        let mut counts = txn.open_table(SLOT_COUNTS)?;
        for scope in &scopes {
            rows.insert((scope.as_str(), task.id.as_str()), ())?;
            match slot.state {
                SlotState::Held => bump(&mut counts, scope, 1, 0)?,
                _ => bump(&mut counts, scope, 0, 1)?,
            }
        }
    }
    txn.open_table(LIMIT_TASKS)?
        .insert(task.id.as_str(), encode(&slot)?.as_slice())?;
    for scope in &scopes {
        add_spend(txn, scope, at_ms, task.credits_reserved.get())?;
    }
    Ok(())
}

/// Every ledger entry of a task moves its scopes' spend (a reserve adds, a refund gives
/// back, a settlement corrects), in the entry's own transaction. Tasks made before limits
/// existed have no row and are not counted.
pub fn on_task_entry(txn: &WriteTransaction, task_id: &str, amount: i64) -> AppResult<()> {
    let Some(slot) = read_slot_w(txn, task_id)? else {
        return Ok(());
    };
    let spend = amount
        .checked_neg()
        .ok_or_else(|| AppError::internal("ledger amount out of range"))?;
    for scope in slot.scopes() {
        add_spend(txn, &scope, slot.at_ms, spend)?;
    }
    Ok(())
}

fn read_slot_w(txn: &WriteTransaction, task_id: &str) -> AppResult<Option<TaskSlot>> {
    let table = txn.open_table(LIMIT_TASKS)?;
    let v = table.get(task_id)?;
    v.map(|v| decode(v.value())).transpose()
}

pub fn read_slot(txn: &ReadTransaction, task_id: &str) -> AppResult<Option<TaskSlot>> {
    let table = txn.open_table(LIMIT_TASKS)?;
    let v = table.get(task_id)?;
    v.map(|v| decode(v.value())).transpose()
}

fn set_state(
    txn: &WriteTransaction,
    task_id: &str,
    slot: &mut TaskSlot,
    state: SlotState,
) -> AppResult<()> {
    let scopes = slot.scopes();
    let mut held = txn.open_table(SLOTS_HELD)?;
    let mut waiting = txn.open_table(SLOTS_WAITING)?;
    let mut counts = txn.open_table(SLOT_COUNTS)?;
    for scope in &scopes {
        let key = (scope.as_str(), task_id);
        match slot.state {
            SlotState::Held => {
                held.remove(key)?;
                bump(&mut counts, scope, -1, 0)?;
            }
            SlotState::Waiting => {
                waiting.remove(key)?;
                bump(&mut counts, scope, 0, -1)?;
            }
            SlotState::Done => {}
        }
        match state {
            SlotState::Held => {
                held.insert(key, ())?;
                bump(&mut counts, scope, 1, 0)?;
            }
            SlotState::Waiting => {
                waiting.insert(key, ())?;
                bump(&mut counts, scope, 0, 1)?;
            }
            SlotState::Done => {}
        }
    }
    slot.state = state;
    txn.open_table(LIMIT_TASKS)?
        .insert(task_id, encode(&*slot)?.as_slice())?;
    Ok(())
}

/// A task reached a terminal state: its slot (or place in a queue) is free, in the same
/// transaction. Returns whether it held or waited for anything.
pub fn release(txn: &WriteTransaction, task_id: &TaskId) -> AppResult<bool> {
    let Some(mut slot) = read_slot_w(txn, task_id)? else {
        return Ok(false);
    };
    if slot.state == SlotState::Done {
        return Ok(false);
    }
    set_state(txn, task_id, &mut slot, SlotState::Done)?;
    Ok(true)
}

/// 0-based place of a waiting task among its scope's waiting tasks.
fn position(
    table: &impl ReadableTable<(&'static str, &'static str), ()>,
    scope: &str,
    task_id: &str,
) -> AppResult<u64> {
    let mut n = 0;
    for row in table.range((scope, "")..(scope, task_id))? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// May this task be submitted now? A task holding a slot may; a waiting one takes a slot
/// when it is among the oldest waiting tasks of every limited scope and a slot is free.
/// Tasks with no row (made before limits existed) are never held back.
pub fn try_start(txn: &WriteTransaction, task_id: &str, rules: &[Rule]) -> AppResult<bool> {
    let Some(mut slot) = read_slot_w(txn, task_id)? else {
        return Ok(true);
    };
    if slot.state != SlotState::Waiting {
        return Ok(true);
    }
    let ok = startable(
        &txn.open_table(SLOT_COUNTS)?,
        &txn.open_table(SLOTS_WAITING)?,
        task_id,
        rules,
    )?;
    if ok {
        set_state(txn, task_id, &mut slot, SlotState::Held)?;
        // Time spent waiting for a slot does not count against the task's deadline.
        super::tasks::update(txn, task_id, |t| {
            let waited = crate::domain::now_ms()
                .saturating_sub(t.created_at_ms)
                .max(0);
            t.deadline_ms = t.deadline_ms.saturating_add(waited);
            Ok(waited > 0)
        })?;
    }
    Ok(ok)
}

/// Whether a waiting task looks startable on a snapshot (a cheap read before the write
/// that takes the slot).
pub fn looks_startable(txn: &ReadTransaction, task_id: &str, rules: &[Rule]) -> AppResult<bool> {
    let Some(slot) = read_slot(txn, task_id)? else {
        return Ok(true);
    };
    if slot.state != SlotState::Waiting {
        return Ok(true);
    }
    startable(
        &txn.open_table(SLOT_COUNTS)?,
        &txn.open_table(SLOTS_WAITING)?,
        task_id,
        rules,
    )
}

fn startable(
    count_table: &impl ReadableTable<&'static str, (u64, u64)>,
    waiting: &impl ReadableTable<(&'static str, &'static str), ()>,
    task_id: &str,
    rules: &[Rule],
) -> AppResult<bool> {
    let mut scopes = Vec::with_capacity(rules.len());
    for rule in rules {
        let (held, w) = counts(count_table, &rule.scope)?;
        let pos = if rule.limits.max_concurrency.is_some() {
            position(waiting, &rule.scope, task_id)?
        } else {
            0
        };
        scopes.push((
            Scope {
                max_concurrency: rule.limits.max_concurrency,
                max_queued: rule.limits.max_queued,
                held,
                waiting: w,
            },
            pos,
        ));
    }
    Ok(limits::may_start(&scopes))
}

/// A waiting task's 1-based place in the queue of its first limited scope (the key's
/// when the key limits concurrency, else the account's); `None` when it is not waiting.
pub fn queue_position(
    txn: &ReadTransaction,
    task_id: &str,
    rules: &[Rule],
) -> AppResult<Option<u64>> {
    let Some(slot) = read_slot(txn, task_id)? else {
        return Ok(None);
    };
    if slot.state != SlotState::Waiting {
        return Ok(None);
    }
    let waiting = txn.open_table(SLOTS_WAITING)?;
    let scope = rules
        .iter()
        .find(|r| r.limits.max_concurrency.is_some())
        .map(|r| r.scope.clone())
        .unwrap_or_else(|| slot.scopes()[0].clone());
    Ok(Some(position(&waiting, &scope, task_id)? + 1))
}

/// The oldest `n` waiting tasks of a scope.
pub fn waiting_heads(txn: &ReadTransaction, scope: &str, n: usize) -> AppResult<Vec<String>> {
    let waiting = txn.open_table(SLOTS_WAITING)?;
    let mut out = Vec::new();
    for row in waiting.range((scope, "")..(scope, "\u{10ffff}"))?.take(n) {
        let (k, _) = row?;
        out.push(k.value().1.to_string());
    }
    Ok(out)
}

/// What a scope uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub spent: i64,
    pub held: u64,
    pub waiting: u64,
}

pub fn usage(txn: &ReadTransaction, scope: &str, first_bucket: Option<i64>) -> AppResult<Usage> {
    let (held, waiting) = counts(&txn.open_table(SLOT_COUNTS)?, scope)?;
    let spent = spent(&txn.open_table(SPEND)?, scope, first_bucket)?;
    Ok(Usage {
        spent,
        held,
        waiting,
    })
}

/// A pricing group's default account limits (none set: no limits).
pub fn group_limits(txn: &ReadTransaction, group: &str) -> AppResult<Limits> {
    let table = txn.open_table(GROUP_LIMITS)?;
    let v = table.get(group)?;
    Ok(v.map(|v| decode(v.value()))
        .transpose()?
        .unwrap_or_default())
}

/// [`group_limits`] inside a write transaction.
pub fn group_limits_w(txn: &WriteTransaction, group: &str) -> AppResult<Limits> {
    let table = txn.open_table(GROUP_LIMITS)?;
    let v = table.get(group)?;
    Ok(v.map(|v| decode(v.value()))
        .transpose()?
        .unwrap_or_default())
}

pub fn set_group_limits(txn: &WriteTransaction, group: &str, limits: &Limits) -> AppResult<()> {
    let mut table = txn.open_table(GROUP_LIMITS)?;
    if *limits == Limits::default() {
        table.remove(group)?;
    } else {
        table.insert(group, encode(limits)?.as_slice())?;
    }
    Ok(())
}

/// Every group with default limits.
pub fn all_group_limits(txn: &ReadTransaction) -> AppResult<Vec<(String, Limits)>> {
    let table = txn.open_table(GROUP_LIMITS)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), decode(v.value())?));
    }
    Ok(out)
}

/// Whether `(user, Idempotency-Key)` already made a task: a replay answers with that task
/// and is not a new create, so limits do not judge it again.
pub fn idempotent_replay(txn: &WriteTransaction, user_id: UserId, key: &str) -> AppResult<bool> {
    Ok(txn
        .open_table(IDEMPOTENCY)?
        .get((user_id.get(), key))?
        .is_some())
}

//! Tasks: creation with its reservation, transitions, the refund, listing.

use super::ledger::{self, Reason};
use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::catalog::RouteCost;
use crate::domain::ids::{TaskId, UserId};
use crate::domain::ledger::EntryKind;
use crate::domain::settlement::Made;
use crate::domain::task::{Effect, Event, Illegal, Output, Status, Task, Transition, transition};
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// What an Idempotency-Key remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdemRecord {
    task_id: TaskId,
    fingerprint: String,
}

pub struct Idempotency<'a> {
    pub key: &'a str,
    pub fingerprint: &'a str,
}

/// Outcome of a create: a new task, or the one an Idempotency-Key already made.
pub enum Created {
    New(Task),
    Existing(Task),
}

/// Reserve the price and insert the task in one transaction: a crash leaves both or
/// neither, and a refused reservation (402) writes nothing.
pub fn create(
    txn: &WriteTransaction,
    task: Task,
    actor: &str,
    idem: Option<Idempotency>,
) -> AppResult<Created> {
    if let Some(idem) = &idem {
        let table = txn.open_table(IDEMPOTENCY)?;
        if let Some(rec) =
            get_json::<(u64, &str), IdemRecord>(&table, (task.user_id.get(), idem.key))?
        {
            if rec.fingerprint != idem.fingerprint {
                return Err(AppError::conflict(
                    "this Idempotency-Key was already used with a different request body",
                ));
            }
            let existing = get(txn, &rec.task_id)?.ok_or_else(|| AppError::not_found("task"))?;
            return Ok(Created::Existing(existing));
        }
    }
    let reserved = task.credits_reserved;
    ledger::apply(
        txn,
        task.user_id,
        reserved.checked_neg()?,
        Reason {
            kind: EntryKind::Reserve,
            task_id: Some(&task.id),
            actor,
            note: None,
        },
    )?;
    put(txn, &task)?;
    txn.open_table(USER_TASKS)?
        .insert((task.user_id.get(), task.id.as_str()), ())?;
    txn.open_table(ACTIVE_TASKS)?.insert(task.id.as_str(), ())?;
    if let Some(idem) = idem {
        let rec = IdemRecord {
            task_id: task.id.clone(),
            fingerprint: idem.fingerprint.into(),
        };
        txn.open_table(IDEMPOTENCY)?
            .insert((task.user_id.get(), idem.key), encode(&rec)?.as_slice())?;
    }
    Ok(Created::New(task))
}

fn put(txn: &WriteTransaction, task: &Task) -> AppResult<()> {
    txn.open_table(TASKS)?
        .insert(task.id.as_str(), encode(task)?.as_slice())?;
    Ok(())
}

pub fn get(txn: &WriteTransaction, id: &str) -> AppResult<Option<Task>> {
    get_json(&txn.open_table(TASKS)?, id)
}

pub fn read(txn: &ReadTransaction, id: &str) -> AppResult<Option<Task>> {
    get_json(&txn.open_table(TASKS)?, id)
}

/// Change a non-terminal task outside the state machine (tests seed odd states with it).
/// `f` returns false to leave it untouched.
pub fn update(
    txn: &WriteTransaction,
    id: &str,
    f: impl FnOnce(&mut Task) -> AppResult<bool>,
) -> AppResult<Option<Task>> {
    let Some(mut task) = get(txn, id)? else {
        return Ok(None);
    };
    if task.status.is_terminal() {
        return Ok(Some(task));
    }
    if f(&mut task)? {
        task.updated_at_ms = crate::domain::now_ms();
        put(txn, &task)?;
        if task.status.is_terminal() {
            finished(txn, &task)?;
        }
    }
    Ok(Some(task))
}

/// Bookkeeping of every terminal transition, in its transaction: the task leaves the
/// active index and its callback (if any) enters the outbox, so neither can be lost.
fn finished(txn: &WriteTransaction, task: &Task) -> AppResult<()> {
    txn.open_table(ACTIVE_TASKS)?.remove(task.id.as_str())?;
    // The task's concurrency slot (or place in a key's queue) frees with it.
    super::limits::release(txn, &task.id)?;
    if task.request.callback_url.is_some() {
        super::outbox::enqueue(txn, &task.id)?;
    }
    Ok(())
}

/// What became of an event applied to a stored task.
pub struct Outcome {
    /// The task as it is now (changed or not).
    pub task: Task,
    /// `Err`: the event did not apply and nothing was written.
    pub applied: Result<(), Illegal>,
}

/// Apply one state-machine event and its effects (refund, settlement, leaving the active
/// index) in this one transaction. `None`: no such task.
pub fn apply(
    txn: &WriteTransaction,
    id: &str,
    event: Event,
    now_ms: i64,
) -> AppResult<Option<Outcome>> {
    apply_with(txn, id, event, now_ms, None)
}

/// What a completion settles on: what was made and the route's cost.
type SettleOn<'a> = Option<(&'a Made, Option<&'a RouteCost>)>;

fn apply_with(
    txn: &WriteTransaction,
    id: &str,
    event: Event,
    now_ms: i64,
    settle_on: SettleOn,
) -> AppResult<Option<Outcome>> {
    let Some(task) = get(txn, id)? else {
        return Ok(None);
    };
    let Transition { mut task, effects } = match transition(&task, event, now_ms) {
        Ok(t) => t,
        Err(why) => {
            return Ok(Some(Outcome {
                task,
                applied: Err(why),
            }));
        }
    };
    for effect in &effects {
        match effect {
            Effect::Refund {
                user_id,
                amount,
                code,
            } => {
                ledger::apply(
                    txn,
                    *user_id,
                    *amount,
                    Reason {
                        kind: EntryKind::Refund,
                        task_id: Some(&task.id),
                        actor: "system",
                        note: Some(code),
                    },
                )?;
            }
            // The final charge against the reservation, in this transaction; without
            // what was made (an old caller) the reservation stays the charge.
            Effect::Settle { .. } => {
                if let Some((made, cost)) = settle_on {
                    super::settlement::settle(txn, &mut task, made, cost)?;
                }
            }
            Effect::Finished => finished(txn, &task)?,
        }
    }
    put(txn, &task)?;
    Ok(Some(Outcome {
        task,
        applied: Ok(()),
    }))
}

/// Apply several events in order in this one transaction, a completion settled on `made`
/// and `cost`; the first that does not apply stops the rest (what was applied before it
/// stays).
pub fn apply_all(
    txn: &WriteTransaction,
    id: &str,
    events: Vec<Event>,
    now_ms: i64,
    made: &Made,
    cost: Option<&RouteCost>,
) -> AppResult<Option<Outcome>> {
    let mut last = None;
    for event in events {
        let Some(out) = apply_with(txn, id, event, now_ms, Some((made, cost)))? else {
            return Ok(None);
        };
        let stop = out.applied.is_err();
        last = Some(out);
        if stop {
            break;
        }
    }
    Ok(last)
}

/// Fail a task and refund its reservation, in one transaction. Whatever retries or
/// restarts call this, the refund happens once: a terminal task is left as it is.
pub fn fail_and_refund(
    txn: &WriteTransaction,
    id: &str,
    code: &str,
    message: &str,
) -> AppResult<Option<Task>> {
    let event = Event::Failed {
        code: code.into(),
        message: message.into(),
    };
    Ok(apply(txn, id, event, crate::domain::now_ms())?.map(|o| o.task))
}

/// Mark completed once the outputs are in local storage, and settle it on what was made
/// in the same transaction (a crash leaves it neither completed nor settled).
pub fn complete(
    txn: &WriteTransaction,
    id: &str,
    outputs: Vec<Output>,
    made: &Made,
    cost: Option<&RouteCost>,
) -> AppResult<Option<Task>> {
    let events = vec![Event::Mirrored { outputs }];
    let now = crate::domain::now_ms();
    Ok(apply_all(txn, id, events, now, made, cost)?.map(|o| o.task))
}

/// Filters for task listings.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<UserId>,
    pub model: Option<String>,
    pub status: Option<Status>,
    /// Only tasks created before this task id (the cursor).
    pub before: Option<TaskId>,
}

/// Tasks newest first. With a user, walks that user's index; otherwise all tasks.
pub fn list(txn: &ReadTransaction, filter: &Filter, limit: usize) -> AppResult<Vec<Task>> {
    let tasks = txn.open_table(TASKS)?;
    let keep = |t: &Task| {
        filter.model.as_ref().is_none_or(|m| &t.model == m)
            && filter.status.is_none_or(|s| t.status == s)
    };
    let mut out = Vec::new();
    let before = filter.before.as_deref().unwrap_or("vidgen_~");
    match filter.user_id {
        Some(uid) => {
            let idx = txn.open_table(USER_TASKS)?;
            for row in idx.range((uid.get(), "")..(uid.get(), before))?.rev() {
                let (k, _) = row?;
                let key = k.value();
                if let Some(t) = get_json::<&str, Task>(&tasks, key.1)?
                    && keep(&t)
                {
                    out.push(t);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        None => {
            for row in tasks.range(..before)?.rev() {
                let (_, v) = row?;
                let t: Task = decode(v.value())?;
                if keep(&t) {
                    out.push(t);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A user's tasks oldest first, created after the task id `after` (exclusive).
pub fn list_oldest_first(
    txn: &ReadTransaction,
    uid: UserId,
    after: Option<&str>,
    limit: usize,
) -> AppResult<Vec<Task>> {
    let tasks = txn.open_table(TASKS)?;
    let idx = txn.open_table(USER_TASKS)?;
    let mut out = Vec::new();
    let from = after.unwrap_or("");
    for row in idx.range((uid.get(), from)..(uid.get(), "vidgen_~"))? {
        let (k, _) = row?;
        let key = k.value();
        if key.1 == from {
            continue;
        }
        if let Some(t) = get_json::<&str, Task>(&tasks, key.1)? {
            out.push(t);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Forget the stored outputs of a finished task (its files are being deleted). The task,
/// its price and its ledger entries stay as they are. Returns the task as it was.
pub fn clear_outputs(txn: &WriteTransaction, id: &str) -> AppResult<Option<Task>> {
    let Some(mut task) = get(txn, id)? else {
        return Ok(None);
    };
    if !task.status.is_terminal() {
        return Err(AppError::conflict(
            "the task is not finished; only finished tasks have files to delete",
        ));
    }
    let before = task.clone();
    if !task.outputs.is_empty() {
        task.outputs.clear();
        task.updated_at_ms = crate::domain::now_ms();
        put(txn, &task)?;
    }
    Ok(Some(before))
}

/// How many tasks a user has.
pub fn count_for_user(txn: &ReadTransaction, uid: UserId) -> AppResult<u64> {
    let idx = txn.open_table(USER_TASKS)?;
    let mut n = 0;
    for row in idx.range((uid.get(), "")..(uid.get() + 1, ""))? {
        row?;
        n += 1;
    }
    Ok(n)
}

/// Ids of every unfinished task, for the engine to resume.
pub fn active_ids(txn: &ReadTransaction) -> AppResult<Vec<String>> {
    let idx = txn.open_table(ACTIVE_TASKS)?;
    let mut out = Vec::new();
    for row in idx.iter()? {
        let (k, _) = row?;
        out.push(k.value().to_string());
    }
    Ok(out)
}

/// Just a task's status: the overview's scans read this and decode a whole task (its
/// request, outputs, ...) only when they keep it.
#[derive(Deserialize)]
struct StatusOnly {
    status: Status,
}

/// How many unfinished tasks are pending and processing (the active index, so finished
/// history is never read).
pub fn active_counts(txn: &ReadTransaction) -> AppResult<(u64, u64)> {
    let tasks = txn.open_table(TASKS)?;
    let idx = txn.open_table(ACTIVE_TASKS)?;
    let (mut pending, mut processing) = (0, 0);
    for row in idx.iter()? {
        let (k, _) = row?;
        if let Some(t) = get_json::<&str, StatusOnly>(&tasks, k.value())? {
            match t.status {
                Status::Pending => pending += 1,
                Status::Processing => processing += 1,
                _ => {}
            }
        }
    }
    Ok((pending, processing))
}

/// The newest failed tasks, at most `limit`, looking at no more than the `scan` newest
/// tasks: a bounded walk even when failures are rare.
pub fn recent_failed(txn: &ReadTransaction, limit: usize, scan: usize) -> AppResult<Vec<Task>> {
    let tasks = txn.open_table(TASKS)?;
    let mut out = Vec::new();
    for row in tasks.iter()?.rev().take(scan) {
        let (_, v) = row?;
        let head: StatusOnly = decode(v.value())?;
        if head.status == Status::Failed {
            out.push(decode(v.value())?);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idempotency records written while the task id was a plain `String` read and write
    /// back byte for byte.
    #[test]
    fn idempotency_records_stored_before_the_task_id_type_round_trip_unchanged() {
        let old = br#"{"task_id":"vidgen_1783003830450_081f0558","fingerprint":"ab12"}"#;
        let rec: IdemRecord = decode(old).unwrap();
        assert_eq!(rec.task_id.as_str(), "vidgen_1783003830450_081f0558");
        assert_eq!(encode(&rec).unwrap(), old);
    }
}

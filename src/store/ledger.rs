//! Balance changes: every one appends an entry carrying the balance it left behind.

use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::credits::{self, Credits};
use crate::domain::ids::{TaskId, UserId};
use crate::domain::ledger::{EntryKind, LedgerEntry};
use crate::domain::now_ms;
use crate::domain::user::User;
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Who and why, for an entry.
pub struct Reason<'a> {
    pub kind: EntryKind,
    pub task_id: Option<&'a TaskId>,
    pub actor: &'a str,
    pub note: Option<&'a str>,
}

/// Change `user_id`'s balance by `delta` and append the entry, in the caller's
/// transaction. Checks come before any write, so a refusal leaves nothing behind.
pub fn apply(
    txn: &WriteTransaction,
    user_id: UserId,
    delta: Credits,
    why: Reason,
) -> AppResult<LedgerEntry> {
    apply_from(txn, user_id, delta, why, None)
}

/// [`apply`] for credits from outside, naming where they came from (`code:<id>`,
/// `stripe:<session>`, `signup`).
pub fn apply_from(
    txn: &WriteTransaction,
    user_id: UserId,
    delta: Credits,
    why: Reason,
    source: Option<&str>,
) -> AppResult<LedgerEntry> {
    let mut users = txn.open_table(USERS)?;
    let mut user: User = get_json(&users, user_id)?.ok_or_else(|| AppError::not_found("user"))?;
    let after = match why.kind {
        EntryKind::Reserve => credits::reserve(user.credits, delta.checked_neg()?)?,
        _ => credits::adjust(user.credits, delta)?,
    };
    user.credits = after;
    users.insert(user_id, encode(&user)?.as_slice())?;

    let mut ledger = txn.open_table(LEDGER)?;
    let id = ledger.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let entry = LedgerEntry {
        id,
        user_id,
        at_ms: now_ms(),
        kind: why.kind,
        amount: delta,
        balance_after: after,
        task_id: why.task_id.cloned(),
        actor: why.actor.to_string(),
        note: why.note.map(str::to_string),
        source: source.map(str::to_string),
    };
    ledger.insert(id, encode(&entry)?.as_slice())?;
    txn.open_table(USER_LEDGER)?
        .insert((user_id.get(), id), ())?;
    if let Some(task) = why.task_id {
        txn.open_table(TASK_LEDGER)?
            .insert((task.as_str(), id), ())?;
        // Key and account budgets count what their tasks' entries say, in this txn.
        super::limits::on_task_entry(txn, task, delta.get())?;
    }
    Ok(entry)
}

/// Ledger entries newest first, optionally for one user, before entry id `before`.
pub fn list(
    txn: &ReadTransaction,
    user_id: Option<UserId>,
    before: Option<u64>,
    limit: usize,
) -> AppResult<Vec<LedgerEntry>> {
    let ledger = txn.open_table(LEDGER)?;
    let before = before.unwrap_or(u64::MAX);
    let mut out = Vec::new();
    match user_id {
        Some(uid) => {
            let idx = txn.open_table(USER_LEDGER)?;
            for row in idx
                .range((uid.get(), 0)..(uid.get(), before))?
                .rev()
                .take(limit)
            {
                let (k, _) = row?;
                let id = k.value().1;
                if let Some(e) = get_json(&ledger, id)? {
                    out.push(e);
                }
            }
        }
        None => {
            for row in ledger.range(..before)?.rev().take(limit) {
                let (_, v) = row?;
                out.push(decode(v.value())?);
            }
        }
    }
    Ok(out)
}

/// Entries of one kind (and optionally one user), newest first, before `before`: the
/// operator's ledger filtered by source. Walks at most `scan` entries.
pub fn list_kind(
    txn: &ReadTransaction,
    user_id: Option<UserId>,
    kind: EntryKind,
    before: Option<u64>,
    limit: usize,
    scan: usize,
) -> AppResult<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    let mut cursor = before;
    let mut scanned = 0;
    while out.len() < limit && scanned < scan {
        let page = list(txn, user_id, cursor, 500)?;
        if page.is_empty() {
            break;
        }
        scanned += page.len();
        cursor = page.last().map(|e| e.id);
        out.extend(page.into_iter().filter(|e| e.kind == kind));
    }
    out.truncate(limit);
    Ok(out)
}

/// Every entry a task caused, oldest first.
pub fn for_task(
    ledger: &impl ReadableTable<u64, &'static [u8]>,
    idx: &impl ReadableTable<(&'static str, u64), ()>,
    task_id: &str,
) -> AppResult<Vec<LedgerEntry>> {
    let mut out = Vec::new();
    for row in idx.range((task_id, 0)..=(task_id, u64::MAX))? {
        let (k, _) = row?;
        if let Some(e) = get_json(ledger, k.value().1)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// The part of an entry that sums need (the rest is skipped while decoding).
#[derive(serde::Deserialize)]
struct Amount {
    at_ms: i64,
    kind: EntryKind,
    amount: i64,
}

/// Call `f(kind, amount)` for every entry made at or after `since_ms`, newest first, at
/// most `cap` of them: the walk stops at the first older entry (ids grow with time), so
/// it reads only the window, not the whole ledger. Returns how many were visited.
pub fn fold_since(
    txn: &ReadTransaction,
    since_ms: i64,
    cap: usize,
    mut f: impl FnMut(EntryKind, i64),
) -> AppResult<usize> {
    let ledger = txn.open_table(LEDGER)?;
    let mut n = 0;
    for row in ledger.iter()?.rev().take(cap) {
        let (_, v) = row?;
        let e: Amount = decode(v.value())?;
        if e.at_ms < since_ms {
            break;
        }
        f(e.kind, e.amount);
        n += 1;
    }
    Ok(n)
}

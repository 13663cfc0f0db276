//! The callback outbox: terminal tasks whose `callback_url` still has to be told, indexed
//! by tenant and due time so the dispatcher finds what is due without scanning.

use super::tables::{OUTBOX, OUTBOX_DUE, TASKS};
use super::{decode, encode, get_json};
use crate::domain::ids::{TaskId, UserId};
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub attempts: u32,
    pub next_at_ms: i64,
    /// The task's owner (absent in rows written before the index existed; filled in by
    /// [`backfill`]).
    #[serde(default)]
    pub user_id: Option<UserId>,
}

fn index_key(p: &Pending, task_id: &str) -> (u64, i64, String) {
    (
        p.user_id.map_or(0, UserId::get),
        p.next_at_ms,
        task_id.to_string(),
    )
}

fn put(txn: &WriteTransaction, task_id: &str, p: &Pending) -> AppResult<()> {
    txn.open_table(OUTBOX)?
        .insert(task_id, encode(p)?.as_slice())?;
    let (u, due, id) = index_key(p, task_id);
    txn.open_table(OUTBOX_DUE)?
        .insert((u, due, id.as_str()), ())?;
    Ok(())
}

fn unindex(txn: &WriteTransaction, task_id: &str, p: &Pending) -> AppResult<()> {
    let (u, due, id) = index_key(p, task_id);
    txn.open_table(OUTBOX_DUE)?.remove((u, due, id.as_str()))?;
    Ok(())
}

/// Queue the callback of a task that just became terminal (in that transaction). Its
/// owner's signing secret is made here if the account has none yet. Due at once: a fresh
/// callback sorts before its tenant's retries.
pub fn enqueue(txn: &WriteTransaction, task_id: &TaskId) -> AppResult<()> {
    let user_id =
        get_json::<&str, crate::domain::task::Task>(&txn.open_table(TASKS)?, task_id.as_str())?
            .map(|t| t.user_id);
    if let Some(u) = user_id {
        super::webhook_secrets::ensure(txn, u)?;
    }
    let p = Pending {
        attempts: 0,
        next_at_ms: 0,
        user_id,
    };
    put(txn, task_id, &p)
}

/// Tenants with at least one callback due at `now_ms`, in user-id order, at most `limit`.
/// Skips from tenant to tenant through the index: one lookup per tenant.
pub fn tenants_due(txn: &ReadTransaction, now_ms: i64, limit: usize) -> AppResult<Vec<u64>> {
    let index = txn.open_table(OUTBOX_DUE)?;
    let mut out = Vec::new();
    let mut from = 0u64;
    while out.len() < limit {
        let Some(row) = index.range((from, i64::MIN, "")..)?.next() else {
            break;
        };
        let (user, due, _) = row?.0.value();
        if due <= now_ms {
            out.push(user);
        }
        match user.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    Ok(out)
}

/// A tenant's callbacks due at `now_ms`, earliest first, at most `limit`.
pub fn due_for(
    txn: &ReadTransaction,
    user_id: UserId,
    now_ms: i64,
    limit: usize,
) -> AppResult<Vec<(String, Pending)>> {
    let index = txn.open_table(OUTBOX_DUE)?;
    let outbox = txn.open_table(OUTBOX)?;
    let mut out = Vec::new();
    let upper = now_ms.saturating_add(1);
    for row in index.range((user_id.get(), i64::MIN, "")..(user_id.get(), upper, ""))? {
        if out.len() >= limit {
            break;
        }
        let id = row?.0.value().2.to_string();
        if let Some(p) = get_json::<&str, Pending>(&outbox, id.as_str())? {
            out.push((id, p));
        }
    }
    Ok(out)
}

/// Move an entry to its next try (no-op when it was removed meanwhile).
pub fn reschedule(txn: &WriteTransaction, task_id: &str, p: &Pending) -> AppResult<()> {
    let old = get_json::<&str, Pending>(&txn.open_table(OUTBOX)?, task_id)?;
    if let Some(old) = old {
        unindex(txn, task_id, &old)?;
        let p = Pending {
            user_id: old.user_id,
            ..p.clone()
        };
        put(txn, task_id, &p)?;
    }
    Ok(())
}

pub fn remove(txn: &WriteTransaction, task_id: &str) -> AppResult<()> {
    let old = get_json::<&str, Pending>(&txn.open_table(OUTBOX)?, task_id)?;
    if let Some(old) = old {
        unindex(txn, task_id, &old)?;
    }
    txn.open_table(OUTBOX)?.remove(task_id)?;
    Ok(())
}

/// Index rows written before the index existed (run once at start-up; cheap when there
/// is nothing to do). Returns how many rows were indexed.
pub fn backfill(txn: &WriteTransaction) -> AppResult<usize> {
    let missing: Vec<(String, Pending)> = {
        let outbox = txn.open_table(OUTBOX)?;
        let mut v = Vec::new();
        for row in outbox.iter()? {
            let (k, val) = row?;
            let p: Pending = decode(val.value())?;
            if p.user_id.is_none() {
                v.push((k.value().to_string(), p));
            }
        }
        v
    };
    for (id, p) in &missing {
        let user_id =
            get_json::<&str, crate::domain::task::Task>(&txn.open_table(TASKS)?, id.as_str())?
                .map(|t| t.user_id)
                .unwrap_or_default();
        if user_id != 0 {
            super::webhook_secrets::ensure(txn, user_id)?;
        }
        put(
            txn,
            id,
            &Pending {
                user_id: Some(user_id),
                ..p.clone()
            },
        )?;
    }
    Ok(missing.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows written while the owner was a plain `u64` read and write back byte for byte.
    #[test]
    fn pending_rows_stored_before_the_user_id_type_round_trip_unchanged() {
        for old in [
            &br#"{"attempts":2,"next_at_ms":1783003830450,"user_id":42}"#[..],
            br#"{"attempts":0,"next_at_ms":0,"user_id":null}"#,
        ] {
            let p: Pending = decode(old).unwrap();
            assert_eq!(encode(&p).unwrap(), old);
        }
        let p: Pending = decode(br#"{"attempts":0,"next_at_ms":5}"#).unwrap();
        assert_eq!((p.user_id, index_key(&p, "t").0), (None, 0));
    }
}

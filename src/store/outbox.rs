//! The callback outbox: terminal tasks whose `callback_url` still has to be told.

use super::tables::OUTBOX;
use super::{decode, encode, get_json};
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub attempts: u32,
    pub next_at_ms: i64,
}

pub fn enqueue(txn: &WriteTransaction, task_id: &str) -> AppResult<()> {
    let p = Pending {
        attempts: 0,
        next_at_ms: 0,
    };
    txn.open_table(OUTBOX)?
        .insert(task_id, encode(&p)?.as_slice())?;
    Ok(())
}

/// Entries due at `now_ms`, oldest task first, at most `limit`.
pub fn due(txn: &ReadTransaction, now_ms: i64, limit: usize) -> AppResult<Vec<(String, Pending)>> {
    let table = txn.open_table(OUTBOX)?;
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let p: Pending = decode(v.value())?;
        if p.next_at_ms <= now_ms {
            out.push((k.value().to_string(), p));
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

pub fn reschedule(txn: &WriteTransaction, task_id: &str, p: &Pending) -> AppResult<()> {
    let mut table = txn.open_table(OUTBOX)?;
    if get_json::<&str, Pending>(&table, task_id)?.is_some() {
        table.insert(task_id, encode(p)?.as_slice())?;
    }
    Ok(())
}

pub fn remove(txn: &WriteTransaction, task_id: &str) -> AppResult<()> {
    txn.open_table(OUTBOX)?.remove(task_id)?;
    Ok(())
}

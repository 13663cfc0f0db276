//! Console sessions, keyed by the SHA-256 of their token.

use super::get_json;
use super::tables::*;
use super::{decode, encode};
use crate::domain::session::Session;
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

pub fn put(txn: &WriteTransaction, hash: &str, s: &Session) -> AppResult<()> {
    txn.open_table(SESSIONS)?
        .insert(hash, encode(s)?.as_slice())?;
    Ok(())
}

pub fn read(txn: &ReadTransaction, hash: &str) -> AppResult<Option<Session>> {
    get_json(&txn.open_table(SESSIONS)?, hash)
}

pub fn delete(txn: &WriteTransaction, hash: &str) -> AppResult<bool> {
    Ok(txn.open_table(SESSIONS)?.remove(hash)?.is_some())
}

/// Remove the sessions of `user_id` (all but `keep`), e.g. after a password change.
/// Sessions are few, so a scan is fine and needs no second index.
pub fn delete_for_user(
    txn: &WriteTransaction,
    user_id: u64,
    keep: Option<&str>,
) -> AppResult<usize> {
    remove_where(txn, |hash, s| s.user_id == user_id && Some(hash) != keep)
}

/// Drop expired sessions; run at each login so the table stays small.
pub fn purge_expired(txn: &WriteTransaction, now_ms: i64) -> AppResult<usize> {
    remove_where(txn, |_, s| s.expires_at_ms <= now_ms)
}

fn remove_where(txn: &WriteTransaction, pred: impl Fn(&str, &Session) -> bool) -> AppResult<usize> {
    let mut table = txn.open_table(SESSIONS)?;
    let mut doomed = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        let s: Session = decode(v.value())?;
        if pred(k.value(), &s) {
            doomed.push(k.value().to_string());
        }
    }
    for k in &doomed {
        table.remove(k.as_str())?;
    }
    Ok(doomed.len())
}

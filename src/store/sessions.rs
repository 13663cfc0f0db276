//! Console sessions, keyed by the SHA-256 of their token, with two indexes: per account
//! (oldest first, for the cap) and by expiry (for the purge timer).

use super::get_json;
use super::tables::*;
use super::{decode, encode};
use crate::domain::ids::UserId;
use crate::domain::session::{MAX_SESSIONS_PER_USER, Session};
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Meta key set once the indexes cover every session (databases from before them).
const INDEXED: &str = "session_indexes";

/// Store a new session and end the account's oldest ones beyond the cap; returns how
/// many were ended.
pub fn put(txn: &WriteTransaction, hash: &str, s: &Session) -> AppResult<usize> {
    insert(txn, hash, s)?;
    let mine = of_user(txn, s.user_id)?;
    let excess = mine.len().saturating_sub(MAX_SESSIONS_PER_USER);
    for old in &mine[..excess] {
        delete(txn, old)?;
    }
    Ok(excess)
}

fn insert(txn: &WriteTransaction, hash: &str, s: &Session) -> AppResult<()> {
    txn.open_table(SESSIONS)?
        .insert(hash, encode(s)?.as_slice())?;
    txn.open_table(USER_SESSIONS)?
        .insert((s.user_id.get(), s.created_at_ms, hash), ())?;
    txn.open_table(SESSION_EXPIRY)?
        .insert((s.expires_at_ms, hash), ())?;
    Ok(())
}

pub fn read(txn: &ReadTransaction, hash: &str) -> AppResult<Option<Session>> {
    get_json(&txn.open_table(SESSIONS)?, hash)
}

/// The hashes of `user_id`'s sessions, oldest first.
fn of_user(txn: &WriteTransaction, user_id: UserId) -> AppResult<Vec<String>> {
    let idx = txn.open_table(USER_SESSIONS)?;
    let mut out = Vec::new();
    for row in idx.range((user_id.get(), i64::MIN, "")..)? {
        let (k, _) = row?;
        let (uid, _, hash) = k.value();
        if uid != user_id {
            break;
        }
        out.push(hash.to_string());
    }
    Ok(out)
}

/// End one session (and its index entries).
pub fn delete(txn: &WriteTransaction, hash: &str) -> AppResult<bool> {
    let removed: Option<Session> = {
        let mut table = txn.open_table(SESSIONS)?;
        let old = table.remove(hash)?;
        old.map(|v| decode(v.value())).transpose()?
    };
    let Some(s) = removed else {
        return Ok(false);
    };
    txn.open_table(USER_SESSIONS)?
        .remove((s.user_id.get(), s.created_at_ms, hash))?;
    txn.open_table(SESSION_EXPIRY)?
        .remove((s.expires_at_ms, hash))?;
    Ok(true)
}

/// Remove the sessions of `user_id` (all but `keep`), e.g. after a password change.
pub fn delete_for_user(
    txn: &WriteTransaction,
    user_id: UserId,
    keep: Option<&str>,
) -> AppResult<usize> {
    let mut n = 0;
    for hash in of_user(txn, user_id)? {
        if Some(hash.as_str()) != keep && delete(txn, &hash)? {
            n += 1;
        }
    }
    Ok(n)
}

/// Drop up to `limit` sessions that expired by `now_ms`, through the expiry index (no
/// scan); returns how many went. The purge timer calls this, never a login.
pub fn purge_expired(txn: &WriteTransaction, now_ms: i64, limit: usize) -> AppResult<usize> {
    let doomed: Vec<(i64, String)> = {
        let idx = txn.open_table(SESSION_EXPIRY)?;
        let mut out = Vec::new();
        for row in idx.range((i64::MIN, "")..(now_ms.saturating_add(1), ""))? {
            let (k, _) = row?;
            let (at, hash) = k.value();
            out.push((at, hash.to_string()));
            if out.len() >= limit {
                break;
            }
        }
        out
    };
    for (at, hash) in &doomed {
        if !delete(txn, hash)? {
            // An index entry without its session: drop the stray.
            txn.open_table(SESSION_EXPIRY)?
                .remove((*at, hash.as_str()))?;
        }
    }
    Ok(doomed.len())
}

/// Index sessions written before the indexes existed (once per database); returns how
/// many were indexed.
pub fn index_existing(txn: &WriteTransaction) -> AppResult<usize> {
    let mut meta = txn.open_table(META)?;
    if meta.get(INDEXED)?.is_some() {
        return Ok(0);
    }
    let mut all = Vec::new();
    for row in txn.open_table(SESSIONS)?.iter()? {
        let (k, v) = row?;
        all.push((k.value().to_string(), decode::<Session>(v.value())?));
    }
    for (hash, s) in &all {
        insert(txn, hash, s)?;
    }
    meta.insert(INDEXED, 1)?;
    Ok(all.len())
}

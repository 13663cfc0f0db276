//! Stored files' records: owner, size and expiry per key, per-user usage, the janitor's
//! expiry index and the tombstones of removed files.

use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::media::{MediaKind, MediaOverrides, Quota, Quotas, Usage, admit};
use crate::domain::user::User;
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    pub owner: u64,
    pub kind: MediaKind,
    pub size: u64,
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    /// The task a mirrored video belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

pub fn create_tables(txn: &WriteTransaction) -> AppResult<()> {
    txn.open_table(MEDIA)?;
    txn.open_table(MEDIA_EXPIRY)?;
    txn.open_table(USER_MEDIA)?;
    txn.open_table(MEDIA_USAGE)?;
    txn.open_table(MEDIA_GONE)?;
    txn.open_table(STORAGE_QUOTAS)?;
    Ok(())
}

fn bump(usage: &mut Usage, kind: MediaKind, size: u64, add: bool) {
    let (bytes, files) = match kind {
        MediaKind::Upload => (&mut usage.upload_bytes, &mut usage.upload_files),
        MediaKind::Video => (&mut usage.video_bytes, &mut usage.video_files),
    };
    if add {
        *bytes = bytes.saturating_add(size);
        *files = files.saturating_add(1);
    } else {
        *bytes = bytes.saturating_sub(size);
        *files = files.saturating_sub(1);
    }
}

/// The quota that applies to `user` now.
pub fn quota_of(txn: &WriteTransaction, user: u64, quotas: &Quotas) -> AppResult<Quota> {
    let own: Option<Quota> = get_json(&txn.open_table(STORAGE_QUOTAS)?, user)?;
    let u: Option<User> = get_json(&txn.open_table(USERS)?, user)?;
    Ok(quotas.for_user(own, u.as_ref().and_then(|u| u.pricing_group.as_deref())))
}

/// Refuse early (before a byte is stored) when the account is already at its quota.
pub fn check_room(txn: &ReadTransaction, user: u64, quotas: &Quotas) -> AppResult<()> {
    let own: Option<Quota> = get_json(&txn.open_table(STORAGE_QUOTAS)?, user)?;
    let u: Option<User> = get_json(&txn.open_table(USERS)?, user)?;
    let quota = quotas.for_user(own, u.as_ref().and_then(|u| u.pricing_group.as_deref()));
    let usage: Usage = get_json(&txn.open_table(MEDIA_USAGE)?, user)?.unwrap_or_default();
    admit(usage, quota, 0, 1)
}

/// Record stored files, all or none; uploads must fit the owner's quota (`quotas`).
/// A key recorded before (a content-addressed reference) is replaced.
pub fn add(
    txn: &WriteTransaction,
    files: &[(String, MediaRecord)],
    quotas: Option<&Quotas>,
) -> AppResult<()> {
    for (key, _) in files {
        remove(txn, key, None)?;
    }
    if let Some(quotas) = quotas {
        // Check each owner against the whole batch before writing anything.
        let mut owners: Vec<u64> = files.iter().map(|(_, r)| r.owner).collect();
        owners.sort_unstable();
        owners.dedup();
        for owner in owners {
            let (bytes, count) = files
                .iter()
                .filter(|(_, r)| r.owner == owner && r.kind == MediaKind::Upload)
                .fold((0u64, 0u64), |(b, n), (_, r)| {
                    (b.saturating_add(r.size), n + 1)
                });
            let usage = usage_w(txn, owner)?;
            admit(usage, quota_of(txn, owner, quotas)?, bytes, count)?;
        }
    }
    let mut media = txn.open_table(MEDIA)?;
    let mut expiry = txn.open_table(MEDIA_EXPIRY)?;
    let mut by_user = txn.open_table(USER_MEDIA)?;
    let mut usage_t = txn.open_table(MEDIA_USAGE)?;
    let mut gone = txn.open_table(MEDIA_GONE)?;
    for (key, rec) in files {
        media.insert(key.as_str(), encode(rec)?.as_slice())?;
        if let Some(at) = rec.expires_at_ms {
            expiry.insert((at, key.as_str()), ())?;
        }
        by_user.insert((rec.owner, key.as_str()), ())?;
        gone.remove(key.as_str())?;
        let mut usage: Usage = get_json(&usage_t, rec.owner)?.unwrap_or_default();
        bump(&mut usage, rec.kind, rec.size, true);
        usage_t.insert(rec.owner, encode(&usage)?.as_slice())?;
    }
    Ok(())
}

/// Forget a file; with `gone_at`, its URL answers 410 from now on.
pub fn remove(
    txn: &WriteTransaction,
    key: &str,
    gone_at: Option<i64>,
) -> AppResult<Option<MediaRecord>> {
    let mut media = txn.open_table(MEDIA)?;
    let Some(rec) = media.remove(key)?.map(|v| decode::<MediaRecord>(v.value())) else {
        return Ok(None);
    };
    let rec = rec?;
    drop(media);
    if let Some(at) = rec.expires_at_ms {
        txn.open_table(MEDIA_EXPIRY)?.remove((at, key))?;
    }
    txn.open_table(USER_MEDIA)?.remove((rec.owner, key))?;
    let mut usage_t = txn.open_table(MEDIA_USAGE)?;
    let mut usage: Usage = get_json(&usage_t, rec.owner)?.unwrap_or_default();
    bump(&mut usage, rec.kind, rec.size, false);
    usage_t.insert(rec.owner, encode(&usage)?.as_slice())?;
    if let Some(at) = gone_at {
        txn.open_table(MEDIA_GONE)?.insert(key, at)?;
    }
    Ok(Some(rec))
}

/// Forget many files in one go (the janitor's batch), tables opened once; with
/// `gone_at`, their URLs answer 410. Returns the records removed.
pub fn remove_many(
    txn: &WriteTransaction,
    keys: &[String],
    gone_at: Option<i64>,
) -> AppResult<Vec<MediaRecord>> {
    let mut media = txn.open_table(MEDIA)?;
    let mut expiry = txn.open_table(MEDIA_EXPIRY)?;
    let mut by_user = txn.open_table(USER_MEDIA)?;
    let mut usage_t = txn.open_table(MEDIA_USAGE)?;
    let mut gone = txn.open_table(MEDIA_GONE)?;
    let mut out = Vec::new();
    let mut usage: std::collections::HashMap<u64, Usage> = std::collections::HashMap::new();
    for key in keys {
        let Some(rec) = media
            .remove(key.as_str())?
            .map(|v| decode::<MediaRecord>(v.value()))
        else {
            continue;
        };
        let rec = rec?;
        if let Some(at) = rec.expires_at_ms {
            expiry.remove((at, key.as_str()))?;
        }
        by_user.remove((rec.owner, key.as_str()))?;
        let u = match usage.entry(rec.owner) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(get_json(&usage_t, rec.owner)?.unwrap_or_default())
            }
        };
        bump(u, rec.kind, rec.size, false);
        if let Some(at) = gone_at {
            gone.insert(key.as_str(), at)?;
        }
        out.push(rec);
    }
    for (owner, u) in usage {
        usage_t.insert(owner, encode(&u)?.as_slice())?;
    }
    Ok(out)
}

/// Move a file's expiry (a task still needs it).
pub fn postpone(txn: &WriteTransaction, key: &str, until_ms: i64) -> AppResult<()> {
    let mut media = txn.open_table(MEDIA)?;
    let Some(mut rec) = get_json::<&str, MediaRecord>(&media, key)? else {
        return Ok(());
    };
    let mut expiry = txn.open_table(MEDIA_EXPIRY)?;
    if let Some(at) = rec.expires_at_ms {
        expiry.remove((at, key))?;
    }
    rec.expires_at_ms = Some(until_ms);
    expiry.insert((until_ms, key), ())?;
    media.insert(key, encode(&rec)?.as_slice())?;
    Ok(())
}

pub fn get(txn: &ReadTransaction, key: &str) -> AppResult<Option<MediaRecord>> {
    get_json(&txn.open_table(MEDIA)?, key)
}

pub fn is_gone(txn: &ReadTransaction, key: &str) -> AppResult<bool> {
    Ok(txn.open_table(MEDIA_GONE)?.get(key)?.is_some())
}

/// Up to `limit` files in expiry order: only those due by `now_ms`, or (with
/// `due_only` false) the soonest to expire whatever their time.
pub fn by_expiry(
    txn: &ReadTransaction,
    now_ms: i64,
    due_only: bool,
    limit: usize,
) -> AppResult<Vec<(String, i64)>> {
    let idx = txn.open_table(MEDIA_EXPIRY)?;
    let mut out = Vec::new();
    for row in idx.iter()? {
        let (k, _) = row?;
        let (at, key) = k.value();
        if (due_only && at > now_ms) || out.len() >= limit {
            break;
        }
        out.push((key.to_string(), at));
    }
    Ok(out)
}

fn usage_w(txn: &WriteTransaction, user: u64) -> AppResult<Usage> {
    Ok(get_json(&txn.open_table(MEDIA_USAGE)?, user)?.unwrap_or_default())
}

pub fn usage(txn: &ReadTransaction, user: u64) -> AppResult<Usage> {
    Ok(get_json(&txn.open_table(MEDIA_USAGE)?, user)?.unwrap_or_default())
}

/// Every account that stores something, with its usage.
pub fn usage_all(txn: &ReadTransaction) -> AppResult<Vec<(u64, Usage)>> {
    let t = txn.open_table(MEDIA_USAGE)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let u: Usage = decode(v.value())?;
        if u.files() > 0 {
            out.push((k.value(), u));
        }
    }
    Ok(out)
}

/// Up to `limit` keys an account stores.
pub fn keys_of(txn: &ReadTransaction, user: u64, limit: usize) -> AppResult<Vec<String>> {
    let t = txn.open_table(USER_MEDIA)?;
    let mut out = Vec::new();
    for row in t.range((user, "")..)? {
        let (k, _) = row?;
        let (u, key) = k.value();
        if u != user || out.len() >= limit {
            break;
        }
        out.push(key.to_string());
    }
    Ok(out)
}

pub fn own_quota(txn: &ReadTransaction, user: u64) -> AppResult<Option<Quota>> {
    get_json(&txn.open_table(STORAGE_QUOTAS)?, user)
}

pub fn own_quotas(txn: &ReadTransaction) -> AppResult<std::collections::HashMap<u64, Quota>> {
    let t = txn.open_table(STORAGE_QUOTAS)?;
    let mut out = std::collections::HashMap::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.insert(k.value(), decode(v.value())?);
    }
    Ok(out)
}

pub fn set_quota(txn: &WriteTransaction, user: u64, quota: Option<Quota>) -> AppResult<()> {
    let mut t = txn.open_table(STORAGE_QUOTAS)?;
    match quota {
        Some(q) => {
            t.insert(user, encode(&q)?.as_slice())?;
        }
        None => {
            t.remove(user)?;
        }
    }
    Ok(())
}

const MEDIA_KEY: &str = "media";

/// Retention and group quotas saved from the console, if any (the config's apply otherwise).
pub fn overrides(txn: &ReadTransaction) -> AppResult<Option<MediaOverrides>> {
    get_json(&txn.open_table(SETTINGS)?, MEDIA_KEY)
}

/// Change the saved overrides in one transaction (read, edit, write) and return them.
pub fn edit_overrides(
    txn: &WriteTransaction,
    edit: impl FnOnce(&mut MediaOverrides),
) -> AppResult<MediaOverrides> {
    let mut t = txn.open_table(SETTINGS)?;
    let mut o: MediaOverrides = match t.get(MEDIA_KEY)? {
        Some(v) => decode(v.value())?,
        None => MediaOverrides::default(),
    };
    edit(&mut o);
    t.insert(MEDIA_KEY, encode(&o)?.as_slice())?;
    Ok(o)
}

/// Every record, for the backup manifest and `storage migrate`.
pub fn all(txn: &ReadTransaction) -> AppResult<Vec<(String, MediaRecord)>> {
    let t = txn.open_table(MEDIA)?;
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), decode(v.value())?));
    }
    Ok(out)
}

/// Whether files stored before records existed were adopted (done once per database).
pub fn adopted(txn: &ReadTransaction) -> AppResult<bool> {
    Ok(txn.open_table(META)?.get("media_adopted")?.is_some())
}

pub fn mark_adopted(txn: &WriteTransaction) -> AppResult<()> {
    txn.open_table(META)?.insert("media_adopted", 1)?;
    Ok(())
}

/// The keys among `keys` that have no record.
pub fn unrecorded(txn: &ReadTransaction, keys: &[String]) -> AppResult<Vec<String>> {
    let t = txn.open_table(MEDIA)?;
    let mut out = Vec::new();
    for k in keys {
        if t.get(k.as_str())?.is_none() {
            out.push(k.clone());
        }
    }
    Ok(out)
}

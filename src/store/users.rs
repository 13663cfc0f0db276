//! Accounts and API keys.

use super::ledger::{self, Reason};
use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::credits::Credits;
use crate::domain::ids::UserId;
use crate::domain::ledger::EntryKind;
use crate::domain::limits::KeyLimits;
use crate::domain::now_ms;
use crate::domain::user::{ApiKey, User};
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};

pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: String,
    pub is_admin: bool,
    pub credits: i64,
    pub pricing_group: Option<String>,
    pub actor: &'a str,
}

/// Create an account; starting credits are a top-up entry so the ledger explains them.
pub fn create(txn: &WriteTransaction, new: NewUser) -> AppResult<User> {
    crate::domain::user::validate_username(new.username)?;
    if new.credits < 0 {
        return Err(AppError::invalid(
            "credits",
            "starting credits cannot be negative",
        ));
    }
    let mut names = txn.open_table(USERNAMES)?;
    if names.get(new.username)?.is_some() {
        return Err(AppError::conflict(format!(
            "user `{}` already exists",
            new.username
        )));
    }
    let mut users = txn.open_table(USERS)?;
    let id = users.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let user = User {
        id: UserId::new(id),
        username: new.username.to_string(),
        password_hash: new.password_hash,
        is_admin: new.is_admin,
        disabled: false,
        credits: Credits::ZERO,
        pricing_group: new.pricing_group,
        created_at_ms: now_ms(),
        limits: Default::default(),
    };
    users.insert(id, encode(&user)?.as_slice())?;
    names.insert(new.username, id)?;
    drop(users);
    if new.credits > 0 {
        ledger::apply(
            txn,
            UserId::new(id),
            Credits::new(new.credits),
            Reason {
                kind: EntryKind::TopUp,
                task_id: None,
                actor: new.actor,
                note: Some("starting credits"),
            },
        )?;
        return get(txn, UserId::new(id))?.ok_or_else(|| AppError::internal("user vanished"));
    }
    Ok(user)
}

pub fn get(txn: &WriteTransaction, id: UserId) -> AppResult<Option<User>> {
    get_json(&txn.open_table(USERS)?, id.get())
}

pub fn read(txn: &ReadTransaction, id: UserId) -> AppResult<Option<User>> {
    get_json(&txn.open_table(USERS)?, id.get())
}

pub fn id_by_name(
    names: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> AppResult<Option<UserId>> {
    Ok(names.get(name)?.map(|v| UserId::new(v.value())))
}

pub fn read_by_name(txn: &ReadTransaction, name: &str) -> AppResult<Option<User>> {
    match id_by_name(&txn.open_table(USERNAMES)?, name)? {
        Some(id) => read(txn, id),
        None => Ok(None),
    }
}

pub fn get_by_name(txn: &WriteTransaction, name: &str) -> AppResult<User> {
    let id = id_by_name(&txn.open_table(USERNAMES)?, name)?
        .ok_or_else(|| AppError::not_found(format!("user `{name}`")))?;
    get(txn, id)?.ok_or_else(|| AppError::not_found(format!("user `{name}`")))
}

pub fn count(txn: &ReadTransaction) -> AppResult<u64> {
    Ok(txn.open_table(USERS)?.len()?)
}

pub fn list(txn: &ReadTransaction) -> AppResult<Vec<User>> {
    let users = txn.open_table(USERS)?;
    let mut out = Vec::new();
    for row in users.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// Load, change and store one user.
pub fn update(
    txn: &WriteTransaction,
    id: UserId,
    f: impl FnOnce(&mut User) -> AppResult<()>,
) -> AppResult<User> {
    let mut users = txn.open_table(USERS)?;
    let mut user: User = get_json(&users, id)?.ok_or_else(|| AppError::not_found("user"))?;
    f(&mut user)?;
    users.insert(id, encode(&user)?.as_slice())?;
    Ok(user)
}

pub fn create_key(
    txn: &WriteTransaction,
    user_id: UserId,
    name: &str,
    key: &str,
) -> AppResult<ApiKey> {
    create_key_with(txn, user_id, name, key, KeyLimits::default())
}

/// A new key with its limits (already checked by the caller).
pub fn create_key_with(
    txn: &WriteTransaction,
    user_id: UserId,
    name: &str,
    key: &str,
    limits: KeyLimits,
) -> AppResult<ApiKey> {
    let name = name.trim();
    if name.chars().count() > 64 {
        return Err(AppError::invalid(
            "name",
            "key name is longer than 64 characters",
        ));
    }
    if get(txn, user_id)?.is_none() {
        return Err(AppError::not_found("user"));
    }
    let mut keys = txn.open_table(KEYS)?;
    let id = keys.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let record = ApiKey {
        id,
        user_id,
        name: if name.is_empty() {
            format!("key-{id}")
        } else {
            name.to_string()
        },
        prefix: crate::domain::ids::key_prefix(key),
        hash: crate::domain::ids::hash_key(key),
        revoked: false,
        created_at_ms: now_ms(),
        last_used_ms: None,
        limits,
    };
    keys.insert(id, encode(&record)?.as_slice())?;
    txn.open_table(KEY_HASHES)?
        .insert(record.hash.as_str(), id)?;
    txn.open_table(USER_KEYS)?.insert((user_id.get(), id), ())?;
    Ok(record)
}

pub fn list_keys(txn: &ReadTransaction, user_id: UserId) -> AppResult<Vec<ApiKey>> {
    let keys = txn.open_table(KEYS)?;
    let idx = txn.open_table(USER_KEYS)?;
    let mut out = Vec::new();
    for row in idx.range((user_id.get(), 0)..=(user_id.get(), u64::MAX))? {
        let (k, _) = row?;
        if let Some(key) = get_json(&keys, k.value().1)? {
            out.push(key);
        }
    }
    Ok(out)
}

/// Revoke one of `user_id`'s keys. Another user's key is "not found", not "forbidden".
pub fn revoke_key(txn: &WriteTransaction, user_id: UserId, key_id: u64) -> AppResult<ApiKey> {
    let mut keys = txn.open_table(KEYS)?;
    let mut key: ApiKey = get_json(&keys, key_id)?
        .filter(|k: &ApiKey| k.user_id == user_id)
        .ok_or_else(|| AppError::not_found("API key"))?;
    key.revoked = true;
    keys.insert(key_id, encode(&key)?.as_slice())?;
    Ok(key)
}

/// Change one of `user_id`'s keys (name, limits). Another user's key is "not found".
pub fn update_key(
    txn: &WriteTransaction,
    user_id: UserId,
    key_id: u64,
    f: impl FnOnce(&mut ApiKey) -> AppResult<()>,
) -> AppResult<ApiKey> {
    let mut keys = txn.open_table(KEYS)?;
    let mut key: ApiKey = get_json(&keys, key_id)?
        .filter(|k: &ApiKey| k.user_id == user_id)
        .ok_or_else(|| AppError::not_found("API key"))?;
    f(&mut key)?;
    keys.insert(key_id, encode(&key)?.as_slice())?;
    Ok(key)
}

/// One key by id, whoever owns it.
pub fn read_key(txn: &ReadTransaction, key_id: u64) -> AppResult<Option<ApiKey>> {
    get_json(&txn.open_table(KEYS)?, key_id)
}

/// The key and its owner for a key hash, if the key exists (revoked or not).
pub fn by_key_hash(txn: &ReadTransaction, hash: &str) -> AppResult<Option<(ApiKey, User)>> {
    let Some(id) = txn.open_table(KEY_HASHES)?.get(hash)?.map(|v| v.value()) else {
        return Ok(None);
    };
    let Some(key) = get_json::<u64, ApiKey>(&txn.open_table(KEYS)?, id)? else {
        return Ok(None);
    };
    let Some(user) = read(txn, key.user_id)? else {
        return Ok(None);
    };
    Ok(Some((key, user)))
}

/// The stored SHA-256 of a key: the secret callbacks of its tasks are signed with.
pub fn key_hash(txn: &ReadTransaction, key_id: u64) -> AppResult<Option<String>> {
    Ok(get_json::<u64, ApiKey>(&txn.open_table(KEYS)?, key_id)?.map(|k| k.hash))
}

pub fn touch_key(txn: &WriteTransaction, key_id: u64, at_ms: i64) -> AppResult<()> {
    let mut keys = txn.open_table(KEYS)?;
    let Some(mut key) = get_json::<u64, ApiKey>(&keys, key_id)? else {
        return Ok(());
    };
    key.last_used_ms = Some(at_ms);
    keys.insert(key_id, encode(&key)?.as_slice())?;
    Ok(())
}

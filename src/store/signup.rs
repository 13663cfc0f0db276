//! Self-registration: settings, case-folded names, email addresses, invites and the
//! one-time tokens of emailed links.

use super::ledger::{self, Reason};
use super::tables::*;
use super::users::{self, NewUser};
use super::{decode, encode, get_json};
use crate::domain::credits::Credits;
use crate::domain::ids::UserId;
use crate::domain::ledger::EntryKind;
use crate::domain::signup::{Invite, OneTimeToken, SignupSettings, TokenPurpose};
use crate::domain::user::User;
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata, WriteTransaction};
use serde::{Deserialize, Serialize};

const SIGNUP_KEY: &str = "signup";

/// An account's email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEmail {
    pub email: String,
    pub verified: bool,
    /// Whether logging in waits for verification (sign-up with verification on).
    #[serde(default)]
    pub required: bool,
}

/// The settings saved from the console, if any (the config's apply otherwise).
pub fn settings(txn: &ReadTransaction) -> AppResult<Option<SignupSettings>> {
    get_json(&txn.open_table(SETTINGS)?, SIGNUP_KEY)
}

pub fn put_settings(txn: &WriteTransaction, s: &SignupSettings) -> AppResult<()> {
    txn.open_table(SETTINGS)?
        .insert(SIGNUP_KEY, encode(s)?.as_slice())?;
    Ok(())
}

/// Make the case-folded name index cover every account (operators and the CLI create
/// accounts without it); only rebuilt when it has fallen behind.
fn fold_names(txn: &WriteTransaction) -> AppResult<()> {
    let names = txn.open_table(USERNAMES)?;
    let mut folded = txn.open_table(USERNAMES_FOLDED)?;
    if folded.len()? >= names.len()? {
        return Ok(());
    }
    for row in names.iter()? {
        let (k, v) = row?;
        let lower = k.value().to_lowercase();
        if folded.get(lower.as_str())?.is_none() {
            folded.insert(lower.as_str(), v.value())?;
        }
    }
    Ok(())
}

/// A visitor's new account, checked and written in one transaction.
#[derive(Debug, Clone)]
pub struct Registration {
    pub username: String,
    pub password_hash: String,
    pub email: Option<String>,
    pub verification_required: bool,
    /// Hash of the invite code, when one is needed.
    pub invite_hash: Option<String>,
    pub settings: SignupSettings,
    pub now_ms: i64,
}

pub fn register(txn: &WriteTransaction, r: Registration) -> AppResult<User> {
    fold_names(txn)?;
    let lower = r.username.to_lowercase();
    if txn
        .open_table(USERNAMES_FOLDED)?
        .get(lower.as_str())?
        .is_some()
    {
        return Err(AppError::UsernameTaken {
            username: r.username.clone(),
        });
    }
    if let Some(e) = &r.email
        && txn.open_table(EMAILS)?.get(e.as_str())?.is_some()
    {
        return Err(AppError::EmailTaken);
    }
    let invite = match &r.invite_hash {
        Some(h) => {
            let id = txn
                .open_table(INVITE_HASHES)?
                .get(h.as_str())?
                .map(|v| v.value())
                .ok_or(AppError::InviteInvalid)?;
            let inv: Invite =
                get_json(&txn.open_table(INVITES)?, id)?.ok_or(AppError::InviteInvalid)?;
            if !inv.usable(r.now_ms) {
                return Err(AppError::InviteInvalid);
            }
            Some(inv)
        }
        None => None,
    };
    let user = users::create(
        txn,
        NewUser {
            username: &r.username,
            password_hash: r.password_hash,
            is_admin: false,
            credits: 0,
            pricing_group: r.settings.pricing_group.clone(),
            actor: "system",
        },
    )?;
    txn.open_table(USERNAMES_FOLDED)?
        .insert(lower.as_str(), user.id)?;
    if let Some(e) = &r.email {
        txn.open_table(EMAILS)?.insert(e.as_str(), user.id)?;
        let rec = UserEmail {
            email: e.clone(),
            verified: false,
            required: r.verification_required,
        };
        txn.open_table(USER_EMAILS)?
            .insert(user.id, encode(&rec)?.as_slice())?;
    }
    if let Some(mut inv) = invite {
        inv.uses += 1;
        inv.used_by.push(user.id.get());
        txn.open_table(INVITES)?
            .insert(inv.id, encode(&inv)?.as_slice())?;
    }
    if r.settings.signup_credits > 0 {
        ledger::apply_from(
            txn,
            user.id,
            Credits::new(r.settings.signup_credits),
            Reason {
                kind: EntryKind::SignupBonus,
                task_id: None,
                actor: "system",
                note: None,
            },
            Some("signup"),
        )?;
        return users::get(txn, user.id)?.ok_or_else(|| AppError::internal("user vanished"));
    }
    Ok(user)
}

pub fn email_of(txn: &ReadTransaction, user_id: UserId) -> AppResult<Option<UserEmail>> {
    get_json(&txn.open_table(USER_EMAILS)?, user_id)
}

pub fn user_by_email(txn: &ReadTransaction, email: &str) -> AppResult<Option<UserId>> {
    Ok(txn
        .open_table(EMAILS)?
        .get(email)?
        .map(|v| UserId::new(v.value())))
}

/// Whether the account may not log in yet: it must verify its email address first.
pub fn verification_pending(txn: &ReadTransaction, user_id: UserId) -> AppResult<bool> {
    Ok(email_of(txn, user_id)?.is_some_and(|e| e.required && !e.verified))
}

pub fn mark_verified(txn: &WriteTransaction, user_id: UserId) -> AppResult<()> {
    let mut t = txn.open_table(USER_EMAILS)?;
    let mut rec: UserEmail = get_json(&t, user_id)?.ok_or(AppError::TokenInvalid)?;
    rec.verified = true;
    t.insert(user_id, encode(&rec)?.as_slice())?;
    Ok(())
}

pub fn put_token(txn: &WriteTransaction, hash: &str, t: &OneTimeToken) -> AppResult<()> {
    txn.open_table(TOKENS)?
        .insert(hash, encode(t)?.as_slice())?;
    Ok(())
}

/// A token without using it (to check a new password before the link is spent).
pub fn peek_token(txn: &ReadTransaction, hash: &str) -> AppResult<Option<OneTimeToken>> {
    get_json(&txn.open_table(TOKENS)?, hash)
}

/// Use a token once: it is removed whether it works or has expired (then `None`: the
/// removal must commit, so expiry is not an error here).
pub fn take_token(
    txn: &WriteTransaction,
    hash: &str,
    purpose: TokenPurpose,
    now_ms: i64,
) -> AppResult<Option<UserId>> {
    let mut t = txn.open_table(TOKENS)?;
    let tok: OneTimeToken = get_json(&t, hash)?.ok_or(AppError::TokenInvalid)?;
    if tok.purpose != purpose {
        return Err(AppError::TokenInvalid);
    }
    t.remove(hash)?;
    Ok((tok.expires_at_ms > now_ms).then_some(tok.user_id))
}

/// Drop every token of a purpose for a user (a new reset link replaces older ones).
pub fn drop_tokens(
    txn: &WriteTransaction,
    user_id: UserId,
    purpose: TokenPurpose,
) -> AppResult<()> {
    let mut t = txn.open_table(TOKENS)?;
    let mut stale = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        let tok: OneTimeToken = decode(v.value())?;
        if tok.user_id == user_id && tok.purpose == purpose {
            stale.push(k.value().to_string());
        }
    }
    for k in stale {
        t.remove(k.as_str())?;
    }
    Ok(())
}

pub fn create_invite(txn: &WriteTransaction, hash: &str, mut inv: Invite) -> AppResult<Invite> {
    let mut t = txn.open_table(INVITES)?;
    inv.id = t.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    t.insert(inv.id, encode(&inv)?.as_slice())?;
    txn.open_table(INVITE_HASHES)?.insert(hash, inv.id)?;
    Ok(inv)
}

pub fn invites(txn: &ReadTransaction) -> AppResult<Vec<Invite>> {
    let mut out = Vec::new();
    for row in txn.open_table(INVITES)?.iter()?.rev() {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

pub fn disable_invite(txn: &WriteTransaction, id: u64) -> AppResult<Invite> {
    let mut t = txn.open_table(INVITES)?;
    let mut inv: Invite = get_json(&t, id)?.ok_or_else(|| AppError::not_found("invite"))?;
    inv.disabled = true;
    t.insert(id, encode(&inv)?.as_slice())?;
    Ok(inv)
}

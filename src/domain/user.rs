//! Accounts and API keys as stored.

use super::credits::Credits;
use super::ids::UserId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub credits: Credits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_group: Option<String>,
    pub created_at_ms: i64,
    /// Limits across all of the account's keys, set by an operator; unset fields fall back
    /// to the pricing group's defaults.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: crate::domain::limits::Limits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: u64,
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub revoked: bool,
    pub created_at_ms: i64,
    #[serde(default)]
    pub last_used_ms: Option<i64>,
    /// Expiry, model and address allow-lists, budget, concurrency and rate.
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: crate::domain::limits::KeyLimits,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A user name is 3–32 characters of letters, digits, `_`, `-` and `.`.
pub fn validate_username(name: &str) -> Result<(), crate::error::AppError> {
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(crate::error::AppError::invalid(
            "username",
            "username must be 3-32 characters of letters, digits, '_', '-' or '.'",
        ))
    }
}

pub fn validate_password(pw: &str) -> Result<(), crate::error::AppError> {
    if pw.chars().count() < 8 || pw.len() > 256 {
        return Err(crate::error::AppError::invalid(
            "password",
            "password must be 8-256 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ledger::LedgerEntry;
    use serde_json::json;

    /// Records written before ids and credits were types decode, and encode back to the
    /// same JSON: a restart on an old database reads and rewrites them unchanged.
    #[test]
    fn records_stored_before_the_id_and_money_types_round_trip_unchanged() {
        let user = json!({"id": 3, "username": "alice", "password_hash": "h", "is_admin": false,
            "disabled": false, "credits": 1000, "created_at_ms": 1});
        let u: User = serde_json::from_value(user.clone()).unwrap();
        assert_eq!((u.id, u.credits), (UserId::new(3), Credits::new(1000)));
        assert_eq!(serde_json::to_value(&u).unwrap(), user);

        let key = json!({"id": 9, "user_id": 3, "name": "k", "prefix": "vga_abcdef", "hash": "x",
            "revoked": false, "created_at_ms": 1, "last_used_ms": null});
        let k: ApiKey = serde_json::from_value(key.clone()).unwrap();
        assert_eq!(serde_json::to_value(&k).unwrap(), key);

        let entry = json!({"id": 5, "user_id": 3, "at_ms": 2, "kind": "reserve", "amount": -180,
            "balance_after": 820, "task_id": "vidgen_1_ab", "actor": "user:alice"});
        let e: LedgerEntry = serde_json::from_value(entry.clone()).unwrap();
        assert_eq!(e.amount, -180);
        assert_eq!(serde_json::to_value(&e).unwrap(), entry);
    }
}

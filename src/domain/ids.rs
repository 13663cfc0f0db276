//! Identifiers: account ids, task ids (`vidgen_<unix ms>_<8 hex>`), API keys and random
//! tokens.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Prefix of every customer API key.
pub const KEY_PREFIX: &str = "vga_";
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// An account's id: the key of its row and the number in `/admin/users/{user_id}`.
/// Stored and sent as the plain integer it replaced.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UserId(u64);

impl UserId {
    pub const fn new(id: u64) -> UserId {
        UserId(id)
    }

    /// The plain integer, for table keys and the wire.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for UserId {
    fn from(id: u64) -> UserId {
        UserId(id)
    }
}

impl From<UserId> for u64 {
    fn from(id: UserId) -> u64 {
        id.0
    }
}

impl PartialEq<u64> for UserId {
    fn eq(&self, other: &u64) -> bool {
        self.0 == *other
    }
}

impl PartialEq<UserId> for u64 {
    fn eq(&self, other: &UserId) -> bool {
        *self == other.0
    }
}

/// Lets a `UserId` look up tables and maps keyed by the plain integer (same `Eq`, `Ord`
/// and `Hash`).
impl std::borrow::Borrow<u64> for UserId {
    fn borrow(&self) -> &u64 {
        &self.0
    }
}

/// A task's id, `vidgen_<unix ms>_<8 hex>`: the creation time first, so ids sort by age.
/// Stored and sent as the plain string. One from outside (a path, a cursor, a callback
/// URL) becomes a `TaskId` only through [`TaskId::parse`], which checks the shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// A new id for a task created at `now_ms`.
    pub fn new(now_ms: i64) -> TaskId {
        let suffix: u32 = rand::rng().random();
        TaskId(format!("vidgen_{now_ms}_{suffix:08x}"))
    }

    /// `s` as a task id when it has the shape; anything else cannot name a task.
    pub fn parse(s: &str) -> Option<TaskId> {
        is_task_id(s).then(|| TaskId(s.to_string()))
    }

    /// A task id from a request path. A malformed one names no task: 404, the same answer
    /// as for another account's task, so nothing can be probed with it.
    pub fn from_path(s: &str) -> Result<TaskId, crate::error::AppError> {
        TaskId::parse(s).ok_or_else(|| crate::error::AppError::not_found("task"))
    }

    /// A `before` page cursor: a task id from a previous page, or a 422 on `before`.
    pub fn cursor(s: Option<String>) -> Result<Option<TaskId>, crate::error::AppError> {
        s.map(|s| {
            TaskId::parse(&s).ok_or_else(|| {
                crate::error::AppError::invalid("before", "must be a task id from a previous page")
            })
        })
        .transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for TaskId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<TaskId> for String {
    fn from(id: TaskId) -> String {
        id.0
    }
}

impl PartialEq<str> for TaskId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for TaskId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<TaskId> for String {
    fn eq(&self, other: &TaskId) -> bool {
        *self == other.0
    }
}

/// Whether `s` has the task id shape; anything else cannot name a task.
pub fn is_task_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("vidgen_") else {
        return false;
    };
    let Some((ms, hex)) = rest.split_once('_') else {
        return false;
    };
    !ms.is_empty()
        && ms.len() <= 16
        && ms.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 8
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh API key: `vga_` and 32 alphanumerics (about 190 bits).
pub fn new_api_key() -> String {
    format!("{KEY_PREFIX}{}", random_alnum(32))
}

/// The part of a key that may be shown again after creation.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

/// Keys are checked on every request, so they are stored as SHA-256, not argon2:
/// they carry enough entropy that a fast hash is safe.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

pub fn random_alnum(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| KEY_ALPHABET[rng.random_range(0..KEY_ALPHABET.len())] as char)
        .collect()
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_have_the_documented_shape() {
        let id = TaskId::new(1_783_003_830_450);
        assert!(id.starts_with("vidgen_1783003830450_"));
        assert!(is_task_id(&id));
        assert!(is_task_id("vidgen_1783003830450_081f0558"));
        for bad in [
            "vidgen_1_081F0558",
            "vidgen__081f0558",
            "task_1_081f0558",
            "vidgen_12_081f055",
            "../etc",
        ] {
            assert!(!is_task_id(bad), "{bad}");
        }
    }

    #[test]
    fn user_ids_are_the_plain_integer_on_the_wire_and_on_disk() {
        let id = UserId::new(42);
        assert_eq!(serde_json::to_string(&id).unwrap(), "42");
        assert_eq!(serde_json::from_str::<UserId>("42").unwrap(), id);
        assert_eq!(id.to_string(), "42");
        // Maps keyed by the integer answer a `UserId` and the other way round.
        let names: std::collections::HashMap<UserId, &str> = [(id, "alice")].into();
        assert_eq!(names.get(&42u64), Some(&"alice"));
    }

    #[test]
    fn task_ids_from_outside_are_checked_and_the_plain_string_on_the_wire() {
        let id = TaskId::parse("vidgen_1783003830450_081f0558").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"vidgen_1783003830450_081f0558\""
        );
        assert_eq!(&*id, "vidgen_1783003830450_081f0558");
        assert!(TaskId::parse("../etc").is_none());
        assert_eq!(TaskId::from_path("nope").unwrap_err().status(), 404);
        let bad = TaskId::cursor(Some("nope".into())).unwrap_err();
        assert_eq!(
            (bad.status(), bad.param().as_deref()),
            (422, Some("before"))
        );
        assert_eq!(TaskId::cursor(None).unwrap(), None);
    }

    #[test]
    fn keys_have_prefix_and_stable_hash() {
        let k = new_api_key();
        assert!(k.starts_with("vga_") && k.len() == 36);
        assert_eq!(key_prefix(&k).len(), 10);
        assert_eq!(hash_key(&k), hash_key(&k));
        assert_ne!(hash_key(&k), hash_key(&new_api_key()));
    }
}

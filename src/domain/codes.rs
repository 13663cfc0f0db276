//! Redemption codes: how they look, how they are stored (hashed), and whether one may be
//! redeemed now.

use super::ids::UserId;
use crate::error::AppError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Crockford-like: no 0/O, 1/I/L, so codes read aloud or typed from paper survive.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Random characters per code: 20 of 31 symbols is ~99 bits, far beyond guessing at
/// any throttled rate.
pub const RANDOM_CHARS: usize = 20;
/// Most codes made in one request.
pub const MAX_BATCH: u32 = 1000;

/// A code as stored: the hash and the first characters only, never the code itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionCode {
    pub id: u64,
    /// SHA-256 of the normalised code.
    pub hash: String,
    /// The operator's prefix and the first random characters, for lists and support.
    pub hint: String,
    pub batch: String,
    pub credits: i64,
    pub max_uses: u32,
    pub uses: u32,
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub note: Option<String>,
    pub created_at_ms: i64,
    pub created_by: String,
}

/// One use of a code: who, when, and the ledger entry it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub code_id: u64,
    pub user_id: UserId,
    pub at_ms: i64,
    pub ledger_id: u64,
}

/// Where a code stands, for lists and filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStatus {
    Unused,
    /// Used at least once; still usable when `uses < max_uses`.
    PartlyUsed,
    Used,
    Expired,
    Disabled,
}

impl CodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Unused => "unused",
            CodeStatus::PartlyUsed => "partly_used",
            CodeStatus::Used => "used",
            CodeStatus::Expired => "expired",
            CodeStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<CodeStatus> {
        [
            CodeStatus::Unused,
            CodeStatus::PartlyUsed,
            CodeStatus::Used,
            CodeStatus::Expired,
            CodeStatus::Disabled,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

impl RedemptionCode {
    pub fn status(&self, now_ms: i64) -> CodeStatus {
        if self.disabled {
            CodeStatus::Disabled
        } else if self.uses >= self.max_uses {
            CodeStatus::Used
        } else if self.expires_at_ms.is_some_and(|e| now_ms >= e) {
            CodeStatus::Expired
        } else if self.uses > 0 {
            CodeStatus::PartlyUsed
        } else {
            CodeStatus::Unused
        }
    }

    /// Whether one more use is allowed now; the error names why not.
    pub fn check_redeemable(&self, now_ms: i64) -> Result<(), AppError> {
        match self.status(now_ms) {
            CodeStatus::Disabled => Err(AppError::CodeDisabled),
            CodeStatus::Used => Err(AppError::CodeUsedUp),
            CodeStatus::Expired => Err(AppError::CodeExpired),
            CodeStatus::Unused | CodeStatus::PartlyUsed => Ok(()),
        }
    }
}

/// A new code: `PREFIX-XXXXX-XXXXX-XXXXX-XXXXX` (the prefix only when given).
pub fn new_code(prefix: Option<&str>) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let body: Vec<String> = (0..RANDOM_CHARS / 5)
        .map(|_| {
            (0..5)
                .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                .collect()
        })
        .collect();
    match prefix {
        Some(p) => format!("{}-{}", p, body.join("-")),
        None => body.join("-"),
    }
}

/// An operator's prefix: 1-12 letters or digits, upper-cased.
pub fn check_prefix(prefix: &str) -> Result<String, AppError> {
    let p = prefix.trim().to_ascii_uppercase();
    if (1..=12).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(p)
    } else {
        Err(AppError::invalid(
            "prefix",
            "a prefix is 1-12 letters or digits",
        ))
    }
}

/// What a customer typed, reduced to what identifies the code: case, spaces and dashes
/// do not matter.
pub fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The stored hash of a code (of its normalised form).
pub fn hash_code(typed: &str) -> String {
    hex::encode(Sha256::digest(normalize(typed).as_bytes()))
}

/// Compare two stored hashes without leaking through timing where they differ.
pub fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// What may be shown of a code after creation.
pub fn hint(code: &str) -> String {
    let n = code.find('-').map(|i| i + 7).unwrap_or(6).min(code.len());
    format!("{}…", &code[..n])
}

/// Whether typed text can be a code at all (saves a lookup for junk).
pub fn is_code_shaped(typed: &str) -> bool {
    let n = normalize(typed);
    (RANDOM_CHARS..=RANDOM_CHARS + 12).contains(&n.len())
        && n.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_readable_and_typed_loosely() {
        let c = new_code(Some("SHOP"));
        assert!(c.starts_with("SHOP-"), "{c}");
        assert_eq!(normalize(&c).len(), 4 + RANDOM_CHARS);
        assert!(is_code_shaped(&c));
        let typed = format!("  {} ", c.to_lowercase().replace('-', " "));
        assert_eq!(hash_code(&typed), hash_code(&c));
        assert_ne!(hash_code(&new_code(None)), hash_code(&new_code(None)));
        assert!(hint(&c).starts_with("SHOP-"));
        assert!(!hint(&c).contains(&c[5..]));
        assert!(!is_code_shaped("abc"));
    }

    #[test]
    fn status_decides_in_a_fixed_order() {
        let mut c = RedemptionCode {
            id: 1,
            hash: String::new(),
            hint: String::new(),
            batch: "b".into(),
            credits: 10,
            max_uses: 2,
            uses: 0,
            expires_at_ms: Some(100),
            disabled: false,
            note: None,
            created_at_ms: 0,
            created_by: "admin:a".into(),
        };
        assert_eq!(c.status(0), CodeStatus::Unused);
        assert_eq!(c.status(100), CodeStatus::Expired);
        c.uses = 1;
        assert_eq!(c.status(0), CodeStatus::PartlyUsed);
        c.uses = 2;
        assert_eq!(c.check_redeemable(0), Err(AppError::CodeUsedUp));
        c.disabled = true;
        assert_eq!(c.check_redeemable(500), Err(AppError::CodeDisabled));
    }
}

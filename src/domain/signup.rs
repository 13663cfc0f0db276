//! Sign-up rules: who may register, what a password and an email address must be.

use super::ids::UserId;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Who may create an account from the login page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// Only operators create accounts (the default).
    #[default]
    Closed,
    /// Visitors with a valid invite code.
    Invite,
    /// Anyone.
    Open,
}

impl Registration {
    pub fn as_str(self) -> &'static str {
        match self {
            Registration::Closed => "closed",
            Registration::Invite => "invite",
            Registration::Open => "open",
        }
    }
}

impl std::str::FromStr for Registration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "closed" => Ok(Registration::Closed),
            "invite" => Ok(Registration::Invite),
            "open" => Ok(Registration::Open),
            other => Err(format!("`{other}` is not one of closed, invite, open")),
        }
    }
}

/// The sign-up settings in force (config defaults, overridden from the console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupSettings {
    pub registration: Registration,
    pub signup_credits: i64,
    #[serde(default)]
    pub pricing_group: Option<String>,
    #[serde(default)]
    pub email_verification: bool,
}

/// Shortest password a visitor may choose.
pub const MIN_PASSWORD: usize = 10;

/// The most common passwords (lower case), refused whatever their length.
const COMMON: &str = include_str!("common-passwords.txt");

/// A new password from a visitor: long enough, not a well-known one, not the user name.
pub fn check_new_password(username: &str, password: &str) -> Result<(), AppError> {
    let weak = |m: &str| AppError::WeakPassword {
        message: m.to_string(),
    };
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(weak("the password must be at least 10 characters"));
    }
    if password.len() > 256 {
        return Err(weak("the password must be at most 256 bytes"));
    }
    let lower = password.to_lowercase();
    if COMMON.lines().any(|c| c == lower) || lower.contains(&username.to_lowercase()) {
        return Err(weak(
            "this password is too easy to guess (a common password or the user name)",
        ));
    }
    if lower
        .chars()
        .all(|c| c == lower.chars().next().unwrap_or(' '))
    {
        return Err(weak("the password repeats one character"));
    }
    Ok(())
}

/// An email address, trimmed and lower-cased; a plain shape check (the emailed link
/// proves the rest).
pub fn normalize_email(email: &str) -> Result<String, AppError> {
    let e = email.trim().to_lowercase();
    let bad = || AppError::invalid("email", "not an email address like name@example.com");
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty() || domain.len() < 3 || !domain.contains('.') || domain.contains('@') {
        return Err(bad());
    }
    if domain.starts_with('.') || domain.ends_with('.') || e.contains(['<', '>', ',', ';']) {
        return Err(bad());
    }
    Ok(e)
}

/// A one-time token (email verification, password reset) as stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeToken {
    pub purpose: TokenPurpose,
    pub user_id: UserId,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

/// How long an emailed link works.
pub const VERIFY_TTL_MS: i64 = 48 * 3600 * 1000;
pub const RESET_TTL_MS: i64 = 3600 * 1000;

/// An operator's invite code as stored (under the code's hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: u64,
    /// The first characters, to recognise it in lists.
    pub prefix: String,
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
    /// Who signed up with it.
    #[serde(default)]
    pub used_by: Vec<u64>,
}

impl Invite {
    pub fn usable(&self, now_ms: i64) -> bool {
        !self.disabled && self.uses < self.max_uses && self.expires_at_ms.is_none_or(|e| now_ms < e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert!(check_new_password("alice", "short").is_err());
        assert!(check_new_password("alice", "password123").is_err());
        assert!(
            check_new_password("alice", "Password123").is_err(),
            "case-folded"
        );
        assert!(check_new_password("alice", "alice-is-great").is_err());
        assert!(check_new_password("alice", "aaaaaaaaaaaa").is_err());
        assert!(check_new_password("alice", "correct horse battery").is_ok());
    }

    #[test]
    fn emails_are_folded_and_shape_checked() {
        assert_eq!(
            normalize_email(" Bob@Example.COM ").unwrap(),
            "bob@example.com"
        );
        for bad in [
            "bob",
            "bob@",
            "@x.com",
            "bob@localhost",
            "a b@x.com",
            "a@b@c.com",
            "x<y>@a.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registration_modes_parse() {
        assert_eq!("invite".parse::<Registration>(), Ok(Registration::Invite));
        assert!("maybe".parse::<Registration>().is_err());
        assert_eq!(Registration::default(), Registration::Closed);
    }
}

//! Console sessions and the login throttle (pure: the clock is passed in).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A console login; stored under the SHA-256 of its token, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: u64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// How long a console login lasts (absolute, not sliding: no write per request).
pub const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// The name of the session cookie.
pub const COOKIE_NAME: &str = "videoapi_session";

/// A fresh session token: 32 random bytes, hex.
pub fn new_token() -> String {
    super::ids::random_hex(32)
}

/// What is stored for a token: a database leak does not yield usable cookies.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a cookie value can be a token at all (saves a database read for junk).
pub fn is_token_shaped(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Failed-login counter per key within a fixed window. Counting only failures means a
/// user who types the password right is never slowed down.
#[derive(Debug)]
pub struct Throttle {
    max_failures: u32,
    window_ms: i64,
    entries: HashMap<String, (u32, i64)>,
}

/// Entries kept before stale ones are swept, so a flood of names cannot grow memory forever.
const SWEEP_AT: usize = 10_000;

impl Throttle {
    pub fn new(max_failures: u32, window_ms: i64) -> Throttle {
        Throttle {
            max_failures,
            window_ms,
            entries: HashMap::new(),
        }
    }

    /// `Err(seconds to wait)` when `key` used up its failures in the current window.
    pub fn check(&self, key: &str, now_ms: i64) -> Result<(), u64> {
        match self.entries.get(key) {
            Some((fails, start))
                if *fails >= self.max_failures && now_ms - start < self.window_ms =>
            {
                let wait = self.window_ms - (now_ms - start);
                Err(((wait + 999) / 1000) as u64)
            }
            _ => Ok(()),
        }
    }

    pub fn fail(&mut self, key: &str, now_ms: i64) {
        if self.entries.len() >= SWEEP_AT {
            let window = self.window_ms;
            self.entries
                .retain(|_, (_, start)| now_ms - *start < window);
        }
        let entry = self.entries.entry(key.to_string()).or_insert((0, now_ms));
        if now_ms - entry.1 >= self.window_ms {
            *entry = (0, now_ms);
        }
        entry.0 += 1;
    }

    pub fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_blocks_after_max_failures_until_the_window_ends() {
        let mut t = Throttle::new(3, 60_000);
        for i in 0..3 {
            assert!(t.check("alice|1.2.3.4", i).is_ok());
            t.fail("alice|1.2.3.4", i);
        }
        assert_eq!(t.check("alice|1.2.3.4", 1_000), Err(59));
        assert!(t.check("bob|1.2.3.4", 1_000).is_ok());
        assert!(t.check("alice|1.2.3.4", 60_000).is_ok());
        t.fail("alice|1.2.3.4", 60_001);
        assert!(t.check("alice|1.2.3.4", 60_002).is_ok(), "a new window");
        t.clear("alice|1.2.3.4");
        assert!(t.check("alice|1.2.3.4", 60_003).is_ok());
    }

    #[test]
    fn tokens_are_hashed_and_shaped() {
        let t = new_token();
        assert!(is_token_shaped(&t));
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t).len(), 64);
        assert!(!is_token_shaped("vga_abc"));
    }
}

//! Console sessions and the login throttle (pure: the clock is passed in).

use super::ids::UserId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// A console login; stored under the SHA-256 of its token, never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user_id: UserId,
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

/// Sessions one account may hold; a new login beyond this ends the oldest one, so a
/// scripted login loop cannot grow the sessions table without bound.
pub const MAX_SESSIONS_PER_USER: usize = 20;

/// The wait imposed after `failures` consecutive failed logins for one name and address:
/// none for the first [`FREE_FAILURES`] (typos), then 1 s, 2 s, 4 s, ... capped at
/// [`MAX_DELAY_MS`]. A growing delay instead of a lock: the right password is never
/// refused for good, and guessing slows to about one try a minute.
pub fn delay_after(failures: u32) -> i64 {
    match failures.checked_sub(FREE_FAILURES) {
        None | Some(0) => 0,
        Some(n) => (FIRST_DELAY_MS << (n - 1).min(16)).min(MAX_DELAY_MS),
    }
}

pub const FREE_FAILURES: u32 = 3;

pub const FIRST_DELAY_MS: i64 = 1_000;
pub const MAX_DELAY_MS: i64 = 60_000;
/// Failures older than this are forgotten.
pub const FORGET_AFTER_MS: i64 = 15 * 60 * 1000;
/// A check that never reported back (its client went away) stops blocking after this.
const IN_FLIGHT_MS: i64 = 10_000;

#[derive(Debug, Clone, Default)]
struct Attempts {
    failures: u32,
    next_allowed_ms: i64,
    last_failure_ms: i64,
    in_flight_until_ms: i64,
}

/// Login attempts per key (user name and client address). One check at a time per key,
/// and after a failure the next one waits [`delay_after`]. Counting only failures means
/// a user who types the password right is never slowed down, and keying by address means
/// someone else's failures never delay a client at another address.
#[derive(Debug)]
pub struct LoginThrottle {
    entries: HashMap<String, Attempts>,
    max_entries: usize,
}

/// Seconds to put in `Retry-After` for a wait of `ms` (at least 1).
fn secs(ms: i64) -> u64 {
    ((ms.max(1) + 999) / 1000) as u64
}

impl LoginThrottle {
    pub fn new(max_entries: usize) -> LoginThrottle {
        LoginThrottle {
            entries: HashMap::new(),
            max_entries: max_entries.max(1),
        }
    }

    /// Start a check for `key`: `Err(seconds to wait)` while an earlier failure's delay
    /// runs or another check for the same key is in flight.
    pub fn begin(&mut self, key: &str, now_ms: i64) -> Result<(), u64> {
        if let Some(a) = self.entries.get_mut(key) {
            if a.in_flight_until_ms > now_ms {
                return Err(1);
            }
            if a.failures > 0 && now_ms - a.last_failure_ms >= FORGET_AFTER_MS {
                *a = Attempts::default();
            }
            if now_ms < a.next_allowed_ms {
                return Err(secs(a.next_allowed_ms - now_ms));
            }
            a.in_flight_until_ms = now_ms + IN_FLIGHT_MS;
            return Ok(());
        }
        if self.entries.len() >= self.max_entries {
            self.make_room(now_ms);
        }
        self.entries.insert(
            key.to_string(),
            Attempts {
                in_flight_until_ms: now_ms + IN_FLIGHT_MS,
                ..Attempts::default()
            },
        );
        Ok(())
    }

    /// The check failed: count it and set the next delay.
    pub fn failed(&mut self, key: &str, now_ms: i64) {
        let a = self.entries.entry(key.to_string()).or_default();
        a.failures = a.failures.saturating_add(1);
        a.last_failure_ms = now_ms;
        a.next_allowed_ms = now_ms + delay_after(a.failures);
        a.in_flight_until_ms = 0;
    }

    /// The password was right: forget the key's failures.
    pub fn succeeded(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// The check ended without a verdict (busy, storage error): nothing counted.
    pub fn abandoned(&mut self, key: &str) {
        if let Some(a) = self.entries.get_mut(key) {
            a.in_flight_until_ms = 0;
            if a.failures == 0 {
                self.entries.remove(key);
            }
        }
    }

    /// Keep memory bounded under a flood of made-up names: drop what no longer delays
    /// anyone, then the keys with the fewest failures (the long delays of a persistent
    /// guesser are the last to go).
    fn make_room(&mut self, now_ms: i64) {
        self.entries.retain(|_, a| {
            a.in_flight_until_ms > now_ms
                || (a.failures > 1 && now_ms - a.last_failure_ms < FORGET_AFTER_MS)
                || a.next_allowed_ms > now_ms
        });
        let target = self.max_entries * 3 / 4;
        while self.entries.len() > target {
            let Some(fewest) = self
                .entries
                .values()
                .filter(|a| a.in_flight_until_ms <= now_ms)
                .map(|a| a.failures)
                .min()
            else {
                break;
            };
            self.entries
                .retain(|_, a| a.in_flight_until_ms > now_ms || a.failures > fewest);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A token bucket: `capacity` runs at once, refilled by one every `refill_ms`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    fn full(capacity: f64, now_ms: i64) -> Bucket {
        Bucket {
            tokens: capacity,
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, capacity: f64, refill_ms: f64, now_ms: i64) {
        let gained = (now_ms - self.at_ms).max(0) as f64 / refill_ms;
        self.tokens = (self.tokens + gained).min(capacity);
        self.at_ms = now_ms;
    }
}

/// How many real (dummy) password checks unknown user names may cost, per client address
/// and for the whole server. Within the budget an unknown name is checked against a dummy
/// hash, so it takes exactly as long as a wrong password for a real account; beyond it the
/// caller waits the typical duration of a check instead, costing no CPU or memory.
#[derive(Debug)]
pub struct UnknownNameBudget {
    per_addr: (f64, f64),
    global_limits: (f64, f64),
    global: Bucket,
    addrs: HashMap<String, Bucket>,
    max_addrs: usize,
}

/// Per address: a burst of 10, then one every 6 s (10 a minute).
pub const UNKNOWN_PER_ADDR: (u32, i64) = (10, 6_000);
/// For the whole server: a burst of 30, then one a second.
pub const UNKNOWN_GLOBAL: (u32, i64) = (30, 1_000);

impl UnknownNameBudget {
    pub fn new(
        per_addr: (u32, i64),
        global: (u32, i64),
        max_addrs: usize,
        now_ms: i64,
    ) -> UnknownNameBudget {
        let g = (global.0 as f64, global.1.max(1) as f64);
        UnknownNameBudget {
            per_addr: (per_addr.0 as f64, per_addr.1.max(1) as f64),
            global_limits: g,
            global: Bucket::full(g.0, now_ms),
            addrs: HashMap::new(),
            max_addrs: max_addrs.max(1),
        }
    }

    /// Whether one more real check for an unknown name from `addr` fits the budget (and
    /// if so, spend it).
    pub fn take(&mut self, addr: &str, now_ms: i64) -> bool {
        let (gc, gr) = self.global_limits;
        self.global.refill(gc, gr, now_ms);
        let (ac, ar) = self.per_addr;
        if !self.addrs.contains_key(addr) && self.addrs.len() >= self.max_addrs {
            // Buckets that refilled are the same as absent ones.
            self.addrs.retain(|_, b| {
                b.refill(ac, ar, now_ms);
                b.tokens < ac
            });
            if self.addrs.len() >= self.max_addrs {
                // Still full: start over; the global bucket still bounds the work.
                self.addrs.clear();
            }
        }
        let bucket = self
            .addrs
            .entry(addr.to_string())
            .or_insert_with(|| Bucket::full(ac, now_ms));
        bucket.refill(ac, ar, now_ms);
        if bucket.tokens >= 1.0 && self.global.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            self.global.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_from_one_second_and_are_capped() {
        let d: Vec<i64> = (0..13).map(delay_after).collect();
        assert_eq!(
            d,
            [
                0, 0, 0, 0, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000
            ]
        );
        assert_eq!(delay_after(u32::MAX), MAX_DELAY_MS);
    }

    #[test]
    fn a_failure_delays_only_its_own_key_and_success_clears_it() {
        let mut t = LoginThrottle::new(100);
        let k = "alice|198.51.100.4";
        for _ in 0..FREE_FAILURES {
            t.begin(k, 0).unwrap();
            t.failed(k, 0);
        }
        assert_eq!(t.begin(k, 0), Ok(()));
        assert_eq!(t.begin(k, 1), Err(1), "one check at a time per key");
        t.failed(k, 10);
        assert_eq!(t.begin(k, 500), Err(1));
        assert_eq!(t.begin("alice|203.0.113.7", 500), Ok(()), "other address");
        assert_eq!(t.begin(k, 1_010), Ok(()), "the delay is over");
        t.failed(k, 1_010);
        assert_eq!(t.begin(k, 1_020), Err(2));
        assert_eq!(t.begin(k, 3_010), Ok(()));
        t.succeeded(k);
        assert_eq!(t.begin(k, 3_011), Ok(()), "never a lock");
    }

    #[test]
    fn old_failures_are_forgotten_and_abandoned_checks_do_not_count() {
        let mut t = LoginThrottle::new(100);
        let k = "bob|192.0.2.1";
        for i in 0..11 {
            let now = i * MAX_DELAY_MS;
            t.begin(k, now).unwrap();
            t.failed(k, now);
        }
        let last = 10 * MAX_DELAY_MS;
        assert_eq!(t.begin(k, last + 1_000), Err(59));
        assert_eq!(t.begin(k, last + FORGET_AFTER_MS), Ok(()));
        t.failed(k, last + FORGET_AFTER_MS);
        assert_eq!(
            t.begin(k, last + FORGET_AFTER_MS + 10),
            Ok(()),
            "counting anew"
        );
        t.begin("carol|-", 0).unwrap();
        t.abandoned("carol|-");
        assert_eq!(t.begin("carol|-", 1), Ok(()));
        // A check whose client vanished stops blocking after a while.
        assert_eq!(t.begin("carol|-", 2), Err(1));
        assert_eq!(t.begin("carol|-", 20_000), Ok(()));
    }

    #[test]
    fn a_flood_of_names_stays_bounded_and_keeps_the_worst_guesser() {
        let mut t = LoginThrottle::new(1_000);
        let g = "admin|203.0.113.66";
        let mut now = 0;
        for i in 0..8 {
            now = i * MAX_DELAY_MS;
            t.begin(g, now).unwrap();
            t.failed(g, now);
        }
        for i in 0..10_000 {
            let k = format!("name{i}|203.0.113.66");
            t.begin(&k, now).unwrap();
            t.failed(&k, now);
        }
        assert!(t.len() <= 1_000, "{}", t.len());
        assert_eq!(t.begin(g, now), Err(16), "the guesser's delay survived");
    }

    #[test]
    fn unknown_name_budget_is_per_address_and_global() {
        let mut b = UnknownNameBudget::new((2, 1_000), (3, 10_000), 100, 0);
        assert!(b.take("a", 0));
        assert!(b.take("a", 0));
        assert!(!b.take("a", 0), "address budget spent");
        assert!(b.take("b", 0));
        assert!(!b.take("c", 0), "global budget spent");
        assert!(
            !b.take("a", 1_000),
            "the address refilled, the server did not"
        );
        assert!(b.take("a", 11_000));
        let mut small = UnknownNameBudget::new((1, 1_000), (1_000, 1), 10, 0);
        for i in 0..100 {
            assert!(small.take(&format!("addr{i}"), 0));
        }
        assert!(small.addrs.len() <= 10);
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

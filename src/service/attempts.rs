//! Guess-shaped attempts (redeem codes, sign-ups, password-reset mails) go through the
//! login throttle: a few free, then a growing wait per account and per address.

use crate::clock::SharedClock;
use crate::domain::client_addr::rate_key;
use crate::domain::session::LoginThrottle;
use crate::error::{AppError, AppResult};
use std::net::IpAddr;
use std::sync::Mutex;

/// Keys the throttle remembers before it sheds the least-failed ones.
const MAX_KEYS: usize = 50_000;

pub struct Attempts {
    throttle: Mutex<LoginThrottle>,
    clock: SharedClock,
}

/// The throttle key of a client address (IPv6: its /64).
pub fn addr_key(what: &str, ip: Option<IpAddr>) -> String {
    format!(
        "{what}|addr|{}",
        ip.map(rate_key).unwrap_or_else(|| "-".into())
    )
}

impl Attempts {
    pub fn new(clock: SharedClock) -> Attempts {
        Attempts {
            throttle: Mutex::new(LoginThrottle::new(MAX_KEYS)),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LoginThrottle> {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// 429 `too_many_attempts` while any key is waiting out earlier failures. Unlike a
    /// login, several attempts may run at once (parallel redeems of one code must all get
    /// their own answer), so nothing is held in flight.
    pub fn check(&self, keys: &[String]) -> AppResult<()> {
        let now = self.clock.now_ms();
        let mut t = self.lock();
        for k in keys {
            match t.begin(k, now) {
                Ok(()) => t.abandoned(k),
                Err(retry_after_secs) => {
                    return Err(AppError::TooManyAttempts { retry_after_secs });
                }
            }
        }
        Ok(())
    }

    /// Count a failed (or, for sign-ups and mails, any) attempt against every key.
    pub fn count(&self, keys: &[String]) {
        let now = self.clock.now_ms();
        let mut t = self.lock();
        for k in keys {
            t.failed(k, now);
        }
    }
}

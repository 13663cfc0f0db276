//! Channel health from upstream errors only: consecutive failures open a short cool-down.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FAILS_BEFORE_COOLDOWN: u32 = 3;
const COOLDOWN: Duration = Duration::from_secs(30);
/// How far back the operator overview's "recent errors" of a channel reach.
pub const RECENT_WINDOW: Duration = Duration::from_secs(3600);
/// Most error times kept per channel (a storm must not grow memory).
const RECENT_MAX: usize = 1000;

#[derive(Default)]
pub struct Health {
    channels: Mutex<HashMap<String, Channel>>,
}

/// Errors in a row, the cool-down they opened, and the times of recent errors.
#[derive(Default)]
struct Channel {
    fails: u32,
    cool_until: Option<Instant>,
    recent: VecDeque<Instant>,
}

impl Channel {
    fn prune(&mut self, now: Instant) {
        let old = |t: &Instant| now.duration_since(*t) > RECENT_WINDOW;
        while self.recent.front().is_some_and(old) {
            self.recent.pop_front();
        }
    }
}

/// A channel's health as the operator overview shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub healthy: bool,
    /// Upstream errors in a row (a success resets it).
    pub consecutive_errors: u32,
    /// Upstream errors within [`RECENT_WINDOW`] (successes do not reset it).
    pub recent_errors: u32,
}

impl Health {
    pub fn is_healthy(&self, provider: &str) -> bool {
        self.snapshot(provider).healthy
    }

    pub fn record_ok(&self, provider: &str) {
        if let Some(c) = self.channels.lock().expect("health lock").get_mut(provider) {
            (c.fails, c.cool_until) = (0, None);
        }
    }

    pub fn record_error(&self, provider: &str) {
        let now = Instant::now();
        let mut map = self.channels.lock().expect("health lock");
        let c = map.entry(provider.to_string()).or_default();
        c.fails += 1;
        if c.fails >= FAILS_BEFORE_COOLDOWN {
            c.cool_until = Some(now + COOLDOWN);
        }
        c.prune(now);
        if c.recent.len() >= RECENT_MAX {
            c.recent.pop_front();
        }
        c.recent.push_back(now);
    }

    pub fn snapshot(&self, provider: &str) -> Snapshot {
        let now = Instant::now();
        let mut map = self.channels.lock().expect("health lock");
        let c = map.entry(provider.to_string()).or_default();
        c.prune(now);
        Snapshot {
            healthy: c.cool_until.is_none_or(|until| now >= until),
            consecutive_errors: c.fails,
            recent_errors: c.recent.len() as u32,
        }
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;

    #[test]
    fn three_errors_cool_a_channel_down_and_success_heals_it() {
        let h = Health::default();
        for _ in 0..2 {
            h.record_error("a");
        }
        assert!(h.is_healthy("a"));
        h.record_error("a");
        assert!(!h.is_healthy("a"));
        h.record_ok("a");
        assert!(h.is_healthy("a"));
    }

    #[test]
    fn a_snapshot_counts_recent_errors_across_a_success() {
        let h = Health::default();
        assert_eq!(h.snapshot("a"), Snapshot { healthy: true, consecutive_errors: 0, recent_errors: 0 });
        for _ in 0..3 {
            h.record_error("a");
        }
        let s = h.snapshot("a");
        assert!(!s.healthy);
        assert_eq!((s.consecutive_errors, s.recent_errors), (3, 3));
        h.record_ok("a");
        h.record_error("a");
        let s = h.snapshot("a");
        assert!(s.healthy);
        assert_eq!((s.consecutive_errors, s.recent_errors), (1, 4));
    }
}

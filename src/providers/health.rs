//! Channel health from upstream errors only: consecutive failures open a short cool-down.

use std::collections::HashMap;
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
    state: Mutex<HashMap<String, (u32, Option<Instant>)>>,
    recent: Mutex<HashMap<String, std::collections::VecDeque<Instant>>>,
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
        let map = self.state.lock().expect("health lock");
        match map.get(provider) {
            Some((_, Some(until))) => Instant::now() >= *until,
            _ => true,
        }
    }

    pub fn record_ok(&self, provider: &str) {
        self.state.lock().expect("health lock").remove(provider);
    }

    pub fn record_error(&self, provider: &str) {
        let mut map = self.state.lock().expect("health lock");
        let entry = map.entry(provider.to_string()).or_insert((0, None));
        entry.0 += 1;
        if entry.0 >= FAILS_BEFORE_COOLDOWN {
            entry.1 = Some(Instant::now() + COOLDOWN);
        }
        drop(map);
        let now = Instant::now();
        let mut recent = self.recent.lock().expect("health lock");
        let times = recent.entry(provider.to_string()).or_default();
        prune(times, now);
        if times.len() >= RECENT_MAX {
            times.pop_front();
        }
        times.push_back(now);
    }

    pub fn snapshot(&self, provider: &str) -> Snapshot {
        let consecutive_errors = self
            .state
            .lock()
            .expect("health lock")
            .get(provider)
            .map_or(0, |e| e.0);
        let mut recent = self.recent.lock().expect("health lock");
        let recent_errors = recent.get_mut(provider).map_or(0, |times| {
            prune(times, Instant::now());
            times.len() as u32
        });
        Snapshot {
            healthy: self.is_healthy(provider),
            consecutive_errors,
            recent_errors,
        }
    }
}

fn prune(times: &mut std::collections::VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) > RECENT_WINDOW)
    {
        times.pop_front();
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

//! Channel health from upstream errors only: consecutive failures open a short cool-down.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const FAILS_BEFORE_COOLDOWN: u32 = 3;
const COOLDOWN: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Health {
    state: Mutex<HashMap<String, (u32, Option<Instant>)>>,
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
    }
}

#[cfg(test)]
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
}

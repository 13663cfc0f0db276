//! Per-channel pacing: at most `max_concurrency` calls in flight, at most
//! `requests_per_second` started, and a pause after the channel answered 429 with
//! `Retry-After`. The engine asks for a slot and, when none is free, reschedules the task
//! instead of waiting while holding a worker.

use crate::domain::catalog::ProviderConfig;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

const DEFAULT_CONCURRENCY: u32 = 16;
/// How soon a task asks again when every slot is busy.
const BUSY_RETRY: Duration = Duration::from_millis(250);
/// The longest gap a tiny `requests_per_second` makes: a slower rate is a typo, and an
/// unbounded gap would overflow the clock.
const MAX_GAP: Duration = Duration::from_secs(3600);

pub struct Limiter {
    /// (max_concurrency, requests_per_second) as configured, to spot a changed setting.
    pub params: (u32, Option<f64>),
    slots: Arc<Semaphore>,
    /// Minimum gap between two calls; zero = unlimited.
    gap: Duration,
    state: Mutex<State>,
}

struct State {
    next_free: Instant,
    paused_until: Option<Instant>,
}

impl State {
    /// How long the pause or the rate gap still holds calls back (`None`: not at all).
    fn wait(&mut self, now: Instant) -> Option<Duration> {
        match self.paused_until {
            Some(until) if until > now => Some(until - now),
            _ => {
                self.paused_until = None;
                (self.next_free > now).then(|| self.next_free - now)
            }
        }
    }
}

/// Holds a channel slot for one upstream call.
pub struct Slot(OwnedSemaphorePermit);

impl Slot {
    /// Whether this slot was taken from `limiter`.
    pub fn is_for(&self, limiter: &Limiter) -> bool {
        Arc::ptr_eq(self.0.semaphore(), &limiter.slots)
    }
}

impl Limiter {
    pub fn new(max_concurrency: u32, requests_per_second: Option<f64>) -> Limiter {
        let rate = requests_per_second.filter(|r| r.is_finite() && *r > 0.0);
        let gap = rate.map_or(Duration::ZERO, |r| {
            Duration::try_from_secs_f64(1.0 / r).map_or(MAX_GAP, |g| g.min(MAX_GAP))
        });
        Limiter {
            params: (max_concurrency, requests_per_second),
            slots: Arc::new(Semaphore::new(max_concurrency.max(1) as usize)),
            gap,
            state: Mutex::new(State {
                next_free: Instant::now(),
                paused_until: None,
            }),
        }
    }

    /// From channel settings `max_concurrency` and `requests_per_second`.
    pub fn from_config(cfg: &ProviderConfig) -> Limiter {
        let s = &cfg.settings;
        let conc = s.get("max_concurrency").and_then(serde_json::Value::as_u64);
        let conc = conc.map_or(DEFAULT_CONCURRENCY, |v| v.clamp(1, 1024) as u32);
        Limiter::new(conc, s.get("requests_per_second").and_then(|v| v.as_f64()))
    }

    /// A slot now, or how long to wait before asking again.
    pub fn try_acquire(&self) -> Result<Slot, Duration> {
        let now = Instant::now();
        let mut st = self.state.lock().expect("limiter lock");
        if let Some(wait) = st.wait(now) {
            return Err(wait);
        }
        let permit = self.slots.clone().try_acquire_owned();
        Ok(self.take(&mut st, now, permit.map_err(|_| BUSY_RETRY)?))
    }

    fn take(&self, st: &mut State, now: Instant, permit: OwnedSemaphorePermit) -> Slot {
        st.next_free = now + self.gap;
        Slot(permit)
    }

    /// Wait until a call may be made (pause, rate gap and a free slot), without
    /// polling: the wait for a slot is the semaphore's own FIFO queue.
    pub async fn acquire(&self) -> Slot {
        loop {
            let now = Instant::now();
            let wait = self.state.lock().expect("limiter lock").wait(now);
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
                continue;
            }
            let permit = self.slots.clone().acquire_owned().await;
            let permit = permit.expect("the semaphore is never closed");
            let now = Instant::now();
            let mut st = self.state.lock().expect("limiter lock");
            if st.wait(now).is_none() {
                return self.take(&mut st, now, permit);
            }
        }
    }

    /// The channel asked us to slow down: no call starts before `after` has passed.
    pub fn pause(&self, after: Duration) {
        let until = Instant::now() + after;
        let mut st = self.state.lock().expect("limiter lock");
        if st.paused_until.is_none_or(|u| u < until) {
            st.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrency_rate_and_pause_are_enforced() {
        let l = Limiter::new(1, None);
        let a = l.try_acquire().unwrap();
        assert!(l.try_acquire().is_err(), "one slot only");
        drop(a);
        assert!(l.try_acquire().is_ok());

        let l = Limiter::new(8, Some(10.0));
        let _a = l.try_acquire().unwrap();
        let wait = l.try_acquire().err().expect("paced");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);

        for tiny in [1e-300, f64::MIN_POSITIVE, 1e-9] {
            let l = Limiter::new(8, Some(tiny));
            let _a = l.try_acquire().unwrap();
            let wait = l.try_acquire().err().expect("paced");
            assert!(
                wait <= MAX_GAP && wait > MAX_GAP - Duration::from_secs(1),
                "capped"
            );
        }

        let l = Limiter::new(8, None);
        l.pause(Duration::from_secs(5));
        let wait = l.try_acquire().err().expect("paused");
        assert!(wait > Duration::from_secs(4));
    }
}

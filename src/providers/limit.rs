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

/// Holds a channel slot for one upstream call.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    slots: Arc<Semaphore>,
}

impl Slot {
    /// Whether this slot was taken from `limiter`.
    pub fn is_for(&self, limiter: &Limiter) -> bool {
        Arc::ptr_eq(&self.slots, &limiter.slots)
    }
}

impl Limiter {
    pub fn new(max_concurrency: u32, requests_per_second: Option<f64>) -> Limiter {
        let gap = requests_per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r))
            .unwrap_or(Duration::ZERO);
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
        let conc = s
            .get("max_concurrency")
            .and_then(serde_json::Value::as_u64)
            .map(|v| v.clamp(1, 1024) as u32)
            .unwrap_or(DEFAULT_CONCURRENCY);
        let rps = s
            .get("requests_per_second")
            .and_then(serde_json::Value::as_f64);
        Limiter::new(conc, rps)
    }

    /// A slot now, or how long to wait before asking again.
    pub fn try_acquire(&self) -> Result<Slot, Duration> {
        let now = Instant::now();
        let mut st = self.state.lock().expect("limiter lock");
        if let Some(until) = st.paused_until {
            if until > now {
                return Err(until - now);
            }
            st.paused_until = None;
        }
        if st.next_free > now {
            return Err(st.next_free - now);
        }
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| BUSY_RETRY)?;
        st.next_free = now + self.gap;
        Ok(Slot {
            _permit: permit,
            slots: self.slots.clone(),
        })
    }

    /// The channel asked us to slow down: no call starts before `after` has passed.
    /// Wait until a call may be made (pause, rate gap and a free slot), without
    /// polling: the wait for a slot is the semaphore's own FIFO queue.
    pub async fn acquire(&self) -> Slot {
        loop {
            let wait = {
                let now = Instant::now();
                let mut st = self.state.lock().expect("limiter lock");
                match st.paused_until {
                    Some(until) if until > now => Some(until - now),
                    _ => {
                        st.paused_until = None;
                        (st.next_free > now).then(|| st.next_free - now)
                    }
                }
            };
            if let Some(w) = wait {
                tokio::time::sleep(w).await;
                continue;
            }
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                // The semaphore is never closed; fall back to a short pause if it were.
                tokio::time::sleep(BUSY_RETRY).await;
                continue;
            };
            let now = Instant::now();
            let mut st = self.state.lock().expect("limiter lock");
            if st.next_free > now || st.paused_until.is_some_and(|u| u > now) {
                continue;
            }
            st.next_free = now + self.gap;
            return Slot {
                _permit: permit,
                slots: self.slots.clone(),
            };
        }
    }

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

        let l = Limiter::new(8, None);
        l.pause(Duration::from_secs(5));
        let wait = l.try_acquire().err().expect("paused");
        assert!(wait > Duration::from_secs(4));
    }
}

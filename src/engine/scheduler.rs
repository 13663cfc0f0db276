//! The engine's timer book: one compact entry per unfinished task (when it is due, or that
//! a worker has it, or that it waits for a channel slot), never a future per task.
//!
//! A timer is due when either clock says so: the injectable clock (tests move it to fire
//! deadlines and polls at once) or real time since start (so a test that stops the clock
//! for other reasons still sees its tasks progress). With the system clock both agree.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

/// A task id shared by the heap and the index (one allocation per task).
pub type TaskKey = Arc<str>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Waiting in the heaps; `seq` tells the live heap entries from stale ones.
    Timer { due: Due, seq: u64 },
    /// A worker is stepping it; `again_at` asks for a step no later than that once done
    /// (a completion callback that arrived meanwhile).
    Running { again_at: Option<Due> },
    /// Waiting for a free slot on its channel (see the engine's parking).
    Parked,
}

/// Per task: its entry and its consecutive failures (for backoff; a restart forgives them).
#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: Entry,
    failures: u8,
}

/// When a task is due: on the injectable clock and in real milliseconds since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub clock: i64,
    pub real: i64,
}

impl Due {
    fn min(self, other: Due) -> Due {
        Due {
            clock: self.clock.min(other.clock),
            real: self.real.min(other.real),
        }
    }

    fn not_after(self, other: Due) -> bool {
        self.clock <= other.clock && self.real <= other.real
    }
}

#[derive(Default)]
pub struct Scheduler {
    heap: BinaryHeap<Reverse<(i64, u64, TaskKey)>>,
    real_heap: BinaryHeap<Reverse<(i64, u64, TaskKey)>>,
    tasks: HashMap<TaskKey, Slot>,
    seq: u64,
    /// Tasks a worker is stepping now.
    running: usize,
}

impl Scheduler {
    /// Have `id` stepped no later than `due`. A task already due earlier keeps its time;
    /// one being worked on is stepped again by then. True when the time moved.
    pub fn schedule(&mut self, id: &str, due: Due) -> bool {
        let (key, failures) = match self.tasks.get_key_value(id) {
            Some((key, slot)) => {
                let key = key.clone();
                let mut slot = *slot;
                match &mut slot.entry {
                    Entry::Timer { due: d, .. } if d.not_after(due) => return false,
                    Entry::Timer { due: d, .. } => {
                        let due = d.min(due);
                        self.push(&key, due, slot.failures);
                        return true;
                    }
                    Entry::Running { again_at } => {
                        if again_at.is_some_and(|a| a.not_after(due)) {
                            return false;
                        }
                        *again_at = Some(again_at.map_or(due, |a| a.min(due)));
                    }
                    Entry::Parked => return false,
                }
                self.tasks.insert(key, slot);
                return true;
            }
            None => (Arc::from(id), 0),
        };
        self.push(&key, due, failures);
        true
    }

    fn push(&mut self, key: &TaskKey, due: Due, failures: u8) {
        self.seq += 1;
        self.heap.push(Reverse((due.clock, self.seq, key.clone())));
        self.real_heap
            .push(Reverse((due.real, self.seq, key.clone())));
        self.tasks.insert(
            key.clone(),
            Slot {
                entry: Entry::Timer { due, seq: self.seq },
                failures,
            },
        );
    }

    /// The earliest real due time (ms since start), skipping stale entries.
    pub fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, seq, key))) = self.real_heap.peek() {
            if self.is_live(key, *seq) {
                return Some(*due);
            }
            self.real_heap.pop();
        }
        None
    }

    fn is_live(&self, key: &str, seq: u64) -> bool {
        matches!(self.tasks.get(key), Some(Slot { entry: Entry::Timer { seq: s, .. }, .. }) if *s == seq)
    }

    /// Take one task due at `now` (either clock) for a worker; it stays known (as running).
    pub fn pop_due(&mut self, now: Due) -> Option<TaskKey> {
        let key = Self::pop_from(&mut self.heap, &self.tasks, now.clock)
            .or_else(|| Self::pop_from(&mut self.real_heap, &self.tasks, now.real))?;
        if let Some(slot) = self.tasks.get_mut(&key) {
            slot.entry = Entry::Running { again_at: None };
            self.running += 1;
        }
        Some(key)
    }

    fn pop_from(
        heap: &mut BinaryHeap<Reverse<(i64, u64, TaskKey)>>,
        tasks: &HashMap<TaskKey, Slot>,
        now: i64,
    ) -> Option<TaskKey> {
        loop {
            let Reverse((due, seq, key)) = heap.peek()?;
            let live = matches!(tasks.get(key), Some(Slot { entry: Entry::Timer { seq: s, .. }, .. }) if s == seq);
            if !live {
                heap.pop();
                continue;
            }
            if *due > now {
                return None;
            }
            let Reverse((_, _, key)) = heap.pop()?;
            return Some(key);
        }
    }

    /// A worker finished a step: `next` is when to step again (`None`: the task needs
    /// nothing more and is forgotten); `failed` counts towards the task's backoff.
    pub fn finish(&mut self, id: &TaskKey, next: Option<Due>) {
        let Some(slot) = self.tasks.get(id).copied() else {
            return;
        };
        let again_at = match slot.entry {
            Entry::Running { again_at } => {
                self.running = self.running.saturating_sub(1);
                again_at
            }
            _ => None,
        };
        let due = match (next, again_at) {
            (None, _) => {
                self.tasks.remove(id);
                return;
            }
            (Some(n), Some(a)) => n.min(a),
            (Some(n), None) => n,
        };
        self.push(id, due, slot.failures);
    }

    /// A running task waits for its channel: no timer until it is handed a slot.
    pub fn park(&mut self, id: &TaskKey) {
        if let Some(slot) = self.tasks.get_mut(id) {
            if matches!(slot.entry, Entry::Running { .. }) {
                self.running = self.running.saturating_sub(1);
            }
            slot.entry = Entry::Parked;
        }
    }

    /// A parked task got its slot and goes to a worker.
    pub fn unpark(&mut self, id: &TaskKey) {
        if let Some(slot) = self.tasks.get_mut(id)
            && slot.entry == Entry::Parked
        {
            slot.entry = Entry::Running { again_at: None };
            self.running += 1;
        }
    }

    /// One more consecutive failure; returns the new count.
    pub fn failed(&mut self, id: &str) -> u8 {
        match self.tasks.get_mut(id) {
            Some(slot) => {
                slot.failures = slot.failures.saturating_add(1);
                slot.failures
            }
            None => 1,
        }
    }

    pub fn succeeded(&mut self, id: &str) {
        if let Some(slot) = self.tasks.get_mut(id) {
            slot.failures = 0;
        }
    }

    /// Steps running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Unfinished tasks known (timers, running and parked).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Due {
        Due {
            clock: ms,
            real: ms,
        }
    }

    #[test]
    fn due_tasks_come_out_in_time_order_once() {
        let mut s = Scheduler::default();
        s.schedule("b", at(20));
        s.schedule("a", at(10));
        s.schedule("c", at(30));
        assert_eq!(s.next_due(), Some(10));
        assert_eq!(s.pop_due(at(25)).as_deref(), Some("a"));
        assert_eq!(s.pop_due(at(25)).as_deref(), Some("b"));
        assert_eq!(s.pop_due(at(25)), None);
        assert_eq!(s.len(), 3);
        assert_eq!(s.running(), 2);
        // A running task is not handed out twice.
        s.schedule("a", at(0));
        assert_eq!(s.pop_due(at(25)), None);
    }

    #[test]
    fn an_earlier_time_wins_and_the_old_entry_goes_stale() {
        let mut s = Scheduler::default();
        s.schedule("a", at(100));
        assert!(!s.schedule("a", at(200)), "a later time does not delay it");
        assert!(s.schedule("a", at(5)));
        assert_eq!(s.pop_due(at(5)).as_deref(), Some("a"));
        let a: TaskKey = Arc::from("a");
        s.finish(&a, None);
        assert_eq!(s.pop_due(at(1_000)), None, "the stale 100 entry is skipped");
        assert!(s.is_empty());
    }

    #[test]
    fn a_wake_while_running_steps_again_at_once() {
        let mut s = Scheduler::default();
        s.schedule("a", at(0));
        let a = s.pop_due(at(0)).unwrap();
        assert!(
            s.schedule("a", at(7)),
            "a callback while it is being stepped"
        );
        s.finish(&a, Some(at(5_000)));
        assert_eq!(s.next_due(), Some(7));
    }

    #[test]
    fn parked_tasks_have_no_timer_until_unparked() {
        let mut s = Scheduler::default();
        s.schedule("a", at(0));
        let a = s.pop_due(at(0)).unwrap();
        s.park(&a);
        assert!(!s.schedule("a", at(0)));
        assert_eq!(s.next_due(), None);
        assert_eq!(s.running(), 0);
        s.unpark(&a);
        assert_eq!(s.running(), 1);
        s.finish(&a, Some(at(3)));
        assert_eq!(s.running(), 0);
        assert_eq!(s.pop_due(at(3)).as_deref(), Some("a"));
    }

    #[test]
    fn failures_count_up_and_reset() {
        let mut s = Scheduler::default();
        s.schedule("a", at(0));
        assert_eq!(s.failed("a"), 1);
        assert_eq!(s.failed("a"), 2);
        s.succeeded("a");
        assert_eq!(s.failed("a"), 1);
    }

    #[test]
    fn either_clock_makes_a_timer_due() {
        let mut s = Scheduler::default();
        s.schedule(
            "a",
            Due {
                clock: 100,
                real: 5_000,
            },
        );
        s.schedule(
            "b",
            Due {
                clock: 9_000,
                real: 200,
            },
        );
        assert_eq!(s.pop_due(Due { clock: 0, real: 0 }), None);
        assert_eq!(s.next_due(), Some(200));
        assert_eq!(
            s.pop_due(Due {
                clock: 150,
                real: 0
            })
            .as_deref(),
            Some("a")
        );
        assert_eq!(
            s.pop_due(Due {
                clock: 150,
                real: 250
            })
            .as_deref(),
            Some("b")
        );
        assert_eq!(s.next_due(), None, "the other heap's entries went stale");
    }
}

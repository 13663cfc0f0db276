//! The engine's timer book: one compact entry per unfinished task (when it is due, or that
//! a worker has it, or that it waits for a channel slot), never a future per task.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

/// A task id shared by the heap and the index (one allocation per task).
pub type TaskKey = Arc<str>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Waiting in the heap; `seq` tells the live heap entry from stale ones.
    Timer { due: i64, seq: u64 },
    /// A worker is stepping it; `again_at` asks for a step no later than that once done
    /// (a completion callback that arrived meanwhile).
    Running { again_at: Option<i64> },
    /// Waiting for a free slot on its channel (see the engine's parking).
    Parked,
}

/// Per task: its entry and its consecutive failures (for backoff; a restart forgives them).
#[derive(Debug, Clone, Copy)]
struct Slot {
    entry: Entry,
    failures: u8,
}

#[derive(Default)]
pub struct Scheduler {
    heap: BinaryHeap<Reverse<(i64, u64, TaskKey)>>,
    tasks: HashMap<TaskKey, Slot>,
    seq: u64,
    /// Tasks a worker is stepping now.
    running: usize,
}

impl Scheduler {
    /// Have `id` stepped no later than `due` (ms). A task already due earlier keeps its
    /// time; one being worked on is stepped again by then. True when the time moved.
    pub fn schedule(&mut self, id: &str, due: i64) -> bool {
        if let Some((key, slot)) = self.tasks.get_key_value(id) {
            let key = key.clone();
            let mut slot = *slot;
            match &mut slot.entry {
                Entry::Timer { due: d, .. } if *d <= due => return false,
                Entry::Timer { .. } => {
                    self.seq += 1;
                    slot.entry = Entry::Timer { due, seq: self.seq };
                    self.heap.push(Reverse((due, self.seq, key.clone())));
                }
                Entry::Running { again_at } => {
                    if again_at.is_some_and(|a| a <= due) {
                        return false;
                    }
                    *again_at = Some(due);
                }
                Entry::Parked => return false,
            }
            self.tasks.insert(key, slot);
            return true;
        }
        let key: TaskKey = Arc::from(id);
        self.seq += 1;
        self.heap.push(Reverse((due, self.seq, key.clone())));
        self.tasks.insert(
            key,
            Slot {
                entry: Entry::Timer { due, seq: self.seq },
                failures: 0,
            },
        );
        true
    }

    /// The earliest due time, skipping stale heap entries.
    pub fn next_due(&mut self) -> Option<i64> {
        while let Some(Reverse((due, seq, key))) = self.heap.peek() {
            if self.is_live(key, *seq) {
                return Some(*due);
            }
            self.heap.pop();
        }
        None
    }

    fn is_live(&self, key: &str, seq: u64) -> bool {
        matches!(self.tasks.get(key), Some(Slot { entry: Entry::Timer { seq: s, .. }, .. }) if *s == seq)
    }

    /// Take one task due at `now` for a worker; it stays known (as running).
    pub fn pop_due(&mut self, now: i64) -> Option<TaskKey> {
        loop {
            let Reverse((due, seq, key)) = self.heap.peek()?.clone();
            if !self.is_live(&key, seq) {
                self.heap.pop();
                continue;
            }
            if due > now {
                return None;
            }
            self.heap.pop();
            if let Some(slot) = self.tasks.get_mut(&key) {
                slot.entry = Entry::Running { again_at: None };
                self.running += 1;
            }
            return Some(key);
        }
    }

    /// A worker finished a step: `next` is when to step again (`None`: the task needs
    /// nothing more and is forgotten); `failed` counts towards the task's backoff.
    pub fn finish(&mut self, id: &TaskKey, next: Option<i64>) {
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
        self.seq += 1;
        self.heap.push(Reverse((due, self.seq, id.clone())));
        self.tasks.insert(
            id.clone(),
            Slot {
                entry: Entry::Timer { due, seq: self.seq },
                failures: slot.failures,
            },
        );
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

    #[test]
    fn due_tasks_come_out_in_time_order_once() {
        let mut s = Scheduler::default();
        s.schedule("b", 20);
        s.schedule("a", 10);
        s.schedule("c", 30);
        assert_eq!(s.next_due(), Some(10));
        assert_eq!(s.pop_due(25).as_deref(), Some("a"));
        assert_eq!(s.pop_due(25).as_deref(), Some("b"));
        assert_eq!(s.pop_due(25), None);
        assert_eq!(s.len(), 3);
        assert_eq!(s.running(), 2);
        // A running task is not handed out twice.
        s.schedule("a", 0);
        assert_eq!(s.pop_due(25), None);
    }

    #[test]
    fn an_earlier_time_wins_and_the_old_entry_goes_stale() {
        let mut s = Scheduler::default();
        s.schedule("a", 100);
        assert!(!s.schedule("a", 200), "a later time does not delay it");
        assert!(s.schedule("a", 5));
        assert_eq!(s.pop_due(5).as_deref(), Some("a"));
        let a: TaskKey = Arc::from("a");
        s.finish(&a, None);
        assert_eq!(s.pop_due(1_000), None, "the stale 100 entry is skipped");
        assert!(s.is_empty());
    }

    #[test]
    fn a_wake_while_running_steps_again_at_once() {
        let mut s = Scheduler::default();
        s.schedule("a", 0);
        let a = s.pop_due(0).unwrap();
        assert!(s.schedule("a", 7), "a callback while it is being stepped");
        s.finish(&a, Some(5_000));
        assert_eq!(s.next_due(), Some(7));
    }

    #[test]
    fn parked_tasks_have_no_timer_until_unparked() {
        let mut s = Scheduler::default();
        s.schedule("a", 0);
        let a = s.pop_due(0).unwrap();
        s.park(&a);
        assert!(!s.schedule("a", 0));
        assert_eq!(s.next_due(), None);
        assert_eq!(s.running(), 0);
        s.unpark(&a);
        assert_eq!(s.running(), 1);
        s.finish(&a, Some(3));
        assert_eq!(s.running(), 0);
        assert_eq!(s.pop_due(3).as_deref(), Some("a"));
    }

    #[test]
    fn failures_count_up_and_reset() {
        let mut s = Scheduler::default();
        s.schedule("a", 0);
        assert_eq!(s.failed("a"), 1);
        assert_eq!(s.failed("a"), 2);
        s.succeeded("a");
        assert_eq!(s.failed("a"), 1);
    }
}

//! The operator's margin: what tasks were charged against what their channels cost,
//! summed per model, per channel and per customer.

use super::ids::UserId;
use super::task::{Status, Task};
use std::collections::BTreeMap;

/// Sums over a set of tasks. `margin` counts only tasks whose upstream cost is known
/// (`costed`), so an unrecorded cost never shows as pure profit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub tasks: u64,
    pub charged: i64,
    pub costed: u64,
    pub upstream_cost: i64,
    pub margin: i64,
}

impl Totals {
    /// Add one task. What a task was charged: its settlement, 0 when failed and refunded,
    /// else (settled before settlement existed) its reservation; tasks still running are
    /// not counted.
    pub fn add(&mut self, t: &Task) {
        let charged = match (t.credits_charged, t.status) {
            (Some(c), _) => c.get(),
            (None, Status::Failed) => 0,
            (None, Status::Completed) => t.credits_reserved.get(),
            _ => return,
        };
        self.tasks += 1;
        self.charged = self.charged.saturating_add(charged);
        if let Some(cost) = t.settlement.as_ref().and_then(|s| s.upstream_cost) {
            self.costed += 1;
            self.upstream_cost = self.upstream_cost.saturating_add(cost);
            self.margin = self.margin.saturating_add(charged.saturating_sub(cost));
        }
    }
}

/// Totals overall and per model, per channel (`-` when never sent) and per customer id.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub all: Totals,
    pub by_model: BTreeMap<String, Totals>,
    pub by_channel: BTreeMap<String, Totals>,
    pub by_user: BTreeMap<UserId, Totals>,
}

impl Report {
    pub fn add(&mut self, t: &Task) {
        if !t.status.is_terminal() {
            return;
        }
        self.all.add(t);
        self.by_model.entry(t.model.clone()).or_default().add(t);
        let channel = t.provider.clone().unwrap_or_else(|| "-".into());
        self.by_channel.entry(channel).or_default().add(t);
        self.by_user.entry(t.user_id).or_default().add(t);
    }
}

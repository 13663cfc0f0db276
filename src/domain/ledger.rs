//! Ledger entries: append-only, each with the balance it left behind.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Credits held for a new task.
    Reserve,
    /// Credits returned for a failed or cancelled task.
    Refund,
    /// Operator top-up.
    TopUp,
    /// Operator correction (either sign).
    Adjust,
    /// What a completed task did not use returned: reservation − price of what was made.
    Settle,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Reserve => "reserve",
            EntryKind::Refund => "refund",
            EntryKind::TopUp => "top_up",
            EntryKind::Adjust => "adjust",
            EntryKind::Settle => "settle",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: u64,
    pub user_id: u64,
    pub at_ms: i64,
    pub kind: EntryKind,
    /// Signed change to the balance.
    pub amount: i64,
    pub balance_after: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Who caused it: `user:<name>`, `admin:<name>`, `system`, `cli`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

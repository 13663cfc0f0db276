//! Ledger entries: append-only, each with the balance it left behind.

use super::credits::Credits;
use super::ids::{TaskId, UserId};
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
    /// Credits from a redemption code; `source` is `code:<code id>`.
    Redeem,
    /// Credits bought online; `source` is `<processor>:<payment session id>`.
    Payment,
    /// Credits a self-registered account starts with; `source` is `signup`.
    SignupBonus,
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
            EntryKind::Redeem => "redeem",
            EntryKind::Payment => "payment",
            EntryKind::SignupBonus => "signup_bonus",
            EntryKind::Settle => "settle",
        }
    }

    /// Every kind, for filters and their error messages.
    pub const ALL: [EntryKind; 8] = [
        EntryKind::Reserve,
        EntryKind::Refund,
        EntryKind::Settle,
        EntryKind::TopUp,
        EntryKind::Adjust,
        EntryKind::Redeem,
        EntryKind::Payment,
        EntryKind::SignupBonus,
    ];

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Credits that came into the system from outside (sold or given), as opposed to
    /// spending and refunds.
    pub fn is_credit_in(self) -> bool {
        matches!(
            self,
            EntryKind::TopUp | EntryKind::Redeem | EntryKind::Payment | EntryKind::SignupBonus
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: u64,
    pub user_id: UserId,
    pub at_ms: i64,
    pub kind: EntryKind,
    /// Signed change to the balance.
    pub amount: Credits,
    pub balance_after: Credits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
    /// Who caused it: `user:<name>`, `admin:<name>`, `system`, `cli`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Where credits from outside came from: `code:<id>`, `stripe:<session id>`,
    /// `signup`. None for task entries and operator changes (their actor says who).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

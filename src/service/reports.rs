//! Operator reports read from the store: the ledger by account and kind, and margins per
//! model, channel and customer.

use crate::domain::ids::UserId;
use crate::domain::ledger::{EntryKind, LedgerEntry};
use crate::domain::margins::Report;
use crate::error::AppResult;
use crate::store::{self, Store};

/// Most ledger entries one kind-filtered page walks before it stops looking.
const KIND_SCAN: usize = 100_000;

/// Most tasks one margin report reads.
const MARGIN_CAP: usize = 200_000;

/// Up to `limit` ledger entries newest first, older than entry `before`, optionally of one
/// account and of one kind.
pub async fn ledger(
    store: &Store,
    user_id: Option<UserId>,
    kind: Option<EntryKind>,
    before: Option<u64>,
    limit: usize,
) -> AppResult<Vec<LedgerEntry>> {
    store
        .read(move |txn| match kind {
            Some(k) => store::ledger::list_kind(txn, user_id, k, before, limit, KIND_SCAN),
            None => store::ledger::list(txn, user_id, before, limit),
        })
        .await
}

/// The margin report over tasks created in `[from_ms, to_ms)`; true in the second field
/// when there were more tasks than one report reads.
pub async fn margins(store: &Store, from_ms: i64, to_ms: i64) -> AppResult<(Report, bool)> {
    store
        .read(move |txn| store::settlement::margins(txn, from_ms, to_ms, MARGIN_CAP))
        .await
}

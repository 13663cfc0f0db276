//! Settlement as stored: the charge on what was made and the `settle` ledger entry, in
//! the transaction that completes the task.

use super::ledger::{self, Reason};
use crate::domain::catalog::RouteCost;
use crate::domain::ledger::EntryKind;
use crate::domain::pricing::Job;
use crate::domain::settlement::{self, Made};
use crate::domain::task::Task;
use crate::error::AppResult;
use redb::WriteTransaction;

/// Settle `task` (about to be stored as completed) in the caller's transaction: charge
/// the price of what was made, capped at the reservation, and return the rest as one
/// `settle` entry. Once only: a settled or refunded task is left as it is, so retries,
/// restarts and a racing cancel or deadline cannot settle twice.
pub fn settle(
    txn: &WriteTransaction,
    task: &mut Task,
    made: &Made,
    cost: Option<&RouteCost>,
) -> AppResult<()> {
    if task.settlement.is_some() || task.credits_refunded {
        return Ok(());
    }
    let s = settlement::settle(
        &task.price,
        &Job::of(&task.request),
        task.credits_reserved,
        made,
        cost,
    )?;
    if s.refunded > 0 {
        ledger::apply(
            txn,
            task.user_id,
            s.refunded,
            Reason {
                kind: EntryKind::Settle,
                task_id: Some(&task.id),
                actor: "system",
                note: Some(&format!(
                    "charged {} of {}",
                    s.charged, task.credits_reserved
                )),
            },
        )?;
        task.credits_refunded = true;
    }
    task.credits_charged = Some(s.charged);
    task.settlement = Some(s);
    Ok(())
}

/// The margin report over tasks created in `[from_ms, to_ms)`, found by their ids (which
/// start with the creation time), at most `cap` tasks; true in the second field when the
/// cap cut it short.
pub fn margins(
    txn: &redb::ReadTransaction,
    from_ms: i64,
    to_ms: i64,
    cap: usize,
) -> AppResult<(crate::domain::margins::Report, bool)> {
    let mut report = crate::domain::margins::Report::default();
    let table = txn.open_table(super::tables::TASKS)?;
    let lo = format!("vidgen_{:013}", from_ms.max(0));
    let hi = format!("vidgen_{:013}", to_ms.max(0));
    for (seen, row) in table.range(lo.as_str()..hi.as_str())?.enumerate() {
        if seen == cap {
            return Ok((report, true));
        }
        let (_, v) = row?;
        let t: Task = super::decode(v.value())?;
        report.add(&t);
    }
    Ok((report, false))
}

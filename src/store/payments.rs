//! Online payments: one record per checkout, credited at most once, in the same
//! transaction as its ledger entry.

use super::ledger::{self, Reason};
use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::credits::Credits;
use crate::domain::ids::UserId;
use crate::domain::ledger::{EntryKind, LedgerEntry};
use crate::domain::payments::{self, Payment, PaymentNotice, PaymentStatus, SessionState, Settle};
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

pub fn create(txn: &WriteTransaction, p: &Payment) -> AppResult<()> {
    let mut t = txn.open_table(PAYMENTS)?;
    if t.get(p.id.as_str())?.is_some() {
        return Err(AppError::conflict(format!("payment {} exists", p.id)));
    }
    t.insert(p.id.as_str(), encode(p)?.as_slice())?;
    txn.open_table(USER_PAYMENTS)?
        .insert((p.user_id.get(), p.created_at_ms, p.id.as_str()), ())?;
    Ok(())
}

pub fn read(txn: &ReadTransaction, id: &str) -> AppResult<Option<Payment>> {
    get_json(&txn.open_table(PAYMENTS)?, id)
}

/// Apply what the processor says about a checkout: credit it (once), expire it, or
/// nothing. Returns the payment and the entry when this call credited it.
pub fn settle(
    txn: &WriteTransaction,
    state: &SessionState,
    now_ms: i64,
) -> AppResult<(Payment, Option<LedgerEntry>)> {
    let mut t = txn.open_table(PAYMENTS)?;
    let mut p: Payment = get_json(&t, state.id.as_str())?
        .ok_or_else(|| AppError::not_found(format!("payment {}", state.id)))?;
    let decision = payments::settle(&p, state).map_err(|m| AppError::invalid("data", m))?;
    let entry = match decision {
        Settle::Nothing => return Ok((p, None)),
        Settle::Expire => {
            p.status = PaymentStatus::Expired;
            None
        }
        Settle::Credit => {
            let source = format!("{}:{}", p.processor, p.id);
            let e = ledger::apply_from(
                txn,
                p.user_id,
                Credits::new(p.credits),
                Reason {
                    kind: EntryKind::Payment,
                    task_id: None,
                    actor: &p.processor,
                    note: None,
                },
                Some(&source),
            )?;
            p.status = PaymentStatus::Paid;
            p.paid_at_ms = Some(now_ms);
            p.ledger_id = Some(e.id);
            p.payment_ref = state.payment_ref.clone();
            if let Some(r) = &state.payment_ref {
                txn.open_table(PAYMENT_REFS)?
                    .insert(r.as_str(), p.id.as_str())?;
            }
            Some(e)
        }
    };
    t.insert(p.id.as_str(), encode(&p)?.as_slice())?;
    Ok((p, entry))
}

/// Remember a webhook event id; false when it was handled before (a redelivery).
pub fn first_delivery(txn: &WriteTransaction, event_id: &str, now_ms: i64) -> AppResult<bool> {
    let mut t = txn.open_table(PAYMENT_EVENTS)?;
    if t.get(event_id)?.is_some() {
        return Ok(false);
    }
    t.insert(event_id, now_ms)?;
    Ok(true)
}

/// Record a refund or dispute on the payment it belongs to (by the processor's payment
/// id); `false` when no payment matches (yet).
pub fn add_notice(txn: &WriteTransaction, payment_ref: &str, n: PaymentNotice) -> AppResult<bool> {
    let Some(id) = txn
        .open_table(PAYMENT_REFS)?
        .get(payment_ref)?
        .map(|v| v.value().to_string())
    else {
        return Ok(false);
    };
    let mut t = txn.open_table(PAYMENTS)?;
    let Some(mut p) = get_json::<&str, Payment>(&t, id.as_str())? else {
        return Ok(false);
    };
    if !p.notices.iter().any(|x| x.event_id == n.event_id) {
        p.notices.push(n);
        t.insert(id.as_str(), encode(&p)?.as_slice())?;
    }
    Ok(true)
}

/// An account's payments, newest first.
pub fn for_user(txn: &ReadTransaction, user_id: UserId, limit: usize) -> AppResult<Vec<Payment>> {
    let idx = txn.open_table(USER_PAYMENTS)?;
    let t = txn.open_table(PAYMENTS)?;
    let mut out = Vec::new();
    for row in idx
        .range((user_id.get(), i64::MIN, "")..=(user_id.get(), i64::MAX, "\u{10ffff}"))?
        .rev()
        .take(limit)
    {
        let (k, _) = row?;
        if let Some(p) = get_json::<&str, Payment>(&t, k.value().2)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Every payment, newest first (operator page).
pub fn all(txn: &ReadTransaction, limit: usize) -> AppResult<Vec<Payment>> {
    let mut out: Vec<Payment> = Vec::new();
    for row in txn.open_table(PAYMENTS)?.iter()? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.created_at_ms));
    out.truncate(limit);
    Ok(out)
}

/// Whether a webhook event id was handled before.
pub fn seen(txn: &ReadTransaction, event_id: &str) -> AppResult<bool> {
    Ok(txn.open_table(PAYMENT_EVENTS)?.get(event_id)?.is_some())
}

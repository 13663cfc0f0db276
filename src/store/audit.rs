//! The ledger invariants, checked over the whole database.

use super::decode;
use super::tables::*;
use crate::domain::credits::Credits;
use crate::domain::ids::TaskId;
use crate::domain::ledger::LedgerEntry;
use crate::domain::task::{Status, Task};
use crate::domain::user::User;
use crate::error::AppResult;
use redb::{ReadTransaction, ReadableTable};
use std::collections::HashMap;

/// Counts of what was checked, and every violation found.
#[derive(Debug, Default)]
pub struct Report {
    pub users: usize,
    pub entries: usize,
    pub tasks: usize,
    /// Tasks settled on what was made.
    pub settled: usize,
    pub violations: Vec<String>,
}

/// balance == sum of entries and never negative; each entry's balance_after follows
/// from the one before; every task's reserved − refunded − settled back equals what it
/// was charged, and what its entries took.
pub fn check(txn: &ReadTransaction) -> AppResult<Report> {
    let mut r = Report::default();
    let mut running: HashMap<u64, i64> = HashMap::new();
    let mut by_task: HashMap<TaskId, i64> = HashMap::new();
    let mut refunds: HashMap<TaskId, usize> = HashMap::new();
    // Per task: (settle entries, credits they returned).
    let mut settles: HashMap<TaskId, (usize, i64)> = HashMap::new();
    for row in txn.open_table(LEDGER)?.iter()? {
        let (_, v) = row?;
        let e: LedgerEntry = decode(v.value())?;
        r.entries += 1;
        // The audit sums plain integers itself, to catch what checked Credits would refuse.
        let (amount, balance_after) = (e.amount.get(), e.balance_after.get());
        let bal = running.entry(e.user_id.get()).or_default();
        let Some(sum) = bal.checked_add(amount) else {
            r.violations
                .push(format!("entry {}: running balance overflows", e.id));
            continue;
        };
        *bal = sum;
        if *bal != balance_after {
            r.violations.push(format!(
                "entry {}: balance_after {} but running sum is {}",
                e.id, balance_after, bal
            ));
        }
        if *bal < 0 {
            r.violations
                .push(format!("entry {}: balance went negative ({bal})", e.id));
        }
        if let Some(t) = &e.task_id {
            let net = by_task.entry(t.clone()).or_default();
            match net.checked_add(amount) {
                Some(v) => *net = v,
                None => r
                    .violations
                    .push(format!("task {t}: ledger entries overflow")),
            }
            if e.kind == crate::domain::ledger::EntryKind::Refund {
                *refunds.entry(t.clone()).or_default() += 1;
            }
            if e.kind == crate::domain::ledger::EntryKind::Settle {
                let s = settles.entry(t.clone()).or_default();
                s.0 += 1;
                s.1 = s.1.saturating_add(amount);
            }
        }
    }
    for row in txn.open_table(USERS)?.iter()? {
        let (_, v) = row?;
        let u: User = decode(v.value())?;
        r.users += 1;
        let credits = u.credits.get();
        let sum = running.get(&u.id.get()).copied().unwrap_or(0);
        if credits != sum {
            r.violations.push(format!(
                "user {} ({}): balance {} but entries sum to {sum}",
                u.id, u.username, credits
            ));
        }
        if credits < 0 {
            r.violations
                .push(format!("user {}: negative balance {}", u.username, credits));
        }
    }
    let active = txn.open_table(ACTIVE_TASKS)?;
    for row in txn.open_table(TASKS)?.iter()? {
        let (_, v) = row?;
        let t: Task = decode(v.value())?;
        r.tasks += 1;
        let reserved = t.credits_reserved.get();
        let credits_charged = t.credits_charged.map(Credits::get);
        let failed_refund = t.credits_refunded && t.status == Status::Failed;
        let refunded = if failed_refund { reserved } else { 0 };
        let (settle_entries, settled_back) = settles.get(&t.id).copied().unwrap_or((0, 0));
        // What the task cost: 0 when failed and refunded, its settlement when settled,
        // else (in flight, or completed before settlement existed) its reservation.
        let charged = match credits_charged {
            Some(c) => c,
            None if failed_refund => 0,
            None => reserved,
        };
        if t.settlement.is_some() {
            r.settled += 1;
        }
        // reserved − refunded − settled back = charged, and the entries took exactly that.
        let balanced = reserved
            .checked_sub(refunded)
            .and_then(|v| v.checked_sub(settled_back));
        if balanced != Some(charged) {
            r.violations.push(format!(
                "task {}: reserved {} − refunded {refunded} − settled back {settled_back} ≠ charged {charged}",
                t.id, reserved
            ));
        }
        let got = by_task.get(&t.id).copied().unwrap_or(0);
        if Some(got) != charged.checked_neg() {
            r.violations.push(format!(
                "task {}: charged {charged} but its entries net {got}",
                t.id
            ));
        }
        if charged < 0 || charged > reserved.max(0) {
            r.violations.push(format!(
                "task {}: charged {charged} outside 0..={}",
                t.id, reserved
            ));
        }
        if let Some(s) = &t.settlement
            && (Some(s.charged.get()) != credits_charged || s.refunded != settled_back)
        {
            r.violations.push(format!(
                "task {}: settlement says charged {} refunded {} but the task says {:?} and its settle entries {settled_back}",
                t.id, s.charged, s.refunded, t.credits_charged
            ));
        }
        if refunds.get(&t.id).copied().unwrap_or(0) > 1 {
            r.violations
                .push(format!("task {}: refunded more than once", t.id));
        }
        if settle_entries > 1 {
            r.violations
                .push(format!("task {}: settled more than once", t.id));
        }
        if settle_entries > 0 && refunds.contains_key(&t.id) {
            r.violations
                .push(format!("task {}: both refunded and settled", t.id));
        }
        if t.credits_refunded && t.status != Status::Failed && t.settlement.is_none() {
            r.violations
                .push(format!("task {}: refunded but {}", t.id, t.status.as_str()));
        }
        let is_active = active.get(t.id.as_str())?.is_some();
        if is_active == t.status.is_terminal() {
            r.violations.push(format!(
                "task {}: status {} but active index says {is_active}",
                t.id,
                t.status.as_str()
            ));
        }
    }
    money_sources(txn, &mut r)?;
    Ok(r)
}

/// Credits from outside name their source and match it: a code's redeem entries equal
/// its uses and its value; a payment is credited once, by the entry it names, for what
/// it was sold for; a sign-up bonus happens once per account; operator changes name an
/// actor.
fn money_sources(txn: &ReadTransaction, r: &mut Report) -> AppResult<()> {
    use crate::domain::codes::RedemptionCode;
    use crate::domain::ledger::EntryKind;
    use crate::domain::payments::{Payment, PaymentStatus};
    let codes = txn.open_table(CODES)?;
    let payments = txn.open_table(PAYMENTS)?;
    let mut code_uses: HashMap<u64, u32> = HashMap::new();
    let mut paid: HashMap<String, u64> = HashMap::new();
    let mut bonus: HashMap<u64, usize> = HashMap::new();
    for row in txn.open_table(LEDGER)?.iter()? {
        let (_, v) = row?;
        let e: LedgerEntry = decode(v.value())?;
        let source = e.source.as_deref().unwrap_or("");
        match e.kind {
            EntryKind::TopUp | EntryKind::Adjust => {
                if e.actor.trim().is_empty() || e.task_id.is_some() {
                    r.violations.push(format!(
                        "entry {}: an operator change without an actor",
                        e.id
                    ));
                }
            }
            EntryKind::Redeem => {
                let code = source
                    .strip_prefix("code:")
                    .and_then(|id| id.parse::<u64>().ok())
                    .map(|id| super::get_json::<u64, RedemptionCode>(&codes, id))
                    .transpose()?
                    .flatten();
                match code {
                    None => r.violations.push(format!(
                        "entry {}: redeem from unknown source `{source}`",
                        e.id
                    )),
                    Some(c) => {
                        *code_uses.entry(c.id).or_default() += 1;
                        if e.amount != c.credits {
                            r.violations.push(format!(
                                "entry {}: redeemed {} but code {} is worth {}",
                                e.id, e.amount, c.id, c.credits
                            ));
                        }
                    }
                }
            }
            EntryKind::Payment => {
                let id = source.split_once(':').map(|(_, id)| id).unwrap_or("");
                match super::get_json::<&str, Payment>(&payments, id)? {
                    None => r.violations.push(format!(
                        "entry {}: payment from unknown source `{source}`",
                        e.id
                    )),
                    Some(p) => {
                        if paid.insert(p.id.clone(), e.id).is_some() {
                            r.violations
                                .push(format!("payment {}: credited more than once", p.id));
                        }
                        if p.ledger_id != Some(e.id) || e.amount != p.credits {
                            r.violations.push(format!(
                                "entry {}: does not match payment {} ({} credits, entry {:?})",
                                e.id, p.id, p.credits, p.ledger_id
                            ));
                        }
                    }
                }
            }
            EntryKind::SignupBonus => {
                let n = bonus.entry(e.user_id.get()).or_default();
                *n += 1;
                if *n > 1 || e.amount <= 0 || source != "signup" {
                    r.violations.push(format!(
                        "entry {}: a second or malformed sign-up bonus",
                        e.id
                    ));
                }
            }
            EntryKind::Reserve | EntryKind::Refund | EntryKind::Settle => {}
        }
    }
    for row in codes.iter()? {
        let (_, v) = row?;
        let c: RedemptionCode = decode(v.value())?;
        let n = code_uses.get(&c.id).copied().unwrap_or(0);
        if n != c.uses || c.uses > c.max_uses {
            r.violations.push(format!(
                "code {}: {} uses recorded, {} ledger entries, max {}",
                c.id, c.uses, n, c.max_uses
            ));
        }
    }
    for row in payments.iter()? {
        let (_, v) = row?;
        let p: Payment = decode(v.value())?;
        if (p.status == PaymentStatus::Paid) != paid.contains_key(&p.id) {
            r.violations.push(format!(
                "payment {}: status {} but {} ledger entry",
                p.id,
                p.status.as_str(),
                if paid.contains_key(&p.id) { "a" } else { "no" }
            ));
        }
    }
    Ok(())
}

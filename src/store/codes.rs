//! Redemption codes: batches, one use = one ledger entry in the same transaction.

use super::ledger::{self, Reason};
use super::tables::*;
use super::{decode, encode, get_json};
use crate::domain::codes::{self, CodeStatus, Redemption, RedemptionCode};
use crate::domain::credits::Credits;
use crate::domain::ids::UserId;
use crate::domain::ledger::{EntryKind, LedgerEntry};
use crate::error::{AppError, AppResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// A batch to store: the hashes and hints of new codes and what they are worth.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub batch: String,
    /// (hash, hint) per code.
    pub codes: Vec<(String, String)>,
    pub credits: i64,
    pub max_uses: u32,
    pub expires_at_ms: Option<i64>,
    pub note: Option<String>,
    pub actor: String,
    pub now_ms: i64,
}

pub fn create_batch(txn: &WriteTransaction, b: NewBatch) -> AppResult<Vec<RedemptionCode>> {
    let mut table = txn.open_table(CODES)?;
    let mut hashes = txn.open_table(CODE_HASHES)?;
    for (hash, _) in &b.codes {
        // ~99 random bits: a collision means a broken generator, not bad luck.
        if hashes.get(hash.as_str())?.is_some() {
            return Err(AppError::internal("generated a code that already exists"));
        }
    }
    let first = table.last()?.map(|(k, _)| k.value() + 1).unwrap_or(1);
    let mut out = Vec::with_capacity(b.codes.len());
    for (id, (hash, hint)) in (first..).zip(b.codes) {
        let code = RedemptionCode {
            id,
            hash: hash.clone(),
            hint,
            batch: b.batch.clone(),
            credits: b.credits,
            max_uses: b.max_uses,
            uses: 0,
            expires_at_ms: b.expires_at_ms,
            disabled: false,
            note: b.note.clone(),
            created_at_ms: b.now_ms,
            created_by: b.actor.clone(),
        };
        table.insert(id, encode(&code)?.as_slice())?;
        hashes.insert(hash.as_str(), id)?;
        out.push(code);
    }
    Ok(out)
}

/// Use a code once for `user_id`: the use, the code's counter and the ledger entry
/// commit together, and the checks come first, so a refused code leaves nothing behind.
/// Redemptions are serialised by the one writer: `max_uses` can never be exceeded.
pub fn redeem(
    txn: &WriteTransaction,
    hash: &str,
    user_id: UserId,
    actor: &str,
    now_ms: i64,
) -> AppResult<(LedgerEntry, RedemptionCode)> {
    let id = txn
        .open_table(CODE_HASHES)?
        .get(hash)?
        .map(|v| v.value())
        .ok_or(AppError::CodeNotFound)?;
    let mut table = txn.open_table(CODES)?;
    let mut code: RedemptionCode = get_json(&table, id)?.ok_or(AppError::CodeNotFound)?;
    if !codes::same_hash(&code.hash, hash) {
        return Err(AppError::CodeNotFound);
    }
    code.check_redeemable(now_ms)?;
    code.uses = code
        .uses
        .checked_add(1)
        .ok_or_else(|| AppError::internal("use counter overflow"))?;
    let source = format!("code:{}", code.id);
    let entry = ledger::apply_from(
        txn,
        user_id,
        Credits::new(code.credits),
        Reason {
            kind: EntryKind::Redeem,
            task_id: None,
            actor,
            note: Some(&code.hint),
        },
        Some(&source),
    )?;
    table.insert(id, encode(&code)?.as_slice())?;
    let used = Redemption {
        code_id: id,
        user_id,
        at_ms: now_ms,
        ledger_id: entry.id,
    };
    txn.open_table(REDEMPTIONS)?
        .insert((id, entry.id), encode(&used)?.as_slice())?;
    Ok((entry, code))
}

/// What the operator's list can filter on.
#[derive(Debug, Clone, Default)]
pub struct CodeFilter {
    pub batch: Option<String>,
    pub status: Option<CodeStatus>,
    /// Part of the note (case-insensitive).
    pub note: Option<String>,
    /// Only codes with a smaller id (paging).
    pub before: Option<u64>,
}

/// Codes newest first, filtered; at most `limit`.
pub fn list(
    txn: &ReadTransaction,
    f: &CodeFilter,
    now_ms: i64,
    limit: usize,
) -> AppResult<Vec<RedemptionCode>> {
    let table = txn.open_table(CODES)?;
    let note = f.note.as_ref().map(|n| n.to_lowercase());
    let mut out = Vec::new();
    for row in table.range(..f.before.unwrap_or(u64::MAX))?.rev() {
        let (_, v) = row?;
        let c: RedemptionCode = decode(v.value())?;
        let keep = f.batch.as_ref().is_none_or(|b| &c.batch == b)
            && f.status.is_none_or(|s| c.status(now_ms) == s)
            && note.as_ref().is_none_or(|n| {
                c.note
                    .as_ref()
                    .is_some_and(|cn| cn.to_lowercase().contains(n))
            });
        if keep {
            out.push(c);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Every use of a code, oldest first.
pub fn uses(txn: &ReadTransaction, code_id: u64) -> AppResult<Vec<Redemption>> {
    let table = txn.open_table(REDEMPTIONS)?;
    let mut out = Vec::new();
    for row in table.range((code_id, 0)..=(code_id, u64::MAX))? {
        let (_, v) = row?;
        out.push(decode(v.value())?);
    }
    Ok(out)
}

/// Disable one code, or every code of a batch; returns how many changed.
pub fn disable(txn: &WriteTransaction, id: Option<u64>, batch: Option<&str>) -> AppResult<usize> {
    let mut table = txn.open_table(CODES)?;
    let mut changed = Vec::new();
    match (id, batch) {
        (Some(id), _) => {
            let c: RedemptionCode =
                get_json(&table, id)?.ok_or_else(|| AppError::not_found("redemption code"))?;
            changed.push(c);
        }
        (None, Some(b)) => {
            for row in table.iter()? {
                let (_, v) = row?;
                let c: RedemptionCode = decode(v.value())?;
                if c.batch == b {
                    changed.push(c);
                }
            }
            if changed.is_empty() {
                return Err(AppError::not_found(format!("batch `{b}`")));
            }
        }
        (None, None) => return Err(AppError::invalid("id", "name a code or a batch")),
    }
    let mut n = 0;
    for mut c in changed {
        if !c.disabled {
            c.disabled = true;
            table.insert(c.id, encode(&c)?.as_slice())?;
            n += 1;
        }
    }
    Ok(n)
}

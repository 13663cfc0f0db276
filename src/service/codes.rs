//! Redemption codes: operators make batches, customers redeem them (console or API key).

use super::accounts::Principal;
use super::attempts::{Attempts, addr_key};
use crate::clock::SharedClock;
use crate::domain::codes::{self, Redemption, RedemptionCode};
use crate::domain::ledger::LedgerEntry;
use crate::error::{AppError, AppResult};
use crate::store::{self, Store, codes::NewBatch};

/// Which codes a listing returns (the store reads it as is).
pub use crate::store::codes::CodeFilter;
use std::net::IpAddr;

pub struct Codes {
    store: Store,
    clock: SharedClock,
    attempts: Attempts,
}

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct BatchRequest {
    pub count: u32,
    pub credits: i64,
    pub max_uses: u32,
    pub expires_at_ms: Option<i64>,
    pub prefix: Option<String>,
    pub note: Option<String>,
}

/// A batch as made: the codes in clear, this once.
pub struct MadeBatch {
    pub batch: String,
    pub codes: Vec<(String, RedemptionCode)>,
}

impl Codes {
    pub fn new(store: Store, clock: SharedClock) -> Codes {
        Codes {
            store,
            attempts: Attempts::new(clock.clone()),
            clock,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn create(&self, r: BatchRequest, actor: &str) -> AppResult<MadeBatch> {
        if !(1..=codes::MAX_BATCH).contains(&r.count) {
            return Err(AppError::invalid("count", "count must be 1-1000"));
        }
        if r.credits <= 0 || r.credits > 1_000_000_000_000 {
            return Err(AppError::invalid(
                "credits",
                "credits must be positive (at most 10^12)",
            ));
        }
        if !(1..=1_000_000).contains(&r.max_uses) {
            return Err(AppError::invalid("max_uses", "max_uses must be 1-1000000"));
        }
        let now = self.clock.now_ms();
        if r.expires_at_ms.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "expires_at",
                "the expiry must be in the future",
            ));
        }
        let prefix = r.prefix.as_deref().map(codes::check_prefix).transpose()?;
        let note = r
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 200) {
            return Err(AppError::invalid(
                "note",
                "a note is at most 200 characters",
            ));
        }
        let batch = format!("b{now}-{}", crate::domain::ids::random_hex(2));
        let clear: Vec<String> = (0..r.count)
            .map(|_| codes::new_code(prefix.as_deref()))
            .collect();
        let new = NewBatch {
            batch: batch.clone(),
            codes: clear
                .iter()
                .map(|c| (codes::hash_code(c), codes::hint(c)))
                .collect(),
            credits: r.credits,
            max_uses: r.max_uses,
            expires_at_ms: r.expires_at_ms,
            note,
            actor: actor.to_string(),
            now_ms: now,
        };
        let made = self
            .store
            .write(move |txn| store::codes::create_batch(txn, new))
            .await?;
        Ok(MadeBatch {
            batch,
            codes: clear.into_iter().zip(made).collect(),
        })
    }

    /// Redeem a code for the caller. Unknown codes count against the account and the
    /// address (a few free, then a growing wait); other refusals name the reason.
    pub async fn redeem(
        &self,
        who: &Principal,
        typed: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<(LedgerEntry, RedemptionCode)> {
        let keys = [
            format!("redeem|user|{}", who.user.id),
            addr_key("redeem", ip),
        ];
        self.attempts.check(&keys)?;
        if !codes::is_code_shaped(typed) {
            self.attempts.count(&keys);
            return Err(AppError::CodeNotFound);
        }
        let hash = codes::hash_code(typed);
        let uid = who.user.id;
        let actor = who.actor();
        let now = self.clock.now_ms();
        let out = self
            .store
            .write(move |txn| store::codes::redeem(txn, &hash, uid, &actor, now))
            .await;
        if matches!(out, Err(AppError::CodeNotFound)) {
            self.attempts.count(&keys);
        }
        out
    }

    pub async fn list(&self, f: CodeFilter, limit: usize) -> AppResult<Vec<RedemptionCode>> {
        let now = self.clock.now_ms();
        self.store
            .read(move |txn| store::codes::list(txn, &f, now, limit))
            .await
    }

    pub async fn uses(&self, code_id: u64) -> AppResult<Vec<Redemption>> {
        self.store
            .read(move |txn| store::codes::uses(txn, code_id))
            .await
    }

    pub async fn disable(&self, id: Option<u64>, batch: Option<String>) -> AppResult<usize> {
        self.store
            .write(move |txn| store::codes::disable(txn, id, batch.as_deref()))
            .await
    }
}

//! Consistent copies of the database: every table read through one read transaction (a
//! snapshot, while writers go on) and written into a fresh redb file.

use super::media::{self, MediaRecord};
use super::tables::*;
use crate::error::{AppError, AppResult};
use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use std::collections::BTreeSet;
use std::path::Path;

/// What a copy holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub tables: usize,
    pub rows: u64,
}

fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    src: &ReadTransaction,
    dst: &WriteTransaction,
    def: TableDefinition<K, V>,
    names: &mut BTreeSet<String>,
) -> AppResult<u64> {
    names.insert(def.name().to_string());
    let from = match src.open_table(def) {
        Ok(t) => t,
        // Some tables are created by their first write; absent means empty.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    let mut to = dst.open_table(def)?;
    let mut n = 0;
    for row in from.iter()? {
        let (k, v) = row?;
        to.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

/// Copy every table of the snapshot `src` into a new database file at `dest` (which must
/// not exist). A table this build does not know is an error, never silently left out.
pub fn export(src: &ReadTransaction, dest: &Path) -> AppResult<Copied> {
    if dest.exists() {
        return Err(AppError::conflict(format!(
            "{} already exists: back up into a new directory",
            dest.display()
        )));
    }
    let db = Database::create(dest).map_err(AppError::storage)?;
    let txn = db.begin_write()?;
    let mut names = BTreeSet::new();
    let mut rows = 0;
    macro_rules! copy {
        ($($t:ident),* $(,)?) => {$(
            rows += copy_table(src, &txn, $t, &mut names)?;
        )*};
    }
    copy!(
        META,
        USERS,
        USERNAMES,
        KEYS,
        KEY_HASHES,
        USER_KEYS,
        TASKS,
        USER_TASKS,
        ACTIVE_TASKS,
        LEDGER,
        USER_LEDGER,
        TASK_LEDGER,
        IDEMPOTENCY,
        PROVIDERS,
        MODELS,
        PRICING_GROUPS,
        OUTBOX,
        OUTBOX_DUE,
        WEBHOOK_SECRETS,
        SESSIONS,
        USER_SESSIONS,
        SESSION_EXPIRY,
        MEDIA,
        MEDIA_EXPIRY,
        USER_MEDIA,
        MEDIA_USAGE,
        MEDIA_GONE,
        STORAGE_QUOTAS,
        LIMIT_TASKS,
        SLOTS_HELD,
        SLOTS_WAITING,
        SLOT_COUNTS,
        SPEND,
        GROUP_LIMITS,
        USER_PRICES,
        SETTINGS,
        USERNAMES_FOLDED,
        USER_EMAILS,
        EMAILS,
        TOKENS,
        INVITES,
        INVITE_HASHES,
        CODES,
        CODE_HASHES,
        REDEMPTIONS,
        PAYMENTS,
        USER_PAYMENTS,
        PAYMENT_REFS,
        PAYMENT_EVENTS,
    );
    for t in src.list_tables()? {
        if !names.contains(t.name()) {
            return Err(AppError::internal(format!(
                "table `{}` is not covered by backups: add it to store::backup::export",
                t.name()
            )));
        }
    }
    if src.list_multimap_tables()?.next().is_some() {
        return Err(AppError::internal(
            "multimap tables are not covered by backups",
        ));
    }
    txn.commit()?;
    Ok(Copied {
        tables: names.len(),
        rows,
    })
}

/// Every stored file's record in the same snapshot: the media manifest.
pub fn manifest(src: &ReadTransaction) -> AppResult<Vec<(String, MediaRecord)>> {
    media::all(src)
}

/// Whether `path` opens as a database (a truncated or corrupt copy does not).
pub fn verify_file(path: &Path) -> AppResult<()> {
    let db = Database::open(path).map_err(AppError::storage)?;
    let txn = db.begin_read()?;
    txn.open_table(META)?;
    Ok(())
}

/// Whether a running server holds the database at `path` (redb locks the file).
pub fn is_locked(path: &Path) -> bool {
    matches!(
        Database::open(path),
        Err(redb::DatabaseError::DatabaseAlreadyOpen)
    )
}

//! The only module that names redb: tables, one group-committing writer, read helpers.

pub mod audit;
pub mod catalog;
pub mod ledger;
pub mod outbox;
pub mod sessions;
pub mod tables;
pub mod tasks;
pub mod users;
pub mod webhook_secrets;

use crate::error::{AppError, AppResult};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;
use std::sync::Arc;
use tables::*;
use tokio::sync::{mpsc, oneshot};

/// A write job runs inside the batch's transaction and returns whether it hit a storage
/// error (which aborts the batch) plus a callback told the batch's fate.
type Completion = Box<dyn FnOnce(Option<&AppError>) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (bool, Completion) + Send>;

/// Most jobs that may share one commit (and one fsync).
const MAX_BATCH: usize = 512;

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    jobs: mpsc::UnboundedSender<Msg>,
    writer: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Store {
    /// Open (or create) the database file and start the writer thread.
    pub fn open(path: &Path) -> AppResult<Store> {
        let db = Database::builder()
            .set_cache_size(64 * 1024 * 1024)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => AppError::DatabaseLocked,
                other => AppError::storage(format!("cannot open {}: {other}", path.display())),
            })?;
        init_schema(&db)?;
        let db = Arc::new(db);
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_db = db.clone();
        let handle = std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || writer_loop(writer_db, rx))
            .map_err(AppError::internal)?;
        Ok(Store {
            db,
            jobs: tx,
            writer: Arc::new(std::sync::Mutex::new(Some(handle))),
        })
    }

    /// Run `f` in a write transaction shared with whatever else is queued (group commit);
    /// resolves after the batch is durably committed. A job that returns a non-storage
    /// error must not have written anything: check first, then write.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let poisoned = matches!(
                result,
                Err(AppError::Storage(_)) | Err(AppError::Internal(_))
            );
            let done: Completion = Box::new(move |batch_err| {
                let out = match (result, batch_err) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (poisoned, done)
        });
        self.jobs
            .send(Msg::Job(job))
            .map_err(|_| AppError::internal("store is closed"))?;
        rx.await.map_err(|_| AppError::internal("writer stopped"))?
    }

    /// Run `f` on a read snapshot, off the async threads.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> AppResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read()?;
            f(&txn)
        })
        .await
        .map_err(AppError::internal)?
    }

    /// Synchronous read for CLI commands and tests.
    pub fn read_now<T>(&self, f: impl FnOnce(&ReadTransaction) -> AppResult<T>) -> AppResult<T> {
        let txn = self.db.begin_read()?;
        f(&txn)
    }

    /// Synchronous write for CLI commands (no server is running then).
    pub fn write_now<T>(&self, f: impl FnOnce(&WriteTransaction) -> AppResult<T>) -> AppResult<T> {
        let txn = self.db.begin_write()?;
        let out = f(&txn)?;
        txn.commit()?;
        Ok(out)
    }

    /// Stop the writer after it drains its queue. The file stays open until every clone
    /// of this store is dropped.
    pub fn close(&self) {
        let _ = self.jobs.send(Msg::Stop);
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

enum Msg {
    Job(Job),
    Stop,
}

fn writer_loop(db: Arc<Database>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut stop = false;
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::new();
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Stop => break,
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Stop) => {
                    stop = true;
                    break;
                }
                Err(_) => break,
            }
        }
        run_batch(&db, batch);
    }
}

fn run_batch(db: &Database, batch: Vec<Job>) {
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Dropping the jobs drops their reply channels: callers see "writer stopped".
            tracing::error!(error = %e, "cannot begin write transaction");
            drop(batch);
            return;
        }
    };
    let mut completions = Vec::with_capacity(batch.len());
    let mut poisoned = false;
    for job in batch {
        let (bad, done) = job(&txn);
        poisoned |= bad;
        completions.push(done);
    }
    let outcome = if poisoned {
        let _ = txn.abort();
        Some(AppError::storage(
            "transaction aborted after a storage error",
        ))
    } else {
        txn.commit().err().map(AppError::storage)
    };
    if let Some(e) = &outcome {
        tracing::error!(error = %e, "write batch failed");
    }
    for done in completions {
        done(outcome.as_ref());
    }
}

fn init_schema(db: &Database) -> AppResult<()> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let version = meta.get("schema_version")?.map(|v| v.value());
        match version {
            None => {
                meta.insert("schema_version", SCHEMA_VERSION)?;
            }
            Some(v) if v == SCHEMA_VERSION => {}
            Some(v) => {
                return Err(AppError::storage(format!(
                    "database schema version {v} is not supported by this build (expects {SCHEMA_VERSION})"
                )));
            }
        }
        txn.open_table(USERS)?;
        txn.open_table(USERNAMES)?;
        txn.open_table(KEYS)?;
        txn.open_table(KEY_HASHES)?;
        txn.open_table(USER_KEYS)?;
        txn.open_table(TASKS)?;
        txn.open_table(USER_TASKS)?;
        txn.open_table(ACTIVE_TASKS)?;
        txn.open_table(LEDGER)?;
        txn.open_table(USER_LEDGER)?;
        txn.open_table(TASK_LEDGER)?;
        txn.open_table(IDEMPOTENCY)?;
        txn.open_table(PROVIDERS)?;
        txn.open_table(MODELS)?;
        txn.open_table(PRICING_GROUPS)?;
        txn.open_table(SESSIONS)?;
        txn.open_table(OUTBOX)?;
        txn.open_table(OUTBOX_DUE)?;
        txn.open_table(WEBHOOK_SECRETS)?;
    }
    txn.commit()?;
    Ok(())
}

pub(crate) fn encode<T: Serialize>(v: &T) -> AppResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(AppError::internal)
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    Ok(serde_json::from_slice(bytes)?)
}

/// Get and decode a JSON value from any readable table keyed by K.
pub(crate) fn get_json<'k, K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: impl std::borrow::Borrow<K::SelfType<'k>>,
) -> AppResult<Option<T>>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key)? {
        Some(v) => Ok(Some(decode(v.value())?)),
        None => Ok(None),
    }
}

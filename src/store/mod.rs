//! The only module that names redb: tables, one group-committing writer, read helpers.

pub mod audit;
pub mod backup;
pub mod catalog;
pub mod codes;
pub mod errors;
pub mod ledger;
pub mod limits;
pub mod media;
pub mod outbox;
pub mod payments;
pub mod sessions;
pub mod settlement;
pub mod signup;
pub mod tables;
pub mod tasks;
pub mod users;
pub mod webhook_secrets;

use crate::error::{AppError, AppResult};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tables::*;
use tokio::sync::{mpsc, oneshot};

/// A read transaction, for services that compose several store reads in one snapshot
/// without naming redb themselves.
pub type ReadTxn = ReadTransaction;

/// One run of a queued write inside the batch's transaction: whether it hit a storage or
/// internal error (the transaction must then be rolled back), and a callback told the
/// batch's fate. A job can be run again: each run uses a fresh copy of the closure.
type Completion = Box<dyn FnOnce(Option<&AppError>) + Send>;
type Job = Box<dyn FnMut(&WriteTransaction) -> (bool, Completion) + Send>;

/// Most jobs that may share one commit (and one fsync).
const MAX_BATCH: usize = 512;

/// A batch running longer than this means the writer is stuck: /healthz says so.
const STUCK_AFTER_MS: i64 = 30_000;

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    jobs: mpsc::UnboundedSender<Msg>,
    writer: Arc<Writer>,
}

/// What the writer thread shares with whoever restarts it and with /healthz.
struct Writer {
    db: Arc<Database>,
    // Outlives any one writer thread, so queued jobs survive a restart.
    rx: Mutex<mpsc::UnboundedReceiver<Msg>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    alive: AtomicBool,
    /// Unix ms since the running batch started; 0 while idle.
    busy_since_ms: AtomicI64,
    /// Why the last batch could not be made durable; cleared by the next that is.
    failure: Mutex<Option<String>>,
    restarts: AtomicU64,
    /// Test hook: make every durable commit fail.
    fail_commits: AtomicBool,
}

/// Faults the tests inject into the writer, to prove it recovers and reports them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum WriterFault {
    /// Panic the writer thread itself, outside any job.
    PanicThread,
    /// Fail (true) or stop failing (false) every durable commit.
    FailCommits(bool),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these leaves consistent data: keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Open (or create) the database file and start the writer thread.
    pub fn open(path: &Path) -> AppResult<Store> {
        // Owner-only: the file holds password and key hashes and every balance. Created
        // empty with mode 0600 first (redb initialises an empty file), tightened if older.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::storage::private_dir(dir)?;
        }
        if !path.exists() {
            let mut open = std::fs::OpenOptions::new();
            open.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
            if let Err(e) = open.open(path)
                && e.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(AppError::storage(format!(
                    "cannot create {}: {e}",
                    path.display()
                )));
            }
        }
        crate::storage::tighten(path, 0o600);
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
        let writer = Arc::new(Writer {
            db: db.clone(),
            rx: Mutex::new(rx),
            thread: Mutex::new(None),
            alive: AtomicBool::new(false),
            busy_since_ms: AtomicI64::new(0),
            failure: Mutex::new(None),
            restarts: AtomicU64::new(0),
            fail_commits: AtomicBool::new(false),
        });
        let handle = spawn_writer(writer.clone()).map_err(AppError::internal)?;
        *lock(&writer.thread) = Some(handle);
        Ok(Store {
            db,
            jobs: tx,
            writer,
        })
    }

    /// Run `f` in a write transaction shared with whatever else is queued (group commit);
    /// resolves after the batch is durably committed. A job that returns a non-storage
    /// error must not have written anything: check first, then write. When another job
    /// of the batch fails with a storage error or panics, the batch is rolled back and
    /// run again without it, so `f` may run more than once (hence `Clone`); only the
    /// last run counts.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> AppResult<T> + Clone + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        // Shared by every run's completion; only a committed (or failed) run sends.
        let reply = Arc::new(Mutex::new(Some(tx)));
        let job: Job = Box::new(move |txn| {
            let result = f.clone()(txn);
            let poisoned = matches!(
                result,
                Err(AppError::Storage(_)) | Err(AppError::Internal(_))
            );
            let reply = reply.clone();
            let done: Completion = Box::new(move |batch_err| {
                let out = match (result, batch_err) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (Ok(v), None) => Ok(v),
                };
                if let Some(tx) = lock(&reply).take() {
                    let _ = tx.send(out);
                }
            });
            (poisoned, done)
        });
        self.jobs
            .send(Msg::Job(job))
            .map_err(|_| AppError::internal("store is closed"))?;
        // A job that panicked is dropped with its reply channel.
        rx.await
            .map_err(|_| AppError::internal("the write failed unexpectedly (see the log)"))?
    }

    /// Why writes are impossible right now, if they are: the writer is down, stuck, or
    /// its last commit failed. Cheap (atomics only): /healthz calls it on every poll.
    pub fn writer_problem(&self) -> Option<String> {
        let w = &self.writer;
        if !w.alive.load(Ordering::Acquire) {
            return Some("the database writer is not running".into());
        }
        if let Some(f) = lock(&w.failure).as_ref() {
            return Some(format!("the last database commit failed: {f}"));
        }
        let since = w.busy_since_ms.load(Ordering::Acquire);
        let busy = crate::domain::now_ms().saturating_sub(since);
        if since > 0 && busy > STUCK_AFTER_MS {
            return Some(format!(
                "the database writer has been busy for {} s",
                busy / 1000
            ));
        }
        None
    }

    /// How many times the writer thread was restarted after dying.
    pub fn writer_restarts(&self) -> u64 {
        self.writer.restarts.load(Ordering::Relaxed)
    }

    #[doc(hidden)]
    pub fn inject_writer_fault(&self, fault: WriterFault) {
        match fault {
            WriterFault::PanicThread => {
                let _ = self.jobs.send(Msg::Panic);
            }
            WriterFault::FailCommits(on) => self.writer.fail_commits.store(on, Ordering::Release),
        }
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
        let handle = lock(&self.writer.thread).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

enum Msg {
    Job(Job),
    Stop,
    /// Test hook: die outside any job.
    Panic,
}

fn spawn_writer(w: Arc<Writer>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("redb-writer".into())
        .spawn(move || {
            let mut guard = Respawn(Some(w.clone()));
            w.alive.store(true, Ordering::Release);
            writer_loop(&w);
            // A clean stop: nothing to restart.
            guard.0 = None;
            w.alive.store(false, Ordering::Release);
        })
}

/// Restarts the writer when its thread unwinds: jobs stay queued in the shared receiver
/// and a new thread picks them up.
struct Respawn(Option<Arc<Writer>>);

impl Drop for Respawn {
    fn drop(&mut self) {
        let Some(w) = self.0.take() else {
            return;
        };
        w.alive.store(false, Ordering::Release);
        w.busy_since_ms.store(0, Ordering::Release);
        let n = w.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::error!(restarts = n, "the database writer died; restarting it");
        match spawn_writer(w.clone()) {
            Ok(h) => *lock(&w.thread) = Some(h),
            Err(e) => tracing::error!(error = %e, "cannot restart the database writer"),
        }
    }
}

fn writer_loop(w: &Writer) {
    let mut rx = lock(&w.rx);
    let mut stop = false;
    while !stop {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut batch = Vec::new();
        match first {
            Msg::Job(j) => batch.push(j),
            Msg::Stop => break,
            Msg::Panic => panic!("writer panic injected by a test"),
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Job(job)) => batch.push(job),
                Ok(Msg::Stop) => {
                    stop = true;
                    break;
                }
                Ok(Msg::Panic) => panic!("writer panic injected by a test"),
                Err(_) => break,
            }
        }
        w.busy_since_ms
            .store(crate::domain::now_ms(), Ordering::Release);
        run_batch(w, batch);
        w.busy_since_ms.store(0, Ordering::Release);
    }
}

/// Run the jobs in one transaction and commit once. A job that panics or hits a
/// storage error fails alone: the transaction is rolled back and the rest of the batch
/// runs again, in a fresh one, without it.
fn run_batch(w: &Writer, mut jobs: Vec<Job>) {
    while !jobs.is_empty() {
        let txn = match w.db.begin_write() {
            Ok(t) => t,
            Err(e) => {
                // Dropping the jobs drops their reply channels: callers see the failure.
                tracing::error!(error = %e, "cannot begin write transaction");
                *lock(&w.failure) = Some(e.to_string());
                return;
            }
        };
        let mut completions = Vec::with_capacity(jobs.len());
        let mut failed = None;
        for (i, job) in jobs.iter_mut().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| job(&txn))) {
                Ok((false, done)) => completions.push(done),
                Ok((true, done)) => {
                    failed = Some((i, Some(done)));
                    break;
                }
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(panic = %what, "a write job panicked; only its caller fails");
                    failed = Some((i, None));
                    break;
                }
            }
        }
        if let Some((i, done)) = failed {
            let _ = txn.abort();
            // The others' runs were rolled back with it: forget them, run them again.
            drop(completions);
            let job = jobs.remove(i);
            if let Some(done) = done {
                done(None);
            }
            drop(job);
            continue;
        }
        let outcome = commit(w, txn).err();
        match &outcome {
            Some(e) => {
                tracing::error!(error = %e, "write batch failed");
                *lock(&w.failure) = Some(e.to_string());
            }
            None => *lock(&w.failure) = None,
        }
        for done in completions {
            done(outcome.as_ref());
        }
        return;
    }
}

fn commit(w: &Writer, txn: WriteTransaction) -> AppResult<()> {
    if w.fail_commits.load(Ordering::Acquire) {
        let _ = txn.abort();
        return Err(AppError::storage("injected commit failure"));
    }
    txn.commit()?;
    Ok(())
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
        txn.open_table(USER_PRICES)?;
        txn.open_table(SESSIONS)?;
        txn.open_table(OUTBOX)?;
        txn.open_table(OUTBOX_DUE)?;
        txn.open_table(WEBHOOK_SECRETS)?;
        media::create_tables(&txn)?;
        money_tables(&txn)?;
        limits::create_tables(&txn)?;
    }
    txn.commit()?;
    Ok(())
}

/// The sign-up, code and payment tables (issue 13), so reads never meet a missing table.
fn money_tables(txn: &WriteTransaction) -> AppResult<()> {
    txn.open_table(SETTINGS)?;
    txn.open_table(USERNAMES_FOLDED)?;
    txn.open_table(USER_EMAILS)?;
    txn.open_table(EMAILS)?;
    txn.open_table(TOKENS)?;
    txn.open_table(INVITES)?;
    txn.open_table(INVITE_HASHES)?;
    txn.open_table(CODES)?;
    txn.open_table(CODE_HASHES)?;
    txn.open_table(REDEMPTIONS)?;
    txn.open_table(PAYMENTS)?;
    txn.open_table(USER_PAYMENTS)?;
    txn.open_table(PAYMENT_REFS)?;
    txn.open_table(PAYMENT_EVENTS)?;
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

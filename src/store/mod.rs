//! The only module that names redb: tables, one group-committing writer, read helpers.

pub mod audit;
pub mod catalog;
pub mod ledger;
pub mod outbox;
pub mod sessions;
pub mod tables;
pub mod tasks;
pub mod users;

use crate::error::{AppError, AppResult};
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};
use serde::{Serialize, de::DeserializeOwned};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tables::*;
use tokio::sync::{mpsc, oneshot};

/// A write job runs in its own transaction and says whether it succeeded (else its
/// transaction is rolled back), plus a callback told whether the batch became durable.
type Completion = Box<dyn FnOnce(Option<&AppError>) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (bool, Completion) + Send>;

/// Most jobs that may share one fsync.
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

    /// Run `f` in a write transaction and resolve once it is durably committed (jobs
    /// queued together share one fsync). An `Err` from `f` rolls back what it wrote; a
    /// panic in `f` fails only this call.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> AppResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |txn| {
            let result = f(txn);
            let ok = result.is_ok();
            let done: Completion = Box::new(move |batch_err| {
                let out = match (result, batch_err) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(e)) => Err(e.clone()),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, done)
        });
        self.jobs
            .send(Msg::Job(job))
            .map_err(|_| AppError::internal("store is closed"))?;
        // A job that panicked dropped its reply channel on the way out.
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

/// Each job commits on its own without an fsync, so a failing or panicking job rolls
/// back only itself; one durable commit at the end then persists the whole batch.
fn run_batch(w: &Writer, batch: Vec<Job>) {
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch {
        if let Some(done) = run_job(&w.db, job) {
            completions.push(done);
        }
    }
    if completions.is_empty() {
        return;
    }
    let outcome = durable_commit(w).err();
    match &outcome {
        Some(e) => {
            tracing::error!(error = %e, "write batch could not be made durable");
            *lock(&w.failure) = Some(e.to_string());
        }
        None => *lock(&w.failure) = None,
    }
    for done in completions {
        done(outcome.as_ref());
    }
}

/// Run one job in its own transaction; its completion when it committed, else `None`
/// once its caller has been told.
fn run_job(db: &Database, job: Job) -> Option<Completion> {
    let mut txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            // Dropping the job drops its reply channel: the caller sees the failure.
            tracing::error!(error = %e, "cannot begin write transaction");
            return None;
        }
    };
    if let Err(e) = txn.set_durability(Durability::None) {
        tracing::error!(error = %e, "cannot defer durability");
        return None;
    }
    match catch_unwind(AssertUnwindSafe(|| job(&txn))) {
        Ok((true, done)) => match txn.commit() {
            Ok(()) => Some(done),
            Err(e) => {
                tracing::error!(error = %e, "write commit failed");
                done(Some(&AppError::storage(e)));
                None
            }
        },
        Ok((false, done)) => {
            let _ = txn.abort();
            done(None);
            None
        }
        Err(panic) => {
            let _ = txn.abort();
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a write job panicked; only its caller fails");
            None
        }
    }
}

/// Persist every non-durable commit made so far.
fn durable_commit(w: &Writer) -> AppResult<()> {
    if w.fail_commits.load(Ordering::Acquire) {
        return Err(AppError::storage("injected commit failure"));
    }
    let txn = w.db.begin_write()?;
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
        txn.open_table(SESSIONS)?;
        txn.open_table(OUTBOX)?;
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

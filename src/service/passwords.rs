//! Password hashing (argon2id) on a few dedicated threads: every hash and check in the
//! process goes through here, so CPU and memory stay bounded under a login flood.
//!
//! Each argon2 run holds ~19 MiB for tens of milliseconds. Run in tokio's blocking pool
//! (up to 512 threads, each keeping its freed memory) a flood of logins grew the process
//! to gigabytes and queued every database read behind the hashes. Here at most
//! [`concurrency`] runs happen at once, on threads of their own; a caller that cannot get
//! a turn within its wait gets `login_busy` (429 with `Retry-After`).

use crate::error::{AppError, AppResult};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a login waits for a hashing turn before it is told to come back.
pub const LOGIN_WAIT: Duration = Duration::from_secs(2);
/// How long account changes (create user, set or change a password) wait: they come from
/// logged-in users and operators, so they may queue longer than anonymous logins.
pub const ACCOUNT_WAIT: Duration = Duration::from_secs(30);
/// What a caller told "busy" is asked to wait.
const BUSY_RETRY_AFTER_SECS: u64 = 1;
/// Used until the first run has been timed.
const DEFAULT_RUN: Duration = Duration::from_millis(50);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    /// One permit per worker thread: holding one means a worker is free for the job.
    permits: Arc<Semaphore>,
    jobs: Mutex<mpsc::Sender<Job>>,
    threads: usize,
    /// Moving average of one run, in microseconds (0 = not measured yet).
    typical_run_us: AtomicU64,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    // About the core count: more threads would not hash faster, only hold more memory.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking job fails only its own caller (its reply channel drops).
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a password hashing thread");
        }
    }
    Pool {
        permits: Arc::new(Semaphore::new(threads)),
        jobs: Mutex::new(tx),
        threads,
        typical_run_us: AtomicU64::new(0),
    }
});

/// How many argon2 runs may happen at once in this process.
pub fn concurrency() -> usize {
    POOL.threads
}

/// How long one run takes on this machine (a moving average), for callers that must take
/// as long as a check without doing one.
pub fn typical_run() -> Duration {
    match POOL.typical_run_us.load(Ordering::Relaxed) {
        0 => DEFAULT_RUN,
        us => Duration::from_micros(us),
    }
}

fn record_run(took: Duration) {
    let new = took.as_micros().min(u64::MAX as u128) as u64;
    let _ = POOL
        .typical_run_us
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
            Some(if old == 0 { new } else { (old * 7 + new) / 8 })
        });
}

/// A free hashing turn, or `login_busy` after `wait`.
async fn turn(wait: Duration) -> AppResult<OwnedSemaphorePermit> {
    let busy = AppError::LoginBusy {
        retry_after_secs: BUSY_RETRY_AFTER_SECS,
    };
    match tokio::time::timeout(wait, POOL.permits.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(AppError::internal("password pool closed")),
        Err(_) => Err(busy),
    }
}

/// Run `f` on a hashing thread once a turn is free (waiting at most `wait`).
async fn run<T: Send + 'static>(
    wait: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    let permit = turn(wait).await?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let started = Instant::now();
        let out = f();
        record_run(started.elapsed());
        let _ = tx.send(out);
        // The turn ends when the work does, even if the caller stopped waiting.
        drop(permit);
    });
    POOL.jobs
        .lock()
        .map_err(|_| AppError::internal("password pool lock"))?
        .send(job)
        .map_err(|_| AppError::internal("password threads ended"))?;
    rx.await
        .map_err(|_| AppError::internal("password hashing failed"))
}

/// Hash a new password (argon2id, default parameters, a fresh salt) through the pool.
pub async fn hash(password: String, wait: Duration) -> AppResult<String> {
    run(wait, move || hash_now(&password)).await?
}

/// Whether `password` matches the stored PHC `hash`, checked through the pool.
pub async fn verify(hash: String, password: String, wait: Duration) -> AppResult<bool> {
    run(wait, move || verify_now(&hash, &password)).await
}

/// Take as long as a check would without doing one: wait for a turn like a real check
/// (and fail as busy like one), give it straight back, then wait a typical run. Used for
/// unknown user names beyond their budget, so timing does not tell which names exist.
pub async fn pretend(wait: Duration) -> AppResult<()> {
    drop(turn(wait).await?);
    tokio::time::sleep(typical_run()).await;
    Ok(())
}

/// Blocks (1 KiB each) a thread keeps between runs: the default parameters need 19 MiB.
/// A stored hash with a larger memory cost gets a buffer of its own for that run.
const KEPT_BLOCKS: usize = 64 * 1024;

thread_local! {
    // Each run reuses its thread's buffer instead of allocating 19 MiB: with allocations
    // freed and made again, glibc kept several copies per thread and memory crept up.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if blocks > KEPT_BLOCKS {
        return f(&mut vec![Block::default(); blocks]);
    }
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() < blocks {
            m.resize(blocks, Block::default());
        }
        f(&mut m[..blocks])
    })
}

/// The one definition of how a password is hashed (argon2id, the crate's default cost,
/// 16 random salt bytes), on the calling thread. The offline CLI calls it directly, the
/// server only through [`hash`].
pub fn hash_now(password: &str) -> AppResult<String> {
    let params = Params::default();
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    with_memory(params.block_count(), |mem| {
        ctx.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, mem)
    })
    .map_err(AppError::internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(AppError::internal)?,
        salt: Some(Salt::new(&salt).map_err(AppError::internal)?),
        hash: Some(Output::new(&out).map_err(AppError::internal)?),
    };
    Ok(phc.to_string())
}

/// The one definition of how a password is checked against a stored PHC string, on the
/// calling thread. Anything unparsable is simply not a match.
pub fn verify_now(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let ctx = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let done = with_memory(params.block_count(), |mem| {
        ctx.hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, mem)
    });
    done.is_ok() && constant_time_eq(&out, expected.as_ref())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_runs_are_timed() {
        let h = hash("correct horse".into(), ACCOUNT_WAIT).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(
            verify(h.clone(), "correct horse".into(), ACCOUNT_WAIT)
                .await
                .unwrap()
        );
        assert!(!verify(h, "wrong".into(), ACCOUNT_WAIT).await.unwrap());
        assert!(!verify_now("not a hash", "x"));
        assert!(POOL.typical_run_us.load(Ordering::Relaxed) > 0);
        assert!((1..=8).contains(&concurrency()));
    }

    #[test]
    fn hashes_match_the_crates_own_format_both_ways() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Hashes stored by earlier versions (the crate's own hasher) still verify ...
        let old = argon2::Argon2::default()
            .hash_password(b"legacy-pass")
            .unwrap()
            .to_string();
        assert!(verify_now(&old, "legacy-pass"));
        assert!(!verify_now(&old, "legacy-pasS"));
        // ... and ours verify with the crate's own verifier.
        let ours = hash_now("fresh-pass").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"fresh-pass", &parsed)
                .is_ok()
        );
        assert_ne!(
            hash_now("fresh-pass").unwrap(),
            ours,
            "fresh salt each time"
        );
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_after_the_wait() {
        // Hold every turn, then ask for one more with a short wait.
        let mut held = Vec::new();
        for _ in 0..concurrency() {
            held.push(turn(ACCOUNT_WAIT).await.unwrap());
        }
        let err = verify("x".into(), "y".into(), Duration::from_millis(20))
            .await
            .unwrap_err();
        assert_eq!(err.code().code, "login_busy");
        drop(held);
        assert!(!verify("x".into(), "y".into(), ACCOUNT_WAIT).await.unwrap());
    }
}

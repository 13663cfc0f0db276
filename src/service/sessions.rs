//! Console logins: password checks behind a growing per-name-and-address delay, sessions
//! (capped per account, purged on a timer), password changes.

use super::accounts::Principal;
use super::passwords::{self, ACCOUNT_WAIT, LOGIN_WAIT};
use crate::domain::client_addr::rate_key;
use crate::domain::ids::UserId;
use crate::domain::now_ms;
use crate::domain::session::{
    self, LoginThrottle, SESSION_TTL_MS, Session, UNKNOWN_GLOBAL, UNKNOWN_PER_ADDR,
    UnknownNameBudget,
};
use crate::domain::user::{User, validate_password};
use crate::error::{AppError, AppResult};
use crate::store::{self, Store};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{OnceCell, watch};

/// Name-and-address keys the throttle remembers before it sheds the least-failed ones.
const THROTTLE_MAX_KEYS: usize = 50_000;
/// Addresses the unknown-name budget tracks at once.
const BUDGET_MAX_ADDRS: usize = 10_000;
/// How often expired sessions are removed.
pub const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Sessions removed per write transaction, so a purge never holds the writer for long.
const PURGE_BATCH: usize = 1_000;

pub struct Sessions {
    store: Store,
    throttle: Mutex<LoginThrottle>,
    unknown: Mutex<UnknownNameBudget>,
    /// Verified against when the user does not exist, so a wrong name takes as long as a
    /// wrong password and does not reveal which names exist.
    dummy_hash: OnceCell<String>,
}

/// A new session: the token goes into the cookie, only its hash into the database.
pub struct LoggedIn {
    pub token: String,
    pub user: User,
    pub expires_at_ms: i64,
}

/// The throttle's key: user name (as typed, case-folded, bounded) and client address.
/// Not the address alone: behind a shared address one attacker would delay everyone.
fn throttle_key(username: &str, ip: Option<IpAddr>) -> String {
    let name: String = username.trim().to_lowercase().chars().take(64).collect();
    format!("{name}|{}", addr_key(ip))
}

fn addr_key(ip: Option<IpAddr>) -> String {
    ip.map(rate_key).unwrap_or_else(|| "-".into())
}

impl Sessions {
    pub fn new(store: Store) -> Sessions {
        Sessions {
            store,
            throttle: Mutex::new(LoginThrottle::new(THROTTLE_MAX_KEYS)),
            unknown: Mutex::new(UnknownNameBudget::new(
                UNKNOWN_PER_ADDR,
                UNKNOWN_GLOBAL,
                BUDGET_MAX_ADDRS,
                now_ms(),
            )),
            dummy_hash: OnceCell::new(),
        }
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, LoginThrottle> {
        self.throttle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Start a password check for `key`, or `login_throttled` with the wait.
    fn begin(&self, key: &str) -> AppResult<()> {
        self.throttle()
            .begin(key, now_ms())
            .map_err(|retry_after_secs| AppError::LoginThrottled { retry_after_secs })
    }

    /// Record how a check begun with [`Self::begin`] ended: a wrong password counts, a
    /// right one clears the key, anything else (busy, storage) leaves no trace.
    fn finish(&self, key: &str, verdict: &AppResult<bool>) {
        let mut t = self.throttle();
        match verdict {
            Ok(true) => t.succeeded(key),
            Ok(false) => t.failed(key, now_ms()),
            Err(_) => t.abandoned(key),
        }
    }

    /// Whether `password` is `user`'s, spending the same time when there is no user.
    async fn password_matches(
        &self,
        user: Option<&User>,
        password: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<bool> {
        if password.len() > 256 {
            return Ok(false);
        }
        if let Some(u) = user {
            return passwords::verify(u.password_hash.clone(), password.to_string(), LOGIN_WAIT)
                .await;
        }
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| passwords::hash("not-a-real-password".into(), ACCOUNT_WAIT))
            .await?;
        let real = self
            .unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(&addr_key(ip), now_ms());
        if real {
            passwords::verify(dummy.clone(), password.to_string(), LOGIN_WAIT).await?;
        } else {
            // Over budget: the same wait as a check, without its CPU and memory.
            passwords::pretend(LOGIN_WAIT).await?;
        }
        Ok(false)
    }

    /// Check the password and open a session. A failure delays the next try for this
    /// name from this address (1 s, 2 s, 4 s ... 60 s); it never locks the account.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<LoggedIn> {
        let key = throttle_key(username, ip);
        self.begin(&key)?;
        let name = username.trim().to_string();
        let user = if name.is_empty() || name.len() > 64 {
            Ok(None)
        } else {
            self.store
                .read(move |txn| store::users::read_by_name(txn, &name))
                .await
        };
        let verdict = match &user {
            Ok(user) => self.password_matches(user.as_ref(), password, ip).await,
            Err(e) => Err(e.clone()),
        };
        self.finish(&key, &verdict);
        if !verdict? {
            return Err(AppError::BadLogin);
        }
        let user = user?.ok_or(AppError::BadLogin)?;
        if user.disabled {
            return Err(AppError::UserDisabled);
        }
        let uid = user.id;
        if self
            .store
            .read(move |txn| store::signup::verification_pending(txn, uid))
            .await?
        {
            return Err(AppError::EmailNotVerified);
        }
        self.start(user).await
    }

    /// Open a session for an account that just proved who it is (login, sign-up).
    pub async fn start(&self, user: User) -> AppResult<LoggedIn> {
        let token = session::new_token();
        let now = now_ms();
        let record = Session {
            user_id: user.id,
            created_at_ms: now,
            expires_at_ms: now + SESSION_TTL_MS,
        };
        let hash = session::hash_token(&token);
        let expires_at_ms = record.expires_at_ms;
        // Only this account's few index rows are touched: no scan inside the writer.
        self.store
            .write(move |txn| store::sessions::put(txn, &hash, &record))
            .await?;
        Ok(LoggedIn {
            token,
            user,
            expires_at_ms,
        })
    }

    /// Remove every expired session, a batch per transaction; returns how many went.
    pub async fn purge_expired(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let now = now_ms();
            let n = self
                .store
                .write(move |txn| store::sessions::purge_expired(txn, now, PURGE_BATCH))
                .await?;
            total += n;
            if n < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    /// The purge timer: index sessions from older versions once, then purge expired
    /// sessions at start and every [`PURGE_EVERY`] until `stop` turns true.
    pub async fn run_purge(self: std::sync::Arc<Self>, mut stop: watch::Receiver<bool>) {
        match self.store.write(store::sessions::index_existing).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "indexed existing console sessions"),
            Err(e) => tracing::warn!(error = %e, "cannot index console sessions"),
        }
        loop {
            match self.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "purged expired console sessions"),
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(PURGE_EVERY) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// The user behind a session cookie, with the stored hash (to end this session).
    pub async fn authenticate(&self, token: &str) -> AppResult<(Principal, String)> {
        if !session::is_token_shaped(token) {
            return Err(AppError::NotLoggedIn);
        }
        let hash = session::hash_token(token);
        let h = hash.clone();
        let found = self
            .store
            .read(move |txn| {
                let Some(s) = store::sessions::read(txn, &h)? else {
                    return Ok(None);
                };
                Ok(store::users::read(txn, s.user_id)?.map(|u| (s, u)))
            })
            .await?;
        let (s, user) = found.ok_or(AppError::NotLoggedIn)?;
        if s.expires_at_ms <= now_ms() {
            return Err(AppError::NotLoggedIn);
        }
        if user.disabled {
            return Err(AppError::UserDisabled);
        }
        Ok((Principal { user, key_id: None }, hash))
    }

    /// End the session of this cookie, if it still exists.
    pub async fn logout(&self, token: &str) -> AppResult<()> {
        if !session::is_token_shaped(token) {
            return Ok(());
        }
        let hash = session::hash_token(token);
        self.store
            .write(move |txn| store::sessions::delete(txn, &hash))
            .await?;
        Ok(())
    }

    /// Change the caller's password after checking the current one; every other session
    /// of the user ends (a stolen cookie stops working).
    pub async fn change_password(
        &self,
        user: &User,
        keep_session: &str,
        current: &str,
        new: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<()> {
        let key = throttle_key(&user.username, ip);
        self.begin(&key)?;
        let verdict = passwords::verify(
            user.password_hash.clone(),
            current.to_string(),
            ACCOUNT_WAIT,
        )
        .await;
        self.finish(&key, &verdict);
        if !verdict? {
            return Err(AppError::invalid(
                "current_password",
                "the current password is not correct",
            ));
        }
        if current == new {
            return Err(AppError::invalid(
                "new_password",
                "the new password must differ from the current one",
            ));
        }
        self.set_password(user.id, new, Some(keep_session.to_string()))
            .await
    }

    /// Store a new password hash and end the user's sessions (all, or all but one).
    pub async fn set_password(
        &self,
        user_id: UserId,
        new: &str,
        keep_session: Option<String>,
    ) -> AppResult<()> {
        validate_password(new).map_err(|e| AppError::invalid("new_password", e.to_string()))?;
        let hash = passwords::hash(new.to_string(), ACCOUNT_WAIT).await?;
        self.store
            .write(move |txn| {
                store::users::update(txn, user_id, |u| {
                    u.password_hash = hash;
                    Ok(())
                })?;
                store::sessions::delete_for_user(txn, user_id, keep_session.as_deref())?;
                Ok(())
            })
            .await
    }

    /// End every session of a user (disabled by an operator).
    pub async fn end_all(&self, user_id: UserId) -> AppResult<usize> {
        self.store
            .write(move |txn| store::sessions::delete_for_user(txn, user_id, None))
            .await
    }
}

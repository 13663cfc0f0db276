//! Console logins: password check with a throttle, sessions, password changes.

use super::accounts::{Principal, hash_password, verify_password};
use crate::domain::now_ms;
use crate::domain::session::{self, SESSION_TTL_MS, Session, Throttle};
use crate::domain::user::{User, validate_password};
use crate::error::{AppError, AppResult};
use crate::store::{self, Store};
use std::net::IpAddr;
use std::sync::Mutex;
use tokio::sync::OnceCell;

/// Failures allowed per user name and address in a window. Not per address alone: behind
/// a reverse proxy every client shares one address, and one attacker could lock everyone out.
const PER_USER_AND_IP: u32 = 5;
const WINDOW_MS: i64 = 15 * 60 * 1000;

pub struct Sessions {
    store: Store,
    throttle: Mutex<Throttle>,
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

fn throttle_key(username: &str, ip: Option<IpAddr>) -> String {
    let ip = ip.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
    format!("{}|{ip}", username.trim().to_ascii_lowercase())
}

impl Sessions {
    pub fn new(store: Store) -> Sessions {
        Sessions {
            store,
            throttle: Mutex::new(Throttle::new(PER_USER_AND_IP, WINDOW_MS)),
            dummy_hash: OnceCell::new(),
        }
    }

    fn check_throttle(&self, key: &str) -> AppResult<()> {
        self.throttle
            .lock()
            .expect("throttle lock")
            .check(key, now_ms())
            .map_err(|retry_after_secs| AppError::LoginThrottled { retry_after_secs })
    }

    fn record_failure(&self, key: &str) {
        self.throttle
            .lock()
            .expect("throttle lock")
            .fail(key, now_ms());
    }

    /// Whether `password` is `user`'s, spending the same time when there is no user.
    async fn password_matches(&self, user: Option<&User>, password: &str) -> AppResult<bool> {
        match user {
            Some(u) => Ok(verify_password(u.password_hash.clone(), password.to_string()).await),
            None => {
                let dummy = self
                    .dummy_hash
                    .get_or_try_init(|| hash_password("not-a-real-password".into()))
                    .await?;
                verify_password(dummy.clone(), password.to_string()).await;
                Ok(false)
            }
        }
    }

    /// Check the password and open a session. Failures count against the throttle.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ip: Option<IpAddr>,
    ) -> AppResult<LoggedIn> {
        let key = throttle_key(username, ip);
        self.check_throttle(&key)?;
        let name = username.trim().to_string();
        let user = if name.is_empty() || name.len() > 64 {
            None
        } else {
            self.store
                .read(move |txn| store::users::read_by_name(txn, &name))
                .await?
        };
        if password.len() > 256 || !self.password_matches(user.as_ref(), password).await? {
            self.record_failure(&key);
            return Err(AppError::BadLogin);
        }
        let user = user.ok_or(AppError::BadLogin)?;
        if user.disabled {
            return Err(AppError::UserDisabled);
        }
        self.throttle.lock().expect("throttle lock").clear(&key);
        let token = session::new_token();
        let now = now_ms();
        let record = Session {
            user_id: user.id,
            created_at_ms: now,
            expires_at_ms: now + SESSION_TTL_MS,
        };
        let hash = session::hash_token(&token);
        let expires_at_ms = record.expires_at_ms;
        self.store
            .write(move |txn| {
                store::sessions::purge_expired(txn, now)?;
                store::sessions::put(txn, &hash, &record)
            })
            .await?;
        Ok(LoggedIn {
            token,
            user,
            expires_at_ms,
        })
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
        self.check_throttle(&key)?;
        if !verify_password(user.password_hash.clone(), current.to_string()).await {
            self.record_failure(&key);
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
        user_id: u64,
        new: &str,
        keep_session: Option<String>,
    ) -> AppResult<()> {
        validate_password(new).map_err(|e| AppError::invalid("new_password", e.to_string()))?;
        let hash = hash_password(new.to_string()).await?;
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
    pub async fn end_all(&self, user_id: u64) -> AppResult<usize> {
        self.store
            .write(move |txn| store::sessions::delete_for_user(txn, user_id, None))
            .await
    }
}

//! Accounts: API-key authentication, users, keys, credits, the first admin.

use super::passwords;
use crate::domain::credits::Credits;
use crate::domain::ids;
use crate::domain::ids::UserId;
use crate::domain::ledger::{EntryKind, LedgerEntry};
use crate::domain::limits::KeyLimits;
use crate::domain::user::{ApiKey, User, validate_password};
use crate::error::{AppError, AppResult};
use crate::store::{self, Store, ledger::Reason, users::NewUser};

/// Said wherever an operator may be left without an operator account: the server makes
/// `admin` only on a database without users.
pub const NO_ADMIN_HINT: &str = "there is no enabled admin account, and the server creates \
`admin` only on a database without users. Make one with the server stopped: \
`videoapi admin create-user NAME --admin`, or `videoapi admin reset-password NAME --admin` \
for an existing user";

/// Logged when `VIDEOAPI_ADMIN_PASSWORD(_FILE)` is set on a database that has an admin.
pub const ADMIN_PASSWORD_IGNORED: &str = "VIDEOAPI_ADMIN_PASSWORD / VIDEOAPI_ADMIN_PASSWORD_FILE / \
admin_password_file is set but ignored: it only sets the first admin's password, on a database \
without users. To change an admin's password, stop the server and run \
`videoapi admin reset-password NAME` (or use the console's password page)";

/// Who is calling: the user, and the key used (none for console sessions).
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub key_id: Option<u64>,
}

impl Principal {
    pub fn actor(&self) -> String {
        format!("user:{}", self.user.username)
    }
}

/// What an operator may change on an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub disabled: Option<bool>,
    pub is_admin: Option<bool>,
    /// `Some(None)` puts the user back on list prices.
    pub pricing_group: Option<Option<String>>,
}

/// Don't rewrite a key record on every request just to move `last_used` by a second.
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long a resolved key is trusted without a database read. Revocations and user
/// changes made through this service clear the cache at once.
const AUTH_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);
const AUTH_CACHE_MAX: usize = 10_000;

type AuthCache =
    std::sync::RwLock<std::collections::HashMap<String, (ApiKey, User, std::time::Instant)>>;

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    cache: std::sync::Arc<AuthCache>,
    /// Key expiries are judged by this clock (tests move it).
    clock: crate::clock::SharedClock,
}

impl Accounts {
    pub fn new(store: Store) -> Accounts {
        Accounts {
            store,
            cache: Default::default(),
            clock: crate::clock::SharedClock::system(),
        }
    }

    /// The same accounts, judging key expiries by `clock`.
    pub fn with_clock(mut self, clock: crate::clock::SharedClock) -> Accounts {
        self.clock = clock;
        self
    }

    /// Forget every cached key: call after any change to a user or a key.
    pub fn forget_cached_keys(&self) {
        self.cache.write().expect("auth cache").clear();
    }

    async fn key_and_user(&self, hash: String) -> AppResult<Option<(ApiKey, User)>> {
        if let Some((k, u, at)) = self.cache.read().expect("auth cache").get(&hash)
            && at.elapsed() < AUTH_CACHE_TTL
        {
            return Ok(Some((k.clone(), u.clone())));
        }
        let h = hash.clone();
        let found = self
            .store
            .read(move |txn| store::users::by_key_hash(txn, &h))
            .await?;
        if let Some((k, u)) = &found {
            let mut cache = self.cache.write().expect("auth cache");
            if cache.len() >= AUTH_CACHE_MAX {
                cache.clear();
            }
            cache.insert(hash, (k.clone(), u.clone(), std::time::Instant::now()));
        }
        Ok(found)
    }

    /// Resolve a bearer token to its user: 401 for unknown/revoked/expired keys and
    /// disabled users, 403 when the key's address allow-list does not hold `client`.
    pub async fn authenticate_key(
        &self,
        token: &str,
        client: Option<std::net::IpAddr>,
    ) -> AppResult<Principal> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AppError::MissingKey);
        }
        if !token.starts_with(ids::KEY_PREFIX) || token.len() > 128 {
            return Err(AppError::InvalidKey);
        }
        let hash = ids::hash_key(token);
        let (key, user) = self
            .key_and_user(hash.clone())
            .await?
            .ok_or(AppError::InvalidKey)?;
        if key.revoked {
            return Err(AppError::InvalidKey);
        }
        if user.disabled {
            return Err(AppError::UserDisabled);
        }
        if key.limits.expired(self.clock.now_ms()) {
            return Err(AppError::KeyExpired {
                expired_at: crate::domain::limits::format_rfc3339(
                    key.limits.expires_at_ms.unwrap_or_default(),
                ),
            });
        }
        if !key.limits.allows_ip(client) {
            return Err(AppError::IpNotAllowed {
                ip: client.map_or_else(|| "an unknown address".into(), |ip| ip.to_string()),
            });
        }
        let now = crate::domain::now_ms();
        if key.last_used_ms.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
            if let Some(entry) = self.cache.write().expect("auth cache").get_mut(&hash) {
                entry.0.last_used_ms = Some(now);
            }
            let store = self.store.clone();
            let key_id = key.id;
            tokio::spawn(async move {
                let _ = store
                    .write(move |txn| store::users::touch_key(txn, key_id, now))
                    .await;
            });
        }
        Ok(Principal {
            user,
            key_id: Some(key.id),
        })
    }

    /// Create a user; without a password one is generated and returned.
    pub async fn create_user(
        &self,
        username: &str,
        password: Option<String>,
        credits: i64,
        is_admin: bool,
        pricing_group: Option<String>,
        actor: &str,
    ) -> AppResult<(User, Option<String>)> {
        crate::domain::user::validate_username(username)?;
        let generated = password.is_none().then(|| ids::random_alnum(20));
        let password = password.or_else(|| generated.clone()).unwrap_or_default();
        validate_password(&password)?;
        let hash = passwords::hash(password, passwords::ACCOUNT_WAIT).await?;
        let (name, actor) = (username.to_string(), actor.to_string());
        let user = self
            .store
            .write(move |txn| {
                store::users::create(
                    txn,
                    NewUser {
                        username: &name,
                        password_hash: hash,
                        is_admin,
                        credits,
                        pricing_group,
                        actor: &actor,
                    },
                )
            })
            .await?;
        Ok((user, generated))
    }

    /// Top up (positive) or deduct (negative) with a note; recorded with the actor.
    pub async fn adjust_credits(
        &self,
        user_id: UserId,
        delta: Credits,
        note: Option<String>,
        actor: &str,
    ) -> AppResult<LedgerEntry> {
        if delta == 0 {
            return Err(AppError::invalid("amount", "amount must not be zero"));
        }
        let kind = if delta > 0 {
            EntryKind::TopUp
        } else {
            EntryKind::Adjust
        };
        let actor = actor.to_string();
        self.store
            .write(move |txn| {
                store::ledger::apply(
                    txn,
                    user_id,
                    delta,
                    Reason {
                        kind,
                        task_id: None,
                        actor: &actor,
                        note: note.as_deref(),
                    },
                )
            })
            .await
    }

    /// A new key; the full key is returned only here.
    pub async fn create_key(&self, user_id: UserId, name: &str) -> AppResult<(ApiKey, String)> {
        let key = ids::new_api_key();
        let (k, n) = (key.clone(), name.to_string());
        let record = self
            .store
            .write(move |txn| store::users::create_key(txn, user_id, &n, &k))
            .await?;
        Ok((record, key))
    }

    /// A new key with limits; they are checked here (422 naming the field).
    pub async fn create_key_with(
        &self,
        user_id: UserId,
        name: &str,
        limits: KeyLimits,
    ) -> AppResult<(ApiKey, String)> {
        let limits = limits.normalize(self.clock.now_ms())?;
        let key = ids::new_api_key();
        let (k, n) = (key.clone(), name.to_string());
        let record = self
            .store
            .write(move |txn| store::users::create_key_with(txn, user_id, &n, &k, limits))
            .await?;
        Ok((record, key))
    }

    /// Replace a key's limits (and name, when given); checked like at creation.
    pub async fn update_key(
        &self,
        user_id: UserId,
        key_id: u64,
        name: Option<String>,
        limits: KeyLimits,
    ) -> AppResult<ApiKey> {
        let limits = limits.normalize(self.clock.now_ms())?;
        if let Some(n) = &name
            && n.trim().chars().count() > 64
        {
            return Err(AppError::invalid(
                "name",
                "key name is longer than 64 characters",
            ));
        }
        let key = self
            .store
            .write(move |txn| {
                store::users::update_key(txn, user_id, key_id, |k| {
                    if let Some(n) = name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                        k.name = n.to_string();
                    }
                    k.limits = limits;
                    Ok(())
                })
            })
            .await?;
        self.forget_cached_keys();
        Ok(key)
    }

    /// One of `user_id`'s keys.
    pub async fn key(&self, user_id: UserId, key_id: u64) -> AppResult<ApiKey> {
        self.store
            .read(move |txn| store::users::read_key(txn, key_id))
            .await?
            .filter(|k| k.user_id == user_id)
            .ok_or_else(|| AppError::not_found("API key"))
    }

    pub async fn revoke_key(&self, user_id: UserId, key_id: u64) -> AppResult<ApiKey> {
        let key = self
            .store
            .write(move |txn| store::users::revoke_key(txn, user_id, key_id))
            .await?;
        self.forget_cached_keys();
        Ok(key)
    }

    /// Change a user (disable, pricing group, password, ...) and drop cached keys.
    pub async fn modify_user(
        &self,
        user_id: UserId,
        f: impl FnOnce(&mut User) -> AppResult<()> + Clone + Send + 'static,
    ) -> AppResult<User> {
        let user = self
            .store
            .write(move |txn| store::users::update(txn, user_id, f))
            .await?;
        self.forget_cached_keys();
        Ok(user)
    }

    /// The account's webhook signing secret, made on first use.
    pub async fn webhook_secret(&self, user_id: UserId) -> AppResult<Vec<u8>> {
        let existing = self
            .store
            .read(move |txn| store::webhook_secrets::read(txn, user_id))
            .await?;
        match existing {
            Some(s) => Ok(s),
            None => {
                self.store
                    .write(move |txn| store::webhook_secrets::ensure(txn, user_id))
                    .await
            }
        }
    }

    /// A new webhook signing secret; callbacks sent from now on use it.
    pub async fn rotate_webhook_secret(&self, user_id: UserId) -> AppResult<Vec<u8>> {
        self.store
            .write(move |txn| store::webhook_secrets::rotate(txn, user_id))
            .await
    }

    pub async fn list_keys(&self, user_id: UserId) -> AppResult<Vec<ApiKey>> {
        self.store
            .read(move |txn| store::users::list_keys(txn, user_id))
            .await
    }

    pub async fn user(&self, id: UserId) -> AppResult<User> {
        self.store
            .read(move |txn| store::users::read(txn, id))
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }

    /// Change an account's flags and pricing group (operator pages).
    pub async fn update_user(&self, id: UserId, patch: UserPatch) -> AppResult<User> {
        self.modify_user(id, move |u| {
            if let Some(d) = patch.disabled {
                u.disabled = d;
            }
            if let Some(a) = patch.is_admin {
                u.is_admin = a;
            }
            if let Some(g) = patch.pricing_group {
                u.pricing_group = g;
            }
            Ok(())
        })
        .await
    }

    /// The account with this exact user name, if any.
    pub async fn user_by_name(&self, name: &str) -> AppResult<Option<User>> {
        let name = name.to_string();
        self.store
            .read(move |txn| store::users::read_by_name(txn, &name))
            .await
    }

    pub async fn users(&self) -> AppResult<Vec<User>> {
        self.store.read(store::users::list).await
    }

    /// On first start, create `admin`; returns the password when it was generated.
    /// On later starts, say what an operator may be stuck on: no admin at all, or an
    /// admin password in the environment that is no longer read.
    pub async fn bootstrap_admin(&self, password: Option<String>) -> AppResult<Option<String>> {
        let existing = self.store.read(store::users::count).await?;
        if existing > 0 {
            let users = self.store.read(store::users::list).await?;
            if !users.iter().any(|u| u.is_admin && !u.disabled) {
                tracing::warn!("{NO_ADMIN_HINT}");
            } else if password.is_some() {
                tracing::warn!("{ADMIN_PASSWORD_IGNORED}");
            }
            return Ok(None);
        }
        let (_, generated) = self
            .create_user("admin", password, 0, true, None, "system")
            .await?;
        Ok(generated)
    }
}

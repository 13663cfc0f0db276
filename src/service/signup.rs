//! Self-service accounts: sign-up (closed / invite / open), invites, email verification
//! and password resets by emailed single-use links.

use super::attempts::{Attempts, addr_key};
use super::mail::Mailer;
use super::passwords::{self, ACCOUNT_WAIT};
use super::sessions::{LoggedIn, Sessions};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::domain::ids;
use crate::domain::ids::UserId;
use crate::domain::session::hash_token;
use crate::domain::signup::{
    self, Invite, OneTimeToken, Registration, SignupSettings, TokenPurpose,
};
use crate::domain::user::{User, validate_username};
use crate::error::{AppError, AppResult};
use crate::store::{self, Store};
use std::net::IpAddr;
use std::sync::Arc;

pub struct Signup {
    store: Store,
    clock: SharedClock,
    defaults: SignupSettings,
    mailer: Option<Arc<Mailer>>,
    public_url: String,
    attempts: Attempts,
}

/// What a visitor sends to register.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub invite_code: Option<String>,
}

/// A new account, logged in unless it must verify its email first.
pub struct Registered {
    pub user: User,
    pub session: Option<LoggedIn>,
    pub verification_sent: bool,
}

/// An invite as made: the code is in this answer only.
pub struct NewInvite {
    pub invite: Invite,
    pub code: String,
}

/// Invite codes: `inv_` and 24 random characters (~143 bits).
fn new_invite_code() -> String {
    format!("inv_{}", ids::random_alnum(24))
}

impl Signup {
    pub fn new(store: Store, config: &Config) -> anyhow::Result<Signup> {
        let mailer = match &config.smtp {
            Some(c) => Some(Arc::new(Mailer::new(c)?)),
            None => None,
        };
        Ok(Signup {
            store,
            clock: config.clock.clone(),
            defaults: SignupSettings {
                registration: config.registration,
                signup_credits: config.signup_credits,
                pricing_group: config.signup_pricing_group.clone(),
                email_verification: config.email_verification,
            },
            mailer,
            public_url: config.public_url.clone(),
            attempts: Attempts::new(config.clock.clone()),
        })
    }

    pub fn email_configured(&self) -> bool {
        self.mailer.is_some()
    }

    fn mailer(&self) -> AppResult<&Mailer> {
        self.mailer.as_deref().ok_or(AppError::EmailNotConfigured)
    }

    /// The settings in force: saved from the console, else the config's.
    pub async fn settings(&self) -> AppResult<SignupSettings> {
        let saved = self.store.read(store::signup::settings).await?;
        Ok(saved.unwrap_or_else(|| self.defaults.clone()))
    }

    /// Save new settings (operator console). Verification needs mail.
    pub async fn put_settings(&self, s: SignupSettings) -> AppResult<SignupSettings> {
        if s.signup_credits < 0 {
            return Err(AppError::invalid(
                "signup_credits",
                "sign-up credits cannot be negative",
            ));
        }
        if s.email_verification && self.mailer.is_none() {
            return Err(AppError::invalid(
                "email_verification",
                "email verification needs an [smtp] section in the config",
            ));
        }
        let saved = s.clone();
        self.store
            .write(move |txn| store::signup::put_settings(txn, &saved))
            .await?;
        Ok(s)
    }

    /// Create an account from the login page, log it in (unless it must verify its email
    /// first). Throttled per address: a few sign-ups are free, then each waits longer.
    pub async fn register(
        &self,
        sessions: &Sessions,
        input: RegisterInput,
        ip: Option<IpAddr>,
    ) -> AppResult<Registered> {
        let settings = self.settings().await?;
        if settings.registration == Registration::Closed {
            return Err(AppError::RegistrationClosed {
                message: "registration is closed: ask the operator for an account".into(),
            });
        }
        let keys = [addr_key("register", ip)];
        self.attempts.check(&keys)?;
        let username = input.username.trim().to_string();
        validate_username(&username)?;
        signup::check_new_password(&username, &input.password)?;
        let email = match input.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(e) => Some(signup::normalize_email(e)?),
        };
        let verify = settings.email_verification && self.mailer.is_some();
        if verify && email.is_none() {
            return Err(AppError::invalid(
                "email",
                "an email address is required to sign up here",
            ));
        }
        let invite_hash = match settings.registration {
            Registration::Invite => {
                let code = input
                    .invite_code
                    .as_deref()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .ok_or(AppError::InviteInvalid)?;
                Some(hash_token(code))
            }
            _ => None,
        };
        // Every attempt that gets this far counts, a success too: one address cannot
        // mint accounts (or try invite codes) fast. Typos in the form above do not count.
        self.attempts.count(&keys);
        let hash = passwords::hash(input.password.clone(), ACCOUNT_WAIT).await?;
        let now = self.clock.now_ms();
        let rec = store::signup::Registration {
            username,
            password_hash: hash,
            email: email.clone(),
            verification_required: verify,
            invite_hash,
            settings,
            now_ms: now,
        };
        let user = self
            .store
            .write(move |txn| store::signup::register(txn, rec))
            .await?;
        if verify && let Some(e) = &email {
            self.send_verification(user.id, e).await?;
            return Ok(Registered {
                user,
                session: None,
                verification_sent: true,
            });
        }
        let session = sessions.start(user.clone()).await?;
        Ok(Registered {
            user,
            session: Some(session),
            verification_sent: false,
        })
    }

    async fn new_token(
        &self,
        user_id: UserId,
        purpose: TokenPurpose,
        ttl_ms: i64,
    ) -> AppResult<String> {
        let token = ids::random_hex(32);
        let rec = OneTimeToken {
            purpose,
            user_id,
            expires_at_ms: self.clock.now_ms() + ttl_ms,
        };
        let h = hash_token(&token);
        self.store
            .write(move |txn| {
                store::signup::drop_tokens(txn, user_id, purpose)?;
                store::signup::put_token(txn, &h, &rec)
            })
            .await?;
        Ok(token)
    }

    async fn send_verification(&self, user_id: UserId, email: &str) -> AppResult<()> {
        let mailer = self.mailer()?;
        let token = self
            .new_token(user_id, TokenPurpose::VerifyEmail, signup::VERIFY_TTL_MS)
            .await?;
        let link = format!("{}/#/verify?token={token}", self.public_url);
        mailer
            .send(
                email,
                "Confirm your email address / 验证邮箱",
                format!(
                    "Open this link to confirm your email address and finish signing up \
                     (valid for 48 hours):\n\n{link}\n\n请打开上面的链接验证邮箱并完成注册（48 小时内有效）。\n"
                ),
            )
            .await
    }

    /// Open an emailed verification link: the account may log in from now on.
    pub async fn verify_email(&self, token: &str) -> AppResult<()> {
        let h = hash_token(token.trim());
        let now = self.clock.now_ms();
        let user = self
            .store
            .write(move |txn| {
                let Some(uid) = store::signup::take_token(txn, &h, TokenPurpose::VerifyEmail, now)?
                else {
                    return Ok(None);
                };
                store::signup::mark_verified(txn, uid)?;
                Ok(Some(uid))
            })
            .await?;
        user.map(|_| ()).ok_or(AppError::TokenInvalid)
    }

    /// "Forgot password": mail a reset link when the address belongs to an account. The
    /// answer is the same either way, so it does not reveal who has an account.
    pub async fn forgot_password(&self, email: &str, ip: Option<IpAddr>) -> AppResult<()> {
        let mailer = self.mailer.clone().ok_or(AppError::EmailNotConfigured)?;
        let email = signup::normalize_email(email)?;
        let keys = [addr_key("reset", ip), format!("reset|email|{email}")];
        self.attempts.check(&keys)?;
        self.attempts.count(&keys);
        let e = email.clone();
        let found = self
            .store
            .read(move |txn| {
                let Some(uid) = store::signup::user_by_email(txn, &e)? else {
                    return Ok(None);
                };
                Ok(store::users::read(txn, uid)?.filter(|u| !u.disabled))
            })
            .await?;
        let Some(user) = found else {
            return Ok(());
        };
        let token = self
            .new_token(user.id, TokenPurpose::ResetPassword, signup::RESET_TTL_MS)
            .await?;
        let link = format!("{}/#/reset?token={token}", self.public_url);
        let body = format!(
            "Someone asked to reset the password of the account `{}`. Open this link \
                     within one hour to choose a new one (it works once):\n\n{link}\n\n\
                     If it was not you, ignore this mail.\n\n\
                     有人请求重置账户 `{}` 的密码。请在一小时内打开上面的链接设置新密码（仅可使用一次）；如非本人操作，请忽略本邮件。\n",
            user.username, user.username
        );
        // Sent in the background: the answer (and its timing) must not tell whether the
        // address has an account. A failure is logged for the operator.
        tokio::spawn(async move {
            if let Err(e) = mailer
                .send(&email, "Reset your password / 重置密码", body)
                .await
            {
                tracing::warn!(error = %e, "the password-reset mail was not sent");
            }
        });
        Ok(())
    }

    /// Set a new password with an emailed reset link; every session of the account ends.
    pub async fn reset_password(
        &self,
        sessions: &Sessions,
        token: &str,
        new_password: &str,
    ) -> AppResult<()> {
        let h = hash_token(token.trim());
        let now = self.clock.now_ms();
        // Check the password before using up the link, so a weak one can be retried.
        let peek = h.clone();
        let uid = self
            .store
            .read(move |txn| store::signup::peek_token(txn, &peek))
            .await?
            .filter(|t| t.purpose == TokenPurpose::ResetPassword && t.expires_at_ms > now)
            .map(|t| t.user_id)
            .ok_or(AppError::TokenInvalid)?;
        let user = self
            .store
            .read(move |txn| store::users::read(txn, uid))
            .await?
            .ok_or(AppError::TokenInvalid)?;
        signup::check_new_password(&user.username, new_password)?;
        let used = self
            .store
            .write(move |txn| store::signup::take_token(txn, &h, TokenPurpose::ResetPassword, now))
            .await?;
        if used != Some(uid) {
            return Err(AppError::TokenInvalid);
        }
        sessions.set_password(uid, new_password, None).await
    }

    /// The operator's test mail.
    pub async fn test_mail(&self, to: &str) -> AppResult<()> {
        let to = signup::normalize_email(to)?;
        self.mailer()?
            .send(
                &to,
                "VideoApi test mail / 测试邮件",
                "This is a test mail from VideoApi: the [smtp] settings work.\n\n这是一封测试邮件：邮件设置可用。\n".into(),
            )
            .await
    }

    /// A new invite code (single or multi-use, optionally expiring).
    pub async fn create_invite(
        &self,
        max_uses: u32,
        expires_at_ms: Option<i64>,
        note: Option<String>,
        actor: &str,
    ) -> AppResult<NewInvite> {
        if !(1..=10_000).contains(&max_uses) {
            return Err(AppError::invalid("max_uses", "max_uses must be 1-10000"));
        }
        let now = self.clock.now_ms();
        if expires_at_ms.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "expires_at",
                "the expiry must be in the future",
            ));
        }
        let code = new_invite_code();
        let inv = Invite {
            id: 0,
            prefix: code.chars().take(10).collect(),
            max_uses,
            uses: 0,
            expires_at_ms,
            disabled: false,
            note,
            created_at_ms: now,
            created_by: actor.to_string(),
            used_by: Vec::new(),
        };
        let h = hash_token(&code);
        let invite = self
            .store
            .write(move |txn| store::signup::create_invite(txn, &h, inv))
            .await?;
        Ok(NewInvite { invite, code })
    }

    pub async fn invites(&self) -> AppResult<Vec<Invite>> {
        self.store.read(store::signup::invites).await
    }

    pub async fn disable_invite(&self, id: u64) -> AppResult<Invite> {
        self.store
            .write(move |txn| store::signup::disable_invite(txn, id))
            .await
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

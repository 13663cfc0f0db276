//! Operator pages for selling credits: sign-up settings, invites, redemption codes,
//! payments, the test mail.

use super::money::PaymentView;
use super::session::Done;
use super::{AdminSession, ConsoleTags};
use crate::app::AppState;
use crate::domain::codes::{CodeStatus, RedemptionCode};
use crate::domain::signup::{Invite, SignupSettings};
use crate::error::AppError;
use crate::http::failures::*;
use crate::service::codes::BatchRequest;
use crate::service::codes::CodeFilter;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::collections::HashMap;

#[derive(Debug, Clone, Object)]
pub struct SignupSettingsView {
    /// `closed` (default), `invite` or `open`.
    pub registration: String,
    /// Credits a self-registered account starts with (a `signup_bonus` ledger entry).
    pub signup_credits: i64,
    /// Pricing group of new accounts; null = list prices.
    #[oai(nullable)]
    pub pricing_group: Option<String>,
    /// Sign-up needs a verified email address (needs `[smtp]`).
    pub email_verification: bool,
    /// Read-only: whether `[smtp]` is configured.
    #[oai(read_only)]
    pub email_configured: bool,
}

#[derive(Debug, Clone, Object)]
pub struct NewCodes {
    /// How many codes, 1-1000.
    pub count: u32,
    /// Credits each use adds.
    pub credits: i64,
    /// Uses per code (default 1).
    pub max_uses: Option<u32>,
    /// Unix milliseconds after which the codes stop working.
    pub expires_at: Option<i64>,
    /// 1-12 letters or digits in front of each code (e.g. your shop's name).
    pub prefix: Option<String>,
    /// Free text (where the batch was sold), searchable.
    pub note: Option<String>,
}

/// A redemption code as listed: only its first characters, never the code.
#[derive(Debug, Clone, Object)]
pub struct CodeView {
    pub id: u64,
    pub hint: String,
    pub batch: String,
    pub credits: i64,
    pub max_uses: u32,
    pub uses: u32,
    /// `unused`, `partly_used`, `used`, `expired` or `disabled`.
    pub status: String,
    #[oai(nullable)]
    pub expires_at: Option<i64>,
    #[oai(nullable)]
    pub note: Option<String>,
    pub created_at_ms: i64,
    pub created_by: String,
}

impl CodeView {
    fn from_code(c: &RedemptionCode, now: i64) -> CodeView {
        CodeView {
            id: c.id,
            hint: c.hint.clone(),
            batch: c.batch.clone(),
            credits: c.credits,
            max_uses: c.max_uses,
            uses: c.uses,
            status: c.status(now).as_str().into(),
            expires_at: c.expires_at_ms,
            note: c.note.clone(),
            created_at_ms: c.created_at_ms,
            created_by: c.created_by.clone(),
        }
    }
}

/// A new code in clear: shown in this answer only (codes are stored hashed).
#[derive(Debug, Clone, Object)]
pub struct MadeCode {
    pub code: String,
    pub info: CodeView,
}

#[derive(Debug, Clone, Object)]
pub struct MadeCodes {
    pub batch: String,
    pub codes: Vec<MadeCode>,
    /// The batch as CSV (`code,credits,max_uses,expires_at,batch`), to save now: it
    /// cannot be downloaded again.
    pub csv: String,
}

/// One use of a code.
#[derive(Debug, Clone, Object)]
pub struct CodeUse {
    pub user_id: u64,
    pub username: String,
    pub at_ms: i64,
    pub ledger_entry_id: u64,
}

#[derive(Debug, Clone, Object)]
pub struct Disabled {
    /// How many codes changed.
    pub disabled: u64,
}

#[derive(Debug, Clone, Object)]
pub struct NewInviteBody {
    /// How many sign-ups it allows (default 1).
    pub max_uses: Option<u32>,
    /// Unix milliseconds after which it stops working.
    pub expires_at: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct InviteView {
    pub id: u64,
    /// The first characters of the code.
    pub prefix: String,
    pub max_uses: u32,
    pub uses: u32,
    #[oai(nullable)]
    pub expires_at: Option<i64>,
    pub disabled: bool,
    /// Whether it can still be used now.
    pub usable: bool,
    #[oai(nullable)]
    pub note: Option<String>,
    pub created_at_ms: i64,
    pub created_by: String,
    /// Accounts that signed up with it.
    pub used_by: Vec<u64>,
}

impl InviteView {
    fn from_invite(i: &Invite, now: i64) -> InviteView {
        InviteView {
            id: i.id,
            prefix: i.prefix.clone(),
            max_uses: i.max_uses,
            uses: i.uses,
            expires_at: i.expires_at_ms,
            disabled: i.disabled,
            usable: i.usable(now),
            note: i.note.clone(),
            created_at_ms: i.created_at_ms,
            created_by: i.created_by.clone(),
            used_by: i.used_by.clone(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct MadeInvite {
    /// The invite code: shown in this answer only.
    pub code: String,
    pub info: InviteView,
}

#[derive(Debug, Clone, Object)]
pub struct TestMail {
    /// Where to send the test mail.
    pub to: String,
}

fn clean_note(note: Option<String>) -> Result<Option<String>, AppError> {
    let note = note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(AppError::invalid(
            "note",
            "a note is at most 200 characters",
        ));
    }
    Ok(note)
}

/// One CSV field; codes and batch names never need quoting, notes are not included.
fn csv_row(code: &str, c: &RedemptionCode) -> String {
    format!(
        "{code},{},{},{},{}\n",
        c.credits,
        c.max_uses,
        c.expires_at_ms.map(|e| e.to_string()).unwrap_or_default(),
        c.batch
    )
}

/// The ledger page's `kind` filter.
pub fn ledger_kind(
    kind: Option<&str>,
) -> Result<Option<crate::domain::ledger::EntryKind>, AppError> {
    use crate::domain::ledger::EntryKind;
    match kind.map(str::trim) {
        None | Some("") => Ok(None),
        Some(k) => EntryKind::parse(k).map(Some).ok_or_else(|| {
            let all: Vec<&str> = EntryKind::ALL.iter().map(|k| k.as_str()).collect();
            AppError::invalid("kind", format!("kind is one of {}", all.join(", ")))
        }),
    }
}

#[derive(Clone)]
pub struct MoneyAdminApi;

#[OpenApi(prefix_path = "/console/api/admin", tag = "ConsoleTags::ConsoleAdmin")]
impl MoneyAdminApi {
    /// Sign-up settings
    #[oai(path = "/signup-settings", method = "get")]
    async fn signup_settings(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<SignupSettingsView>, Failure<ADMIN>> {
        let s = state.signup.settings().await?;
        Ok(Json(SignupSettingsView {
            registration: s.registration.as_str().into(),
            signup_credits: s.signup_credits,
            pricing_group: s.pricing_group,
            email_verification: s.email_verification,
            email_configured: state.signup.email_configured(),
        }))
    }

    /// Change the sign-up settings
    ///
    /// Saved in the database: they win over the config file's from now on.
    #[oai(path = "/signup-settings", method = "put")]
    async fn put_signup_settings(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        body: Json<SignupSettingsView>,
    ) -> Result<Json<SignupSettingsView>, Failure<{ ADMIN | BODY | CONSOLE_WRITE }>> {
        let b = body.0;
        let registration = b
            .registration
            .parse()
            .map_err(|e: String| AppError::invalid("registration", e))?;
        let group = b.pricing_group.filter(|g| !g.trim().is_empty());
        if let Some(g) = &group
            && state.catalog.group(Some(g)).is_none()
        {
            return Err(AppError::invalid(
                "pricing_group",
                format!("pricing group `{g}` does not exist"),
            )
            .into());
        }
        let s = state
            .signup
            .put_settings(SignupSettings {
                registration,
                signup_credits: b.signup_credits,
                pricing_group: group,
                email_verification: b.email_verification,
            })
            .await?;
        Ok(Json(SignupSettingsView {
            registration: s.registration.as_str().into(),
            signup_credits: s.signup_credits,
            pricing_group: s.pricing_group,
            email_verification: s.email_verification,
            email_configured: state.signup.email_configured(),
        }))
    }

    /// Make redemption codes
    ///
    /// The codes are in this answer only (and its `csv`): they are stored hashed.
    #[oai(path = "/redemption-codes", method = "post")]
    async fn create_codes(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        body: Json<NewCodes>,
    ) -> Result<Json<MadeCodes>, Failure<{ ADMIN | BODY | CONSOLE_WRITE }>> {
        let b = body.0;
        let made = state
            .codes
            .create(
                BatchRequest {
                    count: b.count,
                    credits: b.credits,
                    max_uses: b.max_uses.unwrap_or(1),
                    expires_at_ms: b.expires_at,
                    prefix: b.prefix.filter(|p| !p.trim().is_empty()),
                    note: clean_note(b.note)?,
                },
                &auth.admin_actor(),
            )
            .await?;
        let now = state.codes.now_ms();
        let mut csv = String::from("code,credits,max_uses,expires_at,batch\n");
        for (code, c) in &made.codes {
            csv.push_str(&csv_row(code, c));
        }
        Ok(Json(MadeCodes {
            batch: made.batch,
            codes: made
                .codes
                .iter()
                .map(|(code, c)| MadeCode {
                    code: code.clone(),
                    info: CodeView::from_code(c, now),
                })
                .collect(),
            csv,
        }))
    }

    /// List redemption codes
    ///
    /// Newest first; filter by batch, status and note.
    #[oai(path = "/redemption-codes", method = "get")]
    #[allow(clippy::too_many_arguments)] // one per query parameter
    async fn codes(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        /// Exact batch id.
        batch: Query<Option<String>>,
        /// `unused`, `partly_used`, `used`, `expired` or `disabled`.
        status: Query<Option<String>>,
        /// Part of the note (case-insensitive).
        note: Query<Option<String>>,
        /// Cursor: only codes with a smaller id.
        before: Query<Option<u64>>,
        /// Page size, 1-500 (default 100).
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<CodeView>>, Failure<{ ADMIN | PARAMS }>> {
        let limit = crate::domain::paging::page_limit(limit.0, 100, 500)?;
        let status = match status.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(CodeStatus::parse(s).ok_or_else(|| {
                AppError::invalid(
                    "status",
                    "status is one of unused, partly_used, used, expired, disabled",
                )
            })?),
        };
        let f = CodeFilter {
            batch: batch.0.filter(|b| !b.trim().is_empty()),
            status,
            note: note.0.filter(|n| !n.trim().is_empty()),
            before: before.0,
        };
        let now = state.codes.now_ms();
        let list = state.codes.list(f, limit).await?;
        Ok(Json(
            list.iter().map(|c| CodeView::from_code(c, now)).collect(),
        ))
    }

    /// Who redeemed a code
    #[oai(path = "/redemption-codes/:code_id/uses", method = "get")]
    async fn code_uses(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        code_id: Path<u64>,
    ) -> Result<Json<Vec<CodeUse>>, Failure<{ ADMIN | PARAMS }>> {
        let uses = state.codes.uses(code_id.0).await?;
        let names: HashMap<crate::domain::ids::UserId, String> = state
            .accounts
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        Ok(Json(
            uses.iter()
                .map(|u| CodeUse {
                    user_id: u.user_id.get(),
                    username: names.get(&u.user_id).cloned().unwrap_or_default(),
                    at_ms: u.at_ms,
                    ledger_entry_id: u.ledger_id,
                })
                .collect(),
        ))
    }

    /// Disable a redemption code
    #[oai(path = "/redemption-codes/:code_id/disable", method = "post")]
    async fn disable_code(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        code_id: Path<u64>,
    ) -> Result<Json<Disabled>, Failure<{ ADMIN | CONSOLE_WRITE | PARAMS | E404 }>> {
        let n = state.codes.disable(Some(code_id.0), None).await?;
        Ok(Json(Disabled { disabled: n as u64 }))
    }

    /// Disable a whole batch of codes
    #[oai(path = "/redemption-batches/:batch/disable", method = "post")]
    async fn disable_batch(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        batch: Path<String>,
    ) -> Result<Json<Disabled>, Failure<{ ADMIN | CONSOLE_WRITE | E404 }>> {
        let n = state.codes.disable(None, Some(batch.0)).await?;
        Ok(Json(Disabled { disabled: n as u64 }))
    }

    /// List invites
    #[oai(path = "/invites", method = "get")]
    async fn invites(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<Vec<InviteView>>, Failure<ADMIN>> {
        let now = state.signup.now_ms();
        let list = state.signup.invites().await?;
        Ok(Json(
            list.iter()
                .map(|i| InviteView::from_invite(i, now))
                .collect(),
        ))
    }

    /// Make an invite code
    ///
    /// For `registration = "invite"`. The code is in this answer only.
    #[oai(path = "/invites", method = "post")]
    async fn create_invite(
        &self,
        state: Data<&AppState>,
        auth: AdminSession,
        body: Json<NewInviteBody>,
    ) -> Result<Json<MadeInvite>, Failure<{ ADMIN | BODY | CONSOLE_WRITE }>> {
        let b = body.0;
        let made = state
            .signup
            .create_invite(
                b.max_uses.unwrap_or(1),
                b.expires_at,
                clean_note(b.note)?,
                &auth.admin_actor(),
            )
            .await?;
        let now = state.signup.now_ms();
        Ok(Json(MadeInvite {
            code: made.code,
            info: InviteView::from_invite(&made.invite, now),
        }))
    }

    /// Disable an invite
    #[oai(path = "/invites/:invite_id/disable", method = "post")]
    async fn disable_invite(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        invite_id: Path<u64>,
    ) -> Result<Json<InviteView>, Failure<{ ADMIN | CONSOLE_WRITE | PARAMS | E404 }>> {
        let inv = state.signup.disable_invite(invite_id.0).await?;
        Ok(Json(InviteView::from_invite(&inv, state.signup.now_ms())))
    }

    /// Every online payment
    ///
    /// Newest first, with refunds and disputes the processor reported.
    #[oai(path = "/payments", method = "get")]
    async fn payments(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
    ) -> Result<Json<Vec<PaymentView>>, Failure<ADMIN>> {
        let list = state.payments.all(500).await?;
        Ok(Json(list.iter().map(PaymentView::from_payment).collect()))
    }

    /// Send a test mail
    ///
    /// Checks the `[smtp]` settings: 409 `email_not_configured` without them, 502
    /// `email_failed` with the mail server's answer when sending fails.
    #[oai(path = "/test-mail", method = "post")]
    async fn test_mail(
        &self,
        state: Data<&AppState>,
        _admin: AdminSession,
        body: Json<TestMail>,
    ) -> Result<Done, Failure<{ ADMIN | BODY | CONSOLE_WRITE | E409 | E502 }>> {
        state.signup.test_mail(&body.0.to).await?;
        Ok(Done::Done)
    }
}

//! Request and response bodies of the console API.

use crate::domain::catalog::{self as cat, Model};
use crate::domain::ledger::LedgerEntry;
use crate::domain::task::{Status, Task};
use crate::domain::user::{ApiKey, User};
use crate::http::views::TaskErrorView;
use poem_openapi::types::{Any, MaybeUndefined};
use poem_openapi::{Enum, Object};
use std::collections::BTreeMap;

/// The logged-in account.
#[derive(Debug, Clone, Object)]
pub struct Me {
    pub id: u64,
    pub username: String,
    /// Operators see the admin pages.
    pub is_admin: bool,
    /// Current balance in credits.
    pub credits: i64,
    #[oai(nullable)]
    pub pricing_group: Option<String>,
    pub created_at_ms: i64,
}

impl Me {
    pub fn from_user(u: &User) -> Me {
        Me {
            id: u.id.get(),
            username: u.username.clone(),
            is_admin: u.is_admin,
            credits: u.credits.get(),
            pricing_group: u.pricing_group.clone(),
            created_at_ms: u.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Object)]
pub struct ChangePassword {
    pub current_password: String,
    /// 8-256 characters.
    pub new_password: String,
}

/// An API key as listed: the full key is never shown again after creation.
#[derive(Debug, Clone, Object)]
pub struct KeyView {
    pub id: u64,
    pub name: String,
    /// The first characters of the key, e.g. `vga_Ab12Cd`.
    pub prefix: String,
    /// `active` or `revoked`.
    pub status: String,
    pub created_at_ms: i64,
    /// Null when never used.
    #[oai(nullable)]
    pub last_used_ms: Option<i64>,
    /// When the key stops working (RFC 3339); null = never.
    #[oai(nullable)]
    pub expires_at: Option<String>,
    /// True once `expires_at` has passed.
    pub expired: bool,
    /// Public model ids the key may use; empty = all.
    pub models: Vec<String>,
    /// CIDR ranges the key may be used from; empty = anywhere.
    pub allowed_ips: Vec<String>,
    pub limits: crate::http::limits::LimitsView,
    /// What the key uses now (null where not computed).
    #[oai(nullable)]
    pub usage: Option<crate::http::limits::UsageView>,
}

impl KeyView {
    pub fn from_key(k: &ApiKey) -> KeyView {
        KeyView::at(k, crate::domain::now_ms())
    }

    /// The key as seen at `now_ms` (the server clock), for `expired`.
    pub fn at(k: &ApiKey, now_ms: i64) -> KeyView {
        KeyView {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            status: if k.revoked { "revoked" } else { "active" }.into(),
            created_at_ms: k.created_at_ms,
            last_used_ms: k.last_used_ms,
            expires_at: k
                .limits
                .expires_at_ms
                .map(crate::domain::limits::format_rfc3339),
            expired: k.limits.expired(now_ms),
            models: k.limits.models.clone(),
            allowed_ips: k.limits.allowed_ips.clone(),
            limits: crate::http::limits::LimitsView::from_limits(&k.limits.limits),
            usage: None,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CreateKey {
    /// A name to recognise the key by (at most 64 characters).
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(flatten)]
    pub settings: crate::http::limits::KeySettings,
}

/// Change a key: its name and limits. Missing fields stay as they are; `null` removes
/// a limit.
#[derive(Debug, Clone, Object)]
pub struct UpdateKey {
    /// A new name (at most 64 characters).
    pub name: Option<String>,
    #[oai(flatten)]
    pub settings: crate::http::limits::KeySettings,
}

/// A new key. `key` is shown only in this response: store it now.
#[derive(Debug, Clone, Object)]
pub struct CreatedKey {
    /// The full key, `vga_...`; it cannot be shown again.
    pub key: String,
    #[oai(flatten)]
    pub info: KeyView,
}

/// The account's webhook signing secret (Standard Webhooks form).
#[derive(Debug, Clone, Object)]
pub struct WebhookSecret {
    /// `whsec_<base64>`: the HMAC-SHA256 key is the base64-decoded part after `whsec_`.
    /// Signs `webhook-signature` on every callback of this account, and
    /// `X-VideoApi-Signature` on callbacks of tasks created in the console.
    pub secret: String,
}

/// Credits and elapsed time of a task, as the console shows them.
#[derive(Debug, Clone, Object)]
pub struct ConsoleTask {
    pub task_id: String,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    /// Public model id.
    pub model: String,
    /// The model's display name (the id when the model was removed).
    pub model_name: String,
    #[oai(rename = "type")]
    pub kind: String,
    pub prompt: String,
    pub resolution: String,
    /// Requested seconds; null for `auto`.
    #[oai(nullable)]
    pub duration: Option<u32>,
    pub aspect_ratio: String,
    pub generate_audio: bool,
    pub image_urls: Vec<String>,
    pub video_urls: Vec<String>,
    pub audio_urls: Vec<String>,
    /// The video once completed (served by this gateway).
    #[oai(nullable)]
    pub url: Option<String>,
    pub videos: Vec<String>,
    #[oai(nullable)]
    pub error: Option<TaskErrorView>,
    /// `per_task`, `per_second` or `per_duration`.
    pub billing_mode: String,
    /// The matrix cell used: credits per task, per second or per duration bucket.
    pub unit_credits: i64,
    /// Seconds billed (per-second models) or 1.
    pub billed_units: i64,
    /// Credits reserved at creation.
    pub credits_reserved: i64,
    /// True when the reservation was returned.
    pub credits_refunded: bool,
    /// Credits returned (0 unless refunded).
    pub credits_refunded_amount: i64,
    /// What the task cost in the end: reserved − refunded (the settlement of a completed
    /// task; the reservation while it runs).
    pub credits_charged: i64,
    pub created_at_ms: i64,
    #[oai(nullable)]
    pub finished_at_ms: Option<i64>,
    /// From creation to finish, or to now while unfinished.
    pub elapsed_ms: i64,
    /// Poll this often while unfinished.
    pub poll_interval_seconds: u32,
    /// `api` or `console`.
    pub source: String,
    /// Whether the task can still be cancelled (not yet sent to a channel).
    pub cancellable: bool,
    /// The owner (operator views only).
    #[oai(nullable)]
    pub username: Option<String>,
    /// What the channel charged for it, in credits, when its route has a cost (operator
    /// views only).
    #[oai(nullable)]
    pub upstream_cost: Option<i64>,
    /// `credits_charged - upstream_cost` (operator views only).
    #[oai(nullable)]
    pub margin: Option<i64>,
}

impl ConsoleTask {
    pub fn from_task(
        t: &Task,
        public_url: &str,
        model_name: Option<&str>,
        now_ms: i64,
    ) -> ConsoleTask {
        let view = crate::http::views::TaskView::from_task(t, public_url);
        // A failure returns the whole reservation; a settlement what was not used.
        let refunded = match (&t.settlement, t.status) {
            (_, Status::Failed) if t.credits_refunded => t.credits_reserved.get(),
            (Some(st), _) => st.refunded.get(),
            _ => 0,
        };
        let r = &t.request;
        ConsoleTask {
            task_id: t.id.to_string(),
            status: t.status.as_str().into(),
            model: t.model.clone(),
            model_name: model_name.unwrap_or(&t.model).to_string(),
            kind: r.kind.clone(),
            prompt: r.prompt.clone(),
            resolution: r.resolution.clone(),
            duration: r.duration,
            aspect_ratio: r.aspect_ratio.clone(),
            generate_audio: r.generate_audio,
            image_urls: r.image_urls.clone(),
            video_urls: r.video_urls.clone(),
            audio_urls: r.audio_urls.clone(),
            url: view.url,
            videos: view.videos,
            error: view.error,
            billing_mode: t.price.mode.as_str().into(),
            unit_credits: t.price.unit_credits,
            billed_units: t.price.units,
            credits_reserved: t.credits_reserved.get(),
            credits_refunded: t.credits_refunded,
            credits_refunded_amount: refunded,
            credits_charged: match (t.credits_charged, t.status) {
                (Some(c), _) => c.get(),
                (None, Status::Failed) if t.credits_refunded => 0,
                (None, _) => t.credits_reserved.get(),
            },
            created_at_ms: t.created_at_ms,
            finished_at_ms: t.finished_at_ms,
            elapsed_ms: t.elapsed_ms(now_ms).max(0),
            poll_interval_seconds: t.poll_interval_seconds,
            source: t.source.clone(),
            cancellable: t.can_cancel(),
            username: None,
            upstream_cost: None,
            margin: None,
        }
    }
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, Object)]
pub struct ConsoleTaskList {
    pub data: Vec<ConsoleTask>,
    pub has_more: bool,
    /// Pass as `before` for the next page.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// The overview page.
#[derive(Debug, Clone, Object)]
pub struct Overview {
    pub username: String,
    pub credits: i64,
    /// Active (not revoked) keys.
    pub api_key_count: u64,
    pub task_count: u64,
    /// Status of the newest task; null without tasks.
    #[oai(nullable)]
    pub latest_status: Option<String>,
    /// The newest tasks (up to 5).
    pub recent_tasks: Vec<ConsoleTask>,
    /// Files this account stores (uploads and mirrored videos) and its upload quota.
    pub storage: crate::http::views::StorageView,
}

// ---- operator views ----

#[derive(Debug, Clone, Object)]
pub struct AdminUser {
    pub id: u64,
    pub username: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub credits: i64,
    #[oai(nullable)]
    pub pricing_group: Option<String>,
    pub created_at_ms: i64,
}

impl AdminUser {
    pub fn from_user(u: &User) -> AdminUser {
        AdminUser {
            id: u.id.get(),
            username: u.username.clone(),
            is_admin: u.is_admin,
            disabled: u.disabled,
            credits: u.credits.get(),
            pricing_group: u.pricing_group.clone(),
            created_at_ms: u.created_at_ms,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CreateUser {
    /// 3-32 letters, digits, `_`, `-`, `.`.
    pub username: String,
    /// 8-256 characters; generated and returned once when omitted.
    #[oai(nullable)]
    pub password: Option<String>,
    /// Starting credits (a top-up entry in the ledger).
    #[oai(nullable)]
    pub credits: Option<i64>,
    #[oai(nullable)]
    pub is_admin: Option<bool>,
    #[oai(nullable)]
    pub pricing_group: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct CreatedUser {
    pub user: AdminUser,
    /// Only when the password was generated; shown once.
    #[oai(nullable)]
    pub generated_password: Option<String>,
}

/// Fields to change; omitted fields stay as they are.
#[derive(Debug, Clone, Object)]
pub struct UpdateUser {
    /// Disabled users cannot log in and their keys stop working.
    #[oai(nullable)]
    pub disabled: Option<bool>,
    #[oai(nullable)]
    pub is_admin: Option<bool>,
    /// A group name, or null for list prices.
    #[oai(nullable)]
    pub pricing_group: MaybeUndefined<String>,
    /// A new password (ends the user's console sessions).
    #[oai(nullable)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct AdjustCredits {
    /// Positive tops up, negative deducts (never below zero).
    pub amount: i64,
    /// Why; kept in the ledger (at most 200 characters).
    #[oai(nullable)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct LedgerView {
    pub id: u64,
    pub at_ms: i64,
    pub user_id: u64,
    pub username: String,
    /// `reserve`, `refund`, `settle`, `top_up`, `adjust`, `redeem`, `payment` or `signup_bonus`.
    pub kind: String,
    /// Signed change of the balance.
    pub amount: i64,
    pub balance_after: i64,
    #[oai(nullable)]
    pub task_id: Option<String>,
    /// `user:<name>`, `admin:<name>`, `system` or `cli`.
    pub actor: String,
    /// The note as stored: an operator's free text, or for entries the system wrote, the
    /// text behind `reason`.
    #[oai(nullable)]
    pub note: Option<String>,
    /// Why the system wrote this entry, as a code to render in the reader's language:
    /// `task_reserved`, `task_refunded`, `starting_credits`, `code_redeemed`,
    /// `payment_received` or `signup_bonus`. Null for an operator's
    /// change, whose `note` is free text to show as typed.
    #[oai(nullable)]
    pub reason: Option<String>,
    /// For `task_refunded`: the error code the task failed with (e.g. `deadline_exceeded`).
    #[oai(nullable)]
    pub error_code: Option<String>,
    /// Where credits from outside came from: `code:<id>` (redemption code),
    /// `stripe:<checkout session id>` (online payment) or `signup` (sign-up bonus).
    #[oai(nullable)]
    pub source: Option<String>,
}

/// The code behind a ledger entry the system wrote. The store keeps a note, not a code:
/// a refund's note is the task's error code, and a user's starting credits carry a fixed
/// note; everything else an operator typed.
fn ledger_reason(e: &LedgerEntry) -> (Option<&'static str>, Option<String>) {
    use crate::domain::ledger::EntryKind;
    match e.kind {
        EntryKind::Reserve => (Some("task_reserved"), None),
        EntryKind::Refund => (Some("task_refunded"), e.note.clone()),
        EntryKind::TopUp if e.note.as_deref() == Some(STARTING_CREDITS_NOTE) => {
            (Some("starting_credits"), None)
        }
        EntryKind::Settle => (Some("task_settled"), None),
        EntryKind::TopUp | EntryKind::Adjust => (None, None),
        EntryKind::Redeem => (Some("code_redeemed"), None),
        EntryKind::Payment => (Some("payment_received"), None),
        EntryKind::SignupBonus => (Some("signup_bonus"), None),
    }
}

/// The note the store writes on a new user's starting credits (`store/users.rs`).
const STARTING_CREDITS_NOTE: &str = "starting credits";

impl LedgerView {
    pub fn from_entry(e: &LedgerEntry, username: &str) -> LedgerView {
        let (reason, error_code) = ledger_reason(e);
        LedgerView {
            id: e.id,
            at_ms: e.at_ms,
            user_id: e.user_id.get(),
            username: username.to_string(),
            kind: e.kind.as_str().into(),
            amount: e.amount.get(),
            balance_after: e.balance_after.get(),
            task_id: e.task_id.as_ref().map(ToString::to_string),
            actor: e.actor.clone(),
            note: e.note.clone(),
            reason: reason.map(str::to_string),
            error_code,
            source: e.source.clone(),
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct Adjusted {
    pub entry: LedgerView,
    /// The balance after the change.
    pub credits: i64,
}

#[derive(Debug, Clone, Object)]
pub struct LedgerPage {
    /// Newest first.
    pub data: Vec<LedgerView>,
    pub has_more: bool,
    /// Pass as `before` for the next page.
    #[oai(nullable)]
    pub next_cursor: Option<u64>,
}

#[derive(Debug, Clone, Object)]
pub struct GroupView {
    pub name: String,
    /// 100 = list price, 80 = 20 % off.
    pub percent: u32,
    /// Model id -> credits (per task or per second, as the model bills).
    pub overrides: BTreeMap<String, i64>,
    /// Users in this group.
    pub users: u64,
}

#[derive(Debug, Clone, Object)]
pub struct PutGroup {
    /// 1-10000; 100 = list price.
    pub percent: u32,
    #[oai(default)]
    pub overrides: BTreeMap<String, i64>,
}

/// A provider channel. Credentials are masked to their last four characters.
#[derive(Debug, Clone, Object)]
pub struct ProviderView {
    pub name: String,
    /// Adapter kind, e.g. `demo`.
    pub kind: String,
    pub base_url: String,
    /// Masked, e.g. `••••abcd`; empty when none is set.
    pub api_key: String,
    /// Masked like `api_key`.
    pub api_secret: String,
    pub has_api_key: bool,
    pub has_api_secret: bool,
    pub enabled: bool,
    pub priority: i32,
    pub weight: u32,
    /// Adapter settings; values under secret-looking names are masked.
    pub settings: Any<serde_json::Value>,
    /// False while the channel cools down after upstream errors.
    pub healthy: bool,
    /// Public models with a route to this channel.
    pub models: Vec<String>,
}

impl ProviderView {
    pub fn from_config(p: &cat::ProviderConfig, healthy: bool, models: Vec<String>) -> Self {
        ProviderView {
            name: p.name.clone(),
            kind: p.kind.clone(),
            base_url: p.base_url.clone(),
            api_key: cat::mask_secret(&p.api_key),
            api_secret: cat::mask_secret(&p.api_secret),
            has_api_key: !p.api_key.is_empty(),
            has_api_secret: !p.api_secret.is_empty(),
            enabled: p.enabled,
            priority: p.priority,
            weight: p.weight,
            settings: Any(mask_settings(&p.settings)),
            healthy,
            models,
        }
    }
}

/// Mask string values whose key names a credential, at any depth.
pub fn mask_settings(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let secret = ["key", "secret", "token", "password", "credential"]
                        .iter()
                        .any(|s| lower.contains(s));
                    let v = match v {
                        Value::String(s) if secret => Value::String(cat::mask_secret(s)),
                        other => mask_settings(other),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(mask_settings).collect()),
        other => other.clone(),
    }
}

/// Create or edit a channel. On edit, an omitted `api_key`/`api_secret` keeps the stored
/// one and an empty string clears it.
#[derive(Debug, Clone, Object)]
pub struct ProviderInput {
    /// Required on create; ignored on edit (the path names the channel).
    #[oai(nullable)]
    pub name: Option<String>,
    pub kind: String,
    #[oai(default)]
    pub base_url: String,
    #[oai(nullable)]
    pub api_key: Option<String>,
    #[oai(nullable)]
    pub api_secret: Option<String>,
    #[oai(nullable)]
    pub enabled: Option<bool>,
    #[oai(nullable)]
    pub priority: Option<i32>,
    #[oai(nullable)]
    pub weight: Option<u32>,
    #[oai(nullable)]
    pub settings: Option<Any<serde_json::Value>>,
}

#[derive(Debug, Clone, Object)]
pub struct ConnectionTest {
    /// True when the channel answered and accepted the credentials.
    pub ok: bool,
    /// False when the adapter has no free test call.
    pub supported: bool,
    /// The outcome as a code to render in the reader's language: `ok`, `unsupported`,
    /// `no_answer` (nothing within the test timeout), `refused` (the channel refused the
    /// credentials or account), `unavailable` (busy or down, try later), `uncertain` (the
    /// connection dropped), `rejected` (the request was refused) or `unreadable` (an
    /// answer that could not be understood).
    pub code: String,
    /// What upstream said on a failure (its own code and text), shown as a detail.
    #[oai(nullable)]
    pub detail: Option<String>,
    /// The whole outcome in English.
    pub message: String,
}

impl ConnectionTest {
    /// The outcome of an adapter's test call; `None` when it did not answer in time.
    pub fn from_outcome(
        outcome: Option<Result<String, crate::providers::ProviderError>>,
        timeout_secs: u64,
    ) -> ConnectionTest {
        use crate::providers::ProviderError as E;
        let failed = |code: &str, detail: String, message: String| ConnectionTest {
            ok: false,
            supported: true,
            code: code.into(),
            detail: Some(detail),
            message,
        };
        match outcome {
            None => ConnectionTest {
                ok: false,
                supported: true,
                code: "no_answer".into(),
                detail: None,
                message: format!("no answer within {timeout_secs} seconds"),
            },
            Some(Ok(message)) => ConnectionTest {
                ok: true,
                supported: true,
                code: "ok".into(),
                detail: None,
                message,
            },
            Some(Err(E::Final { code, message })) if code == "unsupported" => ConnectionTest {
                ok: false,
                supported: false,
                code: "unsupported".into(),
                detail: None,
                message,
            },
            Some(Err(e)) => {
                let full = e.to_string();
                match e {
                    E::Channel { code, message } => {
                        failed("refused", format!("{code}: {message}"), full)
                    }
                    E::Retryable { message, .. } => failed("unavailable", message, full),
                    E::Ambiguous { message } => failed("uncertain", message, full),
                    E::Final { code, message } => {
                        failed("rejected", format!("{code}: {message}"), full)
                    }
                    E::BadResponse { message } => failed("unreadable", message, full),
                }
            }
        }
    }
}

/// A documented host of a channel kind.
#[derive(Debug, Clone, Object)]
pub struct KindRegionView {
    /// A stable id, e.g. `cn-beijing`.
    pub code: String,
    pub name: String,
    pub base_url: String,
}

/// One channel kind, from the server's registration table: what the channel dialog shows.
#[derive(Debug, Clone, Object)]
pub struct ProviderKindView {
    /// The `kind` a channel declares.
    pub kind: String,
    pub display_name: String,
    /// Channel fields this kind uses, among `api_key`, `api_secret` and `base_url`.
    pub fields: Vec<String>,
    /// What the upstream calls the key (null when `api_key` is not used).
    #[oai(nullable)]
    pub api_key_label: Option<String>,
    /// What the upstream calls the secret (null when `api_secret` is not used).
    #[oai(nullable)]
    pub api_secret_label: Option<String>,
    /// The base URL used when `base_url` is left empty; null when there is none.
    #[oai(nullable)]
    pub default_base_url: Option<String>,
    /// True when `base_url` must be given (gateways with no default host).
    pub base_url_required: bool,
    /// An example base URL for kinds that need one.
    #[oai(nullable)]
    pub base_url_example: Option<String>,
    /// Documented hosts to choose from (key, base URL and model must be of one region).
    pub regions: Vec<KindRegionView>,
    /// The kind's own `settings` keys (every kind also takes `timeout_secs`,
    /// `max_concurrency` and `requests_per_second`).
    pub settings: Vec<String>,
    /// True when a route to this kind declares the model's inputs in its `settings`.
    pub route_mapping: bool,
    /// False when the upstream has no free call for "test connection".
    pub test_connection: bool,
    /// Anchor of the README section whose table has this kind's row.
    pub readme_anchor: String,
}

impl ProviderKindView {
    pub fn from_spec(k: &crate::providers::KindSpec) -> Self {
        use crate::providers::kinds::BaseUrl;
        let mut fields = Vec::new();
        if k.api_key.is_some() {
            fields.push("api_key".to_string());
        }
        if k.api_secret.is_some() {
            fields.push("api_secret".to_string());
        }
        if k.base_url != BaseUrl::Unused {
            fields.push("base_url".to_string());
        }
        ProviderKindView {
            kind: k.kind.into(),
            display_name: k.display_name.into(),
            fields,
            api_key_label: k.api_key.map(Into::into),
            api_secret_label: k.api_secret.map(Into::into),
            default_base_url: match k.base_url {
                BaseUrl::Default(u) => Some(u.into()),
                _ => None,
            },
            base_url_required: matches!(k.base_url, BaseUrl::Required(_)),
            base_url_example: match k.base_url {
                BaseUrl::Required(u) => Some(u.into()),
                _ => None,
            },
            regions: k
                .regions
                .iter()
                .map(|r| KindRegionView {
                    code: r.code.into(),
                    name: r.name.into(),
                    base_url: r.base_url.into(),
                })
                .collect(),
            settings: k.settings.iter().map(|s| s.to_string()).collect(),
            route_mapping: k.route_mapping,
            test_connection: k.test_connection,
            readme_anchor: k.readme_section.into(),
        }
    }
}

/// A channel on the operator overview.
#[derive(Debug, Clone, Object)]
pub struct ChannelHealthView {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    /// False while the channel cools down after upstream errors in a row.
    pub healthy: bool,
    /// Upstream errors in a row (a success resets it).
    pub consecutive_errors: u32,
    /// Upstream errors in the last hour (since the server started, at most).
    pub recent_errors: u32,
}

/// A failed task on the operator overview.
#[derive(Debug, Clone, Object)]
pub struct FailureView {
    pub task_id: String,
    #[oai(nullable)]
    pub username: Option<String>,
    pub model: String,
    /// The channel that last handled it, if any.
    #[oai(nullable)]
    pub provider: Option<String>,
    pub error_code: String,
    pub error_message: String,
    pub created_at_ms: i64,
    #[oai(nullable)]
    pub finished_at_ms: Option<i64>,
}

/// The operator's first page: today's figures and what needs attention.
#[derive(Debug, Clone, Object)]
pub struct AdminOverview {
    /// Where "today" began (the caller's `tz_offset_minutes`, UTC by default).
    pub day_start_ms: i64,
    pub users: u64,
    pub new_users_today: u64,
    /// Operator top-ups and positive adjustments today.
    pub credits_sold_today: i64,
    /// Credits reserved for tasks today less today's refunds.
    pub credits_spent_today: i64,
    pub tasks_pending: u64,
    pub tasks_processing: u64,
    pub channels: Vec<ChannelHealthView>,
    /// The newest failed tasks (up to 10), newest first.
    pub recent_failures: Vec<FailureView>,
    /// False when today's ledger was too long to sum completely.
    pub complete: bool,
}

impl AdminOverview {
    pub fn from_overview(o: crate::service::overview::OperatorOverview) -> Self {
        AdminOverview {
            day_start_ms: o.day_start_ms,
            users: o.users,
            new_users_today: o.new_users_today,
            credits_sold_today: o.credits_sold_today,
            credits_spent_today: o.credits_spent_today,
            tasks_pending: o.pending,
            tasks_processing: o.processing,
            channels: o
                .channels
                .into_iter()
                .map(|c| ChannelHealthView {
                    name: c.name,
                    kind: c.kind,
                    enabled: c.enabled,
                    healthy: c.healthy,
                    consecutive_errors: c.consecutive_errors,
                    recent_errors: c.recent_errors,
                })
                .collect(),
            recent_failures: o
                .recent_failures
                .into_iter()
                .map(|f| {
                    let (code, message) = f
                        .task
                        .error
                        .map(|e| (e.code, e.message))
                        .unwrap_or_default();
                    FailureView {
                        task_id: f.task.id.into(),
                        username: f.username,
                        model: f.task.model,
                        provider: f.task.provider,
                        error_code: code,
                        error_message: message,
                        created_at_ms: f.task.created_at_ms,
                        finished_at_ms: f.task.finished_at_ms,
                    }
                })
                .collect(),
            complete: o.complete,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum BillingModeInput {
    PerTask,
    PerSecond,
    PerDuration,
}

#[derive(Debug, Clone, Object)]
pub struct ModelBilling {
    pub mode: BillingModeInput,
    /// Credits per task, or per second of video.
    pub credits: i64,
    /// Per-resolution override of `credits`, e.g. `{"480p": 24}`.
    #[oai(default)]
    pub resolution_credits: BTreeMap<String, i64>,
    /// `per_duration`: the price of videos up to each bucket's `max_seconds`.
    #[oai(default)]
    pub buckets: Vec<BucketInput>,
    /// With `generate_audio`: the base price times this percent (150 = ×1.5); null = 100.
    #[oai(default, nullable)]
    pub audio_percent: Option<u32>,
    /// With `generate_audio`: credits added per task.
    #[oai(default)]
    pub audio_credits: i64,
    /// With a video input: credits added per task.
    #[oai(default)]
    pub video_input_credits: i64,
}

/// One `per_duration` bucket.
#[derive(Debug, Clone, Object)]
pub struct BucketInput {
    pub max_seconds: u32,
    /// Price at any resolution not in `resolution_credits`; null = unpriced there.
    #[oai(default, nullable)]
    pub credits: Option<i64>,
    #[oai(default)]
    pub resolution_credits: BTreeMap<String, i64>,
}

/// What the channel charges per task on a route, in credits (for the margin).
#[derive(Debug, Clone, Object)]
pub struct RouteCostInput {
    #[oai(default)]
    pub per_task: i64,
    /// Per second of video by resolution; `"*"` = any other.
    #[oai(default)]
    pub per_second: BTreeMap<String, i64>,
    /// Per provider unit (Kling unit, Ark token): `unit_credits` per `per_units` units.
    #[oai(default)]
    pub unit_credits: i64,
    #[oai(default, nullable)]
    pub per_units: Option<u64>,
}

#[derive(Debug, Clone, Object)]
pub struct ModelCapabilities {
    pub types: Vec<String>,
    pub resolutions: Vec<String>,
    pub durations: Vec<u32>,
    /// Seconds billed and sent for `duration: "auto"`.
    pub default_duration: u32,
    pub aspect_ratios: Vec<String>,
    #[oai(default)]
    pub max_images: u32,
    #[oai(default)]
    pub max_videos: u32,
    #[oai(default)]
    pub max_audios: u32,
    #[oai(default)]
    pub supports_audio: bool,
    #[oai(default)]
    pub default_generate_audio: bool,
}

#[derive(Debug, Clone, Object)]
pub struct ModelRoute {
    /// A channel name.
    pub provider: String,
    /// The model's name at that channel.
    pub upstream_model: String,
    /// Lower is tried first.
    #[oai(default)]
    pub priority: i32,
    /// Share among routes of the same priority.
    #[oai(default = "one")]
    pub weight: u32,
    #[oai(nullable)]
    pub settings: Option<Any<serde_json::Value>>,
    /// What the channel charges for a task on this route; null = not recorded.
    #[oai(default, nullable)]
    pub cost: Option<RouteCostInput>,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn thirty() -> u32 {
    30
}

/// A public model as the operator edits it.
#[derive(Debug, Clone, Object)]
pub struct AdminModel {
    /// The public id callers send as `model`.
    pub id: String,
    pub name: String,
    #[oai(default)]
    pub description: String,
    #[oai(default)]
    pub features: Vec<String>,
    #[oai(default = "yes")]
    pub enabled: bool,
    pub billing: ModelBilling,
    pub capabilities: ModelCapabilities,
    #[oai(default = "thirty")]
    pub poll_interval_seconds: u32,
    #[oai(default)]
    pub routes: Vec<ModelRoute>,
}

impl AdminModel {
    pub fn from_model(m: &Model) -> AdminModel {
        let c = &m.capabilities;
        AdminModel {
            id: m.id.clone(),
            name: m.name.clone(),
            description: m.description.clone(),
            features: m.features.clone(),
            enabled: m.enabled,
            billing: ModelBilling {
                mode: match m.billing.mode {
                    cat::BillingMode::PerTask => BillingModeInput::PerTask,
                    cat::BillingMode::PerSecond => BillingModeInput::PerSecond,
                    cat::BillingMode::PerDuration => BillingModeInput::PerDuration,
                },
                credits: m.billing.credits,
                resolution_credits: m.billing.resolution_credits.clone(),
                buckets: m
                    .billing
                    .buckets
                    .iter()
                    .map(|b| BucketInput {
                        max_seconds: b.max_seconds,
                        credits: b.credits,
                        resolution_credits: b.resolution_credits.clone(),
                    })
                    .collect(),
                audio_percent: m.billing.audio_percent,
                audio_credits: m.billing.audio_credits,
                video_input_credits: m.billing.video_input_credits,
            },
            capabilities: ModelCapabilities {
                types: c.types.clone(),
                resolutions: c.resolutions.clone(),
                durations: c.durations.clone(),
                default_duration: c.default_duration,
                aspect_ratios: c.aspect_ratios.clone(),
                max_images: c.max_images,
                max_videos: c.max_videos,
                max_audios: c.max_audios,
                supports_audio: c.supports_audio,
                default_generate_audio: c.default_generate_audio,
            },
            poll_interval_seconds: m.poll_interval_seconds,
            routes: m
                .routes
                .iter()
                .map(|r| ModelRoute {
                    provider: r.provider.clone(),
                    upstream_model: r.upstream_model.clone(),
                    priority: r.priority,
                    weight: r.weight,
                    settings: (!r.settings.is_null()).then(|| Any(r.settings.clone())),
                    cost: r.cost.as_ref().map(|c| RouteCostInput {
                        per_task: c.per_task,
                        per_second: c.per_second.clone(),
                        unit_credits: c.unit_credits,
                        per_units: c.per_units,
                    }),
                })
                .collect(),
        }
    }

    pub fn into_model(self) -> Model {
        let c = self.capabilities;
        Model {
            id: self.id.trim().to_string(),
            name: self.name.trim().to_string(),
            description: self.description,
            features: self.features,
            enabled: self.enabled,
            billing: cat::Billing {
                mode: match self.billing.mode {
                    BillingModeInput::PerTask => cat::BillingMode::PerTask,
                    BillingModeInput::PerSecond => cat::BillingMode::PerSecond,
                    BillingModeInput::PerDuration => cat::BillingMode::PerDuration,
                },
                credits: self.billing.credits,
                resolution_credits: self.billing.resolution_credits,
                buckets: self
                    .billing
                    .buckets
                    .into_iter()
                    .map(|b| cat::DurationBucket {
                        max_seconds: b.max_seconds,
                        credits: b.credits,
                        resolution_credits: b.resolution_credits,
                    })
                    .collect(),
                audio_percent: self.billing.audio_percent,
                audio_credits: self.billing.audio_credits,
                video_input_credits: self.billing.video_input_credits,
            },
            capabilities: cat::Capabilities {
                types: c.types,
                resolutions: c.resolutions,
                durations: c.durations,
                default_duration: c.default_duration,
                aspect_ratios: c.aspect_ratios,
                max_images: c.max_images,
                max_videos: c.max_videos,
                max_audios: c.max_audios,
                supports_audio: c.supports_audio,
                default_generate_audio: c.default_generate_audio,
            },
            poll_interval_seconds: self.poll_interval_seconds,
            routes: self
                .routes
                .into_iter()
                .map(|r| cat::Route {
                    provider: r.provider,
                    upstream_model: r.upstream_model,
                    priority: r.priority,
                    weight: r.weight,
                    settings: r.settings.map(|s| s.0).unwrap_or(serde_json::Value::Null),
                    cost: r.cost.map(|c| cat::RouteCost {
                        per_task: c.per_task,
                        per_second: c.per_second,
                        unit_credits: c.unit_credits,
                        per_units: c.per_units,
                    }),
                })
                .collect(),
        }
    }
}

/// Whether a status filter is valid; `None` for "any".
pub fn parse_status(s: Option<&str>) -> Result<Option<Status>, crate::error::AppError> {
    match s {
        None | Some("") => Ok(None),
        Some(s) => Status::parse(s).map(Some).ok_or_else(|| {
            crate::error::AppError::invalid(
                "status",
                "must be pending, processing, completed or failed",
            )
        }),
    }
}

/// A customer's own price for one model.
#[derive(Debug, Clone, Object)]
pub struct UserPriceView {
    pub model: String,
    /// Percent of list price; null when `credits` is set.
    #[oai(nullable)]
    pub percent: Option<u32>,
    /// Unit price (per task, second or bucket); null when `percent` is set.
    #[oai(nullable)]
    pub credits: Option<i64>,
}

impl UserPriceView {
    pub fn from_price(p: &cat::UserPrice) -> UserPriceView {
        UserPriceView {
            model: p.model.clone(),
            percent: p.percent,
            credits: p.credits,
        }
    }
}

/// Set a customer's price for a model: one of `percent` or `credits`; neither removes it.
#[derive(Debug, Clone, Object)]
pub struct PutUserPrice {
    /// 1-10000; 100 = list price.
    #[oai(nullable)]
    pub percent: Option<u32>,
    /// 0 or more credits per task, second or bucket.
    #[oai(nullable)]
    pub credits: Option<i64>,
}

/// Charged, upstream cost and margin over a set of tasks.
#[derive(Debug, Clone, Object)]
pub struct MarginTotals {
    /// The model id, channel name or user name (empty for the overall line).
    pub key: String,
    /// Finished tasks counted.
    pub tasks: u64,
    pub charged: i64,
    /// Tasks whose upstream cost is known (their route has a cost).
    pub costed_tasks: u64,
    pub upstream_cost: i64,
    /// Charged minus cost over the costed tasks only.
    pub margin: i64,
}

impl MarginTotals {
    pub fn new(key: String, t: &crate::domain::margins::Totals) -> MarginTotals {
        MarginTotals {
            key,
            tasks: t.tasks,
            charged: t.charged,
            costed_tasks: t.costed,
            upstream_cost: t.upstream_cost,
            margin: t.margin,
        }
    }
}

/// The operator's margin for finished tasks created in a period.
#[derive(Debug, Clone, Object)]
pub struct MarginReport {
    pub from_ms: i64,
    pub to_ms: i64,
    /// True when the period held more tasks than one report reads; narrow it.
    pub truncated: bool,
    pub all: MarginTotals,
    pub by_model: Vec<MarginTotals>,
    pub by_channel: Vec<MarginTotals>,
    pub by_customer: Vec<MarginTotals>,
}

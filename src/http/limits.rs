//! API key limits and usage as the API and the console show and take them.

use crate::domain::limits::{self, BudgetPeriod, KeyLimits, Limits};
use crate::error::AppError;
use crate::service::limits::ScopeUsage;
use poem_openapi::Object;
use poem_openapi::types::MaybeUndefined;

/// Limits of a key or an account; `null` = no limit.
#[derive(Debug, Clone, Object)]
pub struct LimitsView {
    /// Credits that may be spent per `budget_period`.
    #[oai(nullable)]
    pub budget: Option<i64>,
    /// `total` (never resets), `daily` or `monthly` (calendar day or month in the
    /// operator's time zone).
    pub budget_period: String,
    /// Unfinished tasks at once; further creates wait in the queue (`pending` with a
    /// `queue_position`).
    #[oai(nullable)]
    pub max_concurrency: Option<u32>,
    /// Creates per minute (a token bucket); over it: 429 `rate_limited`.
    #[oai(nullable)]
    pub rpm: Option<u32>,
    /// Tasks that may wait for a slot; beyond it: 429 `queue_full`.
    #[oai(nullable)]
    pub max_queued: Option<u32>,
}

impl LimitsView {
    pub fn from_limits(l: &Limits) -> LimitsView {
        LimitsView {
            budget: l.budget,
            budget_period: l.budget_period.as_str().into(),
            max_concurrency: l.max_concurrency,
            rpm: l.rpm,
            max_queued: l.max_queued,
        }
    }
}

/// What a key or an account uses now.
#[derive(Debug, Clone, Object)]
pub struct UsageView {
    /// Credits spent by tasks created in the current budget period (all time for
    /// `total`): reservations, less refunds, corrected by settlements.
    pub spent_this_period: i64,
    /// `budget - spent_this_period` (never below 0); null without a budget.
    #[oai(nullable)]
    pub budget_remaining: Option<i64>,
    /// When the current period began (RFC 3339); null for `total`.
    #[oai(nullable)]
    pub period_start: Option<String>,
    /// When the budget resets (RFC 3339); null for `total`.
    #[oai(nullable)]
    pub period_resets_at: Option<String>,
    /// Tasks not yet completed or failed (running + queued).
    pub unfinished_tasks: u64,
    /// Unfinished tasks holding a concurrency slot.
    pub running_tasks: u64,
    /// Tasks waiting for a slot.
    pub queued_tasks: u64,
    /// Creates in the last 60 seconds.
    pub requests_this_minute: u64,
}

impl UsageView {
    pub fn from_usage(u: &ScopeUsage) -> UsageView {
        UsageView {
            spent_this_period: u.usage.spent,
            budget_remaining: u
                .limits
                .budget
                .map(|b| b.saturating_sub(u.usage.spent).max(0)),
            period_start: u.period.map(|(s, _)| limits::format_rfc3339(s)),
            period_resets_at: u.period.map(|(_, e)| limits::format_rfc3339(e)),
            unfinished_tasks: u.usage.held + u.usage.waiting,
            running_tasks: u.usage.held,
            queued_tasks: u.usage.waiting,
            requests_this_minute: u.requests_this_minute,
        }
    }
}

/// A scope's limits with its usage.
#[derive(Debug, Clone, Object)]
pub struct LimitsWithUsage {
    pub limits: LimitsView,
    pub usage: UsageView,
}

impl LimitsWithUsage {
    pub fn from_usage(u: &ScopeUsage) -> LimitsWithUsage {
        LimitsWithUsage {
            limits: LimitsView::from_limits(&u.limits),
            usage: UsageView::from_usage(u),
        }
    }
}

/// Settings of an API key. On create, a missing or `null` field means no limit; on
/// update, a missing field is left as it is and `null` removes the limit.
#[derive(Debug, Clone, Default, Object)]
pub struct KeySettings {
    /// After this time (RFC 3339, e.g. `2026-12-31T23:59:59Z`) the key is refused with
    /// 401 `key_expired`.
    pub expires_at: MaybeUndefined<String>,
    /// Public model ids the key may use (empty = all); others: 403 `model_not_allowed`.
    pub models: MaybeUndefined<Vec<String>>,
    /// IPv4/IPv6 CIDR ranges the key may be used from (empty = anywhere); others: 403
    /// `ip_not_allowed`. Behind a reverse proxy, set `trusted_proxies`.
    pub allowed_ips: MaybeUndefined<Vec<String>>,
    /// Credits the key may spend per `budget_period`; over it: 402 `key_budget_exceeded`.
    pub budget: MaybeUndefined<i64>,
    /// `total` (default), `daily` or `monthly`.
    pub budget_period: MaybeUndefined<String>,
    /// Unfinished tasks at once (1-10000); more wait in the queue.
    pub max_concurrency: MaybeUndefined<i64>,
    /// Creates per minute (1-100000).
    pub rpm: MaybeUndefined<i64>,
    /// Tasks that may wait for a slot (0-100000); beyond it: 429 `queue_full`.
    pub max_queued: MaybeUndefined<i64>,
}

fn count(field: &str, v: MaybeUndefined<i64>, keep: Option<u32>) -> Result<Option<u32>, AppError> {
    match v {
        MaybeUndefined::Undefined => Ok(keep),
        MaybeUndefined::Null => Ok(None),
        MaybeUndefined::Value(n) => u32::try_from(n).map(Some).map_err(|_| {
            AppError::invalid(
                field,
                format!("{field} must be a whole number of at least 0"),
            )
        }),
    }
}

fn pick<T>(v: MaybeUndefined<T>, keep: Option<T>) -> Option<T> {
    match v {
        MaybeUndefined::Undefined => keep,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(v) => Some(v),
    }
}

impl KeySettings {
    /// These settings applied over `base` (unchecked: the service checks the result).
    pub fn apply(self, base: KeyLimits) -> Result<KeyLimits, AppError> {
        let expires_at_ms = match self.expires_at {
            MaybeUndefined::Undefined => base.expires_at_ms,
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(s) if s.trim().is_empty() => None,
            MaybeUndefined::Value(s) => Some(limits::parse_rfc3339(&s, "expires_at")?),
        };
        let budget_period = match self.budget_period {
            MaybeUndefined::Undefined => base.limits.budget_period,
            MaybeUndefined::Null => BudgetPeriod::Total,
            MaybeUndefined::Value(s) => BudgetPeriod::parse(&s)?,
        };
        Ok(KeyLimits {
            expires_at_ms,
            models: pick(self.models, Some(base.models)).unwrap_or_default(),
            allowed_ips: pick(self.allowed_ips, Some(base.allowed_ips)).unwrap_or_default(),
            limits: Limits {
                budget: pick(self.budget, base.limits.budget),
                budget_period,
                max_concurrency: count(
                    "max_concurrency",
                    self.max_concurrency,
                    base.limits.max_concurrency,
                )?,
                rpm: count("rpm", self.rpm, base.limits.rpm)?,
                max_queued: count("max_queued", self.max_queued, base.limits.max_queued)?,
            },
        })
    }
}

/// An account's own limits as an operator sets them (`null` = the pricing group's
/// default, or none).
#[derive(Debug, Clone, Default, Object)]
pub struct AccountLimitsInput {
    pub budget: MaybeUndefined<i64>,
    /// `total`, `daily` or `monthly`.
    pub budget_period: MaybeUndefined<String>,
    pub max_concurrency: MaybeUndefined<i64>,
    pub rpm: MaybeUndefined<i64>,
    pub max_queued: MaybeUndefined<i64>,
}

impl AccountLimitsInput {
    /// These settings over `base`, checked.
    pub fn apply(self, base: &Limits) -> Result<Limits, AppError> {
        let out = Limits {
            budget: pick(self.budget, base.budget),
            budget_period: match self.budget_period {
                MaybeUndefined::Undefined => base.budget_period,
                MaybeUndefined::Null => BudgetPeriod::Total,
                MaybeUndefined::Value(s) => BudgetPeriod::parse(&s)?,
            },
            max_concurrency: count(
                "max_concurrency",
                self.max_concurrency,
                base.max_concurrency,
            )?,
            rpm: count("rpm", self.rpm, base.rpm)?,
            max_queued: count("max_queued", self.max_queued, base.max_queued)?,
        };
        out.validate()?;
        Ok(out)
    }
}

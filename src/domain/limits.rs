//! API key and account limits as pure rules: what a key may do (expiry, models, client
//! addresses), budget periods in a time zone, and who may start or wait in the queue.

use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Spend is kept in buckets of this many milliseconds (by task creation time). Every time
/// zone offset in use is a multiple of 15 minutes, so a day or month in any zone starts on
/// a bucket boundary and a period's spend is a sum of whole buckets.
pub const SPEND_BUCKET_MS: i64 = 15 * 60 * 1000;

/// The bucket holding all-time spend (the `total` period), apart from the time buckets.
pub const TOTAL_BUCKET: i64 = i64::MAX;

/// Upper bounds that keep every figure sane (and the queue bounded in memory).
pub const MAX_CONCURRENCY: u32 = 10_000;
pub const MAX_RPM: u32 = 100_000;
pub const MAX_QUEUED: u32 = 100_000;
pub const MAX_MODELS: usize = 200;
pub const MAX_IP_RANGES: usize = 100;

/// How long a budget lasts before it starts again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    /// Never resets.
    #[default]
    Total,
    /// Resets at midnight in the operator's time zone.
    Daily,
    /// Resets on the first of the month, midnight, in the operator's time zone.
    Monthly,
}

impl BudgetPeriod {
    pub fn parse(s: &str) -> Result<BudgetPeriod, AppError> {
        match s.trim() {
            "total" => Ok(BudgetPeriod::Total),
            "daily" => Ok(BudgetPeriod::Daily),
            "monthly" => Ok(BudgetPeriod::Monthly),
            _ => Err(AppError::invalid(
                "budget_period",
                "budget_period must be total, daily or monthly",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Total => "total",
            BudgetPeriod::Daily => "daily",
            BudgetPeriod::Monthly => "monthly",
        }
    }
}

/// The limits a key and an account share. `None` = no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Credits that may be spent per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<i64>,
    #[serde(default)]
    pub budget_period: BudgetPeriod,
    /// Unfinished tasks at once; more wait in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Creates per minute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tasks that may wait for a slot; beyond it a create is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queued: Option<u32>,
}

impl Limits {
    /// Each field of `self`, or `fallback`'s where `self` has none (an account's own
    /// settings over its pricing group's defaults).
    pub fn or(&self, fallback: &Limits) -> Limits {
        let budget_from_self = self.budget.is_some();
        Limits {
            budget: self.budget.or(fallback.budget),
            budget_period: if budget_from_self {
                self.budget_period
            } else {
                fallback.budget_period
            },
            max_concurrency: self.max_concurrency.or(fallback.max_concurrency),
            rpm: self.rpm.or(fallback.rpm),
            max_queued: self.max_queued.or(fallback.max_queued),
        }
    }

    /// Every field within its range; errors name the field.
    pub fn validate(&self) -> Result<(), AppError> {
        if let Some(b) = self.budget
            && b <= 0
        {
            return Err(AppError::invalid(
                "budget",
                "budget must be a positive number of credits",
            ));
        }
        check_range("max_concurrency", self.max_concurrency, 1, MAX_CONCURRENCY)?;
        check_range("rpm", self.rpm, 1, MAX_RPM)?;
        check_range("max_queued", self.max_queued, 0, MAX_QUEUED)?;
        Ok(())
    }
}

fn check_range(field: &str, v: Option<u32>, min: u32, max: u32) -> Result<(), AppError> {
    match v {
        Some(n) if n < min || n > max => Err(AppError::invalid(
            field,
            format!("{field} must be between {min} and {max}"),
        )),
        _ => Ok(()),
    }
}

/// What an operator or customer may set on one API key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLimits {
    /// After this (Unix ms) the key is refused with `key_expired`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    /// Public model ids the key may use; empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// CIDR ranges the key may be used from; empty = anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    #[serde(flatten)]
    pub limits: Limits,
}

impl KeyLimits {
    /// Check and normalise (trimmed, de-duplicated models; CIDRs in canonical form).
    /// `now_ms` is when the setting is made: an expiry must lie after it.
    pub fn normalize(mut self, now_ms: i64) -> Result<KeyLimits, AppError> {
        if let Some(at) = self.expires_at_ms
            && at <= now_ms
        {
            return Err(AppError::invalid(
                "expires_at",
                "expires_at must be in the future",
            ));
        }
        let mut models: Vec<String> = Vec::new();
        for m in &self.models {
            let m = m.trim();
            if m.is_empty() {
                return Err(AppError::invalid(
                    "models",
                    "models must not contain empty names",
                ));
            }
            if !models.iter().any(|x| x == m) {
                models.push(m.to_string());
            }
        }
        if models.len() > MAX_MODELS {
            return Err(AppError::invalid(
                "models",
                format!("at most {MAX_MODELS} models"),
            ));
        }
        self.models = models;
        self.allowed_ips = parse_ranges(&self.allowed_ips)?
            .iter()
            .map(|n| n.to_string())
            .collect();
        self.limits.validate()?;
        Ok(self)
    }

    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }

    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    /// Whether a request from `ip` may use the key (`None`: the address is unknown, which
    /// only an allow-list-free key accepts).
    pub fn allows_ip(&self, ip: Option<std::net::IpAddr>) -> bool {
        if self.allowed_ips.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let ranges = parse_ranges(&self.allowed_ips).unwrap_or_default();
        super::client_addr::is_trusted(ip, &ranges)
    }
}

/// Parse CIDR ranges (a bare address is one host); the error names the bad entry.
pub fn parse_ranges(list: &[String]) -> Result<Vec<ipnet::IpNet>, AppError> {
    if list.len() > MAX_IP_RANGES {
        return Err(AppError::invalid(
            "allowed_ips",
            format!("at most {MAX_IP_RANGES} address ranges"),
        ));
    }
    let mut out: Vec<ipnet::IpNet> = Vec::new();
    for s in list {
        let net = super::client_addr::parse_cidr(s).map_err(|e| {
            AppError::invalid("allowed_ips", format!("{e}; use CIDRs like 203.0.113.0/24"))
        })?;
        if !out.contains(&net) {
            out.push(net);
        }
    }
    Ok(out)
}

/// A span like `30d`, `12h`, `90m` or `2w`, in milliseconds (for `--expires-in`).
pub fn parse_span(s: &str) -> Result<i64, AppError> {
    let s = s.trim();
    let bad = || {
        AppError::invalid(
            "expires_in",
            format!("`{s}` is not a span: use a number and m, h, d or w, e.g. 30d"),
        )
    };
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let unit_ms: i64 = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    n.checked_mul(unit_ms).ok_or_else(bad)
}

/// Parse an RFC 3339 time (`2026-12-31T23:59:59Z`) to Unix ms.
pub fn parse_rfc3339(s: &str, param: &str) -> Result<i64, AppError> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            AppError::invalid(
                param,
                format!("{param} must be an RFC 3339 time such as 2026-12-31T23:59:59Z"),
            )
        })
}

/// Unix ms as RFC 3339 UTC, for answers.
pub fn format_rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// Resolve an IANA time zone name (`UTC`, `Asia/Shanghai`) from the bundled database.
pub fn time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name.trim()).map_err(|_| {
        format!("`{name}` is not a known IANA time zone (e.g. UTC, Asia/Shanghai, Europe/Berlin)")
    })
}

/// The current period `[start, end)` in Unix ms; `None` for `total` (it never resets).
pub fn period_bounds(
    period: BudgetPeriod,
    now_ms: i64,
    tz: &jiff::tz::TimeZone,
) -> Option<(i64, i64)> {
    let now = jiff::Timestamp::from_millisecond(now_ms)
        .ok()?
        .to_zoned_datetime(tz.clone());
    let (start, end) = match period {
        BudgetPeriod::Total => return None,
        BudgetPeriod::Daily => {
            let start = now.start_of_day().ok()?;
            let end = now.tomorrow().ok()?.start_of_day().ok()?;
            (start, end)
        }
        BudgetPeriod::Monthly => {
            let first = now.first_of_month().ok()?.start_of_day().ok()?;
            let end = first
                .checked_add(jiff::Span::new().months(1))
                .ok()?
                .start_of_day()
                .ok()?;
            (first, end)
        }
    };
    Some((
        start.timestamp().as_millisecond(),
        end.timestamp().as_millisecond(),
    ))
}

/// The spend bucket of a task created at `at_ms`.
pub fn spend_bucket(at_ms: i64) -> i64 {
    at_ms.div_euclid(SPEND_BUCKET_MS)
}

/// The first spend bucket that counts for `period` now.
pub fn first_bucket(period: BudgetPeriod, now_ms: i64, tz: &jiff::tz::TimeZone) -> Option<i64> {
    period_bounds(period, now_ms, tz).map(|(start, _)| spend_bucket(start))
}

/// Whether spending `price` more keeps `spent` within `budget`.
pub fn within_budget(budget: Option<i64>, spent: i64, price: i64) -> bool {
    match budget {
        None => true,
        Some(b) => spent.checked_add(price).is_some_and(|total| total <= b),
    }
}

/// One scope (a key or an account) as the queue sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scope {
    pub max_concurrency: Option<u32>,
    pub max_queued: Option<u32>,
    /// Tasks holding a slot (unfinished, let through).
    pub held: u64,
    /// Tasks waiting for a slot.
    pub waiting: u64,
}

/// What happens to a new task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It may be submitted now.
    Start,
    /// It waits for a slot.
    Queue,
    /// The queue of scope number `.0` is full: refuse.
    Full(usize),
}

/// Admit a new task: it starts when every limited scope has a free slot and nobody is
/// waiting there (first come, first served); otherwise it queues, unless a queue is full.
pub fn admit(scopes: &[Scope]) -> Admission {
    let free = scopes.iter().all(|s| match s.max_concurrency {
        None => true,
        Some(max) => s.held < u64::from(max) && s.waiting == 0,
    });
    if free {
        return Admission::Start;
    }
    for (i, s) in scopes.iter().enumerate() {
        if let Some(max) = s.max_queued
            && s.waiting >= u64::from(max)
        {
            return Admission::Full(i);
        }
    }
    Admission::Queue
}

/// Whether a waiting task may take a slot: in every limited scope, it is among the first
/// `free slots` waiting tasks (`position` is 0-based). A slot freed goes to the oldest.
pub fn may_start(scopes: &[(Scope, u64)]) -> bool {
    scopes.iter().all(|(s, position)| match s.max_concurrency {
        None => true,
        Some(max) => {
            let free = u64::from(max).saturating_sub(s.held);
            *position < free
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(max: Option<u32>, queued: Option<u32>, held: u64, waiting: u64) -> Scope {
        Scope {
            max_concurrency: max,
            max_queued: queued,
            held,
            waiting,
        }
    }

    #[test]
    fn admission_table() {
        let cases = [
            (vec![scope(None, None, 50, 0)], Admission::Start),
            (vec![scope(Some(4), None, 3, 0)], Admission::Start),
            (vec![scope(Some(4), None, 4, 0)], Admission::Queue),
            // Someone waits: a newcomer does not jump the queue.
            (vec![scope(Some(4), None, 3, 1)], Admission::Queue),
            (vec![scope(Some(4), Some(10), 4, 9)], Admission::Queue),
            (vec![scope(Some(4), Some(10), 4, 10)], Admission::Full(0)),
            (vec![scope(Some(4), Some(0), 4, 0)], Admission::Full(0)),
            (
                vec![scope(None, Some(1), 0, 0), scope(Some(1), None, 1, 0)],
                Admission::Queue,
            ),
            (
                vec![scope(None, Some(1), 0, 1), scope(Some(1), None, 1, 1)],
                Admission::Full(0),
            ),
        ];
        for (scopes, want) in cases {
            assert_eq!(admit(&scopes), want, "{scopes:?}");
        }
    }

    #[test]
    fn the_oldest_waiting_tasks_take_free_slots() {
        assert!(may_start(&[(scope(Some(4), None, 3, 5), 0)]));
        assert!(!may_start(&[(scope(Some(4), None, 3, 5), 1)]));
        assert!(may_start(&[(scope(Some(4), None, 2, 5), 1)]));
        assert!(!may_start(&[(scope(Some(4), None, 4, 5), 0)]));
        assert!(may_start(&[(scope(None, None, 100, 5), 3)]));
        // Both scopes must agree.
        assert!(!may_start(&[
            (scope(Some(4), None, 0, 1), 0),
            (scope(Some(1), None, 1, 1), 0)
        ]));
    }

    #[test]
    fn periods_start_at_midnight_in_the_zone() {
        let utc = time_zone("UTC").unwrap();
        let now = parse_rfc3339("2026-03-15T10:30:00Z", "t").unwrap();
        let (s, e) = period_bounds(BudgetPeriod::Daily, now, &utc).unwrap();
        assert_eq!(format_rfc3339(s), "2026-03-15T00:00:00Z");
        assert_eq!(format_rfc3339(e), "2026-03-16T00:00:00Z");
        let (s, e) = period_bounds(BudgetPeriod::Monthly, now, &utc).unwrap();
        assert_eq!(format_rfc3339(s), "2026-03-01T00:00:00Z");
        assert_eq!(format_rfc3339(e), "2026-04-01T00:00:00Z");
        assert!(period_bounds(BudgetPeriod::Total, now, &utc).is_none());
        // 10:30 UTC is 18:30 in Shanghai: the day began at 16:00 UTC the day before.
        let sh = time_zone("Asia/Shanghai").unwrap();
        let (s, _) = period_bounds(BudgetPeriod::Daily, now, &sh).unwrap();
        assert_eq!(format_rfc3339(s), "2026-03-14T16:00:00Z");
        assert_eq!(s % SPEND_BUCKET_MS, 0);
        // India is UTC+5:30: still a bucket boundary.
        let ist = time_zone("Asia/Kolkata").unwrap();
        let (s, _) = period_bounds(BudgetPeriod::Daily, now, &ist).unwrap();
        assert_eq!(s % SPEND_BUCKET_MS, 0);
        assert!(time_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn key_settings_are_checked_field_by_field() {
        let now = 1_000;
        let bad = [
            (
                KeyLimits {
                    expires_at_ms: Some(999),
                    ..Default::default()
                },
                "expires_at",
            ),
            (
                KeyLimits {
                    allowed_ips: vec!["10.0.0.0/33".into()],
                    ..Default::default()
                },
                "allowed_ips",
            ),
            (
                KeyLimits {
                    models: vec![" ".into()],
                    ..Default::default()
                },
                "models",
            ),
            (
                KeyLimits {
                    limits: Limits {
                        budget: Some(0),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "budget",
            ),
            (
                KeyLimits {
                    limits: Limits {
                        max_concurrency: Some(0),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "max_concurrency",
            ),
            (
                KeyLimits {
                    limits: Limits {
                        rpm: Some(MAX_RPM + 1),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "rpm",
            ),
        ];
        for (k, param) in bad {
            let err = k.normalize(now).unwrap_err();
            assert_eq!(err.param().as_deref(), Some(param), "{err}");
        }
        let ok = KeyLimits {
            models: vec!["a".into(), " a ".into(), "b".into()],
            allowed_ips: vec!["10.1.2.3/8".into(), "::1".into()],
            ..Default::default()
        }
        .normalize(now)
        .unwrap();
        assert_eq!(ok.models, ["a", "b"]);
        assert_eq!(ok.allowed_ips, ["10.0.0.0/8", "::1/128"]);
        assert!(ok.allows_ip(Some("10.9.9.9".parse().unwrap())));
        assert!(ok.allows_ip(Some("::ffff:10.9.9.9".parse().unwrap())));
        assert!(!ok.allows_ip(Some("192.0.2.1".parse().unwrap())));
        assert!(!ok.allows_ip(None));
    }

    #[test]
    fn spans_and_budgets() {
        assert_eq!(parse_span("30d").unwrap(), 30 * 86_400_000);
        assert_eq!(parse_span("2h").unwrap(), 7_200_000);
        assert!(parse_span("0d").is_err());
        assert!(parse_span("d").is_err());
        assert!(parse_span("5y").is_err());
        assert!(within_budget(None, i64::MAX, 1));
        assert!(within_budget(Some(100), 90, 10));
        assert!(!within_budget(Some(100), 91, 10));
        assert!(!within_budget(Some(100), i64::MAX, 10));
        assert_eq!(spend_bucket(-1), -1);
    }
}

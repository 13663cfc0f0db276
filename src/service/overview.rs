//! The console overviews. The operator's: users, today's credits, tasks in flight, channel
//! health and recent failures, read in bounded walks (today's ledger window, the active
//! index). A customer's: keys, task count and newest tasks.

use crate::domain::ids::UserId;
use crate::domain::ledger::EntryKind;
use crate::domain::task::Task;
use crate::error::{AppError, AppResult};
use crate::providers::health::Health;
use crate::service::catalog::Catalog;
use crate::store::{self, Store};
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;
/// Recent failures shown.
const FAILURES: usize = 10;
/// Newest tasks looked at for them (a bound when failures are rare).
const FAILURE_SCAN: usize = 5_000;
/// Most ledger entries summed for "today" (a bound on a very busy day).
const LEDGER_SCAN: usize = 200_000;

/// Start of the day containing `now_ms`, in a zone `offset_minutes` east of UTC.
pub fn day_start_ms(now_ms: i64, offset_minutes: i32) -> i64 {
    let offset = i64::from(offset_minutes) * 60_000;
    (now_ms + offset).div_euclid(DAY_MS) * DAY_MS - offset
}

/// Zones run from UTC-12 to UTC+14.
pub fn check_offset(offset_minutes: i32) -> AppResult<i32> {
    if (-12 * 60..=14 * 60).contains(&offset_minutes) {
        Ok(offset_minutes)
    } else {
        Err(AppError::invalid(
            "tz_offset_minutes",
            "must be between -720 and 840 (minutes east of UTC)",
        ))
    }
}

#[derive(Debug, Clone)]
pub struct ChannelHealth {
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub healthy: bool,
    pub consecutive_errors: u32,
    pub recent_errors: u32,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub task: Task,
    pub username: Option<String>,
}

#[derive(Debug, Clone)]
pub struct OperatorOverview {
    pub day_start_ms: i64,
    pub users: u64,
    pub new_users_today: u64,
    /// Operator top-ups and positive adjustments today.
    pub credits_sold_today: i64,
    /// Reserved for tasks today, less what was refunded today (never below zero).
    pub credits_spent_today: i64,
    pub pending: u64,
    pub processing: u64,
    pub channels: Vec<ChannelHealth>,
    pub recent_failures: Vec<Failure>,
    /// False when the ledger walk hit its bound (the sums cover only the newest entries).
    pub complete: bool,
}

/// Sums of today's ledger.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Day {
    sold: i64,
    reserved: i64,
    refunded: i64,
}

/// A customer's overview, read in one snapshot.
pub struct CustomerOverview {
    pub keys: Vec<crate::domain::user::ApiKey>,
    pub task_count: u64,
    /// Newest first.
    pub recent: Vec<Task>,
}

/// The account's keys, task count and `recent` newest tasks.
pub async fn customer(
    store: &Store,
    user_id: UserId,
    recent: usize,
) -> AppResult<CustomerOverview> {
    store
        .read(move |txn| {
            let filter = store::tasks::Filter {
                user_id: Some(user_id),
                ..Default::default()
            };
            Ok(CustomerOverview {
                keys: store::users::list_keys(txn, user_id)?,
                task_count: store::tasks::count_for_user(txn, user_id)?,
                recent: store::tasks::list(txn, &filter, recent)?,
            })
        })
        .await
}

pub async fn operator(
    store: &Store,
    catalog: &Catalog,
    health: &Health,
    now_ms: i64,
    offset_minutes: i32,
) -> AppResult<OperatorOverview> {
    let since = day_start_ms(now_ms, check_offset(offset_minutes)?);
    let (users, day, visited, active, failed) = store
        .read(move |txn| {
            let users = store::users::list(txn)?;
            let mut day = Day::default();
            let visited = store::ledger::fold_since(txn, since, LEDGER_SCAN, |kind, amount| {
                // Saturating: a sum for display must not panic on absurd amounts.
                match kind {
                    EntryKind::TopUp
                    | EntryKind::Adjust
                    | EntryKind::Redeem
                    | EntryKind::Payment
                    | EntryKind::SignupBonus
                        if amount > 0 =>
                    {
                        day.sold = day.sold.saturating_add(amount)
                    }
                    EntryKind::Reserve => day.reserved = day.reserved.saturating_sub(amount),
                    EntryKind::Refund => day.refunded = day.refunded.saturating_add(amount),
                    _ => {}
                }
            })?;
            let active = store::tasks::active_counts(txn)?;
            let failed = store::tasks::recent_failed(txn, FAILURES, FAILURE_SCAN)?;
            Ok((users, day, visited, active, failed))
        })
        .await?;
    let names: HashMap<UserId, &str> = users.iter().map(|u| (u.id, u.username.as_str())).collect();
    let mut channels: Vec<ChannelHealth> = catalog
        .providers()
        .into_iter()
        .map(|p| {
            let h = health.snapshot(&p.name);
            ChannelHealth {
                healthy: h.healthy,
                consecutive_errors: h.consecutive_errors,
                recent_errors: h.recent_errors,
                name: p.name,
                kind: p.kind,
                enabled: p.enabled,
            }
        })
        .collect();
    channels.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(OperatorOverview {
        day_start_ms: since,
        users: users.len() as u64,
        new_users_today: users.iter().filter(|u| u.created_at_ms >= since).count() as u64,
        credits_sold_today: day.sold,
        credits_spent_today: day.reserved.saturating_sub(day.refunded).max(0),
        pending: active.0,
        processing: active.1,
        channels,
        recent_failures: failed
            .into_iter()
            .map(|task| Failure {
                username: names.get(&task.user_id).map(|n| n.to_string()),
                task,
            })
            .collect(),
        complete: visited < LEDGER_SCAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_local_midnight() {
        // 2026-12-01 15:00 UTC
        let now = 1_796_137_200_000;
        assert_eq!(day_start_ms(now, 0), 1_796_083_200_000);
        // UTC+8: 23:00 local, the day began at 16:00 UTC the day before.
        assert_eq!(day_start_ms(now, 480), 1_796_083_200_000 - 8 * 3_600_000);
        // UTC+10: already 01:00 on 2 December local.
        assert_eq!(
            day_start_ms(now, 600),
            1_796_083_200_000 + DAY_MS - 10 * 3_600_000
        );
        // UTC-5: 10:00 local.
        assert_eq!(day_start_ms(now, -300), 1_796_083_200_000 + 5 * 3_600_000);
    }

    #[test]
    fn offsets_outside_real_zones_are_refused() {
        assert!(check_offset(840).is_ok());
        assert!(check_offset(-720).is_ok());
        assert!(check_offset(841).is_err());
        assert!(check_offset(-721).is_err());
    }
}

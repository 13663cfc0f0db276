//! Settlement on what was really made: the reservation is the most a task can cost; the
//! price of what upstream made is charged (capped there) and the rest refunded. Also the
//! upstream cost of a task on its route.

use super::catalog::RouteCost;
use super::credits::Credits;
use super::pricing::{self, AppliedPrice, Job, Line};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// What upstream made, as the adapter reports it (or as measured on the mirrored file).
/// Anything unknown is `None` and the request's value stands in for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Made {
    /// Length of the video in seconds (the longest one when there are several).
    pub seconds: Option<f64>,
    pub resolution: Option<String>,
    pub videos: u32,
    pub audio: Option<bool>,
    /// The provider's own billing units (Kling `final_unit_deduction`, Ark `usage` tokens).
    pub provider_units: Option<u64>,
}

/// The outcome, stored on the task and shown in its `billing` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settlement {
    pub charged: Credits,
    /// Returned to the balance by the `settle` ledger entry (reserved − charged).
    pub refunded: Credits,
    /// Seconds billed for what was made.
    pub seconds: u32,
    pub videos: u32,
    /// The price of what was made was above the reservation and was cut to it.
    pub capped: bool,
    /// What the channel charged for it, in credits, when the route has a cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_cost: Option<i64>,
    pub breakdown: Vec<Line>,
}

/// Whole seconds billed for a measured length: rounded to the nearest second (an MP4 of
/// a "5 s" video often lasts 5.04 s), at least 1; nonsense reads as unknown.
fn billed_seconds(measured: Option<f64>, asked: u32) -> u32 {
    match measured {
        Some(s) if s.is_finite() && s > 0.0 && s < f64::from(u32::MAX) => (s.round() as u32).max(1),
        _ => asked,
    }
}

/// Settle a task: `price` is its snapshot, `asked` the shape it was reserved for.
pub fn settle(
    price: &AppliedPrice,
    asked: &Job,
    reserved: Credits,
    made: &Made,
    cost: Option<&RouteCost>,
) -> Result<Settlement, AppError> {
    let reserved = reserved.max(Credits::ZERO);
    let job = Job {
        resolution: made
            .resolution
            .clone()
            .unwrap_or_else(|| asked.resolution.clone()),
        seconds: billed_seconds(made.seconds, asked.seconds),
        audio: made.audio.unwrap_or(asked.audio),
        video_input: asked.video_input,
    };
    // A cost out of range is left unknown rather than blocking the customer's settlement.
    let upstream_cost =
        cost.and_then(|c| upstream_cost(c, &job, made.videos, made.provider_units).ok());
    let mut s = Settlement {
        charged: Credits::ZERO,
        refunded: reserved,
        seconds: job.seconds,
        videos: made.videos,
        capped: false,
        upstream_cost,
        breakdown: Vec::new(),
    };
    if made.videos == 0 {
        s.breakdown.push(Line {
            item: "no video was made".into(),
            credits: 0,
        });
        return Ok(s);
    }
    // Tasks from before price snapshots, or a shape the matrix does not price (upstream
    // made a resolution nobody sells): the reservation stands, it was agreed.
    let quoted = price
        .sheet
        .as_ref()
        .and_then(|sheet| pricing::quote(sheet, &job, made.videos).ok());
    let Some(q) = quoted else {
        s.charged = reserved;
        s.refunded = Credits::ZERO;
        s.breakdown.push(Line {
            item: "as reserved".into(),
            credits: reserved.get(),
        });
        return Ok(s);
    };
    s.breakdown = q.breakdown;
    if q.total > reserved {
        s.capped = true;
        s.breakdown.push(Line {
            item: "capped at the reservation".into(),
            credits: reserved.checked_sub(q.total)?.get(),
        });
    }
    s.charged = q.total.min(reserved);
    s.refunded = reserved.checked_sub(s.charged)?;
    Ok(s)
}

fn overflow() -> AppError {
    AppError::invalid("cost", "the upstream cost is out of range")
}

/// What the channel charges for `videos` videos of shape `job` (and `units` units).
pub fn upstream_cost(
    c: &RouteCost,
    job: &Job,
    videos: u32,
    units: Option<u64>,
) -> Result<i64, AppError> {
    let n = i128::from(videos);
    let per_second = c
        .per_second
        .get(&job.resolution)
        .or_else(|| c.per_second.get("*"))
        .copied()
        .unwrap_or(0);
    let mut total =
        i128::from(c.per_task) * n + i128::from(per_second) * i128::from(job.seconds) * n;
    if let Some(units) = units {
        let per = i128::from(c.per_units.unwrap_or(1).max(1));
        let x = i128::from(c.unit_credits) * i128::from(units);
        // Rounded up: a fraction of a credit still cost something.
        total += x / per + i128::from(x % per != 0);
    }
    i64::try_from(total).map_err(|_| overflow())
}

/// A route cost the operator may save: no negative part, a per-second price for every
/// resolution the model sells (or `"*"`).
pub fn validate_cost(c: &RouteCost, resolutions: &[String]) -> Result<(), String> {
    let max = super::credits::MAX_PRICE;
    let parts = [c.per_task, c.unit_credits]
        .into_iter()
        .chain(c.per_second.values().copied());
    if parts.into_iter().any(|v| !(0..=max).contains(&v)) {
        return Err(format!("costs are 0-{max} credits"));
    }
    if c.per_units == Some(0) {
        return Err("per_units must be at least 1".into());
    }
    if !c.per_second.is_empty()
        && !c.per_second.contains_key("*")
        && let Some(r) = resolutions.iter().find(|r| !c.per_second.contains_key(*r))
    {
        return Err(format!(
            "per_second has no cost for {r} (add it, or \"*\" for any resolution)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{Billing, BillingMode, demo_models};
    use std::collections::BTreeMap;

    fn snapshot() -> AppliedPrice {
        // 720p 10/s, 1080p 20/s, ×1.5 with audio.
        let mut m = demo_models()[0].clone();
        m.billing = Billing {
            mode: BillingMode::PerSecond,
            credits: 10,
            resolution_credits: BTreeMap::from([("1080p".into(), 20)]),
            audio_percent: Some(150),
            ..Billing::default()
        };
        pricing::quote(&pricing::sheet(&m, None, None), &asked(), 1).unwrap()
    }

    fn asked() -> Job {
        Job {
            resolution: "720p".into(),
            seconds: 10,
            audio: false,
            video_input: false,
        }
    }

    fn made(seconds: Option<f64>, videos: u32) -> Made {
        Made {
            seconds,
            videos,
            ..Made::default()
        }
    }

    #[test]
    fn settlement_table() {
        let p = snapshot();
        assert_eq!(p.total, 100);
        // (what was made, charged, refunded, capped)
        let cases = [
            (made(Some(10.04), 1), 100, 0, false),
            (made(Some(4.96), 1), 50, 50, false),
            (made(Some(12.0), 1), 100, 0, true),
            (made(None, 1), 100, 0, false),
            (made(Some(f64::NAN), 1), 100, 0, false),
            (made(Some(0.2), 1), 10, 90, false),
            (made(Some(5.0), 0), 0, 100, false),
            (made(Some(5.0), 2), 100, 0, false),
            (made(Some(4.0), 2), 80, 20, false),
            (
                Made {
                    seconds: Some(5.0),
                    resolution: Some("1080p".into()),
                    videos: 1,
                    audio: Some(true),
                    provider_units: None,
                },
                100,
                0,
                true,
            ),
            (
                Made {
                    seconds: Some(3.0),
                    audio: Some(true),
                    videos: 1,
                    ..Made::default()
                },
                45,
                55,
                false,
            ),
        ];
        for (m, charged, refunded, capped) in cases {
            let s = settle(&p, &asked(), p.total, &m, None).unwrap();
            assert_eq!(
                (s.charged.get(), s.refunded.get(), s.capped),
                (charged, refunded, capped),
                "{m:?}"
            );
            assert_eq!(s.charged.checked_add(s.refunded).unwrap(), p.total);
            assert_eq!(
                s.breakdown.iter().map(|l| l.credits).sum::<i64>(),
                s.charged.get(),
                "{m:?}"
            );
        }
    }

    #[test]
    fn tasks_without_a_snapshot_keep_their_reservation() {
        let mut p = snapshot();
        p.sheet = None;
        let s = settle(&p, &asked(), Credits::new(100), &made(Some(2.0), 1), None).unwrap();
        assert_eq!((s.charged.get(), s.refunded.get()), (100, 0));
    }

    #[test]
    fn upstream_cost_per_second_task_and_unit() {
        let p = snapshot();
        let cost = RouteCost {
            per_task: 5,
            per_second: BTreeMap::from([("720p".into(), 3), ("*".into(), 7)]),
            unit_credits: 15,
            per_units: Some(1_000_000),
        };
        let s = settle(
            &p,
            &asked(),
            Credits::new(100),
            &made(Some(5.0), 1),
            Some(&cost),
        )
        .unwrap();
        assert_eq!(s.upstream_cost, Some(20));
        let tokens = Made {
            seconds: Some(5.0),
            videos: 1,
            provider_units: Some(108_900),
            ..Made::default()
        };
        let ark = RouteCost {
            unit_credits: 15,
            per_units: Some(1_000),
            ..RouteCost::default()
        };
        // 108 900 tokens at 15 credits per 1000 = 1633.5, rounded up.
        assert_eq!(
            settle(&p, &asked(), Credits::new(100), &tokens, Some(&ark))
                .unwrap()
                .upstream_cost,
            Some(1634)
        );
        let huge = RouteCost {
            per_task: i64::MAX,
            ..RouteCost::default()
        };
        assert_eq!(
            upstream_cost(&huge, &asked(), 2, None)
                .unwrap_err()
                .status(),
            422
        );
        let s = settle(
            &p,
            &asked(),
            Credits::new(100),
            &made(Some(5.0), 2),
            Some(&huge),
        )
        .unwrap();
        assert_eq!((s.charged.get(), s.upstream_cost), (100, None));
    }

    #[test]
    fn route_costs_must_cover_every_resolution() {
        let res = ["720p".to_string(), "1080p".to_string()];
        let mut c = RouteCost {
            per_second: BTreeMap::from([("720p".into(), 3)]),
            ..RouteCost::default()
        };
        assert!(validate_cost(&c, &res).unwrap_err().contains("1080p"));
        c.per_second.insert("*".into(), 4);
        assert!(validate_cost(&c, &res).is_ok());
        c.per_task = -1;
        assert!(validate_cost(&c, &res).is_err());
    }
}

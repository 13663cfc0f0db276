//! What a request costs a given customer: the model's price matrix cell, surcharges for
//! audio and video input, then the customer's own price (user override, else pricing
//! group). All in checked integer arithmetic: an overflow is a 422, never a wrap.

use super::catalog::{Billing, BillingMode, Model, PricingGroup, UserPrice};
use super::credits::Credits;
use super::request::UnifiedRequest;
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// Everything needed to price any outcome of a task for one customer: the model's list
/// matrix and that customer's adjustment, as they were when the task was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSheet {
    pub billing: Billing,
    /// Replaces every cell of the matrix (a group's or a user's price for the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_override: Option<i64>,
    /// Applied to the whole price, rounded up; 100 = list price.
    pub percent: u32,
    /// Where the customer's price comes from: `list`, `group:<name>` or `user`.
    pub source: String,
}

/// The billable shape of a request (or of what upstream made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub resolution: String,
    pub seconds: u32,
    pub audio: bool,
    pub video_input: bool,
}

impl Job {
    pub fn of(req: &UnifiedRequest) -> Job {
        Job {
            resolution: req.resolution.clone(),
            seconds: req.seconds,
            audio: req.generate_audio,
            video_input: !req.video_urls.is_empty(),
        }
    }
}

/// One line of a price: what it is for and what it adds (negative for a discount).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub item: String,
    pub credits: i64,
}

/// The price applied to a task, stored on it so later catalog edits don't change history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPrice {
    pub mode: BillingMode,
    /// The matrix cell used (per task, per second or per bucket), after any override.
    pub unit_credits: i64,
    /// Seconds billed (per-second models), 1 otherwise.
    pub units: i64,
    pub total: Credits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_group: Option<String>,
    /// The price snapshot settlement uses; absent on tasks created before matrices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<PriceSheet>,
    /// How `total` adds up; the lines sum to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<Line>,
}

fn out_of_range() -> AppError {
    AppError::invalid(
        "model",
        "the price of this request is out of range; ask the operator to fix the model's price",
    )
}

/// `v * percent / 100`, rounded up so a discount never gives away a fraction twice.
fn scale(v: i64, percent: u32) -> Result<i64, AppError> {
    let p = i128::from(percent);
    let x = i128::from(v) * p;
    let r = x.div_euclid(100) + i128::from(x.rem_euclid(100) != 0);
    i64::try_from(r).map_err(|_| out_of_range())
}

fn add(a: i64, b: i64) -> Result<i64, AppError> {
    a.checked_add(b).ok_or_else(out_of_range)
}

fn mul(a: i64, b: i64) -> Result<i64, AppError> {
    a.checked_mul(b).ok_or_else(out_of_range)
}

/// The customer's sheet for a model: a user override wins over the group's per-model
/// price, which wins over the group's percent.
pub fn sheet(model: &Model, group: Option<&PricingGroup>, user: Option<&UserPrice>) -> PriceSheet {
    let mut s = PriceSheet {
        billing: model.billing.clone(),
        unit_override: None,
        percent: 100,
        source: "list".into(),
    };
    if let Some(u) = user.filter(|u| u.credits.is_some() || u.percent.is_some()) {
        s.unit_override = u.credits;
        s.percent = if u.credits.is_some() {
            100
        } else {
            u.percent.unwrap_or(100)
        };
        s.source = "user".into();
    } else if let Some(g) = group {
        match g.overrides.get(&model.id) {
            Some(v) => s.unit_override = Some(*v),
            None => s.percent = g.percent,
        }
        s.source = format!("group:{}", g.name);
    }
    s
}

/// The list price of one cell, or why the matrix leaves it unpriced.
fn list_cell(b: &Billing, resolution: &str, seconds: u32) -> Result<(i64, String), String> {
    match b.mode {
        BillingMode::PerTask => Ok((
            b.resolution_credits
                .get(resolution)
                .copied()
                .unwrap_or(b.credits),
            format!("{resolution} · {seconds} s · per task"),
        )),
        BillingMode::PerSecond => Ok((
            b.resolution_credits
                .get(resolution)
                .copied()
                .unwrap_or(b.credits),
            format!("{resolution} · {seconds} s"),
        )),
        BillingMode::PerDuration => {
            let bucket = b
                .buckets
                .iter()
                .filter(|k| k.max_seconds >= seconds)
                .min_by_key(|k| k.max_seconds)
                .ok_or_else(|| format!("no duration bucket covers {seconds} s"))?;
            let v = bucket
                .resolution_credits
                .get(resolution)
                .copied()
                .or(bucket.credits)
                .ok_or_else(|| {
                    format!(
                        "the {} s bucket has no price for {resolution}",
                        bucket.max_seconds
                    )
                })?;
            Ok((
                v,
                format!(
                    "{resolution} · up to {} s (asked {seconds} s)",
                    bucket.max_seconds
                ),
            ))
        }
    }
}

/// Price `videos` videos of shape `job` on `sheet`, with the lines that make it up.
pub fn quote(sheet: &PriceSheet, job: &Job, videos: u32) -> Result<AppliedPrice, AppError> {
    let b = &sheet.billing;
    let (list, label) = list_cell(b, &job.resolution, job.seconds).map_err(|why| {
        AppError::invalid(
            "resolution",
            format!("this combination is not priced ({why}); ask the operator to price it"),
        )
    })?;
    let unit = sheet.unit_override.unwrap_or(list);
    let units = match b.mode {
        BillingMode::PerSecond => i64::from(job.seconds),
        BillingMode::PerTask | BillingMode::PerDuration => 1,
    };
    let base = mul(unit, units)?;
    let mut lines = vec![Line {
        item: match b.mode {
            BillingMode::PerSecond => format!("{label} × {unit} credits/s"),
            _ => label,
        },
        credits: base,
    }];
    let mut total = base;
    if job.audio {
        let pct = b.audio_percent.unwrap_or(100);
        let extra = add(scale(base, pct)? - base, b.audio_credits)?;
        if pct != 100 || b.audio_credits != 0 {
            let mut item = String::from("audio");
            if pct != 100 {
                item.push_str(&format!(" ×{pct}%"));
            }
            if b.audio_credits != 0 {
                item.push_str(&format!(" +{}", b.audio_credits));
            }
            lines.push(Line {
                item,
                credits: extra,
            });
            total = add(total, extra)?;
        }
    }
    if job.video_input && b.video_input_credits != 0 {
        lines.push(Line {
            item: "video input".into(),
            credits: b.video_input_credits,
        });
        total = add(total, b.video_input_credits)?;
    }
    if sheet.percent != 100 {
        let scaled = scale(total, sheet.percent)?;
        lines.push(Line {
            item: format!("{} {}%", source_label(&sheet.source), sheet.percent),
            credits: scaled - total,
        });
        total = scaled;
    } else if sheet.unit_override.is_some() {
        lines[0]
            .item
            .push_str(&format!(" ({})", source_label(&sheet.source)));
    }
    if videos != 1 {
        let all = mul(total, i64::from(videos))?;
        lines.push(Line {
            item: format!("× {videos} videos"),
            credits: all - total,
        });
        total = all;
    }
    Ok(AppliedPrice {
        mode: b.mode,
        unit_credits: unit,
        units,
        total: Credits::new(total),
        pricing_group: sheet.source.strip_prefix("group:").map(str::to_string),
        sheet: Some(sheet.clone()),
        breakdown: lines,
    })
}

fn source_label(source: &str) -> String {
    match source.strip_prefix("group:") {
        Some(g) => format!("pricing group {g}"),
        None if source == "user" => "your price".into(),
        None => "list price".into(),
    }
}

/// The price of a request for a customer.
pub fn price(
    model: &Model,
    req: &UnifiedRequest,
    group: Option<&PricingGroup>,
    user: Option<&UserPrice>,
) -> Result<AppliedPrice, AppError> {
    quote(&sheet(model, group, user), &Job::of(req), 1)
}

/// Unit price (per task, per second or per first bucket) for `resolution` at the
/// customer's price, for listings.
pub fn unit_price(
    model: &Model,
    resolution: &str,
    group: Option<&PricingGroup>,
    user: Option<&UserPrice>,
) -> Result<i64, AppError> {
    let s = sheet(model, group, user);
    let seconds = match model.billing.mode {
        BillingMode::PerDuration => model
            .billing
            .buckets
            .iter()
            .map(|b| b.max_seconds)
            .min()
            .unwrap_or(0),
        _ => 1,
    };
    let (list, _) = list_cell(&s.billing, resolution, seconds).map_err(|_| out_of_range())?;
    scale(s.unit_override.unwrap_or(list), s.percent)
}

/// Every combination a model accepts: resolution × seconds × audio × video input.
pub fn combinations(model: &Model) -> Vec<Job> {
    let c = &model.capabilities;
    let mut seconds: Vec<u32> = c.durations.clone();
    if !seconds.contains(&c.default_duration) {
        seconds.push(c.default_duration);
    }
    seconds.sort_unstable();
    let audio: &[bool] = if c.supports_audio {
        &[false, true]
    } else {
        &[false]
    };
    let video: &[bool] = if c.max_videos > 0 {
        &[false, true]
    } else {
        &[false]
    };
    let mut out = Vec::new();
    for r in &c.resolutions {
        for s in &seconds {
            for a in audio {
                for v in video {
                    out.push(Job {
                        resolution: r.clone(),
                        seconds: *s,
                        audio: *a,
                        video_input: *v,
                    });
                }
            }
        }
    }
    out
}

/// A matrix the operator may save: no negative or oversized number, and every
/// combination the model accepts priced without overflow. The message names the first
/// combination left unpriced.
pub fn validate(model: &Model) -> Result<(), AppError> {
    let b = &model.billing;
    let max = super::credits::MAX_PRICE;
    let cells = std::iter::once(b.credits)
        .chain(b.resolution_credits.values().copied())
        .chain(b.buckets.iter().flat_map(|k| {
            k.credits
                .into_iter()
                .chain(k.resolution_credits.values().copied())
        }))
        .chain([b.audio_credits, b.video_input_credits]);
    for v in cells {
        if !(0..=max).contains(&v) {
            return Err(AppError::invalid(
                "billing.credits",
                format!("prices are 0-{max} credits"),
            ));
        }
    }
    if b.audio_percent.is_some_and(|p| p > 10_000) {
        return Err(AppError::invalid(
            "billing.audio_percent",
            "audio_percent is 0-10000 (100 = no change)",
        ));
    }
    if b.mode == BillingMode::PerDuration && b.buckets.is_empty() {
        return Err(AppError::invalid(
            "billing.buckets",
            "per_duration needs at least one bucket",
        ));
    }
    if let Some(k) = b.buckets.iter().find(|k| k.max_seconds == 0) {
        return Err(AppError::invalid(
            "billing.buckets",
            format!(
                "bucket max_seconds must be at least 1 (got {})",
                k.max_seconds
            ),
        ));
    }
    let list = sheet(model, None, None);
    for job in combinations(model) {
        if let Err(e) = quote(&list, &job, 1) {
            return Err(AppError::invalid(
                "billing",
                format!(
                    "model {}: {} · {} s{}{} — {e}",
                    model.id,
                    job.resolution,
                    job.seconds,
                    if job.audio { " · with audio" } else { "" },
                    if job.video_input {
                        " · with a video input"
                    } else {
                        ""
                    },
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::{DurationBucket, demo_models};
    use std::collections::BTreeMap;

    fn job(res: &str, seconds: u32, audio: bool, video: bool) -> Job {
        Job {
            resolution: res.into(),
            seconds,
            audio,
            video_input: video,
        }
    }

    fn list(m: &Model, j: &Job) -> i64 {
        quote(&sheet(m, None, None), j, 1).unwrap().total.get()
    }

    /// The example: 720p 10/s, 1080p 20/s, ×1.5 with audio, +50 with a video.
    fn matrix_model() -> Model {
        let mut m = demo_models()[0].clone();
        m.capabilities.resolutions = vec!["720p".into(), "1080p".into()];
        m.billing = Billing {
            mode: BillingMode::PerSecond,
            credits: 10,
            resolution_credits: BTreeMap::from([("1080p".into(), 20)]),
            audio_percent: Some(150),
            video_input_credits: 50,
            ..Billing::default()
        };
        m
    }

    #[test]
    fn todays_forms_price_as_before() {
        let m = &demo_models()[0];
        assert_eq!(list(m, &job("720p", 5, false, false)), 180);
        assert_eq!(list(m, &job("480p", 10, true, true)), 240);
        let per_task = &demo_models()[1];
        assert_eq!(list(per_task, &job("720p", 5, false, false)), 100);
    }

    #[test]
    fn matrix_table() {
        let m = matrix_model();
        for (j, total) in [
            (job("720p", 5, false, false), 50),
            (job("1080p", 5, false, false), 100),
            (job("720p", 10, true, false), 150),
            (job("1080p", 4, true, true), 170),
            (job("720p", 1, false, true), 60),
        ] {
            let q = quote(&sheet(&m, None, None), &j, 1).unwrap();
            assert_eq!(q.total, total, "{j:?}");
            assert_eq!(q.breakdown.iter().map(|l| l.credits).sum::<i64>(), total);
        }
    }

    #[test]
    fn duration_buckets_pick_the_shortest_cover() {
        let mut m = matrix_model();
        m.capabilities.durations = vec![5, 10];
        m.billing = Billing {
            mode: BillingMode::PerDuration,
            buckets: vec![
                DurationBucket {
                    max_seconds: 10,
                    credits: Some(180),
                    resolution_credits: BTreeMap::from([("1080p".into(), 300)]),
                },
                DurationBucket {
                    max_seconds: 5,
                    credits: Some(100),
                    resolution_credits: BTreeMap::new(),
                },
            ],
            audio_credits: 20,
            ..Billing::default()
        };
        validate(&m).unwrap();
        assert_eq!(list(&m, &job("720p", 4, false, false)), 100);
        assert_eq!(list(&m, &job("720p", 6, false, false)), 180);
        assert_eq!(list(&m, &job("1080p", 10, true, false)), 320);
        // The 5 s bucket has no 1080p price and no default: unpriced, named.
        m.billing.buckets[1].credits = None;
        let e = validate(&m).unwrap_err().to_string();
        assert!(e.contains("720p · 5 s") && e.contains("5 s bucket"), "{e}");
        m.billing.buckets.remove(1);
        m.capabilities.durations.push(12);
        let e = validate(&m).unwrap_err().to_string();
        assert!(e.contains("no duration bucket covers 12 s"), "{e}");
    }

    #[test]
    fn user_override_beats_group_override_beats_group_percent() {
        let m = matrix_model();
        let j = job("720p", 5, true, false);
        let g = PricingGroup {
            name: "vip".into(),
            percent: 80,
            overrides: BTreeMap::new(),
        };
        let q = quote(&sheet(&m, Some(&g), None), &j, 1).unwrap();
        assert_eq!(q.total, 60);
        assert_eq!(q.pricing_group.as_deref(), Some("vip"));
        assert_eq!(q.breakdown.last().unwrap().credits, -15);
        let mut g2 = g.clone();
        g2.overrides.insert(m.id.clone(), 4);
        assert_eq!(quote(&sheet(&m, Some(&g2), None), &j, 1).unwrap().total, 30);
        let u = UserPrice {
            model: m.id.clone(),
            percent: Some(50),
            credits: None,
        };
        let q = quote(&sheet(&m, Some(&g2), Some(&u)), &j, 1).unwrap();
        assert_eq!(
            (q.total.get(), q.sheet.unwrap().source.as_str()),
            (38, "user")
        );
        let u = UserPrice {
            model: m.id.clone(),
            percent: None,
            credits: Some(2),
        };
        assert_eq!(
            quote(&sheet(&m, Some(&g), Some(&u)), &j, 1).unwrap().total,
            15
        );
    }

    #[test]
    fn several_videos_multiply() {
        let m = matrix_model();
        let q = quote(&sheet(&m, None, None), &job("720p", 5, false, false), 2).unwrap();
        assert_eq!(q.total, 100);
        assert_eq!(q.breakdown.iter().map(|l| l.credits).sum::<i64>(), 100);
    }

    #[test]
    fn overflowing_prices_are_422_not_wrapped() {
        let mut m = demo_models()[0].clone();
        m.billing.credits = i64::MAX;
        m.billing.resolution_credits.clear();
        let e = quote(&sheet(&m, None, None), &job("720p", 5, false, false), 1).unwrap_err();
        assert_eq!(e.status(), 422);
        let group = PricingGroup {
            name: "g".into(),
            percent: 200,
            overrides: BTreeMap::new(),
        };
        assert_eq!(
            unit_price(&m, "720p", Some(&group), None)
                .unwrap_err()
                .status(),
            422
        );
        let mut per_task = demo_models()[1].clone();
        per_task.billing.credits = i64::MAX;
        let one = job("720p", 5, false, false);
        assert_eq!(list(&per_task, &one), i64::MAX);
        assert_eq!(
            quote(&sheet(&per_task, None, None), &one, 2)
                .unwrap_err()
                .status(),
            422
        );
        per_task.billing.audio_percent = Some(10_000);
        per_task.capabilities.supports_audio = true;
        assert_eq!(validate(&per_task).unwrap_err().status(), 422);
    }
}

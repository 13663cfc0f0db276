//! What a request costs a given user: list price, resolution, seconds, pricing group.

use super::catalog::{BillingMode, Model, PricingGroup};
use crate::error::AppError;
use serde::{Deserialize, Serialize};

/// The price applied to a task, stored on it so later catalog edits don't change history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPrice {
    pub mode: BillingMode,
    /// Credits per task or per second after the pricing group.
    pub unit_credits: i64,
    /// Seconds billed (per-second models), 1 for per-task.
    pub units: i64,
    pub total: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_group: Option<String>,
}

fn out_of_range() -> AppError {
    AppError::invalid(
        "model",
        "the price of this request is out of range; ask the operator to fix the model's price",
    )
}

/// Unit price (per task or per second) for `resolution` after the user's group.
pub fn unit_price(
    model: &Model,
    resolution: &str,
    group: Option<&PricingGroup>,
) -> Result<i64, AppError> {
    let list = model
        .billing
        .resolution_credits
        .get(resolution)
        .copied()
        .unwrap_or(model.billing.credits);
    match group {
        Some(g) => match g.overrides.get(&model.id) {
            Some(v) => Ok(*v),
            // Round up: a discount never produces fractional credits in the caller's favour twice.
            None => list
                .checked_mul(i64::from(g.percent))
                .and_then(|v| v.checked_add(99))
                .map(|v| v / 100)
                .ok_or_else(out_of_range),
        },
        None => Ok(list),
    }
}

pub fn price(
    model: &Model,
    resolution: &str,
    seconds: u32,
    group: Option<&PricingGroup>,
) -> Result<AppliedPrice, AppError> {
    let unit = unit_price(model, resolution, group)?;
    let units = match model.billing.mode {
        BillingMode::PerTask => 1,
        BillingMode::PerSecond => i64::from(seconds),
    };
    Ok(AppliedPrice {
        mode: model.billing.mode,
        unit_credits: unit,
        units,
        total: unit.checked_mul(units).ok_or_else(out_of_range)?,
        pricing_group: group.map(|g| g.name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::demo_models;
    use std::collections::BTreeMap;

    #[test]
    fn per_second_price_uses_default_seconds_for_the_documented_example() {
        let m = &demo_models()[0];
        let p = price(m, "720p", m.capabilities.default_duration, None).unwrap();
        assert_eq!(p.total, 180);
        assert_eq!(price(m, "480p", 10, None).unwrap().total, 240);
    }

    #[test]
    fn pricing_group_scales_and_overrides() {
        let m = &demo_models()[0];
        let half = PricingGroup {
            name: "vip".into(),
            percent: 50,
            overrides: BTreeMap::new(),
        };
        assert_eq!(price(m, "720p", 5, Some(&half)).unwrap().total, 90);
        let fixed = PricingGroup {
            name: "x".into(),
            percent: 100,
            overrides: BTreeMap::from([(m.id.clone(), 7)]),
        };
        assert_eq!(price(m, "720p", 5, Some(&fixed)).unwrap().total, 35);
        let per_task = &demo_models()[1];
        assert_eq!(price(per_task, "720p", 5, None).unwrap().total, 100);
    }

    #[test]
    fn overflowing_prices_are_422_not_wrapped() {
        let mut m = demo_models()[0].clone();
        m.billing.credits = i64::MAX;
        m.billing.resolution_credits.clear();
        let e = price(&m, "720p", 5, None).unwrap_err();
        assert_eq!(e.status(), 422);
        let group = PricingGroup {
            name: "g".into(),
            percent: 200,
            overrides: BTreeMap::new(),
        };
        assert_eq!(
            unit_price(&m, "720p", Some(&group)).unwrap_err().status(),
            422
        );
        let mut per_task = demo_models()[1].clone();
        per_task.billing.credits = i64::MAX;
        per_task.billing.resolution_credits.clear();
        assert_eq!(price(&per_task, "720p", 5, None).unwrap().total, i64::MAX);
    }
}

//! What a request costs a given user: list price, resolution, seconds, pricing group.

use super::catalog::{BillingMode, Model, PricingGroup};
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

/// Unit price (per task or per second) for `resolution` after the user's group.
pub fn unit_price(model: &Model, resolution: &str, group: Option<&PricingGroup>) -> i64 {
    let list = model
        .billing
        .resolution_credits
        .get(resolution)
        .copied()
        .unwrap_or(model.billing.credits);
    match group {
        Some(g) => match g.overrides.get(&model.id) {
            Some(v) => *v,
            // Round up: a discount never produces fractional credits in the caller's favour twice.
            None => (list * i64::from(g.percent) + 99) / 100,
        },
        None => list,
    }
}

pub fn price(
    model: &Model,
    resolution: &str,
    seconds: u32,
    group: Option<&PricingGroup>,
) -> AppliedPrice {
    let unit = unit_price(model, resolution, group);
    let units = match model.billing.mode {
        BillingMode::PerTask => 1,
        BillingMode::PerSecond => i64::from(seconds),
    };
    AppliedPrice {
        mode: model.billing.mode,
        unit_credits: unit,
        units,
        total: unit.saturating_mul(units),
        pricing_group: group.map(|g| g.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::demo_models;
    use std::collections::BTreeMap;

    #[test]
    fn per_second_price_uses_default_seconds_for_the_documented_example() {
        let m = &demo_models()[0];
        let p = price(m, "720p", m.capabilities.default_duration, None);
        assert_eq!(p.total, 180);
        assert_eq!(price(m, "480p", 10, None).total, 240);
    }

    #[test]
    fn pricing_group_scales_and_overrides() {
        let m = &demo_models()[0];
        let half = PricingGroup {
            name: "vip".into(),
            percent: 50,
            overrides: BTreeMap::new(),
        };
        assert_eq!(price(m, "720p", 5, Some(&half)).total, 90);
        let fixed = PricingGroup {
            name: "x".into(),
            percent: 100,
            overrides: BTreeMap::from([(m.id.clone(), 7)]),
        };
        assert_eq!(price(m, "720p", 5, Some(&fixed)).total, 35);
        let per_task = &demo_models()[1];
        assert_eq!(price(per_task, "720p", 5, None).total, 100);
    }
}

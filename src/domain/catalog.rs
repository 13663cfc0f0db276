//! Public models, their capabilities, prices and routes to providers; provider channels.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BillingMode {
    #[default]
    PerTask,
    PerSecond,
    /// A price per duration bucket: the shortest bucket that covers the seconds.
    PerDuration,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::PerTask => "per_task",
            BillingMode::PerSecond => "per_second",
            BillingMode::PerDuration => "per_duration",
        }
    }
}

/// A model's price matrix (README, "Pricing and billing"). `per_task` and `per_second`
/// with `credits` and `resolution_credits` are today's forms; buckets and surcharges
/// extend them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    pub mode: BillingMode,
    /// Credits per task, or per second of video.
    pub credits: i64,
    /// Per-resolution override of `credits` (e.g. 1080p costs more per second).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolution_credits: BTreeMap<String, i64>,
    /// `per_duration`: one price per bucket; a request is billed at the shortest bucket
    /// whose `max_seconds` covers its seconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<DurationBucket>,
    /// With `generate_audio`: the base price times this percent (150 = ×1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_percent: Option<u32>,
    /// With `generate_audio`: credits added per task.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub audio_credits: i64,
    /// With a video input (reference or edit): credits added per task.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub video_input_credits: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// One column of a `per_duration` matrix: the price of videos up to `max_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurationBucket {
    pub max_seconds: u32,
    /// Price at any resolution not listed in `resolution_credits`; none = unpriced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolution_credits: BTreeMap<String, i64>,
}

/// What a channel charges the operator for one task on a route, in credits, so that the
/// margin is `charged - cost`. Any mix of parts; they add up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCost {
    /// Per task.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub per_task: i64,
    /// Per second of video made, by resolution (`"*"` = any other resolution).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_second: BTreeMap<String, i64>,
    /// Per provider unit (a Kling unit, an Ark token): `unit_credits` per `per_units`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unit_credits: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_units: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    pub types: Vec<String>,
    pub resolutions: Vec<String>,
    /// Whole seconds a caller may ask for.
    pub durations: Vec<u32>,
    /// What `duration: "auto"` means, for pricing and for providers that need a number.
    pub default_duration: u32,
    pub aspect_ratios: Vec<String>,
    pub max_images: u32,
    pub max_videos: u32,
    pub max_audios: u32,
    pub supports_audio: bool,
    pub default_generate_audio: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            types: vec!["text-to-video".into()],
            resolutions: vec!["720p".into()],
            durations: vec![5],
            default_duration: 5,
            aspect_ratios: vec!["16:9".into()],
            max_images: 0,
            max_videos: 0,
            max_audios: 0,
            supports_audio: false,
            default_generate_audio: false,
        }
    }
}

/// One way to serve a public model: a provider channel and its model name there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub provider: String,
    pub upstream_model: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "one")]
    pub weight: u32,
    /// Adapter-specific settings (e.g. an input mapping), kept as data.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub settings: serde_json::Value,
    /// What the channel charges for a task on this route (for the operator's margin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<RouteCost>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The public model id callers send.
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub features: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub billing: Billing,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default = "thirty")]
    pub poll_interval_seconds: u32,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// An upstream account ("channel") the operator connected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub name: String,
    /// Adapter kind: `demo`, `seedance`, `kling`, ...
    pub kind: String,
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub api_key: String,
    #[serde(default)]
    pub api_secret: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub settings: serde_json::Value,
}

impl ProviderConfig {
    /// The channel as it may be shown: every key and secret (one per line or comma) cut
    /// to its last four characters. Credentials are never returned in full.
    pub fn redacted(&self) -> ProviderConfig {
        let mask_all = |s: &str| {
            s.split(['\n', ','])
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(mask_secret)
                .collect::<Vec<_>>()
                .join("\n")
        };
        ProviderConfig {
            api_key: mask_all(&self.api_key),
            api_secret: mask_all(&self.api_secret),
            ..self.clone()
        }
    }
}

/// A per-user price rule: a percentage of list price, with per-model overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingGroup {
    pub name: String,
    /// 100 = list price, 80 = 20 % off.
    pub percent: u32,
    /// Model id -> credits (per task or per second, as the model bills).
    #[serde(default)]
    pub overrides: BTreeMap<String, i64>,
}

/// One customer's own price for one model, above any pricing group: a percent of list
/// price, or a unit price (per task, per second or per bucket, as the model bills).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPrice {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<i64>,
}

/// Keep only what is safe to show: the last four characters of a secret.
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() {
        return String::new();
    }
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if secret.chars().count() <= 8 {
        "••••".into()
    } else {
        format!("••••{tail}")
    }
}

/// The built-in catalog: the demo channel and two demo models, so a fresh install runs
/// the whole flow with no upstream account.
pub fn demo_provider() -> ProviderConfig {
    ProviderConfig {
        name: "demo".into(),
        kind: "demo".into(),
        base_url: String::new(),
        api_key: String::new(),
        api_secret: String::new(),
        enabled: true,
        priority: 0,
        weight: 1,
        settings: serde_json::Value::Null,
    }
}

pub fn demo_models() -> Vec<Model> {
    let route = |m: &str| Route {
        provider: "demo".into(),
        upstream_model: m.into(),
        priority: 0,
        weight: 1,
        settings: serde_json::Value::Null,
        cost: None,
    };
    let ratios = ["auto", "16:9", "9:16", "1:1", "21:9"]
        .map(String::from)
        .to_vec();
    vec![
        Model {
            id: "video-2.0-mini-reference-to-video".into(),
            name: "Video 2.0 Mini · Reference to Video".into(),
            description: "Animate reference images, videos and audio; billed per second.".into(),
            features: vec![
                "reference-to-video".into(),
                "image-to-video".into(),
                "audio".into(),
            ],
            enabled: true,
            billing: Billing {
                mode: BillingMode::PerSecond,
                credits: 36,
                resolution_credits: BTreeMap::from([("480p".into(), 24)]),
                ..Billing::default()
            },
            capabilities: Capabilities {
                types: ["image-to-video", "reference-to-video", "text-to-video"]
                    .map(String::from)
                    .to_vec(),
                resolutions: vec!["720p".into(), "480p".into()],
                durations: vec![4, 5, 6, 8, 10],
                default_duration: 5,
                aspect_ratios: ratios.clone(),
                max_images: 9,
                max_videos: 3,
                max_audios: 3,
                supports_audio: true,
                default_generate_audio: true,
            },
            poll_interval_seconds: 5,
            routes: vec![route("demo-reference")],
        },
        Model {
            id: "video-2.0-mini-text-to-video".into(),
            name: "Video 2.0 Mini · Text to Video".into(),
            description: "Text to video at a fixed price per task.".into(),
            features: vec!["text-to-video".into()],
            enabled: true,
            billing: Billing {
                mode: BillingMode::PerTask,
                credits: 100,
                resolution_credits: BTreeMap::new(),
                ..Billing::default()
            },
            capabilities: Capabilities {
                types: vec!["text-to-video".into()],
                resolutions: vec!["720p".into(), "480p".into()],
                durations: vec![5],
                default_duration: 5,
                aspect_ratios: ratios,
                max_images: 0,
                max_videos: 0,
                max_audios: 0,
                supports_audio: false,
                default_generate_audio: false,
            },
            poll_interval_seconds: 5,
            routes: vec![route("demo-text")],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_shown_with_every_key_masked() {
        let mut p = demo_provider();
        p.api_key = "ak-0123456789abcd\nak-9876543210wxyz".into();
        p.api_secret = "sk-secret-value-1234".into();
        let r = p.redacted();
        assert_eq!(r.api_key, "••••abcd\n••••wxyz");
        assert_eq!(r.api_secret, "••••1234");
        assert!(!serde_json::to_string(&r).unwrap().contains("0123456789"));
    }

    #[test]
    fn secrets_are_masked_to_their_tail() {
        assert_eq!(mask_secret(""), "");
        assert_eq!(mask_secret("short"), "••••");
        assert_eq!(mask_secret("sk-abcdefgh1234"), "••••1234");
    }
}

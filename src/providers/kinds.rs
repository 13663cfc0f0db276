//! The one table of channel kinds: how the registry builds each adapter and what the
//! console's channel dialog shows for it (fields, default base URL, regions, README row).

use super::{Provider, Registry};
use super::{
    demo, fal, generic, kling, luma, minimax, openai_videos, replicate, runway, seedance, veo,
    videoapi, vidu, wan,
};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use std::sync::Arc;

type Build = fn(&Registry, &ProviderConfig) -> Result<Arc<dyn Provider>, AppError>;

/// How a kind uses `base_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUrl {
    /// Not used (the demo adapter).
    Unused,
    /// Optional: empty means this documented default.
    Default(&'static str),
    /// Required: there is no default (gateways); the string is an example.
    Required(&'static str),
}

/// A documented alternative host of the same upstream (key, base URL and model must
/// belong to the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// A stable id the console translates (`cn-beijing`, `singapore`, ...).
    pub code: &'static str,
    pub name: &'static str,
    pub base_url: &'static str,
}

impl Region {
    const fn new(code: &'static str, name: &'static str, base_url: &'static str) -> Region {
        Region {
            code,
            name,
            base_url,
        }
    }
}

/// One adapter kind.
pub struct KindSpec {
    /// The `kind` a channel declares.
    pub kind: &'static str,
    /// The upstream's name, for people.
    pub display_name: &'static str,
    /// What the upstream calls the `api_key` field (`None`: the kind takes no key).
    pub api_key: Option<&'static str>,
    /// What the upstream calls the `api_secret` field (`None`: not used). One secret per
    /// key, in the same order.
    pub api_secret: Option<&'static str>,
    pub base_url: BaseUrl,
    /// Other documented hosts; the first one is the default where there is one.
    pub regions: &'static [Region],
    /// The kind's own `settings` keys (besides `timeout_secs`, `max_concurrency`,
    /// `requests_per_second`, which every kind understands).
    pub settings: &'static [&'static str],
    /// Routes to this kind declare the upstream model's inputs in their `settings`
    /// (input mappings), instead of the adapter knowing the model.
    pub route_mapping: bool,
    /// Whether "test connection" makes a real call (otherwise it says it cannot).
    pub test_connection: bool,
    /// The README section whose table has this kind's row (a GitHub-style anchor).
    pub readme_section: &'static str,
    pub(super) build: Build,
}

const WHAT_EACH_CAN_DO: &str = "what-each-provider-can-do";
const MORE_PROVIDERS: &str = "runway-vidu-luma-fal-replicate";
const DECLARING: &str = "declaring-channels";

/// What most kinds share; each row of [`KINDS`] says only how it differs.
#[rustfmt::skip]
const KEYED: KindSpec = KindSpec {
    kind: "", display_name: "", api_key: Some("API key"), api_secret: None, base_url: BaseUrl::Unused,
    regions: &[], settings: &[], route_mapping: false, test_connection: true, readme_section: WHAT_EACH_CAN_DO,
    build: |_, cfg| Err(AppError::invalid("kind", format!("`{}` has no adapter", cfg.kind))),
};

/// Every kind this build can talk to, in the order the console lists them.
#[rustfmt::skip]
pub static KINDS: &[KindSpec] = &[
    KindSpec { kind: "demo", display_name: "Demo (built in)", api_key: None, base_url: BaseUrl::Unused,
        readme_section: DECLARING, build: |r, _| Ok(Arc::new(demo::Demo { delay: r.demo_delay })), ..KEYED },
    KindSpec { kind: "seedance", display_name: "Seedance · Volcengine Ark (China)",
        api_key: Some("Ark API key"), base_url: BaseUrl::Default(seedance::ARK_CN),
        settings: &["reference_style", "smart_duration"],
        build: generic::build::<seedance::Seedance>, ..KEYED },
    KindSpec { kind: "seedance-byteplus",
        display_name: "Seedance · BytePlus ModelArk (international)",
        api_key: Some("ModelArk API key"), base_url: BaseUrl::Default(seedance::BYTEPLUS),
        settings: &["reference_style", "smart_duration"],
        build: generic::build::<seedance::Seedance>, ..KEYED },
    KindSpec { kind: "kling", display_name: "Kling", api_key: Some("Access key (AK)"),
        api_secret: Some("Secret key (SK)"), base_url: BaseUrl::Default(kling::GLOBAL),
        regions: &[
            Region::new("global", "Global (Singapore)", kling::GLOBAL),
            Region::new("china", "China (Beijing)", "https://api-beijing.klingai.com"),
        ],
        build: generic::build::<kling::Kling>, ..KEYED },
    KindSpec { kind: "veo", display_name: "Google Veo (Gemini API)",
        api_key: Some("Gemini API key"), base_url: BaseUrl::Default(veo::GEMINI),
        settings: &["person_generation", "max_image_bytes"], build: generic::build::<veo::Veo>,
        ..KEYED },
    KindSpec { kind: "wan", display_name: "Alibaba Wan (DashScope)",
        api_key: Some("DashScope API key"), base_url: BaseUrl::Default(wan::BEIJING),
        regions: &[
            Region::new("cn-beijing", "Beijing", wan::BEIJING),
            Region::new("singapore", "Singapore", "https://dashscope-intl.aliyuncs.com/api/v1"),
            Region::new("us-virginia", "Virginia", "https://dashscope-us.aliyuncs.com/api/v1"),
        ],
        settings: &["workspace"], build: generic::build::<wan::Wan>, ..KEYED },
    KindSpec { kind: "minimax", display_name: "MiniMax Hailuo",
        base_url: BaseUrl::Default(minimax::INTL),
        regions: &[
            Region::new("international", "International", minimax::INTL),
            Region::new("china", "China", "https://api.minimaxi.com"),
        ],
        build: generic::build::<minimax::MiniMax>, ..KEYED },
    KindSpec { kind: "openai-videos", display_name: "OpenAI-Videos-compatible gateway (/v1/videos)",
        base_url: BaseUrl::Required("https://gateway.example/v1"),
        settings: &["body", "max_image_bytes"],
        build: generic::build::<openai_videos::OpenAiVideos>, ..KEYED },
    KindSpec { kind: "videoapi", display_name: "Another VideoApi (chained gateway)",
        api_key: Some("API key (vga_…)"), base_url: BaseUrl::Required("https://videoapi.example"),
        settings: &["idempotency_key"], build: generic::build::<videoapi::VideoApi>, ..KEYED },
    KindSpec { kind: "runway", display_name: "Runway", api_key: Some("API key (key_…)"),
        base_url: BaseUrl::Default(runway::BASE), settings: &["runway_version"],
        readme_section: MORE_PROVIDERS, build: generic::build::<runway::Runway>, ..KEYED },
    KindSpec { kind: "vidu", display_name: "Vidu", base_url: BaseUrl::Default(vidu::BASE),
        regions: &[
            Region::new("international", "International", vidu::BASE),
            Region::new("china", "China", "https://api.vidu.cn"),
        ],
        settings: &["subject_ids"], readme_section: MORE_PROVIDERS,
        build: generic::build::<vidu::Vidu>, ..KEYED },
    KindSpec { kind: "luma", display_name: "Luma Dream Machine",
        base_url: BaseUrl::Default(luma::BASE), readme_section: MORE_PROVIDERS,
        build: generic::build::<luma::Luma>, ..KEYED },
    KindSpec { kind: "fal", display_name: "fal (queue)", api_key: Some("Key (key_id:secret)"),
        base_url: BaseUrl::Default(fal::BASE), route_mapping: true, test_connection: false,
        readme_section: MORE_PROVIDERS, build: generic::build::<fal::Fal>, ..KEYED },
    KindSpec { kind: "replicate", display_name: "Replicate", api_key: Some("API token (r8_…)"),
        base_url: BaseUrl::Default(replicate::BASE), route_mapping: true,
        readme_section: MORE_PROVIDERS, build: generic::build::<replicate::Replicate>, ..KEYED },
];

/// The entry for a kind, if this build has it.
pub fn kind(name: &str) -> Option<&'static KindSpec> {
    KINDS.iter().find(|k| k.kind == name)
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::credentials::tests::channel;

    #[test]
    fn every_kind_is_listed_once_and_builds_from_its_own_entry() {
        let registry = Registry::new(std::time::Duration::ZERO);
        let mut seen = std::collections::HashSet::new();
        for spec in KINDS {
            assert!(seen.insert(spec.kind), "{} listed twice", spec.kind);
            let cfg = ProviderConfig {
                name: format!("t-{}", spec.kind),
                kind: spec.kind.to_string(),
                base_url: match spec.base_url { BaseUrl::Required(example) => example.to_string(), _ => String::new() },
                ..channel(spec.api_key.map_or("", |_| "k"), spec.api_secret.map_or("", |_| "s"))
            };
            let adapter = registry.build(&cfg).unwrap_or_else(|e| panic!("{}: {e}", spec.kind));
            // seedance-byteplus shares the seedance adapter.
            assert!(spec.kind.starts_with(adapter.kind()), "{} built {}", spec.kind, adapter.kind());
        }
    }

    #[test]
    fn region_codes_are_the_ones_the_console_translates() {
        let known = ["global", "china", "cn-beijing", "singapore", "us-virginia", "international"];
        for spec in KINDS {
            for r in spec.regions {
                assert!(known.contains(&r.code), "{}: {}", spec.kind, r.code);
            }
        }
    }

    #[test]
    fn regions_start_with_the_default_base_url() {
        for spec in KINDS.iter().filter(|k| !k.regions.is_empty()) {
            assert_eq!(BaseUrl::Default(spec.regions[0].base_url), spec.base_url, "{}", spec.kind);
        }
    }
}

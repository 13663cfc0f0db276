//! Runway's developer API (kind `runway`): `POST /v1/text_to_video` or `/v1/image_to_video`
//! with an `X-Runway-Version` header, poll `GET /v1/tasks/{id}`, download `output[0]`
//! (a signed link that expires within 24–48 h), cancel with `DELETE /v1/tasks/{id}`.
//!
//! Runway's body is a union discriminated by `model`, so abilities come from a per-model
//! table ([`spec`]); resolution and aspect ratio become one pixel ratio such as `1280:720`.

use super::credentials::Credential;
use super::generic::{Adapter, Answer, CANCELLED, Call, Describe, Test, invalid};
use super::http::Kit;
use super::input_mapping::words;
use super::mapping::{self, Limits, Secs, Sound, unsupported};
use super::{ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const BASE: &str = "https://api.dev.runwayml.com";
/// The API version every call names (channel setting `runway_version` overrides it).
pub const VERSION: &str = "2024-11-06";

/// Largest inlined asset in raw bytes, by kind. Runway limits the *encoded* data URI
/// (images 5 MB, video 16 MB; audio is unconfirmed and shares the video limit), and
/// base64 grows by 4/3.
const IMAGE_LIMIT: u64 = 5 * 1024 * 1024 / 4 * 3;
const MEDIA_LIMIT: u64 = 16 * 1024 * 1024 / 4 * 3;

/// `(resolution, aspect ratio, pixel ratio)`.
type Ratio = (&'static str, &'static str, &'static str);

#[rustfmt::skip]
const GEN4: &[Ratio] = &[
    ("720p", "16:9", "1280:720"), ("720p", "9:16", "720:1280"), ("720p", "4:3", "1104:832"),
    ("720p", "3:4", "832:1104"), ("720p", "1:1", "960:960"), ("720p", "21:9", "1584:672"),
];
const GEN45_T2V: &[Ratio] = &[("720p", "16:9", "1280:720"), ("720p", "9:16", "720:1280")];
#[rustfmt::skip]
const VEO: &[Ratio] = &[
    ("720p", "16:9", "1280:720"), ("720p", "9:16", "720:1280"),
    ("1080p", "16:9", "1920:1080"), ("1080p", "9:16", "1080:1920"),
];
/// Seedance 2: every tier up to 4K; fast/mini stop at 720p (the first twelve rows).
#[rustfmt::skip]
const SEEDANCE_HD: &[Ratio] = &[
    ("480p", "21:9", "992:432"), ("480p", "16:9", "864:496"), ("480p", "4:3", "752:560"),
    ("480p", "1:1", "640:640"), ("480p", "3:4", "560:752"), ("480p", "9:16", "496:864"),
    ("720p", "21:9", "1470:630"), ("720p", "16:9", "1280:720"), ("720p", "4:3", "1112:834"),
    ("720p", "1:1", "960:960"), ("720p", "3:4", "834:1112"), ("720p", "9:16", "720:1280"),
    ("1080p", "21:9", "2206:946"), ("1080p", "16:9", "1920:1080"), ("1080p", "4:3", "1664:1248"),
    ("1080p", "1:1", "1440:1440"), ("1080p", "3:4", "1248:1664"), ("1080p", "9:16", "1080:1920"),
    ("4k", "21:9", "3840:1646"), ("4k", "16:9", "3840:2160"), ("4k", "4:3", "3840:2880"),
    ("4k", "1:1", "3840:3840"), ("4k", "3:4", "2880:3840"), ("4k", "9:16", "2160:3840"),
];
const SEEDANCE: &[Ratio] = SEEDANCE_HD.split_at(12).0;

/// What one Runway model accepts: the shared limits (its resolutions and ratios are the
/// pixel-ratio tables instead), its default length, pixel ratios and prompt limit.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    pub limits: Limits,
    pub default_duration: u32,
    pub i2v_ratios: &'static [Ratio],
    pub t2v_ratios: &'static [Ratio],
    /// `promptText` limit in UTF-16 units.
    pub prompt_max: usize,
}

/// The per-model table; `None` for a model this adapter does not know. Seedance 2 on
/// Runway: 4–12 s (unconfirmed; Ark itself allows up to 15).
#[rustfmt::skip]
pub fn spec(model: &str) -> Option<ModelSpec> {
    let gen4 = Limits {
        types: &["text-to-video", "image-to-video"], frames: 1, refs: [0; 3], seconds: Secs::Only(&[5, 10]),
        tiers: &[], ratios: &[], frame_shape: false, prompt: 0, sound: Sound::Never,
    };
    let base = ModelSpec { limits: gen4, default_duration: 5, i2v_ratios: GEN4, t2v_ratios: GEN4, prompt_max: 1000 };
    let veo = |limits| ModelSpec { limits, default_duration: 8, i2v_ratios: VEO, t2v_ratios: VEO, ..base };
    let seedance = Limits { types: mapping::ALL_TYPES, frames: 2, refs: [9, 3, 3], seconds: Secs::Range(4, 12), sound: Sound::Switch, ..gen4 };
    let seedance = |r| ModelSpec { limits: seedance, i2v_ratios: r, t2v_ratios: r, prompt_max: 3500, ..base };
    Some(match model {
        "gen4_turbo" => ModelSpec { limits: Limits { types: &["image-to-video"], ..gen4 }, ..base },
        "gen4.5" => ModelSpec { limits: Limits { seconds: Secs::Range(2, 10), ..gen4 }, t2v_ratios: GEN45_T2V, ..base },
        "veo3" => veo(Limits { seconds: Secs::Only(&[8]), ..gen4 }),
        "veo3.1" | "veo3.1_fast" => veo(Limits { frames: 2, seconds: Secs::Only(&[4, 6, 8]), sound: Sound::Switch, ..gen4 }),
        "seedance2" => seedance(SEEDANCE_HD),
        "seedance2_fast" | "seedance2_mini" => seedance(SEEDANCE),
        _ => return None,
    })
}

pub struct Runway {
    /// Channel setting `runway_version` (the `X-Runway-Version` header).
    version: String,
}

/// Runway fetches only HTTPS URLs on a domain name; anything else (our own uploads on a
/// plain-HTTP or IP address, private hosts) is sent inline as a data URI.
async fn inline(kit: &Kit, urls: &mut [String], limit: u64) -> Result<(), ProviderError> {
    for u in urls.iter_mut().filter(|u| !fetchable(u)) {
        let a = kit.fetch_asset(u, limit).await?;
        *u = format!("data:{};base64,{}", a.mime, a.base64());
    }
    Ok(())
}

/// An HTTPS URL whose host is a domain name (not an IP literal).
pub fn fetchable(url: &str) -> bool {
    let u = reqwest::Url::parse(url);
    u.is_ok_and(|u| u.scheme() == "https" && u.domain().is_some_and(|d| d.contains('.')))
}

/// The endpoint path and body for `req`, or the 422 explaining what the model cannot do.
pub fn build_body(model: &str, req: &UnifiedRequest) -> Result<(&'static str, Value), AppError> {
    let s = spec(model).ok_or_else(mapping::unknown_model)?;
    let fit = s.limits.check(req)?;
    // Runway has no in-prompt reference syntax for video.
    let prompt = words(&req.prompt, &req.kind);
    mapping::prompt_max(prompt.encode_utf16().count(), s.prompt_max)?;
    let mut body = json!({"model": model, "promptText": prompt});
    let (path, ratios) = match req.kind.as_str() {
        "image-to-video" => {
            body["promptImage"] = match req.image_urls.as_slice() {
                [one] => json!(one),
                [first, last] => json!([
                    {"uri": first, "position": "first"},
                    {"uri": last, "position": "last"}
                ]),
                _ => return Err(unsupported("image_urls", "needs one image")),
            };
            ("/v1/image_to_video", s.i2v_ratios)
        }
        "reference-to-video" => {
            for (field, kind, urls) in [
                ("references", None, &req.image_urls),
                ("referenceVideos", Some("video"), &req.video_urls),
                ("referenceAudio", Some("audio"), &req.audio_urls),
            ] {
                let item = |u| match kind {
                    Some(k) => json!({"type": k, "uri": u}),
                    None => json!({"uri": u}),
                };
                if !urls.is_empty() {
                    body[field] = urls.iter().map(item).collect();
                }
            }
            ("/v1/text_to_video", s.t2v_ratios)
        }
        _ => ("/v1/text_to_video", s.t2v_ratios),
    };
    // One pixel ratio for the resolution and aspect ratio; `auto` has none of its own: the
    // model's landscape default at the asked resolution.
    let aspect = match req.aspect_ratio.as_str() {
        "auto" | "" => "16:9",
        a => a,
    };
    let res = &req.resolution;
    let Some((_, _, px)) = ratios.iter().find(|(r, a, _)| r == res && *a == aspect) else {
        let param = match ratios.iter().any(|(r, _, _)| r == res) {
            true => "aspect_ratio",
            false => "resolution",
        };
        let offered: Vec<String> = ratios.iter().map(|(r, a, _)| format!("{r} {a}")).collect();
        let offered = offered.join(", ");
        let msg = format!("{res} at {aspect} is not available on this model's channel");
        return Err(unsupported(param, format!("{msg}; available: {offered}")));
    };
    body["ratio"] = json!(px);
    body["duration"] = json!(fit.duration.unwrap_or(s.default_duration));
    if s.limits.sound == Sound::Switch {
        body["audio"] = json!(req.generate_audio);
    }
    Ok((path, body))
}

#[async_trait]
impl Describe for Runway {
    const KIND: &'static str = "runway";
    // 404: already gone, which is what we wanted.
    const CANCEL_DONE: &'static [u16] = &[404];
    const POLL: &'static str = "/v1/tasks/{id}";
    const ANSWER: Answer = Answer {
        // THROTTLED: over the organisation's concurrency, queued again later. Not a failure.
        words: [
            &["PENDING", "THROTTLED"],
            &["RUNNING"],
            &["SUCCEEDED"],
            &["FAILED"],
        ],
        ended: &[("CANCELLED", CANCELLED)],
        url: &["output", "0"],
        code: &["failureCode"],
        message: &["failure"],
        ..Answer::DEFAULT
    };
    const TEST: Option<Test> = Some(Test {
        path: "/v1/organization",
        says: "organization reachable; credit balance per key",
        shows: &["creditBalance"],
    });
    const ERROR_CODE: &'static [&'static [&'static str]] = &[];
    const ERROR_MESSAGE: &'static [&'static [&'static str]] =
        &[&["error"], &["error", "message"], &["message"]];
    const STATUS_CODES: &'static [(u16, &'static str)] = &[(400, "invalid_request")];

    fn from_config(cfg: &ProviderConfig) -> Result<Runway, AppError> {
        let version = cfg.settings.get("runway_version").and_then(Value::as_str);
        Ok(Runway {
            version: version.unwrap_or(VERSION).to_string(),
        })
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let (path, body) = build_body(model, req)?;
        Ok(Call::post(path, body))
    }

    async fn submit_call(
        &self,
        a: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let mut req = job.request.clone();
        inline(&a.kit, &mut req.image_urls, IMAGE_LIMIT).await?;
        inline(&a.kit, &mut req.video_urls, MEDIA_LIMIT).await?;
        inline(&a.kit, &mut req.audio_urls, MEDIA_LIMIT).await?;
        self.request(job.upstream_model, &req, job.task_id)
            .map_err(invalid)
    }

    fn cancel_call(&self, id: &str, _: &str) -> Option<Call> {
        Some(Call::get(format!("/v1/tasks/{id}")).method(reqwest::Method::DELETE))
    }

    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        vec![
            ("authorization", format!("Bearer {}", cred.key)),
            ("X-Runway-Version", self.version.clone()),
        ]
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::PollOutcome;
    use crate::providers::generic::video;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, case, run};

    #[test]
    fn references_become_plain_words() {
        assert_eq!(words("from @Image1 to @Image2", "image-to-video"), "from the first frame to the last frame");
        assert_eq!(words("@Image2 dances to @Audio1 like @Video1", "reference-to-video"),
            "the second reference image dances to the first reference audio like the first reference video");
    }

    #[test]
    fn only_https_domains_are_fetched_by_runway() {
        assert!(fetchable("https://cdn.example.com/a.png"));
        assert!(!fetchable("http://cdn.example.com/a.png"));
        assert!(!fetchable("https://127.0.0.1/a.png"));
        assert!(!fetchable("https://[::1]/a.png"));
        assert!(!fetchable("https://localhost/a.png"));
    }

    #[test]
    #[rustfmt::skip]
    fn mapping_table() {
        fn i2v(r: &mut UnifiedRequest) {
            r.kind = "image-to-video".into();
            r.image_urls = vec!["https://x.example/1.png".into()];
        }
        let cases = vec![
            case("t2v path", "gen4.5", |_| {}, Sent("/model", json!("gen4.5"))),
            case("720p 16:9", "gen4.5", |_| {}, Sent("/ratio", json!("1280:720"))),
            case("720p 9:16", "gen4.5", |r| r.aspect_ratio = "9:16".into(), Sent("/ratio", json!("720:1280"))),
            case("gen4.5 t2v square", "gen4.5", |r| r.aspect_ratio = "1:1".into(), Refused("aspect_ratio")),
            case("gen4.5 i2v square", "gen4.5", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into()]; r.aspect_ratio = "1:1".into(); }, Sent("/ratio", json!("960:960"))),
            case("gen4 21:9", "gen4_turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into()]; r.aspect_ratio = "21:9".into(); }, Sent("/ratio", json!("1584:672"))),
            case("auto is landscape", "gen4.5", |r| r.aspect_ratio = "auto".into(), Sent("/ratio", json!("1280:720"))),
            case("veo 1080p", "veo3.1", |r| { r.resolution = "1080p".into(); r.duration = None; }, Sent("/ratio", json!("1920:1080"))),
            case("veo 1080p portrait", "veo3.1", |r| { r.resolution = "1080p".into(); r.aspect_ratio = "9:16".into(); r.duration = Some(4); }, Sent("/ratio", json!("1080:1920"))),
            case("gen4 1080p", "gen4.5", |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("480p on gen4", "gen4.5", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("seedance 480p", "seedance2_fast", |r| r.resolution = "480p".into(), Sent("/ratio", json!("864:496"))),
            case("seedance 1080p 4:3", "seedance2", |r| { r.resolution = "1080p".into(); r.aspect_ratio = "4:3".into(); }, Sent("/ratio", json!("1664:1248"))),
            case("seedance fast 1080p", "seedance2_fast", |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("gen4 text-to-video", "gen4_turbo", |_| {}, Refused("type")),
            case("unknown model", "gen9", |_| {}, Refused("model")),
            case("i2v image", "gen4_turbo", i2v, Sent("/promptImage", json!("https://x.example/1.png"))),
            case("gen4 last frame", "gen4_turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into(); 2]; }, Refused("image_urls")),
            case("veo3.1 last frame", "veo3.1", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into(), "https://x.example/2.png".into()]; r.duration = Some(6); }, Sent("/promptImage/1", json!({"uri": "https://x.example/2.png", "position": "last"}))),
            case("gen4 duration 5", "gen4_turbo", i2v, Sent("/duration", json!(5))),
            case("gen4 duration 7", "gen4_turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into()]; r.duration = Some(7); }, Refused("duration")),
            case("veo3 auto is 8", "veo3", |r| r.duration = None, Sent("/duration", json!(8))),
            case("veo3 5s", "veo3", |r| r.duration = Some(5), Refused("duration")),
            case("gen4.5 auto sends billed seconds", "gen4.5", |r| { r.duration = None; r.seconds = 6; }, Sent("/duration", json!(6))),
            case("audio on gen4.5", "gen4.5", |r| r.generate_audio = true, Refused("generate_audio")),
            case("silent gen4.5 says nothing", "gen4.5", |_| {}, Omitted("/audio")),
            case("audio on veo3.1", "veo3.1", |r| { r.generate_audio = true; r.duration = None; }, Sent("/audio", json!(true))),
            case("references on seedance2", "seedance2", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into()]; r.audio_urls = vec!["https://x.example/a.mp3".into()]; }, Sent("/referenceAudio/0", json!({"type": "audio", "uri": "https://x.example/a.mp3"}))),
            case("references on gen4.5", "gen4.5", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into()]; }, Refused("type")),
            case("10 references", "seedance2", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x.example/1.png".into(); 10]; }, Refused("image_urls")),
            case("long prompt on gen4", "gen4.5", |r| r.prompt = "x".repeat(1001), Refused("prompt")),
            case("long prompt fits seedance2", "seedance2", |r| r.prompt = "x".repeat(1001), Sent("/model", json!("seedance2"))),
            case("no end user", "gen4.5", |r| r.end_user_id = Some("u".into()), Omitted("/end_user_id")),
            // The endpoint follows the type (shown as `/path`).
            case("t2v endpoint", "veo3.1", |r| r.duration = Some(8), Sent("/path", json!("/v1/text_to_video"))),
            case("i2v endpoint", "veo3.1", |r| { i2v(r); r.duration = Some(8); }, Sent("/path", json!("/v1/image_to_video"))),
            case("r2v endpoint", "seedance2", |r| { i2v(r); r.kind = "reference-to-video".into(); r.duration = Some(8); }, Sent("/path", json!("/v1/text_to_video"))),
        ];
        run(cases, |m, r| build_body(m, r).map(|(path, mut b)| {
            b["path"] = json!(path);
            b
        }));
    }

    #[test]
    fn statuses_map_to_outcomes() {
        answers(|v| Runway::ANSWER.read(v), vec![
            (json!({"status": "PENDING", "progress": 0.4}), Is(PollOutcome::Queued)),
            (json!({"status": "THROTTLED", "progress": 0.4}), Is(PollOutcome::Queued)),
            (json!({"status": "RUNNING", "progress": 0.4}), Is(PollOutcome::Running)),
            (json!({"status": "SUCCEEDED", "output": ["https://cf/x.mp4?_jwt=1"]}), Is(video("https://cf/x.mp4?_jwt=1".into(), None, None))),
            (json!({"status": "FAILED", "failure": "Input text did not pass moderation.", "failureCode": "SAFETY.INPUT.TEXT"}), Is(PollOutcome::Failed { code: "SAFETY.INPUT.TEXT".into(), message: "Input text did not pass moderation.".into() })),
            (json!({"status": "CANCELLED"}), Code("upstream_cancelled")),
            (json!({"status": "SUCCEEDED", "output": []}), Bad),
            (json!({"status": "PAUSED"}), Bad),
        ]);
    }
}

//! Seedance on Volcengine Ark (kind `seedance`, CN) and BytePlus ModelArk (kind
//! `seedance-byteplus`, intl): one wire format — `POST /contents/generations/tasks`, poll
//! `GET /contents/generations/tasks/{id}`, download the pre-signed `content.video_url`.

use super::generic::{Answer, CANCELLED, Call, Describe, EXPIRED, Test, choice};
use super::http;
use super::mapping::{self, Limits, Secs, Sound, unsupported};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const ARK_CN: &str = "https://ark.cn-beijing.volces.com/api/v3";
pub const BYTEPLUS: &str = "https://ark.ap-southeast.bytepluses.com/api/v3";

const RATIOS: [&str; 7] = ["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"];

/// How `@Image1` is written in the prompt: `[图1]` (Ark CN docs) or `[Image 1]` (BytePlus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStyle {
    Zh,
    En,
}

/// Seedance on Ark, described for the [generic adapter](super::generic).
pub struct Seedance {
    style: RefStyle,
    /// Channel setting `smart_duration`: send `duration: -1` for `auto` on 2.x / 1.5 pro
    /// (the upstream picks the length; billing still uses the model's default seconds).
    smart: bool,
}

/// Seedance 1.0 pro: text and frames, 2–12 s, silent.
#[rustfmt::skip]
const PRO: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 2, refs: [0; 3], seconds: Secs::Range(2, 12),
    tiers: &["480p", "720p", "1080p"], ratios: &RATIOS, frame_shape: false, prompt: 0, sound: Sound::Never,
};
/// Seedance 2.x: references, sound, 4–15 s.
#[rustfmt::skip]
const V2: Limits = Limits { types: mapping::ALL_TYPES, refs: [9, 3, 3], seconds: Secs::Range(4, 15), sound: Sound::Switch, ..PRO };

/// The capability table: the first row whose parts all appear in the model id wins;
/// else 1.0 pro. The models with sound (2.x, 1.5 pro) also take `duration: -1`.
#[rustfmt::skip]
const MODELS: &[(&[&str], Limits)] = &[
    (&["seedance-2-", "fast"], Limits { tiers: &["480p", "720p"], ..V2 }),
    (&["seedance-2-"], V2),
    (&["seedance-1-5"], Limits { seconds: Secs::Range(4, 12), sound: Sound::Switch, ..PRO }),
    // 1.0 lite image-to-video: frames, or 1–4 reference images (no 1080p then).
    (&["lite-i2v"], Limits { types: &["image-to-video", "reference-to-video"], refs: [4, 0, 0], ..PRO }),
    (&["lite-t2v"], Limits { types: &["text-to-video"], ..PRO }),
    // 1.0 pro fast: no last frame.
    (&["fast"], Limits { frames: 1, ..PRO }),
];

fn limits(model: &str) -> Limits {
    let m = model.to_ascii_lowercase();
    let fits = |parts: &[&str]| parts.iter().all(|p| m.contains(p));
    let row = MODELS.iter().find(|(parts, _)| fits(parts));
    row.map_or(PRO, |(_, l)| *l)
}

/// `@Image1` → `[图1]` / `[Image 1]`, item N of each kind being the Nth `content` entry of
/// that kind.
pub fn rewrite_prompt(prompt: &str, style: RefStyle) -> String {
    references::rewrite(prompt, |kind, n| match (style, kind) {
        (RefStyle::Zh, AssetKind::Image) => format!("[图{n}]"),
        (RefStyle::Zh, AssetKind::Video) => format!("[视频{n}]"),
        (RefStyle::Zh, AssetKind::Audio) => format!("[音频{n}]"),
        (RefStyle::En, kind) => format!("[{} {n}]", kind.tag()),
    })
}

/// The Ark request body for `req`, or the 422 explaining what this model cannot do.
pub fn build_body(
    model: &str,
    req: &UnifiedRequest,
    style: RefStyle,
    smart_duration: bool,
) -> Result<Value, AppError> {
    let l = limits(model);
    let fit = l.check(req)?;
    let sound = l.sound == Sound::Switch;
    let mut content = vec![json!({"type": "text", "text": rewrite_prompt(&req.prompt, style)})];
    // `{"type": "image_url", "image_url": {"url": ...}, "role": ...}` and so on.
    let item = |kind: &str, url: &str, role: &str| {
        let key = format!("{kind}_url");
        json!({"type": key, &key: {"url": url}, "role": role})
    };
    if req.kind == "image-to-video" {
        for (u, role) in req.image_urls.iter().zip(["first_frame", "last_frame"]) {
            content.push(item("image", u, role));
        }
    } else if req.kind == "reference-to-video" {
        // The one images-only reference model (1.0 lite) has no 1080p with references.
        if l.refs[1] == 0 && req.resolution == "1080p" {
            let msg = "1080p is not available with reference images on this model's channel";
            return Err(unsupported("resolution", msg));
        }
        let refs = [
            ("image", &req.image_urls),
            ("video", &req.video_urls),
            ("audio", &req.audio_urls),
        ];
        for (kind, urls) in refs {
            let role = format!("reference_{kind}");
            content.extend(urls.iter().map(|u| item(kind, u, &role)));
        }
    }
    let duration = match fit.duration {
        Some(d) if !(req.duration.is_none() && smart_duration && sound) => i64::from(d),
        _ => -1,
    };
    let mut body = json!({
        "model": model,
        "content": content,
        "resolution": req.resolution,
        "ratio": fit.ratio.unwrap_or("adaptive"),
        "watermark": false,
    });
    if duration > 0 || sound {
        body["duration"] = json!(duration);
    }
    if sound {
        body["generate_audio"] = json!(req.generate_audio);
    }
    if let Some(u) = &req.end_user_id {
        body["safety_identifier"] = json!(http::end_user_hash(u));
    }
    Ok(body)
}

/// What an Ark task object says: besides the video, its length, resolution, audio and the
/// tokens it billed (`usage.completion_tokens`).
pub const ANSWER: Answer = Answer {
    words: [&["queued"], &["running"], &["succeeded"], &["failed"]],
    ended: &[("expired", EXPIRED), ("cancelled", CANCELLED)],
    url: &["content", "video_url"],
    seconds: &["duration"],
    resolution: &["resolution"],
    audio: &["generate_audio"],
    units: &["usage", "completion_tokens"],
    ..Answer::DEFAULT
};

#[async_trait]
impl Describe for Seedance {
    const KIND: &'static str = "seedance";
    // Ark posts the task object to `callback_url` on each status change.
    const CALLBACK: bool = true;
    const POLL: &'static str = "/contents/generations/tasks/{id}";
    const ANSWER: Answer = ANSWER;
    #[rustfmt::skip]
    const TEST: Option<Test> = Test::get("/contents/generations/tasks?page_num=1&page_size=1", "listed tasks");
    // Account problems come with 4xx codes of their own: the channel is at fault.
    const CHANNEL_CODES: &'static [&'static str] =
        &["AccountOverdue*", "AccessDenied*", "Authentication*"];

    fn from_config(cfg: &ProviderConfig) -> Result<Seedance, AppError> {
        let styles = [("zh", RefStyle::Zh), ("en", RefStyle::En)];
        let intl = cfg.kind == "seedance-byteplus";
        let style = choice(cfg, "reference_style", &styles)?;
        let style = style.unwrap_or(if intl { RefStyle::En } else { RefStyle::Zh });
        let smart = cfg.settings["smart_duration"].as_bool().unwrap_or(false);
        Ok(Seedance { style, smart })
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let body = build_body(model, req, self.style, self.smart)?;
        Ok(Call::post("/contents/generations/tasks", body))
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::PollOutcome;
    use crate::providers::generic::{first, video};
    use crate::providers::mapping::table::{Want::*, answers, base};

    fn req(kind: &str) -> UnifiedRequest {
        let prompt = "@Image1 walks into @Video1 humming @Audio1".into();
        UnifiedRequest { kind: kind.into(), prompt, generate_audio: true, end_user_id: Some("customer_001".into()), ..base() }
    }

    const V2: &str = "doubao-seedance-2-0-260128";
    const V2_FAST: &str = "doubao-seedance-2-0-fast-260128";
    const V15: &str = "doubao-seedance-1-5-pro-251215";
    const V10_FAST: &str = "doubao-seedance-1-0-pro-fast-251015";
    const LITE_I2V: &str = "doubao-seedance-1-0-lite-i2v-250428";
    const LITE_T2V: &str = "doubao-seedance-1-0-lite-t2v-250428";

    #[test]
    fn references_are_rewritten_per_style() {
        assert_eq!(rewrite_prompt("@Image1 和 @Video2 @Audio1", RefStyle::Zh), "[图1] 和 [视频2] [音频1]");
        assert_eq!(rewrite_prompt("@Image1 and @Video2 @Audio1", RefStyle::En), "[Image 1] and [Video 2] [Audio 1]");
    }

    #[test]
    fn reference_mode_maps_every_field() {
        let mut r = req("reference-to-video");
        r.image_urls = vec!["https://x/a.png".into(), "https://x/b.png".into()];
        r.video_urls = vec!["https://x/v.mp4".into()];
        r.audio_urls = vec!["https://x/a.wav".into()];
        let b = build_body(V2, &r, RefStyle::En, false).unwrap();
        assert_eq!(b["model"], V2);
        assert_eq!(b["content"][0]["text"], "[Image 1] walks into [Video 1] humming [Audio 1]");
        let roles: Vec<&str> = b["content"].as_array().unwrap()[1..]
            .iter()
            .map(|c| c["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["reference_image", "reference_image", "reference_video", "reference_audio"]);
        assert_eq!(b["content"][3]["video_url"]["url"], "https://x/v.mp4");
        assert_eq!(b["resolution"], "720p");
        assert_eq!(b["ratio"], "16:9");
        assert_eq!(b["duration"], 5);
        assert_eq!(b["generate_audio"], true);
        assert_eq!(b["watermark"], false);
        let sid = b["safety_identifier"].as_str().unwrap();
        assert_eq!(sid.len(), 32);
        assert!(!sid.contains("customer"));
    }

    #[test]
    fn mapping_table() {
        use crate::providers::mapping::table::{Expect::*, case, run};
        let cases = vec![
            case("i2v first+last", V2, |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 to @Image2".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/content/2/role", json!("last_frame"))),
            case("i2v prompt", V2, |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 to @Image2".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/content/0/text", json!("[Image 1] to [Image 2]"))),
            case("i2v 3 images", V2, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 3]; }, Refused("image_urls")),
            case("i2v with a video", V2, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Refused("video_urls")),
            case("i2v last frame on 1.0 pro fast", V10_FAST, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("image_urls")),
            case("t2v has text only", V2, |_| {}, Omitted("/content/1")),
            case("auto ratio", V2, |r| r.aspect_ratio = "auto".into(), Sent("/ratio", json!("adaptive"))),
            case("ratio 21:9", V2, |r| r.aspect_ratio = "21:9".into(), Sent("/ratio", json!("21:9"))),
            case("ratio 5:4", V2, |r| r.aspect_ratio = "5:4".into(), Refused("aspect_ratio")),
            case("480p", V2, |r| r.resolution = "480p".into(), Sent("/resolution", json!("480p"))),
            case("1080p on 2.0 fast", V2_FAST, |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("1080p on 2.0", V2, |r| r.resolution = "1080p".into(), Sent("/resolution", json!("1080p"))),
            case("4k", V2, |r| r.resolution = "4k".into(), Refused("resolution")),
            case("duration 16 on 2.0", V2, |r| r.duration = Some(16), Refused("duration")),
            case("duration 3 on 2.0", V2, |r| r.duration = Some(3), Refused("duration")),
            case("duration 13 on 1.5", V15, |r| r.duration = Some(13), Refused("duration")),
            case("duration 2 on 1.0", V10_FAST, |r| r.duration = Some(2), Sent("/duration", json!(2))),
            case("auto sends billed seconds", V2, |r| { r.duration = None; r.seconds = 5; }, Sent("/duration", json!(5))),
            case("auto past the range on 1.0 omits", V10_FAST, |r| { r.duration = None; r.seconds = 20; }, Omitted("/duration")),
            case("audio on 1.0", V10_FAST, |r| r.generate_audio = true, Refused("generate_audio")),
            case("1.0 says nothing about audio", V10_FAST, |_| {}, Omitted("/generate_audio")),
            case("silent 2.0 still says so", V2, |_| {}, Sent("/generate_audio", json!(false))),
            case("audio on 1.5", V15, |r| r.generate_audio = true, Sent("/generate_audio", json!(true))),
            case("no end user, no identifier", V2, |_| {}, Omitted("/safety_identifier")),
            case("reference on 1.5", V15, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("audio-only reference", V2, |r| { r.kind = "reference-to-video".into(); r.audio_urls = vec!["https://x/a".into()]; }, Refused("audio_urls")),
            case("10 reference images", V2, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/i".into(); 10]; }, Refused("image_urls")),
            case("4 reference videos", V2, |r| { r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v".into(); 4]; }, Refused("video_urls")),
            case("4 reference audio", V2, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a".into(); 4]; }, Refused("audio_urls")),
            case("lite i2v references", LITE_I2V, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 4]; }, Sent("/content/4/role", json!("reference_image"))),
            case("lite i2v 5 references", LITE_I2V, |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 5]; }, Refused("image_urls")),
            case("lite i2v 1080p references", LITE_I2V, |r| { r.kind = "reference-to-video".into(); r.resolution = "1080p".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("resolution")),
            case("lite t2v with an image", LITE_T2V, |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("lite i2v text only", LITE_I2V, |_| {}, Refused("type")),
        ];
        run(cases, |m, r| build_body(m, r, RefStyle::En, false));
    }

    #[test]
    fn smart_duration_is_opt_in() {
        let mut r = req("text-to-video");
        r.prompt = "p".into();
        r.duration = None;
        assert_eq!(build_body(V2, &r, RefStyle::En, true).unwrap()["duration"], -1);
        assert_eq!(build_body(V2, &r, RefStyle::En, false).unwrap()["duration"], 5);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let made = |secs, res: Option<&str>, audio, units| first(video("https://tos/x.mp4".into(), secs, None), |r| {
            (r.resolution, r.audio, r.provider_units) = (res.map(str::to_string), audio, units);
        });
        answers(|v| ANSWER.read(v), vec![
            (json!({"status": "queued"}), Is(PollOutcome::Queued)),
            (json!({"status": "running"}), Is(PollOutcome::Running)),
            (json!({"status": "succeeded", "duration": 5, "content": {"video_url": "https://tos/x.mp4"}}), Is(made(Some(5), None, None, None))),
            // The documented answer reports length, resolution, audio and the tokens billed.
            (json!({"status": "succeeded", "content": {"video_url": "https://tos/x.mp4"}, "usage": {"completion_tokens": 108900, "total_tokens": 108900}, "resolution": "720p", "duration": 5, "generate_audio": true}), Is(made(Some(5), Some("720p"), Some(true), Some(108900)))),
            (json!({"status": "failed", "error": {"code": "OutputVideoSensitiveContentDetected", "message": "blocked, see https://x"}}), Is(PollOutcome::Failed { code: "OutputVideoSensitiveContentDetected".into(), message: "blocked, see [link]".into() })),
            (json!({"status": "expired"}), Code("upstream_expired")),
            (json!({"status": "paused"}), Bad),
            (json!({"status": "succeeded"}), Bad),
        ]);
    }
}

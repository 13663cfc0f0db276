//! Alibaba Wan on DashScope (kind `wan`): `POST /services/aigc/video-generation/video-synthesis`
//! with `X-DashScope-Async: enable`, poll `GET /tasks/{id}`, download the signed
//! `output.video_url`. Two body formats: the legacy flat fields (wan2.1–2.6: `img_url`,
//! `reference_urls`, `size`) and the `media[]` list (wan2.7 and newer).
//!
//! A route's upstream model is either a full model id (`wan2.6-i2v`, `wan2.2-kf2v-flash`)
//! or a family (`wan2.6`, `wan2.7`) from which the adapter picks the id for the type.

use super::credentials::Credential;
use super::generic::{Answer, CANCELLED, Call, Ctx, Describe, Test, first};
use super::mapping::{self, Secs, not_available, unsupported};
use super::{PollOutcome, ProviderError};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const BEIJING: &str = "https://dashscope.aliyuncs.com/api/v1";
const CREATE_PATH: &str = "/services/aigc/video-generation/video-synthesis";
const RATIOS: [&str; 5] = ["16:9", "9:16", "1:1", "4:3", "3:4"];
/// Resolutions; 2.6 and newer drop 480p.
const TIERS: [&str; 3] = ["480p", "720p", "1080p"];

/// The modes, each named by its model id suffix: text, one first frame, first and last
/// frame (legacy kf2v models), references.
const T2V: &str = "-t2v";
const I2V: &str = "-i2v";
const KF2V: &str = "-kf2v";
const R2V: &str = "-r2v";

/// Which model id a request goes to, and how its body is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub model: String,
    pub mode: &'static str,
    /// 21 = 2.1, 26 = 2.6, ...
    pub version: u32,
    /// The `media[]` body (2.7 and newer).
    pub media: bool,
}

fn version_of(model: &str) -> Option<u32> {
    let m = model.to_ascii_lowercase();
    let rest = m.strip_prefix("wanx").or_else(|| m.strip_prefix("wan"))?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(major.parse::<u32>().ok()? * 10 + minor.parse::<u32>().ok()?)
}

/// Pick the model id and mode for `req` on route model `upstream`.
pub fn target(upstream: &str, req: &UnifiedRequest) -> Result<Target, AppError> {
    let version = version_of(upstream).ok_or_else(mapping::unknown_model)?;
    let media = version >= 27;
    let id = upstream.to_ascii_lowercase();
    let explicit = [T2V, KF2V, I2V, R2V].into_iter().find(|m| id.contains(m));
    let mode = match req.kind.as_str() {
        "text-to-video" => T2V,
        "image-to-video" if req.image_urls.len() == 2 && !media => KF2V,
        "image-to-video" => I2V,
        _ => R2V,
    };
    let one_frame = "this model's channel takes one first-frame image";
    let two_frames = "this model's channel needs a first and a last frame (two images)";
    let model = match (explicit, mode, version) {
        (Some(m), ..) if m == mode => upstream.to_string(),
        (Some(KF2V), I2V, _) => return Err(unsupported("image_urls", two_frames)),
        (None, KF2V, 22) => "wan2.2-kf2v-flash".into(),
        (None, KF2V, 21) => "wanx2.1-kf2v-plus".into(),
        (None | Some(I2V), KF2V, _) => return Err(unsupported("image_urls", one_frame)),
        (Some(_), ..) | (None, R2V, ..=25) => return Err(not_available("type", &req.kind)),
        (None, m, _) => format!("{}{m}", upstream.trim_end_matches('-')),
    };
    Ok(Target {
        model,
        mode,
        version,
        media,
    })
}

/// `@Image1` in Wan's words: 2.6 reference subjects are `character1…` in `reference_urls`
/// order (images, then videos); 2.7 says `Image 1` / `Video 1`; frames are described.
pub fn rewrite_prompt(prompt: &str, t: &Target, images: usize) -> String {
    references::rewrite(prompt, |kind, n| match (t.mode, t.media, kind) {
        (R2V, false, AssetKind::Video) => format!("character{}", images as u32 + n),
        (R2V, false, _) => format!("character{n}"),
        (R2V, true, k) => format!("{} {n}", k.tag()),
        (_, _, AssetKind::Audio) => "the audio".into(),
        (_, _, _) if n == 1 => "the first frame".into(),
        _ => "the last frame".into(),
    })
}

/// `W*H` for text and reference videos on the legacy format.
#[rustfmt::skip]
fn size(resolution: &str, ratio: &str) -> Option<&'static str> {
    let ratio = if ratio == "auto" || ratio.is_empty() { "16:9" } else { ratio };
    Some(match (resolution, ratio) {
        ("480p", "16:9") => "832*480", ("480p", "9:16") => "480*832", ("480p", "1:1") => "624*624",
        ("720p", "16:9") => "1280*720", ("720p", "9:16") => "720*1280", ("720p", "1:1") => "960*960",
        ("720p", "4:3") => "1088*832", ("720p", "3:4") => "832*1088",
        ("1080p", "16:9") => "1920*1080", ("1080p", "9:16") => "1080*1920", ("1080p", "1:1") => "1440*1440",
        ("1080p", "4:3") => "1632*1248", ("1080p", "3:4") => "1248*1632",
        _ => return None,
    })
}

/// The DashScope body for `req`, or the 422 saying what the model cannot do.
pub fn build_body(upstream: &str, req: &UnifiedRequest) -> Result<Value, AppError> {
    let t = target(upstream, req)?;
    let v = t.version;
    let (images, videos, audios) = (&req.image_urls, &req.video_urls, &req.audio_urls);
    match t.mode {
        I2V => {
            mapping::at_most("image_urls", images, if t.media { 2 } else { 1 }, "images")?;
            mapping::at_most("video_urls", videos, 0, "videos")?;
        }
        KF2V => mapping::no_media(req)?,
        R2V => {
            mapping::at_most("audio_urls", audios, 0, "audio clips")?;
            mapping::refuse_refs(&req.prompt, &[AssetKind::Audio])?;
            if t.media {
                mapping::references(req, [5, 3, 0])?;
            } else if images.len() + videos.len() > 5 {
                let msg =
                    "this model's channel accepts at most 5 reference images and videos in total";
                return Err(unsupported("image_urls", msg));
            }
        }
        _ => {}
    }
    mapping::at_most("audio_urls", audios, 1, "audio clips")?;
    if !audios.is_empty() && (v < 25 || t.media && t.mode != I2V) {
        let msg = "driving audio is not available on this model's channel";
        return Err(unsupported("audio_urls", msg));
    }
    let tiers: &[&str] = if v >= 26 { &TIERS[1..] } else { &TIERS };
    let resolution = mapping::one_of("resolution", &req.resolution, tiers)?;
    let secs = match (v, t.mode) {
        (27.., _) if !videos.is_empty() => Secs::Range(2, 10),
        (26, R2V) => Secs::Range(2, 10),
        (26.., _) => Secs::Range(2, 15),
        (25, _) => Secs::Only(&[5, 10]),
        _ => Secs::Only(&[5]),
    };
    let duration = mapping::duration(req, |d| secs.has(d))?;
    if v < 25 {
        mapping::silent(req)?;
    }

    let mut input = json!({"prompt": rewrite_prompt(&req.prompt, &t, images.len())});
    let mut params = json!({"prompt_extend": true, "watermark": false});
    if !t.media && matches!(t.mode, T2V | R2V) {
        let size = size(resolution, &req.aspect_ratio);
        let size = size.ok_or_else(|| not_available("aspect_ratio", &req.aspect_ratio))?;
        params["size"] = json!(size);
    } else {
        // Frames decide their video's shape: there the ratio is only checked (21:9 is refused).
        let ratio = mapping::ratio(req, &RATIOS)?;
        params["resolution"] = json!(resolution.to_ascii_uppercase());
        if let Some(r) = ratio.filter(|_| t.media && t.mode != I2V) {
            params["ratio"] = json!(r);
        }
    }
    if t.media {
        let media: Vec<Value> = match t.mode {
            I2V => (typed("first_frame", &images[..1]))
                .chain(typed("last_frame", &images[1..]))
                .chain(typed("driving_audio", audios))
                .collect(),
            _ => (typed("reference_image", images))
                .chain(typed("reference_video", videos))
                .collect(),
        };
        if !media.is_empty() {
            input["media"] = json!(media);
        }
    } else {
        match t.mode {
            I2V => input["img_url"] = json!(images[0]),
            KF2V => {
                input["first_frame_url"] = json!(images[0]);
                input["last_frame_url"] = json!(images[1]);
            }
            R2V => input["reference_urls"] = json!([&images[..], videos].concat()),
            _ => {}
        }
        if let Some(a) = audios.first() {
            input["audio_url"] = json!(a);
        }
    }
    if let Some(d) = duration {
        params["duration"] = json!(d);
    }
    if v >= 25 {
        params["audio"] = json!(req.generate_audio || !audios.is_empty());
    }
    Ok(json!({"model": t.model, "input": input, "parameters": params}))
}

/// `media[]` entries of one role (2.7 and newer).
fn typed<'a>(role: &'a str, urls: &'a [String]) -> impl Iterator<Item = Value> + 'a {
    urls.iter().map(move |u| json!({"type": role, "url": u}))
}

// UNKNOWN (missing or expired) is not in the table: not proof of failure on its own, the
// deadline ends it.
const ANSWER: Answer = Answer {
    status: &["output", "task_status"],
    words: [&["PENDING"], &["RUNNING"], &["SUCCEEDED"], &["FAILED"]],
    ended: &[("CANCELED", CANCELLED)],
    url: &["output", "video_url"],
    code: &["output", "code"],
    message: &["output", "message"],
    ..Answer::DEFAULT
};

/// Map a task answer to an outcome. `usage` is what DashScope billed: newer models split
/// input and output seconds (the output is what was made); `SR` is the short side (1080).
pub fn parse_task(v: &Value) -> Result<PollOutcome, ProviderError> {
    let usage = |k: &str| v.get("usage").and_then(|u| u.get(k));
    let secs = usage("output_video_duration").or(usage("duration"));
    let short_side = usage("SR").and_then(Value::as_u64);
    Ok(first(ANSWER.read(v)?, |r| {
        r.duration_seconds = secs.and_then(Value::as_f64).map(|d| d.round() as u32);
        r.resolution = short_side.map(|n| format!("{n}p"));
    }))
}

/// Wan on DashScope, described for the [generic adapter](super::generic).
pub struct Wan {
    workspace: Option<String>,
}

#[async_trait]
impl Describe for Wan {
    const KIND: &'static str = "wan";
    const ID_AT: &'static [&'static str] = &["output", "task_id"];
    const POLL: &'static str = "/tasks/{id}";
    const TEST: Option<Test> = Test::get("/tasks?page_no=1&page_size=1", "listed tasks");
    const ERROR_CODE: &'static [&'static [&'static str]] = &[&["code"]];
    const ERROR_MESSAGE: &'static [&'static [&'static str]] = &[&["message"]];
    const CHANNEL_CODES: &'static [&'static str] =
        &["Arrearage", "InvalidApiKey*", "*AccessDenied*"];

    fn from_config(cfg: &ProviderConfig) -> Result<Wan, AppError> {
        let workspace = cfg.settings["workspace"].as_str().map(str::to_string);
        Ok(Wan { workspace })
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let body = build_body(model, req)?;
        Ok(Call::post(CREATE_PATH, body).header("X-DashScope-Async", "enable"))
    }

    fn outcome(&self, v: &Value, _: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_task(v)
    }

    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        let mut h = vec![("authorization", format!("Bearer {}", cred.key))];
        h.extend(self.workspace.clone().map(|w| ("X-DashScope-WorkSpace", w)));
        h
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::generic::video;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, case, run};

    #[test]
    fn family_routes_pick_the_model_for_the_type() {
        let mut r = crate::providers::mapping::table::base();
        assert_eq!(target("wan2.6", &r).unwrap().model, "wan2.6-t2v");
        r.kind = "image-to-video".into();
        r.image_urls = vec!["https://x/1".into()];
        assert_eq!(target("wan2.6", &r).unwrap().model, "wan2.6-i2v");
        r.image_urls.push("https://x/2".into());
        assert_eq!(target("wan2.2", &r).unwrap().model, "wan2.2-kf2v-flash");
        assert_eq!(target("wan2.7", &r).unwrap().model, "wan2.7-i2v");
        assert_eq!(target("wan2.6", &r).unwrap_err().param().as_deref(), Some("image_urls"));
        r.kind = "reference-to-video".into();
        assert_eq!(target("wan2.6", &r).unwrap().model, "wan2.6-r2v");
        assert_eq!(target("wan2.5", &r).unwrap_err().param().as_deref(), Some("type"));
        assert_eq!(target("wan2.6-t2v", &r).unwrap_err().param().as_deref(), Some("type"));
        assert!(target("kling-v1", &r).is_err());
    }

    #[test]
    fn references_per_format() {
        let mut r = crate::providers::mapping::table::base();
        r.kind = "reference-to-video".into();
        let t26 = target("wan2.6-r2v", &r).unwrap();
        assert_eq!(rewrite_prompt("@Image1 sings while @Video1 dances with @Image2", &t26, 2), "character1 sings while character3 dances with character2");
        let t27 = target("wan2.7-r2v", &r).unwrap();
        assert_eq!(rewrite_prompt("@Image1 walks through @Video1", &t27, 1), "Image 1 walks through Video 1");
    }

    #[test]
    fn mapping_table() {
        let cases = vec![
            case("t2v model", "wan2.6", |_| {}, Sent("/model", json!("wan2.6-t2v"))),
            case("t2v size", "wan2.6", |_| {}, Sent("/parameters/size", json!("1280*720"))),
            case("t2v 9:16 1080p", "wan2.6", |r| { r.resolution = "1080p".into(); r.aspect_ratio = "9:16".into(); }, Sent("/parameters/size", json!("1080*1920"))),
            case("t2v auto is 16:9", "wan2.6", |r| r.aspect_ratio = "auto".into(), Sent("/parameters/size", json!("1280*720"))),
            case("t2v 21:9", "wan2.6", |r| r.aspect_ratio = "21:9".into(), Refused("aspect_ratio")),
            case("480p 4:3 on 2.5", "wan2.5", |r| { r.resolution = "480p".into(); r.aspect_ratio = "4:3".into(); }, Refused("aspect_ratio")),
            case("480p on 2.6", "wan2.6", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("480p on 2.5", "wan2.5", |r| r.resolution = "480p".into(), Sent("/parameters/size", json!("832*480"))),
            case("duration", "wan2.6", |r| r.duration = Some(12), Sent("/parameters/duration", json!(12))),
            case("duration 7 on 2.5", "wan2.5", |r| r.duration = Some(7), Refused("duration")),
            case("duration 10 on 2.2", "wan2.2", |r| r.duration = Some(10), Refused("duration")),
            case("auto outside the range omitted", "wan2.5", |r| { r.duration = None; r.seconds = 6; }, Omitted("/parameters/duration")),
            case("audio switch on 2.6", "wan2.6", |r| r.generate_audio = true, Sent("/parameters/audio", json!(true))),
            case("silent 2.6 says so", "wan2.6", |_| {}, Sent("/parameters/audio", json!(false))),
            case("audio on 2.2", "wan2.2", |r| r.generate_audio = true, Refused("generate_audio")),
            case("2.2 sends no audio switch", "wan2.2", |_| {}, Omitted("/parameters/audio")),
            case("prompt extend", "wan2.6", |_| {}, Sent("/parameters/prompt_extend", json!(true))),
            case("i2v img_url", "wan2.6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/input/img_url", json!("https://x/1"))),
            case("i2v resolution upper case", "wan2.6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/parameters/resolution", json!("720P"))),
            case("i2v has no size", "wan2.6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Omitted("/parameters/size")),
            case("i2v driving audio", "wan2.6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a.mp3".into()]; }, Sent("/input/audio_url", json!("https://x/a.mp3"))),
            case("driving audio on 2.2", "wan2.2", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a.mp3".into()]; }, Refused("audio_urls")),
            case("two audio clips", "wan2.6", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a.mp3".into(); 2]; }, Refused("audio_urls")),
            case("kf2v frames", "wan2.2", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/input/last_frame_url", json!("https://x/2"))),
            case("kf2v model", "wan2.2", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/model", json!("wan2.2-kf2v-flash"))),
            case("r2v 2.6 references", "wan2.6", |r| { r.kind = "reference-to-video".into(); r.prompt = "@Image1 and @Video1".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Sent("/input/reference_urls", json!(["https://x/1", "https://x/v"]))),
            case("r2v 2.6 prompt", "wan2.6", |r| { r.kind = "reference-to-video".into(); r.prompt = "@Image1 and @Video1".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Sent("/input/prompt", json!("character1 and character2"))),
            case("r2v 6 references", "wan2.6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into(); 4]; r.video_urls = vec!["https://x/v".into(); 2]; }, Refused("image_urls")),
            case("r2v 2.6 duration 12", "wan2.6", |r| { r.kind = "reference-to-video".into(); r.duration = Some(12); r.image_urls = vec!["https://x/1".into()]; }, Refused("duration")),
            case("r2v audio", "wan2.6", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a".into()]; }, Refused("audio_urls")),
            case("2.7 media frames", "wan2.7", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(), "https://x/2".into()]; }, Sent("/input/media/1", json!({"type": "last_frame", "url": "https://x/2"}))),
            case("2.7 driving audio", "wan2.7", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a".into()]; }, Sent("/input/media/1/type", json!("driving_audio"))),
            case("2.7 t2v ratio", "wan2.7", |r| r.aspect_ratio = "3:4".into(), Sent("/parameters/ratio", json!("3:4"))),
            case("2.7 t2v resolution", "wan2.7", |r| r.resolution = "1080p".into(), Sent("/parameters/resolution", json!("1080P"))),
            case("2.7 references", "wan2.7", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.video_urls = vec!["https://x/v".into()]; }, Sent("/input/media/1", json!({"type": "reference_video", "url": "https://x/v"}))),
            case("2.7 video refs cap 10 s", "wan2.7", |r| { r.kind = "reference-to-video".into(); r.duration = Some(12); r.video_urls = vec!["https://x/v".into()]; }, Refused("duration")),
            case("2.7 reference audio", "wan2.7", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; r.audio_urls = vec!["https://x/a".into()]; }, Refused("audio_urls")),
        ];
        run(cases, build_body);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let t = |s: &str| json!({"output": {"task_id": "t", "task_status": s}});
        let made = |secs, res: Option<&str>| first(video("https://oss/x.mp4".into(), secs, None), |r| r.resolution = res.map(str::to_string));
        answers(parse_task, vec![
            (t("PENDING"), Is(PollOutcome::Queued)),
            (t("RUNNING"), Is(PollOutcome::Running)),
            (t("UNKNOWN"), Bad),
            (json!({"output": {"task_status": "SUCCEEDED", "video_url": "https://oss/x.mp4"}, "usage": {"duration": 5}}), Is(made(Some(5), None))),
            (json!({"output": {"task_status": "SUCCEEDED", "video_url": "https://oss/x.mp4"}, "usage": {"duration": 9, "input_video_duration": 4, "output_video_duration": 5, "video_count": 1, "SR": 1080}}), Is(made(Some(5), Some("1080p")))),
            (json!({"output": {"task_status": "FAILED", "code": "DataInspectionFailed", "message": "Output data may contain inappropriate content."}}), Is(PollOutcome::Failed { code: "DataInspectionFailed".into(), message: "Output data may contain inappropriate content.".into() })),
        ]);
    }
}

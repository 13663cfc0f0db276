//! Vidu (kind `vidu`): one create endpoint per mode under `/ent/v2/` (`text2video`,
//! `img2video`, `start-end2video`, `reference2video`), `Authorization: Token <key>`, poll
//! `GET /ent/v2/tasks/{id}/creations`, download `creations[0].url` (valid 24 h).
//!
//! Abilities differ by model family ([`family`]): durations, resolution tiers (no 480p on
//! any of them), aspect ratios, audio, prompt length and the reference form (`subjects`
//! with `@1` tags on q3 / q2-pro, plain `images` elsewhere).

use super::generic::{Adapter, Answer, Auth, Call, Describe, choice, missing};
use super::http::{Stage, str_at};
use super::mapping::{self, not_available, unsupported};
use super::{PollOutcome, ProviderError};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

/// The global host; the China host `https://api.vidu.cn` has the same paths.
pub const BASE: &str = "https://api.vidu.com";

/// How subjects are named in `reference2video` and tagged in the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectIds {
    /// `{"id":"1"}` and `@1` (the form the official examples show).
    Numbers,
    /// `{"id":"Image1"}` and `@Image1` left as written (unconfirmed upstream).
    Names,
}

/// What a model family can do, found by the model id's prefix.
#[derive(Debug, Clone, Copy)]
struct Family {
    prefix: &'static str,
    /// `subjects` with `@1` tags (else plain `images`), and how many may be videos.
    subjects: bool,
    videos: usize,
    prompt_max: usize,
    /// Lengths for text and one image; for frames and references.
    long: &'static [u32],
    short: &'static [u32],
    tiers: &'static [&'static str],
    ratios: &'static [&'static str],
    /// An `audio` switch (q2, q3); older models only add background music (`bgm`).
    audio: bool,
}

const UP_TO_16: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const UP_TO_10: &[u32] = UP_TO_16.split_at(10).0;
const HD: &[&str] = &["540p", "720p", "1080p"];
const WIDE: &[&str] = &["16:9", "9:16", "1:1", "3:4", "4:3"];
const NARROW: &[&str] = &["16:9", "9:16", "1:1"];

/// The capability table (first matching prefix wins).
#[rustfmt::skip]
const FAMILIES: &[Family] = &[
    Family { prefix: "viduq3", subjects: true, videos: 0, prompt_max: 5000, long: UP_TO_16, short: UP_TO_16, tiers: HD, ratios: WIDE, audio: true },
    Family { prefix: "viduq2-pro", subjects: true, videos: 2, prompt_max: 2000, long: UP_TO_10, short: UP_TO_10, tiers: HD, ratios: WIDE, audio: true },
    Family { prefix: "viduq2", subjects: false, videos: 0, prompt_max: 2000, long: UP_TO_10, short: UP_TO_10, tiers: HD, ratios: WIDE, audio: true },
    Family { prefix: "viduq1", subjects: false, videos: 0, prompt_max: 1500, long: &[5], short: &[5], tiers: &["1080p"], ratios: NARROW, audio: false },
    // 2.0 and 1.5: 8 s only at 720p.
    Family { prefix: "vidu2.0", subjects: false, videos: 0, prompt_max: 1500, long: &[4, 8], short: &[4], tiers: &["360p", "720p"], ratios: NARROW, audio: false },
    Family { prefix: "vidu1.5", subjects: false, videos: 0, prompt_max: 1500, long: &[4, 8], short: &[4], tiers: &["360p", "720p", "1080p"], ratios: NARROW, audio: false },
];

fn family(model: &str) -> Result<&'static Family, AppError> {
    let m = model.to_ascii_lowercase();
    let known = FAMILIES.iter().find(|f| m.starts_with(f.prefix));
    known.ok_or_else(mapping::unknown_model)
}

/// Vidu, described for the [generic adapter](super::generic).
pub struct Vidu {
    subject_ids: SubjectIds,
}

/// Customer-readable messages for a task's `err_code`s (others name the code).
#[rustfmt::skip]
const FAILURES: &[(&[&str], &str)] = &[
    (&["CreationPolicyViolation", "TaskPromptPolicyViolation", "AuditSubmitIllegal"], "the channel's content policy blocked this generation"),
    (&["ImageDownloadFailure"], "the channel could not download an input image"),
    (&["ImageFormatInvalid", "ImageCheckFaceFailed"], "the channel rejected an input image"),
    (&["UserCancelled", "Canceled"], "the task was cancelled on the channel"),
];

/// The endpoint (after `/ent/v2/`) and body for `req`, or the 422 naming the field.
pub fn build_body(
    model: &str,
    req: &UnifiedRequest,
    ids: SubjectIds,
    payload: &str,
) -> Result<(&'static str, Value), AppError> {
    let f = family(model)?;
    let (images, videos) = (&req.image_urls, &req.video_urls);
    mapping::at_most("audio_urls", &req.audio_urls, 0, "audio clips")?;
    mapping::refuse_refs(&req.prompt, &[AssetKind::Audio])?;
    // A subject's id, which is also its tag in the prompt: images first, then videos.
    let id = |kind: AssetKind, n: u32| match (ids, kind) {
        (SubjectIds::Names, k) => format!("{}{n}", k.tag()),
        (SubjectIds::Numbers, AssetKind::Video) => (images.len() as u32 + n).to_string(),
        (SubjectIds::Numbers, _) => n.to_string(),
    };
    let mut body = json!({"model": model, "payload": payload});
    let endpoint = match req.kind.as_str() {
        "text-to-video" => "text2video",
        "image-to-video" => {
            mapping::at_most("video_urls", videos, 0, "videos")?;
            mapping::frames(req, 2)?;
            body["images"] = json!(images);
            match images.len() {
                2 => "start-end2video",
                _ => "img2video",
            }
        }
        "reference-to-video" => {
            mapping::at_most("image_urls", images, 7, "reference images")?;
            mapping::at_most("video_urls", videos, f.videos, "reference videos")?;
            if images.is_empty() {
                let msg = "needs 1 to 7 reference images on this model's channel";
                return Err(unsupported("image_urls", msg));
            }
            let mut subjects = Vec::new();
            for (kind, urls) in [(AssetKind::Image, images), (AssetKind::Video, videos)] {
                let key = format!("{}s", kind.noun());
                let entry = |(u, n)| json!({"id": id(kind, n), &key: [u]});
                subjects.extend(urls.iter().zip(1..).map(entry));
            }
            match f.subjects {
                true => body["subjects"] = json!(subjects),
                false => body["images"] = json!(images),
            }
            "reference2video"
        }
        other => return Err(not_available("type", other)),
    };
    let prompt = match (endpoint, f.subjects, ids) {
        ("reference2video", true, SubjectIds::Names) => req.prompt.clone(),
        (e, subjects, _) => references::rewrite(&req.prompt, |k, n| match (e, subjects, n) {
            ("reference2video", true, _) => format!("@{}", id(k, n)),
            ("reference2video", false, _) => {
                format!("the {} reference {}", mapping::ordinal(n), k.noun())
            }
            (_, _, 1) => "the first frame".into(),
            _ => "the last frame".into(),
        }),
    };
    mapping::prompt_max(prompt.chars().count(), f.prompt_max)?;
    body["prompt"] = json!(prompt);
    let durations = match endpoint {
        "text2video" | "img2video" => f.long,
        _ => f.short,
    };
    let duration = mapping::duration(req, |d| durations.contains(&d))?;
    if let Some(d) = duration {
        body["duration"] = json!(d);
    }
    let tiers = match (f.audio, duration) {
        (false, Some(8)) => &["720p"],
        _ => f.tiers,
    };
    let res = &req.resolution;
    if !tiers.contains(&res.as_str()) {
        let hint = (res == "480p").then_some(" (the nearest tiers are 360p and 540p)");
        let (hint, list) = (hint.unwrap_or_default(), tiers.join(", "));
        let msg =
            format!("{res} is not available on this model's channel{hint}; available: {list}");
        return Err(unsupported("resolution", msg));
    }
    body["resolution"] = json!(res);
    // The image decides the shape of an animated image; elsewhere `auto` is the default.
    let from_image = matches!(endpoint, "img2video" | "start-end2video");
    if !from_image && let Some(r) = mapping::ratio(req, f.ratios)? {
        body["aspect_ratio"] = json!(r);
    }
    match f.audio {
        true => body["audio"] = json!(req.generate_audio),
        // Older models have no speech or sound effects: audio means background music.
        _ if req.generate_audio => body["bgm"] = json!(true),
        _ => {}
    }
    Ok((endpoint, body))
}

/// A `creations` answer. Vidu reports only the credits it took; the length is measured on
/// the file.
#[rustfmt::skip]
pub const ANSWER: Answer = Answer {
    status: &["state"],
    words: [&["created", "queueing"], &["processing"], &["success"], &["failed"]],
    list: &["creations"],
    url: &["url"],
    units: &["credits"],
    failure: Some(failure),
    ..Answer::DEFAULT
};

/// A failed task: its `err_code`, said in words a customer can read.
fn failure(v: &Value) -> PollOutcome {
    let code = str_at(v, &["err_code"]).unwrap_or_else(|| "generation_failed".into());
    let row = FAILURES.iter().find(|(cs, _)| cs.contains(&code.as_str()));
    let message = match row {
        Some((_, m)) => m.to_string(),
        None => format!("the channel failed to generate the video ({code})"),
    };
    PollOutcome::Failed { code, message }
}

#[async_trait]
impl Describe for Vidu {
    const KIND: &'static str = "vidu";
    const AUTH: Auth = Auth::Scheme("Token");
    const POLL: &'static str = "/ent/v2/tasks/{id}/creations";
    const ANSWER: Answer = ANSWER;
    /// Vidu's error body: `{"code","reason","message"}`. Account problems are the channel's.
    const ERROR_CODE: &'static [&'static [&'static str]] = &[&["code"], &["reason"]];
    const ERROR_MESSAGE: &'static [&'static [&'static str]] =
        &[&["message"], &["code"], &["reason"]];
    #[rustfmt::skip]
    const CHANNEL_CODES: &'static [&'static str] = &["CreditInsufficient", "ModelUnavailable", "Unauthorized", "Forbidden"];

    fn from_config(cfg: &ProviderConfig) -> Result<Vidu, AppError> {
        let ids = [
            ("numbers", SubjectIds::Numbers),
            ("names", SubjectIds::Names),
        ];
        let subject_ids = choice(cfg, "subject_ids", &ids)?.unwrap_or(SubjectIds::Numbers);
        Ok(Vidu { subject_ids })
    }

    // `payload` is echoed back by Vidu: our task id, never anything about the customer.
    fn request(&self, model: &str, req: &UnifiedRequest, task_id: &str) -> Result<Call, AppError> {
        let (endpoint, body) = build_body(model, req, self.subject_ids, task_id)?;
        Ok(Call::post(format!("/ent/v2/{endpoint}"), body))
    }

    fn submitted(&self, v: &Value) -> Result<String, ProviderError> {
        if v["state"] == "failed"
            && let PollOutcome::Failed { code, message } = failure(v)
        {
            return Err(ProviderError::final_error(code, message));
        }
        str_at(v, &["task_id"]).ok_or_else(|| missing("a task_id"))
    }

    // Documented for queued tasks only (unconfirmed); a refusal is harmless.
    fn cancel_call(&self, id: &str, _: &str) -> Option<Call> {
        let path = format!("/ent/v2/tasks/{id}/cancel");
        Some(Call::post(path, json!({"id": id})))
    }

    // Vidu has no free account call: looking up a task that cannot exist proves the key
    // (404 TaskNotFound) without creating anything; a bad key answers 401.
    async fn test(&self, a: &Adapter<Self>) -> Result<String, ProviderError> {
        for cred in a.keys.all() {
            let call = Call::get("/ent/v2/tasks/0/creations");
            let reply = a.send(cred, call, Stage::Test).await?;
            if !(reply.ok() || reply.status == 404) {
                return Err(self.error(&reply, Stage::Test));
            }
        }
        Ok(format!("key(s) accepted: {}", a.keys.all().len()))
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::generic::{first, video};
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, case, run};

    fn body(model: &str, r: &UnifiedRequest) -> Result<Value, AppError> {
        build_body(model, r, SubjectIds::Numbers, "vidgen_1").map(|(e, mut b)| {
            b["_endpoint"] = json!(e);
            b
        })
    }

    fn refs(r: &mut UnifiedRequest) {
        r.kind = "reference-to-video".into();
        r.prompt = "@Image1 hugs @Image2".into();
        r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()];
    }

    #[test]
    fn mapping_table() {
        let cases = vec![
            case("t2v endpoint", "viduq2", |_| {}, Sent("/_endpoint", json!("text2video"))),
            case("payload is our id", "viduq2", |_| {}, Sent("/payload", json!("vidgen_1"))),
            case("720p", "viduq2", |_| {}, Sent("/resolution", json!("720p"))),
            case("480p", "viduq2", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("q1 720p", "viduq1", |r| r.duration = None, Refused("resolution")),
            case("q1 1080p", "viduq1", |r| r.resolution = "1080p".into(), Sent("/duration", json!(5))),
            case("q1 8s", "viduq1", |r| { r.resolution = "1080p".into(); r.duration = Some(8); }, Refused("duration")),
            case("vidu2.0 8s t2v 720p", "vidu2.0", |r| r.duration = Some(8), Sent("/duration", json!(8))),
            case("vidu1.5 8s 1080p", "vidu1.5", |r| { r.duration = Some(8); r.resolution = "1080p".into(); }, Refused("resolution")),
            case("q3 16s", "viduq3-pro", |r| r.duration = Some(16), Sent("/duration", json!(16))),
            case("q2 16s", "viduq2", |r| r.duration = Some(16), Refused("duration")),
            case("auto past the range omits", "viduq1", |r| { r.resolution = "1080p".into(); r.duration = None; r.seconds = 8; }, Omitted("/duration")),
            case("21:9", "viduq2", |r| r.aspect_ratio = "21:9".into(), Refused("aspect_ratio")),
            case("4:3 on q2", "viduq2", |r| r.aspect_ratio = "4:3".into(), Sent("/aspect_ratio", json!("4:3"))),
            case("4:3 on q1", "viduq1", |r| { r.resolution = "1080p".into(); r.aspect_ratio = "4:3".into(); }, Refused("aspect_ratio")),
            case("auto ratio omitted", "viduq2", |r| r.aspect_ratio = "auto".into(), Omitted("/aspect_ratio")),
            case("i2v one image", "viduq2-turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1.png".into()]; }, Sent("/_endpoint", json!("img2video"))),
            case("i2v ignores the ratio", "viduq2-turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1.png".into()]; r.aspect_ratio = "9:16".into(); }, Omitted("/aspect_ratio")),
            case("i2v two images", "viduq2-turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()]; }, Sent("/_endpoint", json!("start-end2video"))),
            case("i2v prompt", "viduq2-turbo", |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 then @Image2".into(); r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()]; }, Sent("/prompt", json!("the first frame then the last frame"))),
            case("i2v three images", "viduq2-turbo", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1.png".into(); 3]; }, Refused("image_urls")),
            case("q3 subjects", "viduq3-turbo", refs, Sent("/subjects/1", json!({"id": "2", "images": ["https://x/2.png"]}))),
            case("q3 subject tags", "viduq3-turbo", refs, Sent("/prompt", json!("@1 hugs @2"))),
            case("q1 plain images", "viduq1", |r| { refs(r); r.resolution = "1080p".into(); }, Sent("/images/1", json!("https://x/2.png"))),
            case("q1 plain words", "viduq1", |r| { refs(r); r.resolution = "1080p".into(); }, Sent("/prompt", json!("the first reference image hugs the second reference image"))),
            case("8 references", "viduq3-turbo", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1.png".into(); 8]; }, Refused("image_urls")),
            case("video subject on q2-pro", "viduq2-pro", |r| { refs(r); r.prompt = "@Image1 copies @Video1".into(); r.video_urls = vec!["https://x/v.mp4".into()]; }, Sent("/subjects/2", json!({"id": "3", "videos": ["https://x/v.mp4"]}))),
            case("video tag on q2-pro", "viduq2-pro", |r| { refs(r); r.prompt = "@Image1 copies @Video1".into(); r.video_urls = vec!["https://x/v.mp4".into()]; }, Sent("/prompt", json!("@1 copies @3"))),
            case("video on q3", "viduq3-turbo", |r| { refs(r); r.video_urls = vec!["https://x/v.mp4".into()]; }, Refused("video_urls")),
            case("audio asset", "viduq3-turbo", |r| { refs(r); r.audio_urls = vec!["https://x/a.mp3".into()]; }, Refused("audio_urls")),
            case("audio on q2", "viduq2", |r| r.generate_audio = true, Sent("/audio", json!(true))),
            case("silent q3 says so", "viduq3-turbo", |_| {}, Sent("/audio", json!(false))),
            case("audio on q1 is bgm", "viduq1", |r| { r.resolution = "1080p".into(); r.generate_audio = true; }, Sent("/bgm", json!(true))),
            case("unknown model", "sora-2", |_| {}, Refused("model")),
            case("long prompt q2", "viduq2", |r| r.prompt = "x".repeat(2001), Refused("prompt")),
            case("long prompt q3", "viduq3-pro", |r| r.prompt = "x".repeat(2001), Sent("/model", json!("viduq3-pro"))),
            case("no end user", "viduq2", |r| r.end_user_id = Some("c".into()), Omitted("/end_user_id")),
        ];
        run(cases, body);
    }

    #[test]
    fn named_subjects_keep_the_prompt() {
        let named = |r: &mut UnifiedRequest| { refs(r); r.prompt = "@Image1 and @Image2".into(); };
        let cases = vec![
            case("prompt kept", "viduq3", named, Sent("/prompt", json!("@Image1 and @Image2"))),
            case("subjects named", "viduq3", named, Sent("/subjects/0/id", json!("Image1"))),
        ];
        run(cases, |m, r| build_body(m, r, SubjectIds::Names, "t").map(|(_, b)| b));
    }

    #[test]
    fn states_map_to_outcomes() {
        answers(|v| ANSWER.read(v), vec![
            (json!({"state": "created"}), Is(PollOutcome::Queued)),
            (json!({"state": "queueing", "creations": null}), Is(PollOutcome::Queued)),
            (json!({"state": "processing", "creations": []}), Is(PollOutcome::Running)),
            (json!({"state": "success", "creations": [{"id": "1", "url": "https://v/x.mp4", "cover_url": "https://v/x.jpg"}]}), Is(video("https://v/x.mp4".into(), None, None))),
            (json!({"state": "success", "credits": 10, "creations": [{"id": "1", "url": "https://v/x.mp4"}]}), Is(first(video("https://v/x.mp4".into(), None, None), |r| r.provider_units = Some(10)))),
            (json!({"state": "failed", "err_code": "CreationPolicyViolation", "creations": []}), Is(PollOutcome::Failed { code: "CreationPolicyViolation".into(), message: "the channel's content policy blocked this generation".into() })),
            (json!({"state": "success", "creations": []}), Bad),
            (json!({"state": "reviewing"}), Bad),
        ]);
    }
}

//! OpenAI-Videos-compatible upstreams (kind `openai-videos`): `POST /videos` (multipart by
//! default, JSON with channel setting `body = "json"`), poll `GET /videos/{id}`, stream
//! `GET /videos/{id}/content` with the key. The Sora API itself closed; LiteLLM, new-api
//! and other gateways serve this shape, so the base URL is the operator's.

use super::generic::{Adapter, Answer, Body, Call, Ctx, Describe, Test, choice, invalid, video};
use super::http::{self, str_at};
use super::mapping::{self, Limits, Secs, Sound};
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Largest input reference uploaded as a file (the spec allows 20 MB as a data URL).
const DEFAULT_MAX_IMAGE_BYTES: u64 = 16 * 1024 * 1024;

const ANSWER: Answer = Answer {
    words: [&["queued"], &["in_progress"], &["completed"], &["failed"]],
    ..Answer::DEFAULT
};

/// Sora's abilities: text or one first frame, 4, 8 or 12 s, always with sound.
#[rustfmt::skip]
const LIMITS: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 1, refs: [0; 3], seconds: Secs::Only(&[4, 8, 12]),
    tiers: &["720p"], ratios: &["16:9", "9:16"], frame_shape: false, prompt: 0, sound: Sound::Always,
};

/// The create fields as text, in the order sent; `input_reference` (last) is the reference
/// image's URL.
type Fields = Vec<(&'static str, String)>;

pub fn build_fields(model: &str, req: &UnifiedRequest) -> Result<Fields, AppError> {
    // Sizes from the spec: 720p for every model, 1792x1024 ("1080p") on -pro models only.
    let tiers: &[&str] = match model.contains("pro") {
        true => &["720p", "1080p"],
        false => &["720p"],
    };
    let fit = Limits { tiers, ..LIMITS }.check(req)?;
    mapping::refuse_refs(&req.prompt, &[AssetKind::Video, AssetKind::Audio])?;
    let reference = (req.image_urls.first()).filter(|_| req.kind == "image-to-video");
    // There is one reference, used as the first frame.
    let prompt = references::rewrite(&req.prompt, |_, _| "the reference image".into());
    let mut fields = vec![("model", model.to_string()), ("prompt", prompt)];
    let size = match (req.resolution.as_str(), fit.ratio) {
        // 720p `auto` leaves the upstream default (or the reference image) in charge.
        ("720p", None) => None,
        ("720p", Some("16:9")) => Some("1280x720"),
        ("720p", _) => Some("720x1280"),
        (_, Some("9:16")) => Some("1024x1792"),
        _ => Some("1792x1024"),
    };
    fields.extend(size.map(|s| ("size", s.to_string())));
    fields.extend(fit.duration.map(|d| ("seconds", d.to_string())));
    fields.extend(reference.map(|u| ("input_reference", u.clone())));
    Ok(fields)
}

/// Map a Video object to an outcome; the content URL needs the key that made it.
pub fn parse_video(v: &Value, content: &str, key: &str) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        let secs = str_at(v, &["seconds"]).and_then(|s| s.parse().ok());
        Ok(video(content.to_string(), secs, Some(key)))
    })
}

pub struct OpenAiVideos {
    /// Channel setting `body = "json"`: JSON with `input_reference: {image_url}` (the spec's
    /// JSON schema; unconfirmed) instead of `multipart/form-data` with the file (what the
    /// spec declares).
    json: bool,
    max_image_bytes: u64,
}

#[async_trait]
impl Describe for OpenAiVideos {
    const KIND: &'static str = "openai-videos";
    // The content URL is the API's own and needs the key that made the video.
    const DOWNLOAD_AUTH: bool = true;
    const DOWNLOAD_HEADERS: &'static [(&'static str, &'static str)] =
        &[("accept", "application/binary")];
    const POLL: &'static str = "/videos/{id}";
    const TEST: Option<Test> = Test::get("/videos?limit=1", "listed videos");
    const ERROR_CODE: &'static [&'static [&'static str]] =
        &[&["error", "code"], &["error", "type"]];
    const CHANNEL_CODES: &'static [&'static str] = &["insufficient_quota"];

    fn from_config(cfg: &ProviderConfig) -> Result<OpenAiVideos, AppError> {
        let json = choice(cfg, "body", &[("multipart", false), ("json", true)])?;
        let max = cfg.settings.get("max_image_bytes").and_then(Value::as_u64);
        Ok(OpenAiVideos {
            json: json.unwrap_or(false),
            max_image_bytes: max.unwrap_or(DEFAULT_MAX_IMAGE_BYTES),
        })
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let body = build_fields(model, req)?.into_iter().map(|(k, v)| match k {
            "input_reference" => (k.into(), json!({"image_url": v})),
            _ => (k.into(), json!(v)),
        });
        Ok(Call::post("/videos", Value::Object(body.collect())))
    }

    async fn submit_call(
        &self,
        a: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let (model, req) = (job.upstream_model, job.request);
        if self.json {
            return self.request(model, req, job.task_id).map_err(invalid);
        }
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in build_fields(model, req).map_err(invalid)? {
            if k != "input_reference" {
                form = form.text(k, v);
                continue;
            }
            let asset = a.kit.fetch_asset(&v, self.max_image_bytes).await?;
            let ext = asset.mime.trim_start_matches("image/");
            let part = reqwest::multipart::Part::bytes(asset.bytes)
                .file_name(format!("reference.{ext}"))
                .mime_str(&asset.mime)
                .map_err(|_| {
                    ProviderError::final_error("invalid_asset", "the image type is not valid")
                })?;
            form = form.part(k, part);
        }
        let mut call = Call::get("/videos").method(reqwest::Method::POST);
        call.body = Body::Form(form);
        Ok(call)
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        let content = http::join(ctx.base, &format!("/videos/{}/content", ctx.upstream_id));
        parse_video(v, &content, ctx.credential)
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, base, case, run_from};

    fn as_json(m: &str, r: &UnifiedRequest) -> Result<Value, AppError> {
        let call = OpenAiVideos { json: true, max_image_bytes: 1 }.request(m, r, "t")?;
        let Body::Json(mut v) = call.body else { panic!("JSON") };
        if let Some(u) = v.pointer("/input_reference/image_url").cloned() {
            v["input_reference"] = u;
        }
        Ok(v)
    }

    #[test]
    #[rustfmt::skip]
    fn mapping_table() {
        let cases = vec![
            case("model", "sora-2", |_| {}, Sent("/model", json!("sora-2"))),
            case("seconds as a string", "sora-2", |_| {}, Sent("/seconds", json!("8"))),
            case("seconds 5", "sora-2", |r| r.duration = Some(5), Refused("duration")),
            case("auto outside the set omitted", "sora-2", |r| { r.duration = None; r.seconds = 5; }, Omitted("/seconds")),
            case("720p 16:9", "sora-2", |_| {}, Sent("/size", json!("1280x720"))),
            case("720p 9:16", "sora-2", |r| r.aspect_ratio = "9:16".into(), Sent("/size", json!("720x1280"))),
            case("auto omitted", "sora-2", |r| r.aspect_ratio = "auto".into(), Omitted("/size")),
            case("1080p on sora-2", "sora-2", |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("1080p on pro", "sora-2-pro", |r| r.resolution = "1080p".into(), Sent("/size", json!("1792x1024"))),
            case("1080p 9:16 on pro", "sora-2-pro", |r| { r.resolution = "1080p".into(); r.aspect_ratio = "9:16".into(); }, Sent("/size", json!("1024x1792"))),
            case("480p", "sora-2", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("1:1", "sora-2", |r| r.aspect_ratio = "1:1".into(), Refused("aspect_ratio")),
            case("silent", "sora-2", |r| r.generate_audio = false, Refused("generate_audio")),
            case("reference image", "sora-2", |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 smiles".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/input_reference", json!("https://x/1"))),
            case("reference prompt", "sora-2", |r| { r.kind = "image-to-video".into(); r.prompt = "@Image1 smiles".into(); r.image_urls = vec!["https://x/1".into()]; }, Sent("/prompt", json!("the reference image smiles"))),
            case("two images", "sora-2", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1".into(); 2]; }, Refused("image_urls")),
            case("references", "sora-2", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1".into()]; }, Refused("type")),
            case("video", "sora-2", |r| { r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v".into()]; }, Refused("video_urls")),
        ];
        let start = UnifiedRequest { duration: Some(8), seconds: 8, generate_audio: true, ..base() };
        run_from(start, cases, as_json);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let c = "https://gw/v1/videos/video_1/content";
        answers(|v| parse_video(v, c, "k"), vec![
            (json!({"status": "queued"}), Is(PollOutcome::Queued)),
            (json!({"status": "in_progress", "progress": 42}), Is(PollOutcome::Running)),
            (json!({"status": "completed", "seconds": "8"}), Is(video(c.into(), Some(8), Some("k")))),
            (json!({"status": "failed", "error": {"code": "moderation_blocked", "message": "no"}}), Is(PollOutcome::Failed { code: "moderation_blocked".into(), message: "no".into() })),
            (json!({"status": "cancelled"}), Bad),
        ]);
    }
}

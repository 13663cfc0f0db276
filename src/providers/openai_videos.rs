//! OpenAI-Videos-compatible upstreams (kind `openai-videos`): `POST /videos` (multipart by
//! default, JSON with channel setting `body = "json"`), poll `GET /videos/{id}`, stream
//! `GET /videos/{id}/content` with the key. The Sora API itself closed; LiteLLM, new-api
//! and other gateways serve this shape, so the base URL is the operator's.

use super::generic::{
    Adapter, Body, Call, Ctx, Describe, Phase, failed, invalid, parse_status, simple, video,
};
use super::http::{self, Stage, str_at};
use super::mapping::{self, unsupported};
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Largest input reference uploaded as a file (the spec allows 20 MB as a data URL).
const DEFAULT_MAX_IMAGE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `multipart/form-data` with `input_reference` as a file (what the spec declares).
    Multipart,
    /// JSON with `input_reference: {image_url}` (the spec's JSON schema; unconfirmed).
    Json,
}

/// The create fields as text, plus the reference image URL if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    pub text: Vec<(&'static str, String)>,
    pub reference: Option<String>,
}

/// `@Image1` → "the reference image" (there is one reference, used as the first frame).
pub fn rewrite_prompt(prompt: &str) -> String {
    references::rewrite(prompt, |_, _| "the reference image".into())
}

pub fn build_fields(model: &str, req: &UnifiedRequest) -> Result<Fields, AppError> {
    mapping::at_most("video_urls", &req.video_urls, 0, "videos")?;
    mapping::at_most("audio_urls", &req.audio_urls, 0, "audio clips")?;
    mapping::refuse_refs(&req.prompt, &[AssetKind::Video, AssetKind::Audio])?;
    let reference = match req.kind.as_str() {
        "text-to-video" => None,
        "image-to-video" => {
            mapping::at_most("image_urls", &req.image_urls, 1, "images (one first frame)")?;
            req.image_urls.first().cloned()
        }
        other => {
            return Err(unsupported(
                "type",
                format!("{other} is not available on this model's channel"),
            ));
        }
    };
    if !req.generate_audio {
        return Err(unsupported(
            "generate_audio",
            "this model's channel always generates audio; send generate_audio: true",
        ));
    }
    let mut text = vec![
        ("model", model.to_string()),
        ("prompt", rewrite_prompt(&req.prompt)),
    ];
    // Sizes from the spec: 720p for every model, 1792x1024 ("1080p") on -pro models only.
    let pro = model.contains("pro");
    match req.resolution.as_str() {
        "720p" => {}
        "1080p" if pro => {}
        other => {
            return Err(unsupported(
                "resolution",
                format!("{other} is not available on this model's channel"),
            ));
        }
    }
    let size = match (req.resolution.as_str(), req.aspect_ratio.as_str()) {
        // 720p `auto` leaves the upstream default (or the reference image) in charge.
        ("720p", "auto" | "") => None,
        ("720p", "16:9") => Some("1280x720"),
        ("720p", "9:16") => Some("720x1280"),
        (_, "auto" | "" | "16:9") => Some("1792x1024"),
        (_, "9:16") => Some("1024x1792"),
        (_, other) => {
            return Err(unsupported(
                "aspect_ratio",
                format!("{other} is not available; use 16:9 or 9:16"),
            ));
        }
    };
    if let Some(s) = size {
        text.push(("size", s.to_string()));
    }
    if let Some(d) = mapping::duration(req, |d| matches!(d, 4 | 8 | 12))? {
        text.push(("seconds", d.to_string()));
    }
    Ok(Fields { text, reference })
}

/// Map a Video object to an outcome; the content URL needs the key that made it.
pub fn parse_video(
    v: &Value,
    content_url: &str,
    credential: Option<&str>,
) -> Result<PollOutcome, ProviderError> {
    let table = [
        ("queued", Phase::Queued),
        ("in_progress", Phase::Running),
        ("completed", Phase::Succeeded),
        ("failed", Phase::Failed),
    ];
    Ok(match parse_status(v, &["status"], &table)? {
        Phase::Succeeded => {
            let secs = str_at(v, &["seconds"]).and_then(|s| s.parse().ok());
            video(content_url.to_string(), secs, credential)
        }
        Phase::Failed => failed(
            str_at(v, &["error", "code"]),
            str_at(v, &["error", "message"]),
        ),
        p => simple(p).expect("simple phase"),
    })
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let v = reply.value();
    let code = str_at(&v, &["error", "code"]).or_else(|| str_at(&v, &["error", "type"]));
    let message = str_at(&v, &["error", "message"]);
    if code.as_deref() == Some("insufficient_quota") {
        return ProviderError::channel("insufficient_quota", "the channel's quota is used up");
    }
    reply.error(stage, code, message)
}

/// An OpenAI-Videos-compatible upstream, described for the [generic adapter](super::generic).
pub struct OpenAiVideos {
    format: BodyFormat,
    max_image_bytes: u64,
}

#[async_trait]
impl Describe for OpenAiVideos {
    const KIND: &'static str = "openai-videos";
    // The content URL is the API's own and needs the key that made the video.
    const DOWNLOAD_AUTH: bool = true;
    const DOWNLOAD_HEADERS: &'static [(&'static str, &'static str)] =
        &[("accept", "application/binary")];

    fn from_config(cfg: &ProviderConfig) -> Result<OpenAiVideos, AppError> {
        let format = match cfg.settings.get("body").and_then(Value::as_str) {
            None | Some("multipart") => BodyFormat::Multipart,
            Some("json") => BodyFormat::Json,
            Some(other) => {
                return Err(AppError::invalid(
                    "settings.body",
                    format!("`{other}` is not multipart or json"),
                ));
            }
        };
        let max = cfg.settings.get("max_image_bytes").and_then(Value::as_u64);
        Ok(OpenAiVideos {
            format,
            max_image_bytes: max.unwrap_or(DEFAULT_MAX_IMAGE_BYTES),
        })
    }

    fn check(&self, model: &str, req: &UnifiedRequest) -> Result<(), AppError> {
        build_fields(model, req).map(|_| ())
    }

    async fn submit_call(
        &self,
        a: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let fields = build_fields(job.upstream_model, job.request).map_err(invalid)?;
        let body = match self.format {
            BodyFormat::Json => {
                let mut body = json!({});
                for (k, v) in &fields.text {
                    body[*k] = json!(v);
                }
                if let Some(u) = &fields.reference {
                    body["input_reference"] = json!({"image_url": u});
                }
                return Ok(Call::post("/videos", body));
            }
            BodyFormat::Multipart => {
                let mut form = reqwest::multipart::Form::new();
                for (k, v) in fields.text {
                    form = form.text(k, v);
                }
                if let Some(u) = &fields.reference {
                    let asset = a.kit.fetch_asset(u, self.max_image_bytes).await?;
                    let ext = asset.mime.trim_start_matches("image/").to_string();
                    let part = reqwest::multipart::Part::bytes(asset.bytes)
                        .file_name(format!("reference.{ext}"))
                        .mime_str(&asset.mime)
                        .map_err(|_| {
                            ProviderError::final_error(
                                "invalid_asset",
                                "the image type is not valid",
                            )
                        })?;
                    form = form.part("input_reference", part);
                }
                Body::Form(form)
            }
        };
        Ok(Call {
            body,
            ..Call::get("/videos").method(reqwest::Method::POST)
        })
    }

    fn poll_call(&self, id: &str, _: &str) -> Result<Call, ProviderError> {
        Ok(Call::get(format!("/videos/{id}")))
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        let content = http::join(ctx.base, &format!("/videos/{}/content", ctx.upstream_id));
        parse_video(v, &content, Some(ctx.credential))
    }

    fn error(&self, reply: &http::Reply, stage: Stage) -> ProviderError {
        error(reply, stage)
    }

    fn test_call(&self) -> Option<Call> {
        Some(Call::get("/videos?limit=1"))
    }

    fn tested(&self, answers: &[Value]) -> String {
        format!("listed videos with {} key(s)", answers.len())
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, base, case, run_from};

    fn as_json(m: &str, r: &UnifiedRequest) -> Result<Value, AppError> {
        build_fields(m, r).map(|f| {
            let mut v: serde_json::Map<String, Value> = f
                .text
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            if let Some(u) = f.reference {
                v.insert("input_reference".into(), json!(u));
            }
            Value::Object(v)
        })
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
        let start = UnifiedRequest {
            duration: Some(8),
            seconds: 8,
            generate_audio: true,
            ..base()
        };
        run_from(start, cases, as_json);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let c = "https://gw/v1/videos/video_1/content";
        assert_eq!(parse_video(&json!({"status": "queued"}), c, None).unwrap(), PollOutcome::Queued);
        assert_eq!(parse_video(&json!({"status": "in_progress", "progress": 42}), c, None).unwrap(), PollOutcome::Running);
        let done = parse_video(
            &json!({"status": "completed", "seconds": "8"}),
            c,
            Some("k"),
        )
        .unwrap();
        assert!(matches!(done, PollOutcome::Succeeded(ref r) if r[0].url == c && r[0].credential.as_deref() == Some("k") && r[0].duration_seconds == Some(8)));
        assert_eq!(
            parse_video(&json!({"status": "failed", "error": {"code": "moderation_blocked", "message": "no"}}), c, None).unwrap(),
            PollOutcome::Failed { code: "moderation_blocked".into(), message: "no".into() }
        );
        assert!(parse_video(&json!({"status": "cancelled"}), c, None).is_err());
    }
}

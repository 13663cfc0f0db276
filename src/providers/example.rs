//! The template for a new provider (README, "Adding a provider"): a small OpenAI-style
//! upstream — `POST /videos` with a JSON body, poll `GET /videos/{id}`, the finished video
//! at `GET /videos/{id}/content` with the key. Everything on the wire is done by the
//! [generic adapter](super::generic); this file is data plus pure mapping functions.
//! Not registered in [`super::KINDS`]; it is compiled and tested against the OpenAI
//! simulator so the example cannot rot.

use super::generic::{Answer, Call, Ctx, Describe, Test, video};
use super::http::{self, str_at};
use super::mapping::{self, Limits, Secs, Sound};
use super::{PollOutcome, ProviderError};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references::{self, AssetKind};
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

/// Capability limits: what the upstream accepts, refused in one place by
/// [`Limits::check`] with a 422 naming the field.
#[rustfmt::skip]
const LIMITS: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 1, refs: [0; 3], seconds: Secs::Only(&[4, 8, 12]),
    tiers: &["720p"], ratios: &["16:9", "9:16"], frame_shape: false, prompt: 0, sound: Sound::Switch,
};
/// The status words for queued, running, succeeded and failed; a failure's code and
/// message at `error.code` and `error.message` (the default).
const ANSWER: Answer = Answer {
    words: [&["queued"], &["in_progress"], &["completed"], &["failed"]],
    ..Answer::DEFAULT
};

/// The provider: no settings of its own (a unit struct); settings would be fields here.
pub struct Example;

/// Request → body, or the 422 naming what the upstream cannot do (checked at create time,
/// before any credit moves).
pub fn build_body(model: &str, req: &UnifiedRequest) -> Result<Value, AppError> {
    let fit = LIMITS.check(req)?;
    mapping::refuse_refs(&req.prompt, &[AssetKind::Video, AssetKind::Audio])?;
    let size = match fit.ratio {
        Some("9:16") => "720x1280",
        _ => "1280x720",
    };
    let mut body = json!({"model": model, "prompt": rewrite_prompt(&req.prompt), "size": size});
    if req.kind == "image-to-video" {
        body["input_reference"] = json!({"image_url": req.image_urls.first()});
    }
    if let Some(s) = fit.duration {
        body["seconds"] = json!(s.to_string());
    }
    Ok(body)
}

/// Reference rewriting: the upstream has no `@Image1` syntax; its one image is the
/// reference, so the tag becomes plain words.
pub fn rewrite_prompt(prompt: &str) -> String {
    references::rewrite(prompt, |_, _| "the reference image".into())
}

/// Answer → outcome. The content URL is built from our base URL, never taken from the answer.
pub fn parse_video(v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        let url = http::join(ctx.base, &format!("/videos/{}/content", ctx.upstream_id));
        let secs = str_at(v, &["seconds"]).and_then(|s| s.parse().ok());
        Ok(video(url, secs, Some(ctx.credential)))
    })
}

#[async_trait]
impl Describe for Example {
    const KIND: &'static str = "example";
    // Auth is `Bearer` by default; the content URL needs the key that made the video.
    const DOWNLOAD_AUTH: bool = true;
    const POLL: &'static str = "/videos/{id}";
    const TEST: Option<Test> = Test::get("/videos?limit=1", "listed videos");

    fn from_config(_: &ProviderConfig) -> Result<Example, AppError> {
        Ok(Example)
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        Ok(Call::post("/videos", build_body(model, req)?))
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_video(v, ctx)
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::generic::failed;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, base, case, run_from};

    fn i2v(r: &mut UnifiedRequest) {
        r.kind = "image-to-video".into();
        r.prompt = "@Image1 waves".into();
        r.image_urls = vec!["https://x/1.png".into()];
    }

    #[test]
    fn mapping_table() {
        let start = UnifiedRequest { duration: Some(8), seconds: 8, ..base() };
        run_from(start, vec![
            case("model", "m-1", |_| {}, Sent("/model", json!("m-1"))),
            case("16:9", "m-1", |_| {}, Sent("/size", json!("1280x720"))),
            case("9:16", "m-1", |r| r.aspect_ratio = "9:16".into(), Sent("/size", json!("720x1280"))),
            case("1:1", "m-1", |r| r.aspect_ratio = "1:1".into(), Refused("aspect_ratio")),
            case("1080p", "m-1", |r| r.resolution = "1080p".into(), Refused("resolution")),
            case("8 s as text", "m-1", |r| r.duration = Some(8), Sent("/seconds", json!("8"))),
            case("5 s", "m-1", |r| r.duration = Some(5), Refused("duration")),
            case("auto outside the set", "m-1", |r| { r.duration = None; r.seconds = 5 }, Omitted("/seconds")),
            case("first frame", "m-1", i2v, Sent("/input_reference/image_url", json!("https://x/1.png"))),
            case("tag as words", "m-1", i2v, Sent("/prompt", json!("the reference image waves"))),
            case("two images", "m-1", |r| { i2v(r); r.image_urls.push("https://x/2.png".into()) }, Refused("image_urls")),
            case("references", "m-1", |r| r.kind = "reference-to-video".into(), Refused("type")),
            case("a video", "m-1", |r| r.video_urls = vec!["https://x/v.mp4".into()], Refused("video_urls")),
        ], build_body);
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let ctx = Ctx { base: "https://up/v1", credential: "k1", upstream_id: "v_1", route_settings: &Value::Null };
        answers(|v| parse_video(v, &ctx), vec![
            (json!({"status": "completed", "seconds": "8"}), Is(video("https://up/v1/videos/v_1/content".into(), Some(8), Some("k1")))),
            (json!({"status": "queued"}), Is(PollOutcome::Queued)),
            (json!({"status": "in_progress"}), Is(PollOutcome::Running)),
            (json!({"status": "failed", "error": {"code": "moderation", "message": "no"}}), Is(failed(Some("moderation".into()), Some("no".into())))),
            (json!({"status": "paused"}), Says("unknown status")),
            (json!({}), Says("answer without status")),
        ]);
    }
}

//! Luma Dream Machine (kind `luma`): `POST /generations/video` with keyframes `frame0`
//! (start) and `frame1` (end), durations as `"5s"`/`"9s"`, poll `GET /generations/{id}`,
//! download `assets.video`; a failed generation carries a free-text `failure_reason`.

use super::ProviderError;
use super::generic::{Answer, Call, Describe, Test, failed};
use super::http::{self, Stage, str_at};
use super::mapping::{Limits, Secs, Sound, unsupported};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references;
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const BASE: &str = "https://api.lumalabs.ai/dream-machine/v1";

/// Keyframes only (no reference images), 5 or 9 s. Luma adds sound only as a separate
/// paid job after the video; not chained here.
#[rustfmt::skip]
const LIMITS: Limits = Limits {
    types: &["text-to-video", "image-to-video"], frames: 2, refs: [0; 3], seconds: Secs::Only(&[5, 9]),
    tiers: &["540p", "720p", "1080p", "4k"], ratios: &["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"],
    frame_shape: false, prompt: 0, sound: Sound::Never,
};
const PROMPT_MIN: usize = 3;
const PROMPT_MAX: usize = 5000;

/// Luma Dream Machine, described for the [generic adapter](super::generic).
pub struct Luma;

/// `{"detail": "..."}`, or a pydantic-style list of `{msg}`.
fn detail(v: &Value) -> Option<String> {
    match v.get("detail")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| str_at(i, &["msg"])),
        _ => None,
    }
}

/// A stable code for Luma's free-text reasons (create-time 400s and `failure_reason`).
pub fn reason_code(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    let policy = r.contains("moderation") || r.contains("blacklisted");
    let codes = [
        (policy, "content_policy_violation"),
        (r.contains("input frames"), "invalid_input_frames"),
        (r.contains("prompt"), "prompt_failed"),
    ];
    let hit = codes.into_iter().find(|(hit, _)| *hit);
    hit.map_or("generation_failed", |(_, code)| code)
}

/// The Luma body for `req`, or the 422 naming what Luma cannot do.
pub fn build_body(model: &str, req: &UnifiedRequest) -> Result<Value, AppError> {
    let fit = LIMITS.check(req)?;
    let mut body = json!({"generation_type": "video", "model": model});
    if req.kind == "image-to-video" {
        let frame = |(i, u)| (format!("frame{i}"), json!({"type": "image", "url": u}));
        body["keyframes"] = req.image_urls.iter().enumerate().map(frame).collect();
    }
    // Luma has no reference tags: the keyframes are the start and end frame.
    let prompt = references::rewrite(&req.prompt, |_, n| match n {
        1 => "the start frame".into(),
        _ => "the end frame".into(),
    });
    let chars = prompt.chars().count();
    if chars > PROMPT_MAX || (chars < PROMPT_MIN && req.image_urls.is_empty()) {
        let msg = format!(
            "this model's channel needs a prompt of {PROMPT_MIN} to {PROMPT_MAX} characters"
        );
        return Err(unsupported("prompt", msg));
    }
    body["prompt"] = json!(prompt);
    body["resolution"] = json!(req.resolution);
    body["duration"] = json!(format!("{}s", fit.duration.unwrap_or(5)));
    if let Some(r) = fit.ratio {
        body["aspect_ratio"] = json!(r);
    }
    Ok(body)
}

/// A Generation object; a failure's code comes from its free-text reason.
pub const ANSWER: Answer = Answer {
    status: &["state"],
    words: [&["queued"], &["dreaming"], &["completed"], &["failed"]],
    url: &["assets", "video"],
    failure: Some(|v| {
        let reason = str_at(v, &["failure_reason"]);
        let code = reason_code(reason.as_deref().unwrap_or_default());
        failed(Some(code.into()), reason)
    }),
    ..Answer::DEFAULT
};

#[async_trait]
impl Describe for Luma {
    const KIND: &'static str = "luma";
    const POLL: &'static str = "/generations/{id}";
    const ANSWER: Answer = ANSWER;
    const TEST: Option<Test> = Some(Test {
        path: "/credits",
        says: "credit balance (USD cents) per key",
        shows: &["credit_balance"],
    });

    fn from_config(_: &ProviderConfig) -> Result<Luma, AppError> {
        Ok(Luma)
    }

    fn request(&self, model: &str, req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        Ok(Call::post("/generations/video", build_body(model, req)?))
    }

    fn error(&self, reply: &http::Reply, stage: Stage) -> ProviderError {
        let message = detail(&reply.value());
        let code = match (reply.status, message.as_deref().map(reason_code)) {
            (400 | 422, Some(c @ "content_policy_violation")) => Some(c),
            (400 | 422, _) => Some("invalid_request"),
            _ => None,
        };
        reply.error(stage, code.map(String::from), message)
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::PollOutcome;
    use crate::providers::mapping::table::{Expect::*, Want::*, answers, case, run};

    #[test]
    fn mapping_table() {
        fn i2v(r: &mut UnifiedRequest) {
            r.kind = "image-to-video".into();
            r.prompt = "@Image1 melts into @Image2".into();
            r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()];
        }
        let cases = vec![
            case("type", "ray-2", |_| {}, Sent("/generation_type", json!("video"))),
            case("model", "ray-flash-2", |_| {}, Sent("/model", json!("ray-flash-2"))),
            case("5s", "ray-2", |_| {}, Sent("/duration", json!("5s"))),
            case("9s", "ray-2", |r| r.duration = Some(9), Sent("/duration", json!("9s"))),
            case("7s", "ray-2", |r| r.duration = Some(7), Refused("duration")),
            case("auto is 5s", "ray-2", |r| { r.duration = None; r.seconds = 6; }, Sent("/duration", json!("5s"))),
            case("auto keeps billed 9s", "ray-2", |r| { r.duration = None; r.seconds = 9; }, Sent("/duration", json!("9s"))),
            case("720p", "ray-2", |_| {}, Sent("/resolution", json!("720p"))),
            case("1080p", "ray-2", |r| r.resolution = "1080p".into(), Sent("/resolution", json!("1080p"))),
            case("480p", "ray-2", |r| r.resolution = "480p".into(), Refused("resolution")),
            case("21:9", "ray-2", |r| r.aspect_ratio = "21:9".into(), Sent("/aspect_ratio", json!("21:9"))),
            case("auto ratio", "ray-2", |r| r.aspect_ratio = "auto".into(), Omitted("/aspect_ratio")),
            case("5:4", "ray-2", |r| r.aspect_ratio = "5:4".into(), Refused("aspect_ratio")),
            case("t2v has no keyframes", "ray-2", |_| {}, Omitted("/keyframes")),
            case("frame0", "ray-2", i2v, Sent("/keyframes/frame0", json!({"type": "image", "url": "https://x/1.png"}))),
            case("frame1", "ray-2", i2v, Sent("/keyframes/frame1", json!({"type": "image", "url": "https://x/2.png"}))),
            case("prompt words", "ray-2", i2v, Sent("/prompt", json!("the start frame melts into the end frame"))),
            case("three images", "ray-2", |r| { r.kind = "image-to-video".into(); r.image_urls = vec!["https://x/1.png".into(); 3]; }, Refused("image_urls")),
            case("references", "ray-2", |r| { r.kind = "reference-to-video".into(); r.image_urls = vec!["https://x/1.png".into()]; }, Refused("type")),
            case("video", "ray-2", |r| { r.kind = "reference-to-video".into(); r.video_urls = vec!["https://x/v.mp4".into()]; }, Refused("video_urls")),
            case("audio", "ray-2", |r| r.generate_audio = true, Refused("generate_audio")),
            case("short prompt", "ray-2", |r| r.prompt = "go".into(), Refused("prompt")),
            case("short prompt with a keyframe", "ray-2", |r| { r.kind = "image-to-video".into(); r.prompt = "go".into(); r.image_urls = vec!["https://x/1.png".into()]; }, Sent("/prompt", json!("go"))),
            case("no loop", "ray-2", |_| {}, Omitted("/loop")),
            case("no end user", "ray-2", |r| r.end_user_id = Some("c".into()), Omitted("/user")),
        ];
        run(cases, build_body);
    }

    #[test]
    fn states_and_reasons_map_to_outcomes() {
        let failed = |reason| json!({"state": "failed", "failure_reason": reason});
        let is = |code: &str, reason: &str| Is(PollOutcome::Failed { code: code.into(), message: reason.into() });
        answers(|v| ANSWER.read(v), vec![
            (json!({"state": "queued"}), Is(PollOutcome::Queued)),
            (json!({"state": "dreaming", "assets": null}), Is(PollOutcome::Running)),
            (json!({"state": "completed", "assets": {"video": "https://cdn/v.mp4", "image": "https://cdn/t.jpg"}}), Url("https://cdn/v.mp4")),
            (failed("Advanced prompt moderation failed"), is("content_policy_violation", "Advanced prompt moderation failed")),
            (failed("Contains blacklisted words"), is("content_policy_violation", "Contains blacklisted words")),
            (failed("Frame moderation failed"), is("content_policy_violation", "Frame moderation failed")),
            (failed("Failed to read user input frames"), is("invalid_input_frames", "Failed to read user input frames")),
            (failed("Prompt processing failed"), is("prompt_failed", "Prompt processing failed")),
            (failed("Job failed"), is("generation_failed", "Job failed")),
            (json!({"state": "completed", "assets": null}), Bad),
            (json!({"state": "paused"}), Bad),
        ]);
    }

    #[test]
    fn error_details_are_read_in_both_shapes() {
        assert_eq!(detail(&json!({"detail": "Prompt is required"})).as_deref(), Some("Prompt is required"));
        assert_eq!(detail(&json!({"detail": [{"loc": ["body", "duration"], "msg": "invalid duration"}]})) .as_deref(), Some("invalid duration"));
    }
}

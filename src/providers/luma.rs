//! Luma Dream Machine (kind `luma`): `POST /generations/video` with keyframes `frame0`
//! (start) and `frame1` (end), durations as `"5s"`/`"9s"`, poll `GET /generations/{id}`,
//! download `assets.video`; a failed generation carries a free-text `failure_reason`.

use super::generic::{
    Adapter, Call, Ctx, Describe, Phase, invalid, missing, parse_status, simple, video,
};
use super::http::{self, Stage, str_at};
use super::mapping::{self, unsupported};
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references;
use crate::domain::request::UnifiedRequest;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const BASE: &str = "https://api.lumalabs.ai/dream-machine/v1";

const RATIOS: [&str; 7] = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"];
const RESOLUTIONS: [&str; 4] = ["540p", "720p", "1080p", "4k"];
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
    if r.contains("moderation") || r.contains("blacklisted") {
        "content_policy_violation"
    } else if r.contains("input frames") {
        "invalid_input_frames"
    } else if r.contains("prompt") {
        "prompt_failed"
    } else {
        "generation_failed"
    }
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let message = detail(&reply.value());
    let code = match (reply.status, &message) {
        (400 | 422, Some(m)) if reason_code(m) == "content_policy_violation" => {
            Some("content_policy_violation".to_string())
        }
        (400 | 422, _) => Some("invalid_request".to_string()),
        _ => None,
    };
    reply.error(stage, code, message)
}

/// The Luma body for `req`, or the 422 naming what Luma cannot do.
pub fn build_body(model: &str, req: &UnifiedRequest) -> Result<Value, AppError> {
    mapping::at_most("video_urls", &req.video_urls, 0, "videos")?;
    mapping::at_most("audio_urls", &req.audio_urls, 0, "audio clips")?;
    let mut body = json!({"generation_type": "video", "model": model});
    match req.kind.as_str() {
        "text-to-video" => {}
        "image-to-video" => {
            mapping::at_most(
                "image_urls",
                &req.image_urls,
                2,
                "images (start and end frame)",
            )?;
            let mut frames = serde_json::Map::new();
            for (i, u) in req.image_urls.iter().enumerate() {
                frames.insert(format!("frame{i}"), json!({"type": "image", "url": u}));
            }
            body["keyframes"] = Value::Object(frames);
        }
        "reference-to-video" => {
            return Err(unsupported(
                "type",
                "reference-to-video is not available on this model's channel (keyframes only)",
            ));
        }
        other => return Err(unsupported("type", format!("`{other}` is not supported"))),
    }
    // Luma has no reference tags: the keyframes are the start and end frame.
    let prompt = references::rewrite(&req.prompt, |_, n| {
        if n == 1 {
            "the start frame"
        } else {
            "the end frame"
        }
        .to_string()
    });
    let chars = prompt.chars().count();
    if chars > PROMPT_MAX || (chars < PROMPT_MIN && req.image_urls.is_empty()) {
        return Err(unsupported(
            "prompt",
            format!(
                "this model's channel needs a prompt of {PROMPT_MIN} to {PROMPT_MAX} characters"
            ),
        ));
    }
    body["prompt"] = json!(prompt);
    if !RESOLUTIONS.contains(&req.resolution.as_str()) {
        let hint = if req.resolution == "480p" {
            " (the nearest is 540p)"
        } else {
            ""
        };
        return Err(unsupported(
            "resolution",
            format!(
                "{} is not available on this model's channel{hint}; available: {}",
                req.resolution,
                RESOLUTIONS.join(", ")
            ),
        ));
    }
    body["resolution"] = json!(req.resolution);
    let seconds = mapping::duration(req, |d| d == 5 || d == 9)?.unwrap_or(5);
    body["duration"] = json!(format!("{seconds}s"));
    match req.aspect_ratio.as_str() {
        "auto" | "" => {}
        r if RATIOS.contains(&r) => body["aspect_ratio"] = json!(r),
        other => {
            return Err(unsupported(
                "aspect_ratio",
                format!("{other} is not available on this model's channel"),
            ));
        }
    }
    if req.generate_audio {
        // Luma adds sound only as a separate paid job after the video; not chained here.
        return Err(unsupported(
            "generate_audio",
            "this model's channel makes silent videos only",
        ));
    }
    Ok(body)
}

/// Map one Generation object to an outcome.
pub fn parse_generation(v: &Value) -> Result<PollOutcome, ProviderError> {
    let table = [
        ("queued", Phase::Queued),
        ("dreaming", Phase::Running),
        ("completed", Phase::Succeeded),
        ("failed", Phase::Failed),
    ];
    let phase = parse_status(v, &["state"], &table)?;
    Ok(match phase {
        Phase::Succeeded => video(
            str_at(v, &["assets", "video"]).ok_or_else(|| missing("assets.video"))?,
            None,
            None,
        ),
        Phase::Failed => {
            let reason = str_at(v, &["failure_reason"])
                .unwrap_or_else(|| "the channel failed to generate the video".into());
            PollOutcome::Failed {
                code: reason_code(&reason).into(),
                message: http::public_message(&reason),
            }
        }
        p => simple(p).expect("simple phase"),
    })
}

#[async_trait]
impl Describe for Luma {
    const KIND: &'static str = "luma";

    fn from_config(_: &ProviderConfig) -> Result<Luma, AppError> {
        Ok(Luma)
    }

    fn check(&self, model: &str, req: &UnifiedRequest) -> Result<(), AppError> {
        build_body(model, req).map(|_| ())
    }

    async fn submit_call(
        &self,
        _: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let body = build_body(job.upstream_model, job.request).map_err(invalid)?;
        Ok(Call::post("/generations/video", body))
    }

    fn poll_call(&self, id: &str, _: &str) -> Result<Call, ProviderError> {
        Ok(Call::get(format!("/generations/{id}")))
    }

    fn outcome(&self, v: &Value, _: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_generation(v)
    }

    fn error(&self, reply: &http::Reply, stage: Stage) -> ProviderError {
        error(reply, stage)
    }

    fn test_call(&self) -> Option<Call> {
        Some(Call::get("/credits"))
    }

    fn tested(&self, answers: &[Value]) -> String {
        let balances: Vec<String> = answers
            .iter()
            .map(|v| str_at(v, &["credit_balance"]).unwrap_or_else(|| "?".into()))
            .collect();
        format!(
            "credit balance (USD cents) per key: {}",
            balances.join(", ")
        )
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, case, run};

    #[test]
    #[rustfmt::skip]
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
        assert_eq!(parse_generation(&json!({"state": "queued"})).unwrap(), PollOutcome::Queued);
        assert_eq!(parse_generation(&json!({"state": "dreaming", "assets": null})).unwrap(), PollOutcome::Running);
        let done = parse_generation(&json!({"state": "completed", "assets": {"video": "https://cdn/v.mp4", "image": "https://cdn/t.jpg"}})).unwrap();
        assert!(matches!(done, PollOutcome::Succeeded(ref r) if r[0].url == "https://cdn/v.mp4"));
        for (reason, code) in [
            (
                "Advanced prompt moderation failed",
                "content_policy_violation",
            ),
            ("Contains blacklisted words", "content_policy_violation"),
            ("Frame moderation failed", "content_policy_violation"),
            ("Failed to read user input frames", "invalid_input_frames"),
            ("Prompt processing failed", "prompt_failed"),
            ("Job failed", "generation_failed"),
        ] {
            let out =
                parse_generation(&json!({"state": "failed", "failure_reason": reason})).unwrap();
            assert_eq!(out, PollOutcome::Failed { code: code.into(), message: reason.into() });
        }
        assert!(matches!(
            parse_generation(&json!({"state": "completed", "assets": null})),
            Err(ProviderError::BadResponse { .. })
        ));
        assert!(matches!(
            parse_generation(&json!({"state": "paused"})),
            Err(ProviderError::BadResponse { .. })
        ));
    }

    #[test]
    fn error_details_are_read_in_both_shapes() {
        assert_eq!(detail(&json!({"detail": "Prompt is required"})).as_deref(), Some("Prompt is required"));
        assert_eq!(detail(&json!({"detail": [{"loc": ["body", "duration"], "msg": "invalid duration"}]})) .as_deref(), Some("invalid duration"));
    }
}

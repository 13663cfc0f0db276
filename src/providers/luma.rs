//! Luma Dream Machine (kind `luma`): `POST /generations/video` with keyframes `frame0`
//! (start) and `frame1` (end), durations as `"5s"`/`"9s"`, poll `GET /generations/{id}`,
//! download `assets.video`; a failed generation carries a free-text `failure_reason`.

use super::credentials::Keyring;
use super::http::{self, Kit, Stage, str_at};
use super::mapping::{self, unsupported};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::references;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub const BASE: &str = "https://api.lumalabs.ai/dream-machine/v1";

const RATIOS: [&str; 7] = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"];
const RESOLUTIONS: [&str; 4] = ["540p", "720p", "1080p", "4k"];
const PROMPT_MIN: usize = 3;
const PROMPT_MAX: usize = 5000;

pub struct Luma {
    kit: Kit,
    base: String,
    keys: Keyring,
}

impl Luma {
    pub fn new(cfg: &ProviderConfig, kit: Kit) -> Result<Luma, AppError> {
        let base = if cfg.base_url.trim().is_empty() {
            BASE.to_string()
        } else {
            cfg.base_url.trim().trim_end_matches('/').to_string()
        };
        Ok(Luma {
            kit,
            base,
            keys: Keyring::from_config(cfg, true, false)?,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.kit
            .http
            .request(method, http::join(&self.base, path))
            .bearer_auth(key)
    }
}

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
    let state =
        v.get("state")
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::BadResponse {
                message: "generation without a state".into(),
            })?;
    Ok(match state {
        "queued" => PollOutcome::Queued,
        "dreaming" => PollOutcome::Running,
        "completed" => {
            let url =
                str_at(v, &["assets", "video"]).ok_or_else(|| ProviderError::BadResponse {
                    message: "completed without assets.video".into(),
                })?;
            PollOutcome::Succeeded(vec![ResultRef {
                url,
                duration_seconds: None,
                credential: None,
            }])
        }
        "failed" => {
            let reason = str_at(v, &["failure_reason"])
                .unwrap_or_else(|| "the channel failed to generate the video".into());
            PollOutcome::Failed {
                code: reason_code(&reason).into(),
                message: http::public_message(&reason),
            }
        }
        other => {
            return Err(ProviderError::BadResponse {
                message: format!("unknown generation state `{other}`"),
            });
        }
    })
}

#[async_trait]
impl Provider for Luma {
    fn kind(&self) -> &'static str {
        "luma"
    }

    fn credentials(&self) -> Vec<String> {
        self.keys.ids()
    }

    fn check(&self, upstream_model: &str, request: &UnifiedRequest) -> Result<(), AppError> {
        build_body(upstream_model, request).map(|_| ())
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let body = build_body(job.upstream_model, job.request)
            .map_err(|e| ProviderError::final_error("invalid_request", e.to_string()))?;
        let cred = self.keys.get(job.credential)?;
        let reply = self
            .kit
            .send(
                self.call(reqwest::Method::POST, "/generations/video", &cred.key)
                    .json(&body),
                Stage::Submit,
            )
            .await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Submit));
        }
        let v: Value = reply.json()?;
        let id = str_at(&v, &["id"]).ok_or_else(|| ProviderError::BadResponse {
            message: "create answer without an id".into(),
        })?;
        Ok(http::safe_id(&id)?.to_string())
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError> {
        let id = http::safe_id(job.upstream_id)?;
        let cred = self.keys.get(job.credential)?;
        let reply = self
            .kit
            .send(
                self.call(
                    reqwest::Method::GET,
                    &format!("/generations/{id}"),
                    &cred.key,
                ),
                Stage::Poll,
            )
            .await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Poll));
        }
        parse_generation(&reply.json()?)
    }

    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError> {
        // A public CDN URL with no documented expiry: no credentials go with it.
        self.kit.download(&result.url, &[], None).await
    }

    async fn test_connection(&self) -> Result<String, ProviderError> {
        let mut balances = Vec::new();
        for cred in self.keys.all() {
            let reply = self
                .kit
                .send(
                    self.call(reqwest::Method::GET, "/credits", &cred.key),
                    Stage::Test,
                )
                .await?;
            if !reply.ok() {
                return Err(error(&reply, Stage::Test));
            }
            balances
                .push(str_at(&reply.value(), &["credit_balance"]).unwrap_or_else(|| "?".into()));
        }
        Ok(format!(
            "credit balance (USD cents) per key: {}",
            balances.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Expect::*, case, run};

    #[test]
    fn mapping_table() {
        fn i2v(r: &mut UnifiedRequest) {
            r.kind = "image-to-video".into();
            r.prompt = "@Image1 melts into @Image2".into();
            r.image_urls = vec!["https://x/1.png".into(), "https://x/2.png".into()];
        }
        let cases = vec![
            case(
                "type",
                "ray-2",
                |_| {},
                Sent("/generation_type", json!("video")),
            ),
            case(
                "model",
                "ray-flash-2",
                |_| {},
                Sent("/model", json!("ray-flash-2")),
            ),
            case("5s", "ray-2", |_| {}, Sent("/duration", json!("5s"))),
            case(
                "9s",
                "ray-2",
                |r| r.duration = Some(9),
                Sent("/duration", json!("9s")),
            ),
            case("7s", "ray-2", |r| r.duration = Some(7), Refused("duration")),
            case(
                "auto is 5s",
                "ray-2",
                |r| {
                    r.duration = None;
                    r.seconds = 6;
                },
                Sent("/duration", json!("5s")),
            ),
            case(
                "auto keeps billed 9s",
                "ray-2",
                |r| {
                    r.duration = None;
                    r.seconds = 9;
                },
                Sent("/duration", json!("9s")),
            ),
            case("720p", "ray-2", |_| {}, Sent("/resolution", json!("720p"))),
            case(
                "1080p",
                "ray-2",
                |r| r.resolution = "1080p".into(),
                Sent("/resolution", json!("1080p")),
            ),
            case(
                "480p",
                "ray-2",
                |r| r.resolution = "480p".into(),
                Refused("resolution"),
            ),
            case(
                "21:9",
                "ray-2",
                |r| r.aspect_ratio = "21:9".into(),
                Sent("/aspect_ratio", json!("21:9")),
            ),
            case(
                "auto ratio",
                "ray-2",
                |r| r.aspect_ratio = "auto".into(),
                Omitted("/aspect_ratio"),
            ),
            case(
                "5:4",
                "ray-2",
                |r| r.aspect_ratio = "5:4".into(),
                Refused("aspect_ratio"),
            ),
            case(
                "t2v has no keyframes",
                "ray-2",
                |_| {},
                Omitted("/keyframes"),
            ),
            case(
                "frame0",
                "ray-2",
                i2v,
                Sent(
                    "/keyframes/frame0",
                    json!({"type": "image", "url": "https://x/1.png"}),
                ),
            ),
            case(
                "frame1",
                "ray-2",
                i2v,
                Sent(
                    "/keyframes/frame1",
                    json!({"type": "image", "url": "https://x/2.png"}),
                ),
            ),
            case(
                "prompt words",
                "ray-2",
                i2v,
                Sent("/prompt", json!("the start frame melts into the end frame")),
            ),
            case(
                "three images",
                "ray-2",
                |r| {
                    r.kind = "image-to-video".into();
                    r.image_urls = vec!["https://x/1.png".into(); 3];
                },
                Refused("image_urls"),
            ),
            case(
                "references",
                "ray-2",
                |r| {
                    r.kind = "reference-to-video".into();
                    r.image_urls = vec!["https://x/1.png".into()];
                },
                Refused("type"),
            ),
            case(
                "video",
                "ray-2",
                |r| {
                    r.kind = "reference-to-video".into();
                    r.video_urls = vec!["https://x/v.mp4".into()];
                },
                Refused("video_urls"),
            ),
            case(
                "audio",
                "ray-2",
                |r| r.generate_audio = true,
                Refused("generate_audio"),
            ),
            case(
                "short prompt",
                "ray-2",
                |r| r.prompt = "go".into(),
                Refused("prompt"),
            ),
            case(
                "short prompt with a keyframe",
                "ray-2",
                |r| {
                    r.kind = "image-to-video".into();
                    r.prompt = "go".into();
                    r.image_urls = vec!["https://x/1.png".into()];
                },
                Sent("/prompt", json!("go")),
            ),
            case("no loop", "ray-2", |_| {}, Omitted("/loop")),
            case(
                "no end user",
                "ray-2",
                |r| r.end_user_id = Some("c".into()),
                Omitted("/user"),
            ),
        ];
        run(cases, build_body);
    }

    #[test]
    fn states_and_reasons_map_to_outcomes() {
        assert_eq!(
            parse_generation(&json!({"state": "queued"})).unwrap(),
            PollOutcome::Queued
        );
        assert_eq!(
            parse_generation(&json!({"state": "dreaming", "assets": null})).unwrap(),
            PollOutcome::Running
        );
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
            assert_eq!(
                out,
                PollOutcome::Failed {
                    code: code.into(),
                    message: reason.into()
                }
            );
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
        assert_eq!(
            detail(&json!({"detail": "Prompt is required"})).as_deref(),
            Some("Prompt is required")
        );
        assert_eq!(
            detail(&json!({"detail": [{"loc": ["body", "duration"], "msg": "invalid duration"}]}))
                .as_deref(),
            Some("invalid duration")
        );
    }
}

//! VideoApi-compatible upstreams (kind `videoapi`): another VideoApi (or a gateway speaking
//! the same `/v1/video/generations` protocol), so gateways can be chained. The request goes
//! through unchanged (the `@Image1` syntax is the protocol's own); our task id is sent as
//! the `Idempotency-Key`, so a resent submission returns the same upstream task.

use super::generic::{Answer, Call, Ctx, Describe, Test, missing};
use super::http::{self, Reply, Stage, str_at};
use super::{PollOutcome, ProviderError};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

const ANSWER: Answer = Answer {
    words: [&["pending"], &["processing"], &["completed"], &["failed"]],
    ..Answer::DEFAULT
};

pub struct VideoApi {
    /// Channel setting `idempotency_key` (default true): the upstream honours
    /// `Idempotency-Key` (VideoApi does; set false for gateways that do not).
    idempotency: bool,
}

/// The request as this protocol carries it.
pub fn build_body(model: &str, req: &UnifiedRequest) -> Value {
    let mut body = json!({
        "model": model,
        "type": req.kind,
        "prompt": req.prompt,
        "image_urls": req.image_urls,
        "video_urls": req.video_urls,
        "audio_urls": req.audio_urls,
        "resolution": req.resolution,
        "duration": req.duration.map_or(json!("auto"), |d| json!(d)),
        "aspect_ratio": req.aspect_ratio,
        "generate_audio": req.generate_audio,
    });
    if let Some(u) = &req.end_user_id {
        body["end_user_id"] = json!(http::end_user_hash(u));
    }
    body
}

/// Map a task answer to an outcome: every video it lists (or its one `url`).
pub fn parse_task(v: &Value) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        let listed = v["videos"].as_array().into_iter().flatten();
        let mut urls: Vec<String> = listed.filter_map(|u| Some(u.as_str()?.into())).collect();
        if urls.is_empty() {
            urls.extend(str_at(v, &["url"]));
        }
        if urls.is_empty() {
            return Err(missing("a video URL"));
        }
        let result = |url| ResultRef {
            url,
            ..ResultRef::default()
        };
        Ok(PollOutcome::Succeeded(
            urls.into_iter().map(result).collect(),
        ))
    })
}

#[async_trait]
impl Describe for VideoApi {
    const KIND: &'static str = "videoapi";
    // Chaining: the upstream VideoApi calls this gateway back the moment the task ends
    // (its own `callback_url` field), so our engine polls at once.
    const CALLBACK: bool = true;
    const ID_AT: &'static [&'static str] = &["task_id"];
    const POLL: &'static str = "/v1/video/generations/{id}";
    const TEST: Option<Test> = Some(Test {
        path: "/v1/account",
        says: "upstream credits",
        shows: &["credits"],
    });

    fn from_config(cfg: &ProviderConfig) -> Result<VideoApi, AppError> {
        let idempotency = cfg.settings.get("idempotency_key").and_then(Value::as_bool);
        Ok(VideoApi {
            idempotency: idempotency.unwrap_or(true),
        })
    }

    fn idempotent(&self) -> bool {
        self.idempotency
    }

    // Never refuses: what the chained gateway cannot do is its own 422, returned at
    // submission (the task fails and is refunded); its capabilities are not known here.
    fn request(&self, model: &str, req: &UnifiedRequest, task_id: &str) -> Result<Call, AppError> {
        let mut call = Call::post("/v1/video/generations", build_body(model, req));
        if self.idempotency {
            call = call.header("Idempotency-Key", task_id);
        }
        Ok(call)
    }

    fn outcome(&self, v: &Value, _: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        parse_task(v)
    }

    fn error(&self, reply: &Reply, stage: Stage) -> ProviderError {
        let v = reply.value();
        let code = str_at(&v, &["error", "code"]);
        let message = str_at(&v, &["error", "message"]);
        // The chained gateway does not serve this model (or has no provider for it): a
        // configuration problem of this channel, not the caller's.
        let served = [
            "model_not_found",
            "model_disabled",
            "provider_not_configured",
        ];
        match code {
            Some(c) if reply.status == 400 && served.contains(&c.as_str()) => {
                let msg = http::public_message(message.as_deref().unwrap_or("model not served"));
                ProviderError::channel(c, msg)
            }
            _ => reply.error(stage, code, message),
        }
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;
    use crate::providers::mapping::table::{Want::*, answers, base};

    #[test]
    fn the_request_passes_through_with_a_hashed_end_user() {
        let mut r = base();
        r.prompt = "@Image1 waves".into();
        r.image_urls = vec!["https://x/1.png".into()];
        r.kind = "image-to-video".into();
        r.end_user_id = Some("customer_001".into());
        let b = build_body("upstream-model", &r);
        assert_eq!(b["model"], "upstream-model");
        assert_eq!(b["prompt"], "@Image1 waves", "the protocol's own reference syntax");
        assert_eq!(b["type"], "image-to-video");
        assert_eq!(b["duration"], 5);
        assert_eq!(b["image_urls"], json!(["https://x/1.png"]));
        assert!(!b.to_string().contains("customer_001"));
        r.duration = None;
        assert_eq!(build_body("m", &r)["duration"], "auto");
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let two = |u: &str, w: &str| PollOutcome::Succeeded([u, w].map(|url| ResultRef { url: url.into(), ..ResultRef::default() }).to_vec());
        answers(parse_task, vec![
            (json!({"status": "pending"}), Is(PollOutcome::Queued)),
            (json!({"status": "processing"}), Is(PollOutcome::Running)),
            (json!({"status": "completed", "url": "https://up/v.mp4", "videos": ["https://up/v.mp4", "https://up/w.mp4"]}), Is(two("https://up/v.mp4", "https://up/w.mp4"))),
            (json!({"status": "completed", "url": "https://up/v.mp4"}), Url("https://up/v.mp4")),
            (json!({"status": "completed"}), Bad),
            (json!({"status": "failed", "error": {"code": "demo_failure", "message": "nope"}}), Is(PollOutcome::Failed { code: "demo_failure".into(), message: "nope".into() })),
            (json!({"status": "queued"}), Bad),
        ]);
    }
}

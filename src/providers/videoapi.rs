//! VideoApi-compatible upstreams (kind `videoapi`): another VideoApi (or a gateway speaking
//! the same `/v1/video/generations` protocol), so gateways can be chained. The request goes
//! through unchanged (the `@Image1` syntax is the protocol's own); our task id is sent as
//! the `Idempotency-Key`, so a resent submission returns the same upstream task.

use super::credentials::Keyring;
use super::http::{self, Kit, Stage, str_at};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};

pub struct VideoApi {
    kit: Kit,
    base: String,
    keys: Keyring,
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

/// Map a task answer to an outcome.
pub fn parse_task(v: &Value) -> Result<PollOutcome, ProviderError> {
    let status =
        v.get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::BadResponse {
                message: "task without a status".into(),
            })?;
    Ok(match status {
        "pending" => PollOutcome::Queued,
        "processing" => PollOutcome::Running,
        "completed" => {
            let mut urls: Vec<String> = v
                .get("videos")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|u| u.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            if urls.is_empty()
                && let Some(u) = str_at(v, &["url"])
            {
                urls.push(u);
            }
            if urls.is_empty() {
                return Err(ProviderError::BadResponse {
                    message: "completed without a video URL".into(),
                });
            }
            PollOutcome::Succeeded(
                urls.into_iter()
                    .map(|url| ResultRef {
                        url,
                        ..ResultRef::default()
                    })
                    .collect(),
            )
        }
        "failed" => PollOutcome::Failed {
            code: http::public_code(
                &str_at(v, &["error", "code"]).unwrap_or_else(|| "generation_failed".into()),
            ),
            message: http::public_message(
                &str_at(v, &["error", "message"])
                    .unwrap_or_else(|| "the channel failed to generate the video".into()),
            ),
        },
        other => {
            return Err(ProviderError::BadResponse {
                message: format!("unknown task status `{other}`"),
            });
        }
    })
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let v = reply.value();
    let code = str_at(&v, &["error", "code"]);
    let message = str_at(&v, &["error", "message"]);
    // The chained gateway does not serve this model (or has no provider for it): a
    // configuration problem of this channel, not the caller's.
    if reply.status == 400
        && matches!(
            code.as_deref(),
            Some("model_not_found" | "model_disabled" | "provider_not_configured")
        )
    {
        return ProviderError::channel(
            code.unwrap_or_default(),
            http::public_message(message.as_deref().unwrap_or("model not served")),
        );
    }
    reply.error(stage, code, message)
}

impl VideoApi {
    pub fn new(cfg: &ProviderConfig, kit: Kit) -> Result<VideoApi, AppError> {
        let base = cfg.base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AppError::invalid(
                "base_url",
                "a videoapi channel needs the other gateway's base URL, e.g. https://upstream.example",
            ));
        }
        Ok(VideoApi {
            kit,
            base,
            keys: Keyring::from_config(cfg, true, false)?,
            idempotency: cfg
                .settings
                .get("idempotency_key")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }

    fn url(&self, path: &str) -> String {
        http::join(&self.base, path)
    }
}

#[async_trait]
impl Provider for VideoApi {
    fn kind(&self) -> &'static str {
        "videoapi"
    }

    fn idempotent_submit(&self) -> bool {
        self.idempotency
    }

    fn credentials(&self) -> Vec<String> {
        self.keys.ids()
    }

    // What the chained gateway cannot do is its own 422, returned at submission (the task
    // fails and is refunded): its capabilities are not known here.
    fn check(&self, _upstream_model: &str, _request: &UnifiedRequest) -> Result<(), AppError> {
        Ok(())
    }

    fn completion_callback(&self) -> bool {
        true
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let cred = self.keys.get(job.credential)?;
        let mut body = build_body(job.upstream_model, job.request);
        // Chaining: the upstream VideoApi calls this gateway back the moment the task
        // ends (its own `callback_url` field), so our engine polls at once.
        if let Some(cb) = job.callback_url {
            body["callback_url"] = json!(cb);
        }
        let mut req = self
            .kit
            .http
            .post(self.url("/v1/video/generations"))
            .bearer_auth(&cred.key)
            .json(&body);
        if self.idempotency {
            req = req.header("Idempotency-Key", job.task_id);
        }
        let reply = self.kit.send(req, Stage::Submit).await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Submit));
        }
        let v: Value = reply.json()?;
        let id = str_at(&v, &["task_id"]).ok_or_else(|| ProviderError::BadResponse {
            message: "create answer without task_id".into(),
        })?;
        Ok(http::safe_id(&id)?.to_string())
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError> {
        let id = http::safe_id(job.upstream_id)?;
        let cred = self.keys.get(job.credential)?;
        let reply = self
            .kit
            .send(
                self.kit
                    .http
                    .get(self.url(&format!("/v1/video/generations/{id}")))
                    .bearer_auth(&cred.key),
                Stage::Poll,
            )
            .await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Poll));
        }
        parse_task(&reply.json()?)
    }

    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError> {
        // Results are served publicly by the other gateway: no key goes with them.
        self.kit.download(&result.url, &[], None).await
    }

    async fn test_connection(&self) -> Result<String, ProviderError> {
        let mut balances = Vec::new();
        for cred in self.keys.all() {
            let reply = self
                .kit
                .send(
                    self.kit
                        .http
                        .get(self.url("/v1/account"))
                        .bearer_auth(&cred.key),
                    Stage::Test,
                )
                .await?;
            if !reply.ok() {
                return Err(error(&reply, Stage::Test));
            }
            let v = reply.value();
            balances.push(str_at(&v, &["credits"]).unwrap_or_else(|| "?".into()));
        }
        Ok(format!("upstream credits: {}", balances.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::mapping::table::base;

    #[test]
    fn the_request_passes_through_with_a_hashed_end_user() {
        let mut r = base();
        r.prompt = "@Image1 waves".into();
        r.image_urls = vec!["https://x/1.png".into()];
        r.kind = "image-to-video".into();
        r.end_user_id = Some("customer_001".into());
        let b = build_body("upstream-model", &r);
        assert_eq!(b["model"], "upstream-model");
        assert_eq!(
            b["prompt"], "@Image1 waves",
            "the protocol's own reference syntax"
        );
        assert_eq!(b["type"], "image-to-video");
        assert_eq!(b["duration"], 5);
        assert_eq!(b["image_urls"], json!(["https://x/1.png"]));
        assert!(!b.to_string().contains("customer_001"));
        r.duration = None;
        assert_eq!(build_body("m", &r)["duration"], "auto");
    }

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(
            parse_task(&json!({"status": "pending"})).unwrap(),
            PollOutcome::Queued
        );
        assert_eq!(
            parse_task(&json!({"status": "processing"})).unwrap(),
            PollOutcome::Running
        );
        let done = parse_task(&json!({"status": "completed", "url": "https://up/v.mp4", "videos": ["https://up/v.mp4", "https://up/w.mp4"]})).unwrap();
        assert!(matches!(done, PollOutcome::Succeeded(ref r) if r.len() == 2));
        assert_eq!(
            parse_task(
                &json!({"status": "failed", "error": {"code": "demo_failure", "message": "nope"}})
            )
            .unwrap(),
            PollOutcome::Failed {
                code: "demo_failure".into(),
                message: "nope".into()
            }
        );
        assert!(parse_task(&json!({"status": "queued"})).is_err());
    }
}

//! fal's queue (kind `fal`): any hosted video model. Submit the model's input to
//! `POST {base}/{owner}/{app}[/{subpath}]` with `Authorization: Key …`; the status, result
//! and cancel URLs use `{owner}/{app}` only (`/requests/{id}/status`, `/requests/{id}`,
//! `/requests/{id}/cancel`). Status answers 202 until the request is done; a COMPLETED
//! request whose result call fails is a failed generation.
//!
//! The input is data: each route's `settings` map unified fields to the model's input
//! names ([`InputMapping`]), so a new model needs no release.

use super::credentials::Keyring;
use super::http::{self, Kit, Stage, str_at};
use super::input_mapping::{self, InputMapping, output_url};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::Value;

pub const BASE: &str = "https://queue.fal.run";

pub struct Fal {
    kit: Kit,
    base: String,
    keys: Keyring,
}

/// `owner/app[/subpath]` split into the submit path and the `owner/app` the queue's
/// request URLs use.
pub fn model_path(model: &str) -> Result<(&str, String), String> {
    let ok = !model.is_empty()
        && model.len() <= 256
        && !model.contains("..")
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    let parts: Vec<&str> = model.split('/').collect();
    if !ok || parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{model}` is not a fal model id (owner/app[/path], e.g. fal-ai/veo3/image-to-video)"
        ));
    }
    Ok((model, format!("{}/{}", parts[0], parts[1])))
}

fn mapping(settings: &Value) -> Result<InputMapping, AppError> {
    input_mapping::for_route("fal", settings)
}

/// fal's error bodies: `{"detail":[{"msg","type",...}]}`, `{"detail":"..."}`, or
/// `{"detail","error_type"}` for infrastructure errors.
fn code_and_message(reply: &http::Reply) -> (Option<String>, Option<String>) {
    let v = reply.value();
    let header = reply
        .headers
        .get("x-fal-error-type")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    match v.get("detail") {
        Some(Value::Array(items)) => {
            let first = items.first();
            let code = first.and_then(|i| str_at(i, &["type"]));
            let mut msg = first.and_then(|i| str_at(i, &["msg"]));
            if let (Some(m), Some(loc)) = (&msg, first.and_then(|i| i.get("loc")))
                && let Some(field) = loc
                    .as_array()
                    .and_then(|l| l.last())
                    .and_then(Value::as_str)
            {
                msg = Some(format!("{field}: {m}"));
            }
            (code.or(header), msg)
        }
        Some(Value::String(s)) => (str_at(&v, &["error_type"]).or(header), Some(s.clone())),
        _ => (header, None),
    }
}

fn error(reply: &http::Reply, stage: Stage) -> ProviderError {
    let (code, message) = code_and_message(reply);
    reply.error(stage, code, message)
}

impl Fal {
    pub fn new(cfg: &ProviderConfig, kit: Kit) -> Result<Fal, AppError> {
        let base = if cfg.base_url.trim().is_empty() {
            BASE.to_string()
        } else {
            cfg.base_url.trim().trim_end_matches('/').to_string()
        };
        Ok(Fal {
            kit,
            base,
            keys: Keyring::from_config(cfg, true, false)?,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.kit
            .http
            .request(method, http::join(&self.base, path))
            .header(reqwest::header::AUTHORIZATION, format!("Key {key}"))
    }

    /// `{owner}/{app}/requests/{id}`: built here rather than taken from the submit answer,
    /// so our key only ever goes to the configured host.
    fn request_path(model: &str, id: &str) -> Result<String, ProviderError> {
        let (_, app) = model_path(model).map_err(|m| ProviderError::BadResponse { message: m })?;
        let id = http::safe_id(id)?;
        if id.contains('/') {
            return Err(ProviderError::BadResponse {
                message: "unexpected request id".into(),
            });
        }
        Ok(format!("{app}/requests/{id}"))
    }

    /// The result of a COMPLETED request: the video, or why the model failed.
    async fn result(&self, job: &PollJob<'_>, key: &str) -> Result<PollOutcome, ProviderError> {
        let path = Self::request_path(job.upstream_model, job.upstream_id)?;
        let reply = self
            .kit
            .send(self.call(reqwest::Method::GET, &path, key), Stage::Poll)
            .await?;
        if !reply.ok() {
            let (code, message) = code_and_message(&reply);
            // A proxy hiccup or throttling proves nothing: ask again. Anything else is the
            // model's own error, kept for good.
            let transient = reply.status == 429
                || (matches!(reply.status, 502..=504) && code.is_none() && message.is_none());
            if transient {
                return Err(reply.error(Stage::Poll, code, message));
            }
            return Ok(PollOutcome::Failed {
                code: code.unwrap_or_else(|| "generation_failed".into()),
                message: http::public_message(
                    &message.unwrap_or_else(|| format!("the model failed (HTTP {})", reply.status)),
                ),
            });
        }
        let v: Value = reply.json()?;
        let output = mapping(job.route_settings).ok().and_then(|m| m.output);
        match output_url(&v, output.as_deref()) {
            Some(url) => Ok(PollOutcome::Succeeded(vec![ResultRef {
                url,
                duration_seconds: None,
                credential: None,
            }])),
            None => Ok(PollOutcome::Failed {
                code: "no_video_in_result".into(),
                message: "the model finished without a video in its output".into(),
            }),
        }
    }
}

#[async_trait]
impl Provider for Fal {
    fn kind(&self) -> &'static str {
        "fal"
    }

    fn credentials(&self) -> Vec<String> {
        self.keys.ids()
    }

    fn check_route(
        &self,
        upstream_model: &str,
        route_settings: &Value,
        request: &UnifiedRequest,
    ) -> Result<(), AppError> {
        model_path(upstream_model).map_err(|e| {
            tracing::warn!(error = %e, "a fal route names an invalid model");
            AppError::BadRequest {
                message: "this model's route is misconfigured; the operator must fix it".into(),
            }
        })?;
        mapping(route_settings)?.build(request).map(|_| ())
    }

    fn validate_route(&self, upstream_model: &str, route_settings: &Value) -> Result<(), String> {
        model_path(upstream_model)?;
        InputMapping::from_settings(route_settings).map(|_| ())
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let input = mapping(job.route_settings)
            .and_then(|m| m.build(job.request))
            .map_err(|e| ProviderError::final_error("invalid_request", e.to_string()))?;
        let (path, _) = model_path(job.upstream_model)
            .map_err(|m| ProviderError::final_error("invalid_request", m))?;
        let cred = self.keys.get(job.credential)?;
        let reply = self
            .kit
            .send(
                self.call(reqwest::Method::POST, path, &cred.key)
                    .json(&Value::Object(input)),
                Stage::Submit,
            )
            .await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Submit));
        }
        let v: Value = reply.json()?;
        let id = str_at(&v, &["request_id"]).ok_or_else(|| ProviderError::BadResponse {
            message: "submit answer without a request_id".into(),
        })?;
        Ok(http::safe_id(&id)?.to_string())
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError> {
        let cred = self.keys.get(job.credential)?;
        let path = format!(
            "{}/status",
            Self::request_path(job.upstream_model, job.upstream_id)?
        );
        let reply = self
            .kit
            .send(
                self.call(reqwest::Method::GET, &path, &cred.key),
                Stage::Poll,
            )
            .await?;
        if !reply.ok() {
            return Err(error(&reply, Stage::Poll));
        }
        let v: Value = reply.json()?;
        let status = str_at(&v, &["status"]).ok_or_else(|| ProviderError::BadResponse {
            message: "status answer without a status".into(),
        })?;
        match status.as_str() {
            "IN_QUEUE" => Ok(PollOutcome::Queued),
            "IN_PROGRESS" => Ok(PollOutcome::Running),
            "COMPLETED" => {
                // Newer status bodies say so when the request failed.
                if let Some(e) = str_at(&v, &["error"]) {
                    return Ok(PollOutcome::Failed {
                        code: str_at(&v, &["error_type"])
                            .unwrap_or_else(|| "generation_failed".into()),
                        message: http::public_message(&e),
                    });
                }
                self.result(&job, &cred.key).await
            }
            // Listed by third-party schemas only (unconfirmed): terminal all the same.
            "FAILED" | "ERROR" => Ok(PollOutcome::Failed {
                code: str_at(&v, &["error_type"]).unwrap_or_else(|| "generation_failed".into()),
                message: http::public_message(
                    &str_at(&v, &["error"]).unwrap_or_else(|| "the model failed".into()),
                ),
            }),
            "CANCELED" | "CANCELLED" => Ok(PollOutcome::Failed {
                code: "upstream_cancelled".into(),
                message: "the request was cancelled on the channel".into(),
            }),
            other => Err(ProviderError::BadResponse {
                message: format!("unknown queue status `{other}`"),
            }),
        }
    }

    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError> {
        // fal media URLs are public by default: no credentials go with them.
        self.kit.download(&result.url, &[], None).await
    }

    async fn cancel(&self, job: PollJob<'_>) -> Result<(), ProviderError> {
        let cred = self.keys.get(job.credential)?;
        let path = format!(
            "{}/cancel",
            Self::request_path(job.upstream_model, job.upstream_id)?
        );
        let reply = self
            .kit
            .send(
                self.call(reqwest::Method::PUT, &path, &cred.key),
                Stage::Poll,
            )
            .await?;
        // 400 ALREADY_COMPLETED / 404 NOT_FOUND: nothing left to stop.
        if reply.ok() || matches!(reply.status, 400 | 404) {
            Ok(())
        } else {
            Err(error(&reply, Stage::Poll))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_give_the_submit_path_and_the_app() {
        assert_eq!(
            model_path("fal-ai/veo3/image-to-video").unwrap(),
            ("fal-ai/veo3/image-to-video", "fal-ai/veo3".to_string())
        );
        assert_eq!(
            model_path("fal-ai/kling-video/v2.1/master/text-to-video")
                .unwrap()
                .1,
            "fal-ai/kling-video"
        );
        for bad in [
            "veo3",
            "fal-ai/",
            "/fal-ai/veo3",
            "fal-ai/../x",
            "fal-ai/veo 3",
            "",
        ] {
            assert!(model_path(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Fal::request_path("fal-ai/veo3/image-to-video", "80e732af-660e").unwrap(),
            "fal-ai/veo3/requests/80e732af-660e"
        );
        assert!(Fal::request_path("fal-ai/veo3", "../x").is_err());
        assert!(Fal::request_path("fal-ai/veo3", "a/b").is_err());
    }
}

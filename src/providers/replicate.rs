//! Replicate predictions (kind `replicate`): any hosted video model. `upstream_model` says
//! how to run it — `owner/name` (an official model: `POST /models/{owner}/{name}/predictions`),
//! `owner/name:<version>` or a bare version id (`POST /predictions` with `version`), or
//! `deployments/owner/name`. Poll `GET /predictions/{id}` until `succeeded`, `failed`,
//! `canceled` or `aborted`; the output is a URL, a list of URLs or an object.
//!
//! The input is data: each route's `settings` map unified fields to the model's input
//! names ([`InputMapping`]), so a new model needs no release.

use super::generic::{
    Adapter, Answer, CANCELLED, Call, Ctx, Describe, Test, first, missing, units, video,
};
use super::http::{self, Stage, str_at};
use super::input_mapping::{InputMapping, output_url};
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

pub const BASE: &str = "https://api.replicate.com/v1";

/// How a route's `upstream_model` is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An official model, always its latest version.
    Model {
        owner: String,
        name: String,
    },
    /// A pinned version.
    Version(String),
    Deployment {
        owner: String,
        name: String,
    },
}

fn ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s != "."
        && s != ".."
}

fn hex_id(s: &str) -> bool {
    (32..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

impl Target {
    pub fn parse(model: &str) -> Result<Target, String> {
        let bad = || {
            format!(
                "`{model}` is not a Replicate model (owner/name, owner/name:version, a version id or deployments/owner/name)"
            )
        };
        if hex_id(model) {
            return Ok(Target::Version(model.to_string()));
        }
        if let Some(rest) = model.strip_prefix("deployments/") {
            let (owner, name) = rest.split_once('/').ok_or_else(bad)?;
            return (ident(owner) && ident(name))
                .then(|| Target::Deployment {
                    owner: owner.into(),
                    name: name.into(),
                })
                .ok_or_else(bad);
        }
        let (path, version) = match model.split_once(':') {
            Some((p, v)) => (p, Some(v)),
            None => (model, None),
        };
        let (owner, name) = path.split_once('/').ok_or_else(bad)?;
        if !(ident(owner) && ident(name)) {
            return Err(bad());
        }
        match version {
            Some(v) if hex_id(v) => Ok(Target::Version(v.to_string())),
            Some(_) => Err(bad()),
            None => Ok(Target::Model {
                owner: owner.into(),
                name: name.into(),
            }),
        }
    }

    /// The create path and the body around `input`.
    fn request(&self, input: Value) -> (String, Value) {
        match self {
            Target::Model { owner, name } => (
                format!("/models/{owner}/{name}/predictions"),
                json!({"input": input}),
            ),
            Target::Version(v) => ("/predictions".into(), json!({"version": v, "input": input})),
            Target::Deployment { owner, name } => (
                format!("/deployments/{owner}/{name}/predictions"),
                json!({"input": input}),
            ),
        }
    }
}

/// "Your rate limit resets in ~30s": the wait when no `Retry-After` header came.
pub fn throttle_hint(detail: &str) -> Option<Duration> {
    let at = detail.find("resets in")?;
    let rest = detail[at..].trim_start_matches("resets in").trim_start();
    let digits: String = rest
        .trim_start_matches('~')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let secs: u64 = digits.parse().ok()?;
    Some(Duration::from_secs(secs.clamp(1, 600)))
}

/// A short code from a failure text such as "... sensitive (E005)".
pub fn failure_code(error: &str) -> String {
    error
        .split(['(', ')', ' ', ':'])
        .find(|w| w.len() >= 4 && w.starts_with('E') && w[1..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .unwrap_or_else(|| "prediction_failed".into())
}

const ANSWER: Answer = Answer {
    words: [&["starting"], &["processing"], &["succeeded"], &["failed"]],
    ended: &[
        ("canceled", CANCELLED),
        (
            "aborted",
            (
                "upstream_aborted",
                "the prediction's deadline passed before it started",
            ),
        ),
    ],
    failure: Some(|v| {
        let error = str_at(v, &["error"]).unwrap_or_else(|| "the model failed".into());
        PollOutcome::Failed {
            code: failure_code(&error),
            message: http::public_message(&error),
        }
    }),
    ..Answer::DEFAULT
};

/// Map one prediction to an outcome (`output_path`: the route's `output` setting).
pub fn parse_prediction(
    v: &Value,
    output_path: Option<&str>,
) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        let output = v.get("output").unwrap_or(&Value::Null);
        Ok(match output_url(output, output_path) {
            // Replicate bills compute seconds (`metrics.predict_time`), not video
            // seconds: they are its units; the length is measured on the file.
            Some(url) => first(video(url, None, None), |r| {
                r.provider_units = units(v.pointer("/metrics/predict_time"))
            }),
            None if v.get("data_removed") == Some(&Value::Bool(true)) => PollOutcome::Failed {
                code: "result_unavailable".into(),
                message: "the channel deleted the result before it could be copied".into(),
            },
            None => PollOutcome::Failed {
                code: "no_video_in_result".into(),
                message: "the model finished without a video in its output".into(),
            },
        })
    })
}

/// Replicate, described for the [generic adapter](super::generic).
pub struct Replicate;

/// A prediction id: it ends up in a path of its own.
fn prediction_id(upstream_id: &str) -> Result<&str, ProviderError> {
    let id = http::safe_id(upstream_id)?;
    if id.contains('/') {
        return Err(ProviderError::bad("unexpected prediction id"));
    }
    Ok(id)
}

#[async_trait]
impl Describe for Replicate {
    const KIND: &'static str = "replicate";
    const CALLBACK: bool = true;
    const CANCEL_DONE: &'static [u16] = &[404];
    const TEST: Option<Test> = Some(Test {
        path: "/account",
        says: "account(s)",
        shows: &["username"],
    });

    fn from_config(_: &ProviderConfig) -> Result<Replicate, AppError> {
        Ok(Replicate)
    }

    fn route_model(&self, model: &str) -> Option<Result<(), String>> {
        Some(Target::parse(model).map(|_| ()))
    }

    async fn submit_call(
        &self,
        _: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let input = self.route_input(job)?;
        let target = Target::parse(job.upstream_model)
            .map_err(|m| ProviderError::final_error("invalid_request", m))?;
        let (path, mut body) = target.request(Value::Object(input));
        // Replicate posts the prediction to `webhook`; only its end matters to us.
        if let Some(u) = job.callback_url {
            body["webhook"] = json!(u);
            body["webhook_events_filter"] = json!(["completed"]);
        }
        Ok(Call::post(path, body))
    }

    fn submitted(&self, v: &Value) -> Result<String, ProviderError> {
        let id = str_at(v, &["id"]).ok_or_else(|| missing("an id"))?;
        Ok(prediction_id(&id)?.to_string())
    }

    fn poll_call(&self, id: &str, _: &str) -> Result<Call, ProviderError> {
        Ok(Call::get(format!("/predictions/{}", prediction_id(id)?)))
    }

    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError> {
        let output = InputMapping::from_settings(ctx.route_settings).ok();
        parse_prediction(v, output.and_then(|m| m.output).as_deref())
    }

    fn cancel_call(&self, id: &str, _: &str) -> Option<Call> {
        let path = format!("/predictions/{}/cancel", prediction_id(id).ok()?);
        Some(Call::post(path, json!({})))
    }

    fn error(&self, reply: &http::Reply, stage: Stage) -> ProviderError {
        let v = reply.value();
        let detail = str_at(&v, &["detail"]);
        let title = str_at(&v, &["title"]);
        if reply.status == 429 && reply.retry_after().is_none() {
            let message = detail.clone().unwrap_or_else(|| "throttled".into());
            return ProviderError::Retryable {
                retry_after: throttle_hint(&message).or(Some(Duration::from_secs(10))),
                message: format!("rate limited: {}", http::public_message(&message)),
            };
        }
        let code = match reply.status {
            422 => Some("invalid_input".to_string()),
            _ => None,
        };
        let message = match (title, detail) {
            (Some(t), Some(d)) => Some(format!("{t}: {d}")),
            (t, d) => d.or(t),
        };
        reply.error(stage, code, message)
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;

    const V: &str = "f22bbc7d1ca6f0e7c9e8a4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1";

    #[test]
    fn targets_choose_the_create_call() {
        let model = Target::parse("bytedance/seedance-1-lite").unwrap();
        assert_eq!(model.request(json!({"prompt": "p"})), ("/models/bytedance/seedance-1-lite/predictions".into(), json!({"input": {"prompt": "p"}})));
        let pinned = Target::parse(&format!("kwaivgi/kling-v2.1:{V}")).unwrap();
        assert_eq!(pinned.request(json!({})), ("/predictions".into(), json!({"version": V, "input": {}})));
        assert_eq!(Target::parse(V).unwrap(), Target::Version(V.into()));
        assert_eq!(Target::parse("deployments/acme/my-video") .unwrap() .request(json!({})) .0, "/deployments/acme/my-video/predictions");
        for bad in [
            "veo-3",
            "a/b/c",
            "a/b:xyz",
            "../x/y",
            "deployments/x",
            "a b/c",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn throttling_and_failure_texts_are_read() {
        assert_eq!(throttle_hint("Request was throttled. Your rate limit resets in ~30s."), Some(Duration::from_secs(30)));
        assert_eq!(throttle_hint("resets in 2s"), Some(Duration::from_secs(2)));
        assert_eq!(throttle_hint("slow down"), None);
        assert_eq!(failure_code("Prediction failed: content flagged as sensitive (E005)"), "E005");
        assert_eq!(failure_code("CUDA out of memory"), "prediction_failed");
        assert_eq!(failure_code("Error: Every frame failed"), "prediction_failed");
    }

    #[test]
    fn statuses_and_outputs_map_to_outcomes() {
        assert_eq!(parse_prediction(&json!({"status": "starting"}), None).unwrap(), PollOutcome::Queued);
        assert_eq!(parse_prediction(&json!({"status": "processing", "logs": "10/120"}), None).unwrap(), PollOutcome::Running);
        let url = |v: Value, path: Option<&str>| match parse_prediction(&v, path).unwrap() {
            PollOutcome::Succeeded(r) => r[0].url.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(url(json!({"status": "succeeded", "output": "https://replicate.delivery/x/out.mp4"}), None), "https://replicate.delivery/x/out.mp4");
        // Compute seconds billed are the provider units, rounded up.
        let done = parse_prediction(&json!({"status": "succeeded", "output": "https://r.d/o.mp4", "metrics": {"predict_time": 66.4, "total_time": 70.8}}), None).unwrap();
        assert!(matches!(done, PollOutcome::Succeeded(ref r) if r[0].provider_units == Some(67) && r[0].duration_seconds.is_none()));
        assert_eq!(url(json!({"status": "succeeded", "output": ["https://r.d/t.webp", "https://r.d/o.mp4"]}), None), "https://r.d/o.mp4");
        assert_eq!(url(json!({"status": "succeeded", "output": {"video": "https://r.d/v", "poster": "https://r.d/p.jpg"}}), Some("video")), "https://r.d/v");
        let failed = |v: Value| match parse_prediction(&v, None).unwrap() {
            PollOutcome::Failed { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(failed(json!({"status": "failed", "error": "content flagged as sensitive (E005)"})), "E005");
        assert_eq!(failed(json!({"status": "failed", "error": null})), "prediction_failed");
        assert_eq!(failed(json!({"status": "canceled"})), "upstream_cancelled");
        assert_eq!(failed(json!({"status": "aborted"})), "upstream_aborted");
        assert_eq!(failed(json!({"status": "succeeded", "output": null, "data_removed": true})), "result_unavailable");
        assert_eq!(failed(json!({"status": "succeeded", "output": {"seed": 1}})), "no_video_in_result");
        assert!(matches!(
            parse_prediction(&json!({"status": "booting"}), None),
            Err(ProviderError::BadResponse { .. })
        ));
    }
}

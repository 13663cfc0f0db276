//! Replicate predictions (kind `replicate`): any hosted video model. `upstream_model` says
//! how to run it — `owner/name` (an official model: `POST /models/{owner}/{name}/predictions`),
//! `owner/name:<version>` or a bare version id (`POST /predictions` with `version`), or
//! `deployments/owner/name`. Poll `GET /predictions/{id}` until `succeeded`, `failed`,
//! `canceled` or `aborted`; the output is a URL, a list of URLs or an object.
//!
//! The input is data: each route's `settings` map unified fields to the model's input names
//! ([`InputMapping`](super::input_mapping::InputMapping)), so a new model needs no release.

use super::generic::{
    Adapter, Answer, CANCELLED, Call, Ctx, Describe, End, Test, first, missing, units,
};
use super::http::{self, Stage, str_at};
use super::input_mapping::finished;
use super::{PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::time::Duration;

pub const BASE: &str = "https://api.replicate.com/v1";

fn ident(s: &str) -> bool {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    !s.is_empty() && s.len() <= 128 && s.chars().all(plain) && s != "." && s != ".."
}

/// `owner/name`, both plain identifiers.
fn pair(s: &str) -> Option<(&str, &str)> {
    s.split_once('/').filter(|(o, n)| ident(o) && ident(n))
}

fn hex_id(s: &str) -> bool {
    (32..=128).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The create path and body around `input` for a route's `upstream_model`: an official
/// model (`owner/name`, always its latest version), a pinned version (`owner/name:<version>`
/// or the bare version id) or a deployment (`deployments/owner/name`).
pub fn create(model: &str, input: Value) -> Result<(String, Value), String> {
    let forms = "owner/name, owner/name:version, a version id or deployments/owner/name";
    let bad = || format!("`{model}` is not a Replicate model ({forms})");
    let (path, version) = match (model.strip_prefix("deployments/"), model.split_once(':')) {
        _ if hex_id(model) => ("/predictions".to_string(), Some(model)),
        (Some(rest), _) => {
            let (owner, name) = pair(rest).ok_or_else(bad)?;
            (format!("/deployments/{owner}/{name}/predictions"), None)
        }
        (None, Some((m, v))) if hex_id(v) && pair(m).is_some() => ("/predictions".into(), Some(v)),
        (None, Some(_)) => return Err(bad()),
        (None, None) => {
            let (owner, name) = pair(model).ok_or_else(bad)?;
            (format!("/models/{owner}/{name}/predictions"), None)
        }
    };
    let mut body = json!({"input": input});
    if let Some(v) = version {
        body["version"] = json!(v);
    }
    Ok((path, body))
}

/// "Your rate limit resets in ~30s": the wait when no `Retry-After` header came.
pub fn throttle_hint(detail: &str) -> Option<Duration> {
    let (_, rest) = detail.split_once("resets in")?;
    let rest = rest.trim_start().trim_start_matches('~');
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
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

const ABORTED: End = (
    "upstream_aborted",
    "the prediction's deadline passed before it started",
);

const ANSWER: Answer = Answer {
    words: [&["starting"], &["processing"], &["succeeded"], &["failed"]],
    ended: &[("canceled", CANCELLED), ("aborted", ABORTED)],
    failure: Some(|v| {
        let error = str_at(v, &["error"]).unwrap_or_else(|| "the model failed".into());
        PollOutcome::Failed {
            code: failure_code(&error),
            message: http::public_message(&error),
        }
    }),
    ..Answer::DEFAULT
};

/// Map one prediction to an outcome (`settings`: the route's, for its `output` path).
pub fn parse_prediction(v: &Value, settings: &Value) -> Result<PollOutcome, ProviderError> {
    ANSWER.read_with(v, |v| {
        Ok(match finished(&v["output"], settings) {
            PollOutcome::Failed { .. } if v["data_removed"] == true => PollOutcome::Failed {
                code: "result_unavailable".into(),
                message: "the channel deleted the result before it could be copied".into(),
            },
            // Replicate bills compute seconds (`metrics.predict_time`), not video
            // seconds: they are its units; the length is measured on the file.
            done => first(done, |r| {
                r.provider_units = units(v.pointer("/metrics/predict_time"))
            }),
        })
    })
}

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
        Some(create(model, Value::Null).map(|_| ()))
    }

    async fn submit_call(
        &self,
        _: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let input = Value::Object(self.route_input(job)?);
        let (path, mut body) = create(job.upstream_model, input)
            .map_err(|m| ProviderError::final_error("invalid_request", m))?;
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
        parse_prediction(v, ctx.route_settings)
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
        let code = (reply.status == 422).then(|| "invalid_input".to_string());
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
    use crate::providers::generic::video;
    use crate::providers::mapping::table::{Want::*, answers};

    const V: &str = "f22bbc7d1ca6f0e7c9e8a4b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1";

    #[test]
    fn targets_choose_the_create_call() {
        let create = |m: &str, input| create(m, input).unwrap();
        assert_eq!(create("bytedance/seedance-1-lite", json!({"prompt": "p"})), ("/models/bytedance/seedance-1-lite/predictions".into(), json!({"input": {"prompt": "p"}})));
        assert_eq!(create(&format!("kwaivgi/kling-v2.1:{V}"), json!({})), ("/predictions".into(), json!({"version": V, "input": {}})));
        assert_eq!(create(V, json!({})), ("/predictions".into(), json!({"version": V, "input": {}})));
        assert_eq!(create("deployments/acme/my-video", json!({})).0, "/deployments/acme/my-video/predictions");
        for bad in ["veo-3", "a/b/c", "a/b:xyz", "../x/y", "deployments/x", "a b/c", ""] {
            assert!(super::create(bad, json!({})).is_err(), "{bad}");
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
        // Compute seconds billed are the provider units, rounded up.
        let billed = first(video("https://r.d/o.mp4".into(), None, None), |r| r.provider_units = Some(67));
        answers(|v| parse_prediction(v, &Value::Null), vec![
            (json!({"status": "starting"}), Is(PollOutcome::Queued)),
            (json!({"status": "processing", "logs": "10/120"}), Is(PollOutcome::Running)),
            (json!({"status": "succeeded", "output": "https://replicate.delivery/x/out.mp4"}), Url("https://replicate.delivery/x/out.mp4")),
            (json!({"status": "succeeded", "output": "https://r.d/o.mp4", "metrics": {"predict_time": 66.4, "total_time": 70.8}}), Is(billed)),
            (json!({"status": "succeeded", "output": ["https://r.d/t.webp", "https://r.d/o.mp4"]}), Url("https://r.d/o.mp4")),
            (json!({"status": "failed", "error": "content flagged as sensitive (E005)"}), Code("E005")),
            (json!({"status": "failed", "error": null}), Code("prediction_failed")),
            (json!({"status": "canceled"}), Code("upstream_cancelled")),
            (json!({"status": "aborted"}), Code("upstream_aborted")),
            (json!({"status": "succeeded", "output": null, "data_removed": true}), Code("result_unavailable")),
            (json!({"status": "succeeded", "output": {"seed": 1}}), Code("no_video_in_result")),
            (json!({"status": "booting"}), Bad),
        ]);
        answers(|v| parse_prediction(v, &json!({"output": "video"})), vec![
            (json!({"status": "succeeded", "output": {"video": "https://r.d/v", "poster": "https://r.d/p.jpg"}}), Url("https://r.d/v")),
        ]);
    }
}

//! fal's queue (kind `fal`): any hosted video model. Submit the model's input to
//! `POST {base}/{owner}/{app}[/{subpath}]` with `Authorization: Key …`; the status, result
//! and cancel URLs use `{owner}/{app}` only (`/requests/{id}/status`, `/requests/{id}`,
//! `/requests/{id}/cancel`). Status answers 202 until the request is done; a COMPLETED
//! request whose result call fails is a failed generation.
//!
//! The input is data: each route's `settings` map unified fields to the model's input names
//! ([`InputMapping`](super::input_mapping::InputMapping)), so a new model needs no release.

use super::generic::{Adapter, Answer, Auth, CANCELLED, Call, Describe, Phase, failed};
use super::http::{self, Stage, str_at};
use super::input_mapping::finished;
use super::{PollJob, PollOutcome, ProviderError, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

pub const BASE: &str = "https://queue.fal.run";

pub struct Fal;

/// The `owner/app` of a model id `owner/app[/subpath]` (the submit path): the queue's
/// request URLs use it.
pub fn app(model: &str) -> Result<String, String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./".contains(c);
    let ok = model.len() <= 256 && !model.contains("..") && model.chars().all(plain);
    let parts: Vec<&str> = model.split('/').collect();
    if !ok || parts.len() < 2 || parts.iter().any(|p| p.is_empty()) {
        let example = "owner/app[/path], e.g. fal-ai/veo3/image-to-video";
        return Err(format!("`{model}` is not a fal model id ({example})"));
    }
    Ok(parts[..2].join("/"))
}

/// fal's error bodies: `{"detail":[{"msg","type",...}]}`, `{"detail":"..."}`, or
/// `{"detail","error_type"}` for infrastructure errors.
fn code_and_message(reply: &http::Reply) -> (Option<String>, Option<String>) {
    let v = reply.value();
    let header = reply.headers.get("x-fal-error-type");
    let header = header.and_then(|h| h.to_str().ok()).map(str::to_string);
    match v.get("detail") {
        Some(Value::Array(items)) => {
            let first = items.first().unwrap_or(&Value::Null);
            let field = first["loc"].as_array().and_then(|l| l.last()?.as_str());
            let msg = str_at(first, &["msg"]).map(|m| match field {
                Some(f) => format!("{f}: {m}"),
                None => m,
            });
            (str_at(first, &["type"]).or(header), msg)
        }
        Some(Value::String(s)) => (str_at(&v, &["error_type"]).or(header), Some(s.clone())),
        _ => (header, None),
    }
}

/// `{owner}/{app}/requests/{id}`: built here rather than taken from the submit answer,
/// so our key only ever goes to the configured host.
fn request_path(model: &str, id: &str) -> Result<String, ProviderError> {
    let app = app(model).map_err(ProviderError::bad)?;
    let id = http::safe_id(id)?;
    if id.contains('/') {
        return Err(ProviderError::bad("unexpected request id"));
    }
    Ok(format!("{app}/requests/{id}"))
}

/// A status answer. FAILED and ERROR are listed by third-party schemas only (unconfirmed):
/// terminal all the same.
const ANSWER: Answer = Answer {
    words: [
        &["IN_QUEUE"],
        &["IN_PROGRESS"],
        &["COMPLETED"],
        &["FAILED", "ERROR"],
    ],
    ended: &[("CANCELED", CANCELLED), ("CANCELLED", CANCELLED)],
    code: &["error_type"],
    message: &["error"],
    ..Answer::DEFAULT
};

/// The result of a COMPLETED request: the video, or why the model failed.
fn parse_result(reply: &http::Reply, settings: &Value) -> Result<PollOutcome, ProviderError> {
    if !reply.ok() {
        let (code, message) = code_and_message(reply);
        // A proxy hiccup or throttling proves nothing: ask again. Anything else is the
        // model's own error, kept for good.
        let transient = reply.status == 429
            || (matches!(reply.status, 502..=504) && code.is_none() && message.is_none());
        if transient {
            return Err(reply.error(Stage::Poll, code, message));
        }
        let message =
            message.unwrap_or_else(|| format!("the model failed (HTTP {})", reply.status));
        return Ok(failed(code, Some(message)));
    }
    Ok(finished(&reply.json()?, settings))
}

#[async_trait]
impl Describe for Fal {
    const KIND: &'static str = "fal";
    const CALLBACK: bool = true;
    const AUTH: Auth = Auth::Scheme("Key");
    const ID_AT: &'static [&'static str] = &["request_id"];
    // 400 ALREADY_COMPLETED / 404 NOT_FOUND: nothing left to stop.
    const CANCEL_DONE: &'static [u16] = &[400, 404];

    fn from_config(_: &ProviderConfig) -> Result<Fal, AppError> {
        Ok(Fal)
    }

    fn route_model(&self, model: &str) -> Option<Result<(), String>> {
        Some(app(model).map(|_| ()))
    }

    async fn submit_call(
        &self,
        _: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError> {
        let input = self.route_input(job)?;
        app(job.upstream_model).map_err(|m| ProviderError::final_error("invalid_request", m))?;
        let mut path = job.upstream_model.to_string();
        // fal posts the result envelope to `fal_webhook` once, when the request ends.
        if let Some(u) = job.callback_url {
            let q = reqwest::Url::parse_with_params("http://q/", [("fal_webhook", u)]);
            path = format!(
                "{path}?{}",
                q.expect("static URL").query().unwrap_or_default()
            );
        }
        Ok(Call::post(path, Value::Object(input)))
    }

    fn poll_call(&self, id: &str, model: &str) -> Result<Call, ProviderError> {
        Ok(Call::get(format!("{}/status", request_path(model, id)?)))
    }

    // COMPLETED needs a second call for the result, read by the route's output mapping.
    async fn poll(
        &self,
        a: &Adapter<Self>,
        job: PollJob<'_>,
    ) -> Result<PollOutcome, ProviderError> {
        let cred = a.keys.get(job.credential)?;
        let call = self.poll_call(job.upstream_id, job.upstream_model)?;
        let v = a.call(cred, call, Stage::Poll).await?;
        // Newer status bodies say so when the request failed.
        let error = str_at(&v, &["error"]);
        if ANSWER.phase(&v)? != Phase::Succeeded || error.is_some() {
            return ANSWER.read_with(&v, |v| Ok(failed(str_at(v, &["error_type"]), error)));
        }
        let path = request_path(job.upstream_model, job.upstream_id)?;
        let reply = a.send(cred, Call::get(path), Stage::Poll).await?;
        parse_result(&reply, job.route_settings)
    }

    fn error(&self, reply: &http::Reply, stage: Stage) -> ProviderError {
        let (code, message) = code_and_message(reply);
        reply.error(stage, code, message)
    }

    fn cancel_call(&self, id: &str, model: &str) -> Option<Call> {
        let path = format!("{}/cancel", request_path(model, id).ok()?);
        Some(Call::get(path).method(Method::PUT))
    }
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;

    #[test]
    fn model_ids_give_the_submit_path_and_the_app() {
        assert_eq!(app("fal-ai/veo3/image-to-video").unwrap(), "fal-ai/veo3");
        assert_eq!(app("fal-ai/kling-video/v2.1/master/text-to-video").unwrap(), "fal-ai/kling-video");
        for bad in ["veo3", "fal-ai/", "/fal-ai/veo3", "fal-ai/../x", "fal-ai/veo 3", ""] {
            assert!(app(bad).is_err(), "{bad}");
        }
        assert_eq!(request_path("fal-ai/veo3/image-to-video", "80e732af-660e").unwrap(), "fal-ai/veo3/requests/80e732af-660e");
        assert!(request_path("fal-ai/veo3", "../x").is_err());
        assert!(request_path("fal-ai/veo3", "a/b").is_err());
    }
}

//! The one adapter: it drives the transport (auth, JSON calls, error classification by the
//! kit's policy table, polling, download, cancel, connection test) for any provider that
//! is described by a [`Describe`]: static data plus pure mapping functions.
//!
//! A provider supplies the calls (method, path, body) and reads the answers; this module
//! sends them with the right key and turns every non-2xx into a [`ProviderError`] the same
//! way for all. Steps a provider does differently (Kling's lookup by our id, MiniMax's file
//! download) are overridden one method at a time; everything else is inherited.

use super::credentials::{Credential, Keyring};
use super::http::{self, Kit, Reply, Stage, str_at};
use super::kinds::{self, BaseUrl};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, Registry, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::AppError;
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;

/// How a provider's key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `Authorization: <scheme> <key>` (`Token`, `Key`).
    Scheme(&'static str),
    /// The key alone in this header (`x-goog-api-key`).
    Header(&'static str),
}

/// What a call carries.
pub enum Body {
    Empty,
    Json(Value),
    Form(reqwest::multipart::Form),
}

/// One upstream call, described: a method, a path under the base URL, a body.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Body,
    /// Headers of this call only (the key's headers come from [`Describe::auth_headers`]).
    pub headers: Vec<(&'static str, String)>,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            body: Body::Empty,
            headers: Vec::new(),
        }
    }

    pub fn post(path: impl Into<String>, body: Value) -> Call {
        Call {
            method: Method::POST,
            path: path.into(),
            body: Body::Json(body),
            headers: Vec::new(),
        }
    }

    pub fn method(mut self, m: Method) -> Call {
        self.method = m;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Call {
        self.headers.push((name, value.into()));
        self
    }
}

/// Where an answer came from, for mappings that need it (the content URL of an OpenAI
/// video is built from the base; results fetched with a key record which key).
pub struct Ctx<'a> {
    pub base: &'a str,
    pub credential: &'a str,
    pub upstream_id: &'a str,
    /// The route's settings (output mappings of the generic hosts).
    pub route_settings: &'a Value,
}

/// The phase an upstream status word stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Ended without a result for a reason of its own: (code, message).
    Ended(&'static str, &'static str),
}

/// The phase of the status word at `path` in `v`, by the provider's table; a missing or
/// unknown word is a `BadResponse` (polled again), never a guess.
pub fn parse_status(
    v: &Value,
    path: &[&str],
    table: &[(&str, Phase)],
) -> Result<Phase, ProviderError> {
    let word = str_at(v, path).ok_or_else(|| ProviderError::BadResponse {
        message: format!("answer without {}", path.join(".")),
    })?;
    table
        .iter()
        .find(|(w, _)| *w == word)
        .map(|(_, p)| *p)
        .ok_or_else(|| ProviderError::BadResponse {
            message: format!("unknown status `{}`", http::public_code(&word)),
        })
}

/// A terminal failure with the upstream's code and message (cleaned), or the defaults.
pub fn failed(code: Option<String>, message: Option<String>) -> PollOutcome {
    PollOutcome::Failed {
        code: http::public_code(&code.unwrap_or_else(|| "generation_failed".into())),
        message: http::public_message(
            &message.unwrap_or_else(|| "the channel failed to generate the video".into()),
        ),
    }
}

/// The simple outcomes of a phase; `Succeeded` and `Failed` need the provider's reading.
pub fn simple(phase: Phase) -> Option<PollOutcome> {
    match phase {
        Phase::Queued => Some(PollOutcome::Queued),
        Phase::Running => Some(PollOutcome::Running),
        Phase::Ended(code, message) => Some(PollOutcome::Failed {
            code: code.into(),
            message: message.into(),
        }),
        Phase::Succeeded | Phase::Failed => None,
    }
}

/// One finished video.
pub fn video(url: String, duration: Option<u32>, credential: Option<&str>) -> PollOutcome {
    PollOutcome::Succeeded(vec![ResultRef {
        url,
        duration_seconds: duration,
        credential: credential.map(str::to_string),
        ..ResultRef::default()
    }])
}

/// `outcome` with upstream's report of what it made (on its first video), for settlement.
pub fn reported(
    mut outcome: PollOutcome,
    resolution: Option<String>,
    audio: Option<bool>,
    units: Option<u64>,
) -> PollOutcome {
    if let PollOutcome::Succeeded(results) = &mut outcome
        && let Some(first) = results.first_mut()
    {
        first.resolution = resolution;
        first.audio = audio;
        first.provider_units = units;
    }
    outcome
}

/// Provider units as upstream writes them: a number or a numeric string (Kling's
/// `"1"`); a fraction is rounded up (the account was charged at least that); nonsense
/// is unknown.
pub fn units(v: Option<&Value>) -> Option<u64> {
    let n = match v? {
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        other => other.as_f64()?,
    };
    (0.0..1e15).contains(&n).then(|| n.ceil() as u64)
}

/// A `BadResponse` saying what was missing.
pub fn missing(what: &str) -> ProviderError {
    ProviderError::BadResponse {
        message: format!("answer without {what}"),
    }
}

/// A create-time refusal that slipped through to submission (the route changed).
pub fn invalid(e: AppError) -> ProviderError {
    ProviderError::final_error("invalid_request", e.to_string())
}

/// A provider, described: its data as consts, its mappings as methods. Only `check`,
/// `submit_call`, `poll_call` and `outcome` are required.
#[async_trait]
pub trait Describe: Send + Sync + Sized + 'static {
    /// The `kind` this adapter reports (a kind sharing an adapter reports the first).
    const KIND: &'static str;
    const AUTH: Auth = Auth::Bearer;
    /// Resubmitting the same task id cannot create a second upstream task.
    const IDEMPOTENT: bool = false;
    /// The body carries `SubmitJob::callback_url` in the provider's own callback field,
    /// so the engine polls these tasks only as a slower fallback.
    const CALLBACK: bool = false;
    /// The key goes with downloads from the API's own host (never elsewhere).
    const DOWNLOAD_AUTH: bool = false;
    /// Extra headers on an authenticated download.
    const DOWNLOAD_HEADERS: &'static [(&'static str, &'static str)] = &[];
    /// Answers to a cancel that mean there is nothing left to stop.
    const CANCEL_DONE: &'static [u16] = &[];
    /// Where the upstream task id is in the create answer.
    const ID_AT: &'static [&'static str] = &["id"];

    /// Read the channel's own settings.
    fn from_config(cfg: &ProviderConfig) -> Result<Self, AppError>;

    /// Refuse at create time (422) what the upstream cannot do.
    fn check(&self, model: &str, req: &UnifiedRequest) -> Result<(), AppError>;

    /// The create call (async: some inline their input images).
    async fn submit_call(
        &self,
        a: &Adapter<Self>,
        job: &SubmitJob<'_>,
    ) -> Result<Call, ProviderError>;

    /// The upstream id in a create answer.
    fn submitted(&self, v: &Value) -> Result<String, ProviderError> {
        str_at(v, Self::ID_AT).ok_or_else(|| missing("a task id"))
    }

    fn poll_call(&self, id: &str, model: &str) -> Result<Call, ProviderError>;

    /// A poll answer, mapped.
    fn outcome(&self, v: &Value, ctx: &Ctx<'_>) -> Result<PollOutcome, ProviderError>;

    /// The call that stops an upstream task, where there is one.
    fn cancel_call(&self, _id: &str, _model: &str) -> Option<Call> {
        None
    }

    /// The free call "test connection" makes with each key, and what its answer says.
    fn test_call(&self) -> Option<Call> {
        None
    }

    fn tested(&self, answers: &[Value]) -> String {
        format!("the channel answered for {} key(s)", answers.len())
    }

    /// A non-2xx answer, classified; providers name the code and message in their body.
    fn error(&self, reply: &Reply, stage: Stage) -> ProviderError {
        let v = reply.value();
        let code = str_at(&v, &["error", "code"]).or_else(|| str_at(&v, &["code"]));
        let msg = str_at(&v, &["error", "message"]).or_else(|| str_at(&v, &["message"]));
        reply.error(stage, code, msg)
    }

    /// The answer's JSON, or the error it stands for. Upstreams that wrap every answer in
    /// an envelope with their own code (200 with `code != 0`) override this.
    fn read(&self, reply: &Reply, stage: Stage) -> Result<Value, ProviderError> {
        if !reply.ok() {
            return Err(self.error(reply, stage));
        }
        reply.json()
    }

    /// The headers that carry `cred` (from [`Describe::AUTH`]; Kling signs a token).
    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        vec![match Self::AUTH {
            Auth::Bearer => ("authorization", format!("Bearer {}", cred.key)),
            Auth::Scheme(s) => ("authorization", format!("{s} {}", cred.key)),
            Auth::Header(h) => (h, cred.key.clone()),
        }]
    }

    /// Whether `reply` says the credential's token went stale (Kling's JWT): the cached
    /// token is dropped and the call made once more.
    fn stale_auth(&self, _cred: &Credential, _reply: &Reply) -> bool {
        false
    }

    /// [`Provider::check_route`] for providers whose mapping is declared on the route.
    fn check_route(
        &self,
        model: &str,
        _settings: &Value,
        req: &UnifiedRequest,
    ) -> Result<(), AppError> {
        self.check(model, req)
    }

    /// [`Provider::validate_route`].
    fn validate_route(&self, _model: &str, _settings: &Value) -> Result<(), String> {
        Ok(())
    }

    /// The default steps, overridable one by one.
    async fn submit(&self, a: &Adapter<Self>, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        let call = self.submit_call(a, &job).await?;
        let cred = a.keys.get(job.credential)?;
        let v = a.call(cred, call, Stage::Submit).await?;
        let id = self.submitted(&v)?;
        Ok(http::safe_id(&id)?.to_string())
    }

    async fn poll(
        &self,
        a: &Adapter<Self>,
        job: PollJob<'_>,
    ) -> Result<PollOutcome, ProviderError> {
        let id = http::safe_id(job.upstream_id)?;
        let cred = a.keys.get(job.credential)?;
        let v = a
            .call(cred, self.poll_call(id, job.upstream_model)?, Stage::Poll)
            .await?;
        let ctx = Ctx {
            base: &a.base,
            credential: &cred.id,
            upstream_id: id,
            route_settings: job.route_settings,
        };
        self.outcome(&v, &ctx)
    }

    async fn download(
        &self,
        a: &Adapter<Self>,
        result: &ResultRef,
    ) -> Result<ByteStream, ProviderError> {
        if !Self::DOWNLOAD_AUTH {
            // Pre-signed or public URLs: no credentials go with them.
            return a.kit.download(&result.url, &[], None).await;
        }
        let cred = a.keys.get(result.credential.as_deref())?;
        let mut headers = self.auth_headers(cred);
        headers.extend(
            Self::DOWNLOAD_HEADERS
                .iter()
                .map(|(k, v)| (*k, v.to_string())),
        );
        a.kit.download(&result.url, &headers, Some(&a.base)).await
    }

    async fn cancel(&self, a: &Adapter<Self>, job: PollJob<'_>) -> Result<(), ProviderError> {
        let id = http::safe_id(job.upstream_id)?;
        let Some(call) = self.cancel_call(id, job.upstream_model) else {
            return Ok(());
        };
        let cred = a.keys.get(job.credential)?;
        let reply = a.send(cred, call, Stage::Poll).await?;
        if reply.ok() || Self::CANCEL_DONE.contains(&reply.status) {
            Ok(())
        } else {
            Err(self.error(&reply, Stage::Poll))
        }
    }

    async fn test(&self, a: &Adapter<Self>) -> Result<String, ProviderError> {
        let Some(_) = self.test_call() else {
            return Err(ProviderError::final_error(
                "unsupported",
                "this provider has no free test call",
            ));
        };
        let mut answers = Vec::new();
        for cred in a.keys.all() {
            let call = self.test_call().expect("checked above");
            answers.push(a.call(cred, call, Stage::Test).await?);
        }
        Ok(self.tested(&answers))
    }
}

/// A described provider with its channel's client, base URL and keys.
pub struct Adapter<D> {
    pub kit: Kit,
    pub base: String,
    pub keys: Keyring,
    pub d: D,
}

impl<D: Describe> Adapter<D> {
    /// Build from a channel's settings: the base URL and key rules come from the kind's
    /// row in [`kinds::KINDS`].
    pub fn new(cfg: &ProviderConfig, kit: Kit) -> Result<Adapter<D>, AppError> {
        let spec = kinds::kind(&cfg.kind);
        let given = cfg.base_url.trim().trim_end_matches('/');
        let base = match (given, spec.map(|s| s.base_url)) {
            ("", Some(BaseUrl::Default(d))) => d.to_string(),
            ("", Some(BaseUrl::Required(example))) => {
                return Err(AppError::invalid(
                    "base_url",
                    format!(
                        "a `{}` channel needs the base URL of the upstream, e.g. {example}",
                        cfg.kind
                    ),
                ));
            }
            (g, _) => g.to_string(),
        };
        if !(base.is_empty() || base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AppError::invalid(
                "base_url",
                "the base URL must start with http:// or https://",
            ));
        }
        let needs_secret = spec.is_some_and(|s| s.api_secret.is_some());
        Ok(Adapter {
            kit,
            base,
            keys: Keyring::from_config(cfg, true, needs_secret)?,
            d: D::from_config(cfg)?,
        })
    }

    /// Always under the base URL: an upstream id in a path never picks the host.
    pub fn url(&self, path: &str) -> String {
        http::join(&self.base, path)
    }

    /// Send one described call with `cred` and read its answer.
    pub async fn call(
        &self,
        cred: &Credential,
        call: Call,
        stage: Stage,
    ) -> Result<Value, ProviderError> {
        let reply = self.send(cred, call, stage).await?;
        self.d.read(&reply, stage)
    }

    /// Send one described call with `cred`; the raw answer. A stale token is renewed and
    /// the call made once more (JSON and empty bodies only).
    pub async fn send(
        &self,
        cred: &Credential,
        call: Call,
        stage: Stage,
    ) -> Result<Reply, ProviderError> {
        let again = match &call.body {
            Body::Json(v) => Some(Body::Json(v.clone())),
            Body::Empty => Some(Body::Empty),
            Body::Form(_) => None,
        };
        let (method, path, headers) =
            (call.method.clone(), call.path.clone(), call.headers.clone());
        let reply = self.kit.send(self.request(cred, call), stage).await?;
        match again {
            Some(body) if self.d.stale_auth(cred, &reply) => {
                let call = Call {
                    method,
                    path,
                    body,
                    headers,
                };
                self.kit.send(self.request(cred, call), stage).await
            }
            _ => Ok(reply),
        }
    }

    fn request(&self, cred: &Credential, call: Call) -> reqwest::RequestBuilder {
        let req = self.kit.http.request(call.method, self.url(&call.path));
        let req = self
            .d
            .auth_headers(cred)
            .into_iter()
            .chain(call.headers)
            .fold(req, |r, (k, v)| r.header(k, v));
        match call.body {
            Body::Empty => req,
            Body::Json(v) => req.json(&v),
            Body::Form(f) => req.multipart(f),
        }
    }
}

/// The registry's builder for a described provider (a [`kinds::KINDS`] row's `build`).
pub fn build<D: Describe>(
    r: &Registry,
    cfg: &ProviderConfig,
) -> Result<Arc<dyn Provider>, AppError> {
    Ok(Arc::new(Adapter::<D>::new(cfg, r.kit(cfg)?)?))
}

#[async_trait]
impl<D: Describe> Provider for Adapter<D> {
    fn kind(&self) -> &'static str {
        D::KIND
    }

    fn idempotent_submit(&self) -> bool {
        D::IDEMPOTENT
    }

    fn completion_callback(&self) -> bool {
        D::CALLBACK
    }

    fn credentials(&self) -> Vec<String> {
        self.keys.ids()
    }

    fn check(&self, upstream_model: &str, request: &UnifiedRequest) -> Result<(), AppError> {
        self.d.check(upstream_model, request)
    }

    fn check_route(
        &self,
        upstream_model: &str,
        route_settings: &Value,
        request: &UnifiedRequest,
    ) -> Result<(), AppError> {
        self.d.check_route(upstream_model, route_settings, request)
    }

    fn validate_route(&self, upstream_model: &str, route_settings: &Value) -> Result<(), String> {
        self.d.validate_route(upstream_model, route_settings)
    }

    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError> {
        self.d.submit(self, job).await
    }

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError> {
        self.d.poll(self, job).await
    }

    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError> {
        self.d.download(self, result).await
    }

    async fn cancel(&self, job: PollJob<'_>) -> Result<(), ProviderError> {
        self.d.cancel(self, job).await
    }

    async fn test_connection(&self) -> Result<String, ProviderError> {
        self.d.test(self).await
    }
}

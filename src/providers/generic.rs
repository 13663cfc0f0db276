//! The one adapter: it drives the transport (auth, JSON calls, error classification by the
//! kit's policy table, polling, download, cancel, connection test) the same way for every
//! provider described by a [`Describe`]: static data plus pure mapping functions. Steps a
//! provider does differently (Kling's lookup by our id, MiniMax's file download) are
//! overridden one method at a time; everything else is inherited.

use super::credentials::{Credential, Keyring};
use super::http::{self, Kit, Reply, Stage, str_at};
use super::input_mapping::{self, InputMapping};
use super::kinds::{self, BaseUrl};
use super::{ByteStream, PollJob, PollOutcome, Provider, ProviderError, ProviderResult};
use super::{Registry, SubmitJob};
use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How a provider's key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: <scheme> <key>` (`Bearer`, `Token`, `Key`).
    Scheme(&'static str),
    /// The key alone in this header (`x-goog-api-key`).
    Header(&'static str),
}

/// What a call carries.
#[derive(Default)]
pub enum Body {
    #[default]
    Empty,
    Json(Value),
    Form(reqwest::multipart::Form),
}

/// One upstream call, described: a method, a path under the base URL, a body.
#[derive(Default)]
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
            path: path.into(),
            ..Call::default()
        }
    }

    pub fn post(path: impl Into<String>, body: Value) -> Call {
        let mut call = Call::get(path).method(Method::POST);
        call.body = Body::Json(body);
        call
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

/// A channel setting naming one of `choices` (`None` when unset), or a 400 listing them.
pub fn choice<T: Copy>(
    cfg: &ProviderConfig,
    key: &str,
    choices: &[(&str, T)],
) -> AppResult<Option<T>> {
    let Some(given) = cfg.settings.get(key).and_then(Value::as_str) else {
        return Ok(None);
    };
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == given) {
        return Ok(Some(*v));
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let msg = format!("`{given}` is not one of {}", names.join(", "));
    Err(AppError::invalid(format!("settings.{key}"), msg))
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

/// An end without a result: our code and message.
pub type End = (&'static str, &'static str);

/// The ends several upstreams share.
#[rustfmt::skip]
pub const CANCELLED: End = ("upstream_cancelled", "the task was cancelled on the channel");
#[rustfmt::skip]
pub const EXPIRED: End = ("upstream_expired", "the channel did not run the task before it expired");

/// A terminal failure with the upstream's code and message (cleaned), or the defaults.
pub fn failed(code: Option<String>, message: Option<String>) -> PollOutcome {
    let code = code.unwrap_or_else(|| "generation_failed".into());
    let message = message.unwrap_or_else(|| "the channel failed to generate the video".into());
    let (code, message) = (http::public_code(&code), http::public_message(&message));
    PollOutcome::Failed { code, message }
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
    ProviderError::bad(format!("answer without {what}"))
}

/// A create-time refusal that slipped through to submission (the route changed).
pub fn invalid(e: AppError) -> ProviderError {
    ProviderError::final_error("invalid_request", e.to_string())
}

/// Where a poll answer keeps what it says, and what each status word means: most
/// providers map answers with this data alone ([`Answer::read`]).
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: &'static [&'static str],
    /// The status words that mean queued, running, succeeded and failed.
    pub words: [&'static [&'static str]; 4],
    /// Words that end a task without a result: (word, (our code, message)).
    pub ended: &'static [(&'static str, End)],
    /// Where the list of videos is; empty: the answer holds one video.
    pub list: &'static [&'static str],
    /// A video's URL and length, within the list's item (numbers index lists: `output.0`).
    pub url: &'static [&'static str],
    pub seconds: &'static [&'static str],
    /// What upstream reports it made, for settlement (empty: not reported).
    pub resolution: &'static [&'static str],
    pub audio: &'static [&'static str],
    pub units: &'static [&'static str],
    /// A failure's code and message, or the provider's own reading of a failure.
    pub code: &'static [&'static str],
    pub message: &'static [&'static str],
    pub failure: Option<fn(&Value) -> PollOutcome>,
}

impl Answer {
    #[rustfmt::skip]
    pub const DEFAULT: Answer = Answer {
        status: &["status"], words: [&[], &[], &[], &[]], ended: &[], list: &[], url: &[], seconds: &[], resolution: &[],
        audio: &[], units: &[], code: &["error", "code"], message: &["error", "message"], failure: None,
    };

    /// The phase of the status word; a missing or unknown word is a `BadResponse` (polled
    /// again), never a guess.
    pub fn phase(&self, v: &Value) -> ProviderResult<Phase> {
        use Phase::*;
        let word = str_at(v, self.status).ok_or_else(|| missing(&self.status.join(".")))?;
        let word = word.as_str();
        let known = self.words.iter().position(|ws| ws.contains(&word));
        let known = known.map(|i| [Queued, Running, Succeeded, Failed][i]);
        let ended = self.ended.iter().find(|(w, _)| *w == word);
        let ended = ended.map(|(_, (code, message))| Ended(code, message));
        let unknown =
            || ProviderError::bad(format!("unknown status `{}`", http::public_code(word)));
        known.or(ended).ok_or_else(unknown)
    }

    /// The answer mapped: the videos with what upstream reported, or the failure.
    pub fn read(&self, v: &Value) -> ProviderResult<PollOutcome> {
        self.read_with(v, |v| {
            let items = match self.list {
                [] => vec![v],
                path => (http::value_at(v, path).and_then(Value::as_array))
                    .map_or_else(Vec::new, |a| a.iter().collect()),
            };
            let results: Vec<ResultRef> = (items.into_iter())
                .filter_map(|i| {
                    let secs = str_at(i, self.seconds).and_then(|s| s.parse::<f64>().ok());
                    Some(ResultRef {
                        url: str_at(i, self.url)?,
                        duration_seconds: secs.map(|s| s.round() as u32),
                        ..ResultRef::default()
                    })
                })
                .collect();
            if results.is_empty() {
                return Err(missing(&[self.list, self.url].concat().join(".")));
            }
            let at = |path: &[&str]| http::value_at(v, path).filter(|_| !path.is_empty());
            Ok(first(PollOutcome::Succeeded(results), |r| {
                r.resolution = at(self.resolution).and_then(|_| str_at(v, self.resolution));
                r.audio = at(self.audio).and_then(Value::as_bool);
                r.provider_units = units(at(self.units));
            }))
        })
    }

    /// Like [`Answer::read`] with the provider's own reading of a success.
    pub fn read_with(
        &self,
        v: &Value,
        success: impl FnOnce(&Value) -> ProviderResult<PollOutcome>,
    ) -> ProviderResult<PollOutcome> {
        Ok(match self.phase(v)? {
            Phase::Succeeded => success(v)?,
            Phase::Failed => match self.failure {
                Some(f) => f(v),
                None => failed(str_at(v, self.code), str_at(v, self.message)),
            },
            Phase::Queued => PollOutcome::Queued,
            Phase::Running => PollOutcome::Running,
            Phase::Ended(code, message) => failed(Some(code.into()), Some(message.into())),
        })
    }
}

/// `outcome` with its first video changed by `f`.
pub fn first(mut outcome: PollOutcome, f: impl FnOnce(&mut ResultRef)) -> PollOutcome {
    if let PollOutcome::Succeeded(results) = &mut outcome
        && let Some(r) = results.first_mut()
    {
        f(r);
    }
    outcome
}

/// The free call "test connection" makes with each key: a GET, what its success says, and
/// where its answer names something worth showing (a balance, an account).
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub path: &'static str,
    pub says: &'static str,
    pub shows: &'static [&'static str],
}

impl Test {
    pub const fn get(path: &'static str, says: &'static str) -> Option<Test> {
        let shows = &[];
        Some(Test { path, says, shows })
    }
}

/// A provider, described: its data as consts, its mappings as methods. Only `from_config`,
/// `request` and (for answers [`Answer`] cannot read) `outcome` need writing.
#[async_trait]
pub trait Describe: Send + Sync + Sized + 'static {
    /// The `kind` this adapter reports (a kind sharing an adapter reports the first).
    const KIND: &'static str;
    const AUTH: Auth = Auth::Scheme("Bearer");
    /// The create body carries `SubmitJob::callback_url` (as `callback_url` unless
    /// `submit_call` says otherwise), so the engine polls only as a slower fallback.
    const CALLBACK: bool = false;
    /// The key goes with downloads from the API's own host (never elsewhere).
    const DOWNLOAD_AUTH: bool = false;
    /// Extra headers on an authenticated download.
    const DOWNLOAD_HEADERS: &'static [(&'static str, &'static str)] = &[];
    /// Answers to a cancel that mean there is nothing left to stop.
    const CANCEL_DONE: &'static [u16] = &[];
    /// Where the upstream task id is in the create answer.
    const ID_AT: &'static [&'static str] = &["id"];
    /// The poll path; `{id}` stands for the upstream id.
    const POLL: &'static str = "";
    const ANSWER: Answer = Answer::DEFAULT;
    const TEST: Option<Test> = None;
    /// Where an error answer names its code and message (the first found wins).
    const ERROR_CODE: &'static [&'static [&'static str]] = &[&["error", "code"], &["code"]];
    const ERROR_MESSAGE: &'static [&'static [&'static str]] =
        &[&["error", "message"], &["message"]];
    /// The code of an error whose body names none, by HTTP status.
    const STATUS_CODES: &'static [(u16, &'static str)] = &[];
    /// Error codes that blame the channel (account, key, balance); `Prefix*` matches a
    /// prefix, `*Part*` a part.
    const CHANNEL_CODES: &'static [&'static str] = &[];

    /// Read the channel's own settings.
    fn from_config(cfg: &ProviderConfig) -> Result<Self, AppError>;

    /// Request → the create call, or the 422 naming what the upstream cannot do. Pure, so
    /// it is also the create-time check (with `task_id` = `"check"`). Hosts whose routes
    /// declare the input ([`Describe::route_model`]) build the call in `submit_call`.
    fn request(&self, _model: &str, _req: &UnifiedRequest, _: &str) -> Result<Call, AppError> {
        let msg = "this model's route maps its own input";
        Err(AppError::invalid("model", msg))
    }

    /// For hosts whose routes declare the input ([`input_mapping`]: fal, Replicate):
    /// whether the route's model id is readable. `None`: [`Describe::request`] maps it.
    fn route_model(&self, _model: &str) -> Option<Result<(), String>> {
        None
    }

    /// The model input a route declares, for `job` (hosts with a `route_model`).
    fn route_input(&self, job: &SubmitJob<'_>) -> ProviderResult<Map<String, Value>> {
        let mapping = input_mapping::for_route(Self::KIND, job.route_settings);
        mapping.and_then(|m| m.build(job.request)).map_err(invalid)
    }

    /// Refuse at create time (422) what the upstream cannot do (route-mapped hosts are
    /// checked by [`input_mapping::check_route`] instead).
    fn check(&self, model: &str, req: &UnifiedRequest) -> Result<(), AppError> {
        self.request(model, req, "check").map(|_| ())
    }

    /// Resubmitting the same task id cannot create a second upstream task.
    fn idempotent(&self) -> bool {
        false
    }

    /// The create call (async: some inline their input images).
    async fn submit_call(&self, _: &Adapter<Self>, job: &SubmitJob<'_>) -> ProviderResult<Call> {
        let mut call =
            (self.request(job.upstream_model, job.request, job.task_id)).map_err(invalid)?;
        if let (true, Some(u), Body::Json(body)) =
            (Self::CALLBACK, job.callback_url, &mut call.body)
        {
            body["callback_url"] = Value::from(u);
        }
        Ok(call)
    }

    /// The upstream id in a create answer.
    fn submitted(&self, v: &Value) -> ProviderResult<String> {
        str_at(v, Self::ID_AT).ok_or_else(|| missing("a task id"))
    }

    fn poll_call(&self, id: &str, _model: &str) -> ProviderResult<Call> {
        Ok(Call::get(Self::POLL.replace("{id}", id)))
    }

    /// A poll answer, mapped.
    fn outcome(&self, v: &Value, _ctx: &Ctx<'_>) -> ProviderResult<PollOutcome> {
        Self::ANSWER.read(v)
    }

    /// The call that stops an upstream task, where there is one.
    fn cancel_call(&self, _id: &str, _model: &str) -> Option<Call> {
        None
    }

    /// A non-2xx answer, classified: the code and message where the provider puts them,
    /// the channel blamed for its [`Describe::CHANNEL_CODES`].
    fn error(&self, reply: &Reply, stage: Stage) -> ProviderError {
        let v = reply.value();
        let find = |paths: &[&[&str]]| paths.iter().find_map(|p| str_at(&v, p));
        let by_status = Self::STATUS_CODES.iter().find(|(s, _)| *s == reply.status);
        let code = find(Self::ERROR_CODE).or_else(|| by_status.map(|(_, c)| c.to_string()));
        let msg = find(Self::ERROR_MESSAGE);
        match code {
            Some(c) if Self::CHANNEL_CODES.iter().any(|p| matches_code(p, &c)) => {
                let msg = http::public_message(msg.as_deref().unwrap_or(&c));
                ProviderError::channel(http::public_code(&c), msg)
            }
            _ => reply.error(stage, code, msg),
        }
    }

    /// The answer's JSON, or the error it stands for. Upstreams that wrap every answer in
    /// an envelope with their own code (200 with `code != 0`) override this.
    fn read(&self, reply: &Reply, stage: Stage) -> ProviderResult<Value> {
        if !reply.ok() {
            return Err(self.error(reply, stage));
        }
        reply.json()
    }

    /// The headers that carry `cred` (from [`Describe::AUTH`]; Kling signs a token).
    fn auth_headers(&self, cred: &Credential) -> Vec<(&'static str, String)> {
        vec![match Self::AUTH {
            Auth::Scheme(s) => ("authorization", format!("{s} {}", cred.key)),
            Auth::Header(h) => (h, cred.key.clone()),
        }]
    }

    /// Whether `reply` says the credential's token went stale (Kling's JWT): the cached
    /// token is dropped and the call made once more.
    fn stale_auth(&self, _cred: &Credential, _reply: &Reply) -> bool {
        false
    }

    /// The default steps, overridable one by one.
    async fn submit(&self, a: &Adapter<Self>, job: SubmitJob<'_>) -> ProviderResult<String> {
        let call = self.submit_call(a, &job).await?;
        let cred = a.keys.get(job.credential)?;
        let v = a.call(cred, call, Stage::Submit).await?;
        Ok(http::safe_id(&self.submitted(&v)?)?.to_string())
    }

    async fn poll(&self, a: &Adapter<Self>, job: PollJob<'_>) -> ProviderResult<PollOutcome> {
        let id = http::safe_id(job.upstream_id)?;
        let cred = a.keys.get(job.credential)?;
        let call = self.poll_call(id, job.upstream_model)?;
        let v = a.call(cred, call, Stage::Poll).await?;
        let ctx = Ctx {
            base: &a.base,
            credential: &cred.id,
            upstream_id: id,
            route_settings: job.route_settings,
        };
        self.outcome(&v, &ctx)
    }

    async fn download(&self, a: &Adapter<Self>, result: &ResultRef) -> ProviderResult<ByteStream> {
        if !Self::DOWNLOAD_AUTH {
            // Pre-signed or public URLs: no credentials go with them.
            return a.kit.download(&result.url, &[], None).await;
        }
        let mut headers = self.auth_headers(a.keys.get(result.credential.as_deref())?);
        for &(k, v) in Self::DOWNLOAD_HEADERS {
            headers.push((k, v.to_string()));
        }
        a.kit.download(&result.url, &headers, Some(&a.base)).await
    }

    /// The free call of [`Describe::TEST`] with every key; what it shows of each answer.
    async fn test(&self, a: &Adapter<Self>) -> ProviderResult<String> {
        let t = Self::TEST.ok_or_else(super::no_test_call)?;
        let mut shown = Vec::new();
        for cred in a.keys.all() {
            let v = a.call(cred, Call::get(t.path), Stage::Test).await?;
            shown.push(str_at(&v, t.shows).unwrap_or_else(|| "?".into()));
        }
        Ok(match t.shows {
            [] => format!("{} with {} key(s)", t.says, shown.len()),
            _ => format!("{}: {}", t.says, shown.join(", ")),
        })
    }
}

/// Whether an upstream error `code` matches a [`Describe::CHANNEL_CODES`] pattern.
fn matches_code(pattern: &str, code: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(p), _) => code.contains(p.trim_end_matches('*')),
        (None, Some(p)) => code.starts_with(p),
        (None, None) => code == pattern,
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
    /// Always under the base URL: an upstream id in a path never picks the host.
    pub fn url(&self, path: &str) -> String {
        http::join(&self.base, path)
    }

    /// Send one described call with `cred` and read its answer.
    pub async fn call(&self, cred: &Credential, call: Call, stage: Stage) -> ProviderResult<Value> {
        let reply = self.send(cred, call, stage).await?;
        self.d.read(&reply, stage)
    }

    /// Send one described call with `cred`; the raw answer. A stale token is renewed and
    /// the call made once more (a form body is streamed once, so that call cannot be).
    pub async fn send(&self, cred: &Credential, call: Call, stage: Stage) -> ProviderResult<Reply> {
        let req = self.kit.http.request(call.method, self.url(&call.path));
        let req = (call.headers.into_iter()).fold(req, |r, (k, v)| r.header(k, v));
        let req = match call.body {
            Body::Empty => req,
            Body::Json(v) => req.json(&v),
            Body::Form(f) => req.multipart(f),
        };
        let again = req.try_clone();
        // The key's headers are made per attempt: a renewed token must not be the stale one.
        let sign = |req: reqwest::RequestBuilder| {
            let headers = self.d.auth_headers(cred).into_iter();
            headers.fold(req, |r, (k, v)| r.header(k, v))
        };
        let reply = self.kit.send(sign(req), stage).await?;
        match again {
            Some(req) if self.d.stale_auth(cred, &reply) => self.kit.send(sign(req), stage).await,
            _ => Ok(reply),
        }
    }
}

/// The registry's builder for a described provider (a [`kinds::KINDS`] row's `build`): the
/// base URL and key rules come from the kind's row.
pub fn build<D: Describe>(r: &Registry, cfg: &ProviderConfig) -> AppResult<Arc<dyn Provider>> {
    let kit = Kit::new(cfg, r.assets.clone())?;
    let spec = kinds::kind(&cfg.kind);
    let given = cfg.base_url.trim().trim_end_matches('/');
    let base = match (given, spec.map(|s| s.base_url)) {
        ("", Some(BaseUrl::Default(d))) => d,
        ("", Some(BaseUrl::Required(example))) => {
            let msg = format!(
                "a `{}` channel needs the base URL of the upstream, e.g. {example}",
                cfg.kind
            );
            return Err(AppError::invalid("base_url", msg));
        }
        (g, _) => g,
    };
    if !(base.is_empty() || base.starts_with("http://") || base.starts_with("https://")) {
        let msg = "the base URL must start with http:// or https://";
        return Err(AppError::invalid("base_url", msg));
    }
    let needs_secret = spec.is_some_and(|s| s.api_secret.is_some());
    let keys = Keyring::from_config(cfg, true, needs_secret)?;
    let (base, d) = (base.to_string(), D::from_config(cfg)?);
    Ok(Arc::new(Adapter::<D> { kit, base, keys, d }))
}

#[async_trait]
impl<D: Describe> Provider for Adapter<D> {
    fn kind(&self) -> &'static str {
        D::KIND
    }

    fn idempotent_submit(&self) -> bool {
        self.d.idempotent()
    }

    fn completion_callback(&self) -> bool {
        D::CALLBACK
    }

    fn credentials(&self) -> Vec<String> {
        self.keys.ids()
    }

    fn check_route(&self, model: &str, settings: &Value, req: &UnifiedRequest) -> AppResult<()> {
        match self.d.route_model(model) {
            Some(m) => input_mapping::check_route(D::KIND, m, settings, req),
            None => self.d.check(model, req),
        }
    }

    fn validate_route(&self, model: &str, settings: &Value) -> Result<(), String> {
        match self.d.route_model(model) {
            Some(m) => m.and_then(|_| InputMapping::from_settings(settings).map(|_| ())),
            None => Ok(()),
        }
    }

    async fn submit(&self, job: SubmitJob<'_>) -> ProviderResult<String> {
        self.d.submit(self, job).await
    }

    async fn poll(&self, job: PollJob<'_>) -> ProviderResult<PollOutcome> {
        self.d.poll(self, job).await
    }

    async fn download(&self, result: &ResultRef) -> ProviderResult<ByteStream> {
        self.d.download(self, result).await
    }

    async fn cancel(&self, job: PollJob<'_>) -> ProviderResult<()> {
        let id = http::safe_id(job.upstream_id)?;
        let Some(call) = self.d.cancel_call(id, job.upstream_model) else {
            return Ok(());
        };
        let cred = self.keys.get(job.credential)?;
        let reply = self.send(cred, call, Stage::Poll).await?;
        let done = reply.ok() || D::CANCEL_DONE.contains(&reply.status);
        let refused = || self.d.error(&reply, Stage::Poll);
        done.then_some(()).ok_or_else(refused)
    }

    async fn test_connection(&self) -> ProviderResult<String> {
        self.d.test(self).await
    }
}

//! Fake upstreams: one real HTTP server per provider on 127.0.0.1, speaking its wire format.
//!
//! The shared core ([`Core`]) gives every simulator the same test controls:
//! - **time**: task states advance one step per poll of that task (`set_timeline`), or not at
//!   all while `hold()` is on; a simulated clock (`clock.advance`) drives expiries (result
//!   URLs, task retention, token lifetimes) without sleeping;
//! - **faults**: `inject(Op, Fault)` queues a fault for the next request of that kind
//!   (5xx, 429 + Retry-After, a hang past the client's timeout before or after the task is
//!   created, malformed JSON, any raw answer);
//! - **scripted outcomes** by trigger words in the prompt: `sim:fail` (a failed generation
//!   with the provider's error code), `sim:never` (never finishes), `sim:weird` (an unknown
//!   status string twice, then success), `sim:expired` (the result URL is already expired),
//!   `sim:block` (refused at create as a content-policy error);
//! - **records**: every request (method, path, query, headers, body) by [`Op`].
//!
//! A provider module implements [`Upstream`]: its paths, auth checks, validation and
//! answer shapes, using the core for tasks, files and faults.

#![allow(dead_code)]
// Handlers return finished responses as errors (auth refusals); they are not hot paths.
#![allow(clippy::result_large_err)]

pub mod chain;
pub mod fal;
pub mod kling;
pub mod luma;
pub mod minimax;
pub mod openai;
pub mod replicate;
pub mod runway;
pub mod seedance;
pub mod stripe;
pub mod veo;
pub mod vidu;
pub mod wan;

use async_trait::async_trait;
use poem::http::StatusCode;
use poem::{Endpoint, Request, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The MP4 every simulator serves as its result.
pub static VIDEO: &[u8] = include_bytes!("../../../assets/demo.mp4");

/// What a request is for, so faults and records can target it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Poll,
    /// A second step some providers need before the download (MiniMax file retrieve).
    Retrieve,
    Download,
    /// Listing or other calls (used by "test connection").
    List,
    Other,
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// The provider's own error body with this status.
    Status(u16),
    /// The provider's error body with a chosen code and message.
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// 429 with `Retry-After: <secs>` (fractions allowed) in the provider's error shape.
    RateLimited { retry_after: String },
    /// Answer nothing for this long (past the client's timeout), then 504. The request is
    /// NOT processed: nothing is created.
    Hang(Duration),
    /// Process the request (a create does create the task), then hang: the client never
    /// learns the outcome. The honest ambiguous case.
    HangAfter(Duration),
    /// 200 with a body that is not JSON.
    Malformed,
    /// Any raw answer.
    Raw { status: u16, body: String },
    /// `302 Found` to this location.
    Redirect(String),
}

/// A request as the simulator received it.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub op: Op,
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: bytes::Bytes,
    /// When it arrived (to check pacing and Retry-After).
    pub at: std::time::Instant,
}

impl SimRequest {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// Path segments without the leading slash.
    pub fn segments(&self) -> Vec<&str> {
        self.path.trim_start_matches('/').split('/').collect()
    }
}

/// A simulated clock in Unix seconds: real time plus what the test advanced.
#[derive(Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        videoapi::domain::now_ms() / 1000 + self.offset.load(Ordering::SeqCst)
    }

    pub fn now_ms(&self) -> i64 {
        videoapi::domain::now_ms() + self.offset.load(Ordering::SeqCst) * 1000
    }

    pub fn advance(&self, d: Duration) {
        self.offset.fetch_add(d.as_secs() as i64, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeed,
    Fail,
    Never,
    Weird,
    Expired,
}

/// Where a task is now, as the core sees it; each simulator renders it in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Queued,
    Running,
    /// An unknown status string (the `sim:weird` script).
    Weird,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
pub struct SimTask {
    pub id: String,
    pub model: String,
    /// The create body as received.
    pub request: Value,
    pub outcome: Outcome,
    pub polls: u32,
    pub created_at: i64,
    /// The account (key) that created it; other accounts cannot see it.
    pub account: String,
    /// Provider-specific extras (a file token, an external id, the path kind...).
    pub extra: Value,
}

pub fn outcome_of(prompt: &str) -> Outcome {
    if prompt.contains("sim:fail") {
        Outcome::Fail
    } else if prompt.contains("sim:never") {
        Outcome::Never
    } else if prompt.contains("sim:weird") {
        Outcome::Weird
    } else if prompt.contains("sim:expired") {
        Outcome::Expired
    } else {
        Outcome::Succeed
    }
}

/// The length upstream makes instead of the one asked, when the request says
/// `sim:made=N` anywhere (its prompt): a model that ignores or rounds the duration.
pub fn made_seconds(request: &Value) -> Option<u64> {
    let text = request.to_string();
    let rest = &text[text.find("sim:made=")? + "sim:made=".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub fn blocked(prompt: &str) -> bool {
    prompt.contains("sim:block")
}

struct File {
    expires_at: Option<i64>,
    /// The length its MP4 header says, for a task that asked `sim:made=N`.
    seconds: Option<u64>,
    /// `(header, value)` the download must carry.
    auth: Option<(String, String)>,
}

pub struct Core {
    pub clock: Clock,
    /// The simulator's own base URL (`http://127.0.0.1:<port>`).
    pub base: Mutex<String>,
    faults: Mutex<HashMap<Op, VecDeque<Fault>>>,
    log: Mutex<Vec<SimRequest>>,
    tasks: Mutex<HashMap<String, SimTask>>,
    files: Mutex<HashMap<String, File>>,
    seq: AtomicU64,
    held: AtomicBool,
    timeline: Mutex<(u32, u32)>,
    /// Tasks that just ended (polled into a terminal stage) and have not called back yet.
    ended: Mutex<Vec<(Stage, SimTask)>>,
    /// Tasks that have called back (each calls once).
    called_back: Mutex<std::collections::HashSet<String>>,
}

impl Default for Core {
    fn default() -> Self {
        Core {
            clock: Clock::default(),
            base: Mutex::new(String::new()),
            faults: Mutex::default(),
            log: Mutex::default(),
            tasks: Mutex::default(),
            files: Mutex::default(),
            seq: AtomicU64::new(1),
            held: AtomicBool::new(false),
            timeline: Mutex::new((1, 1)),
            ended: Mutex::default(),
            called_back: Mutex::default(),
        }
    }
}

impl Core {
    pub fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// Queue a fault for the next request of kind `op`.
    pub fn inject(&self, op: Op, fault: Fault) {
        self.faults
            .lock()
            .unwrap()
            .entry(op)
            .or_default()
            .push_back(fault);
    }

    fn take_fault(&self, op: Op) -> Option<Fault> {
        self.faults.lock().unwrap().get_mut(&op)?.pop_front()
    }

    /// Polls spent queued, then running, before a task reaches its outcome.
    pub fn set_timeline(&self, queued_polls: u32, running_polls: u32) {
        *self.timeline.lock().unwrap() = (queued_polls, running_polls);
    }

    /// Keep every task running until `release()`.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }

    /// Every request of kind `op`, oldest first.
    pub fn received(&self, op: Op) -> Vec<SimRequest> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.op == op)
            .cloned()
            .collect()
    }

    pub fn count(&self, op: Op) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.op == op)
            .count()
    }

    /// Store a new task owned by `account`; its outcome comes from trigger words in `prompt`.
    pub fn create_task(
        &self,
        id: &str,
        model: &str,
        request: Value,
        prompt: &str,
        account: &str,
    ) -> SimTask {
        let t = SimTask {
            id: id.to_string(),
            model: model.to_string(),
            request,
            outcome: outcome_of(prompt),
            polls: 0,
            created_at: self.clock.now(),
            account: account.to_string(),
            extra: Value::Null,
        };
        self.tasks.lock().unwrap().insert(id.to_string(), t.clone());
        t
    }

    pub fn task(&self, id: &str) -> Option<SimTask> {
        self.tasks.lock().unwrap().get(id).cloned()
    }

    pub fn tasks(&self) -> Vec<SimTask> {
        self.tasks.lock().unwrap().values().cloned().collect()
    }

    pub fn update_task(&self, id: &str, f: impl FnOnce(&mut SimTask)) {
        if let Some(t) = self.tasks.lock().unwrap().get_mut(id) {
            f(t);
        }
    }

    /// Count one poll of the task by `account` and say where it stands; `None` when the
    /// task does not exist for that account (as upstreams answer for others' tasks).
    pub fn step(&self, id: &str, account: &str) -> Option<(Stage, SimTask)> {
        let (q, r) = *self.timeline.lock().unwrap();
        let held = self.held.load(Ordering::SeqCst);
        let mut tasks = self.tasks.lock().unwrap();
        let t = tasks.get_mut(id).filter(|t| t.account == account)?;
        t.polls += 1;
        let n = t.polls;
        let stage = if n <= q {
            Stage::Queued
        } else if held || t.outcome == Outcome::Never || n <= q + r {
            Stage::Running
        } else {
            match t.outcome {
                Outcome::Weird if n <= q + r + 2 => Stage::Weird,
                Outcome::Fail => Stage::Failed,
                _ => Stage::Succeeded,
            }
        };
        if matches!(stage, Stage::Succeeded | Stage::Failed) {
            self.ended.lock().unwrap().push((stage, t.clone()));
        }
        Some((stage, t.clone()))
    }

    /// End a task now, as upstream finishing it would (the next poll sees its outcome).
    pub fn end_now(&self, id: &str) -> Option<(Stage, SimTask)> {
        let (q, r) = *self.timeline.lock().unwrap();
        let account = self.task(id)?.account;
        self.update_task(id, |t| t.polls = t.polls.max(q + r + 2));
        self.step(id, &account)
    }

    /// A result URL served by the simulator: expired from the start for `sim:expired`
    /// tasks, otherwise after `ttl` simulated seconds; `auth` must come with the download.
    pub fn mint_file(
        &self,
        task: &SimTask,
        ttl: Option<i64>,
        auth: Option<(String, String)>,
    ) -> String {
        let token = format!("f{}", self.next_seq());
        let now = self.clock.now();
        let expires_at = if task.outcome == Outcome::Expired {
            Some(now - 1)
        } else {
            ttl.map(|t| now + t)
        };
        self.files.lock().unwrap().insert(
            token.clone(),
            File {
                expires_at,
                auth,
                seconds: made_seconds(&task.request),
            },
        );
        let expires = expires_at.unwrap_or(0);
        format!(
            "{}/_sim/files/{token}.mp4?Expires={expires}&Signature=sim",
            self.base()
        )
    }

    fn serve_file(&self, req: &SimRequest) -> Response {
        let token = req
            .path
            .trim_start_matches("/_sim/files/")
            .trim_end_matches(".mp4")
            .to_string();
        let files = self.files.lock().unwrap();
        let Some(f) = files.get(&token) else {
            return text(404, "NoSuchKey");
        };
        if f.expires_at.is_some_and(|e| self.clock.now() > e) {
            return text(
                403,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            );
        }
        if let Some((h, v)) = &f.auth
            && req.header(h) != Some(v.as_str())
        {
            return text(403, "missing credentials");
        }
        match f.seconds {
            Some(n) => video_lasting(n),
            None => video(),
        }
    }
}

/// One provider's behaviour behind the shared core.
#[async_trait]
pub trait Upstream: Send + Sync + 'static {
    /// Which kind of call this is (for faults and records).
    fn op(&self, req: &SimRequest) -> Op;
    /// The provider's error body for an injected fault.
    fn error_body(&self, status: u16, code: &str, message: &str) -> Value;
    async fn handle(&self, core: &Core, req: &SimRequest) -> Response;
    /// Where and what the provider posts when a task ends (its completion callback), for
    /// providers that offer one and tasks that asked for it.
    fn callback(&self, _core: &Core, _stage: Stage, _task: &SimTask) -> Option<(String, Value)> {
        None
    }
}

/// A running simulator.
pub struct Sim<U: Upstream> {
    pub core: Arc<Core>,
    pub upstream: Arc<U>,
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl<U: Upstream> Drop for Sim<U> {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl<U: Upstream> std::ops::Deref for Sim<U> {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

struct SimEndpoint<U> {
    core: Arc<Core>,
    upstream: Arc<U>,
}

impl<U: Upstream> Endpoint for SimEndpoint<U> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let body = req.take_body().into_bytes().await.unwrap_or_default();
        let query = req
            .uri()
            .query()
            .map(|q| {
                q.split('&')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (decode(k), decode(v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let mut sim_req = SimRequest {
            op: Op::Other,
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query,
            headers,
            body,
            at: std::time::Instant::now(),
        };
        if sim_req.path.starts_with("/_sim/files/") {
            sim_req.op = Op::Download;
            self.core.log.lock().unwrap().push(sim_req.clone());
            if let Some(resp) = self.fault(Op::Download).await {
                return Ok(resp);
            }
            return Ok(self.core.serve_file(&sim_req));
        }
        sim_req.op = self.upstream.op(&sim_req);
        self.core.log.lock().unwrap().push(sim_req.clone());
        match self.core.take_fault(sim_req.op) {
            Some(Fault::HangAfter(d)) => {
                let _ = self.upstream.handle(&self.core, &sim_req).await;
                tokio::time::sleep(d).await;
                Ok(text(504, "upstream gave up"))
            }
            Some(other) => Ok(self.render(other).await),
            None => {
                let resp = self.upstream.handle(&self.core, &sim_req).await;
                let ended = std::mem::take(&mut *self.core.ended.lock().unwrap());
                for (stage, task) in ended {
                    let (core, upstream) = (self.core.clone(), self.upstream.clone());
                    tokio::spawn(async move { call_back(&core, &*upstream, stage, &task).await });
                }
                Ok(resp)
            }
        }
    }
}

/// Post a task's completion callback once, as the provider does when the task ends.
async fn call_back<U: Upstream>(
    core: &Core,
    upstream: &U,
    stage: Stage,
    task: &SimTask,
) -> Option<u16> {
    let (url, body) = upstream.callback(core, stage, task)?;
    if !core.called_back.lock().unwrap().insert(task.id.clone()) {
        return None;
    }
    videoapi::tls::ensure_crypto_provider();
    let client = reqwest::Client::builder().no_proxy().build().ok()?;
    let resp = client
        .post(url)
        .json(&body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    Some(resp.status().as_u16())
}

impl<U: Upstream> Sim<U> {
    /// End a task now and post its completion callback (when it asked for one); the
    /// receiver's HTTP status, or `None` when nothing was posted.
    pub async fn finish(&self, id: &str) -> Option<u16> {
        self.core.ended.lock().unwrap().clear();
        let (stage, task) = self.core.end_now(id)?;
        call_back(&self.core, &*self.upstream, stage, &task).await
    }
}

/// A loopback receiver for completion callbacks: records every POST (path, JSON body).
pub struct Hooks {
    pub url: String,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Hooks {
    pub async fn start() -> Hooks {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let sink = got.clone();
        let ep = poem::endpoint::make(move |mut req: Request| {
            let sink = sink.clone();
            async move {
                let body = req.take_body().into_bytes().await.unwrap_or_default();
                let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let path = req.uri().to_string();
                sink.lock().unwrap().push((path, v));
                StatusCode::OK
            }
        });
        let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor).run(ep).await;
        });
        Hooks { url, got, server }
    }

    /// Every callback received so far: (path with query, body).
    pub fn received(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }

    /// Wait (bounded) until `n` callbacks have arrived.
    pub async fn wait(&self, n: usize) -> Vec<(String, Value)> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.received().len() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.received()
    }
}

impl<U: Upstream> SimEndpoint<U> {
    async fn fault(&self, op: Op) -> Option<Response> {
        let f = self.core.take_fault(op)?;
        Some(self.render(f).await)
    }

    async fn render(&self, f: Fault) -> Response {
        match f {
            Fault::Status(s) => json_response(
                s,
                self.upstream.error_body(s, "SimFault", "injected failure"),
            ),
            Fault::Error {
                status,
                code,
                message,
            } => json_response(status, self.upstream.error_body(status, &code, &message)),
            Fault::RateLimited { retry_after } => {
                let mut r = json_response(
                    429,
                    self.upstream
                        .error_body(429, "RateLimitExceeded", "slow down"),
                );
                r.headers_mut()
                    .insert("retry-after", retry_after.parse().unwrap());
                r
            }
            Fault::Hang(d) | Fault::HangAfter(d) => {
                tokio::time::sleep(d).await;
                text(504, "upstream gave up")
            }
            Fault::Malformed => {
                let mut r = text(200, "{\"id\": <html>oops");
                r.headers_mut()
                    .insert("content-type", "application/json".parse().unwrap());
                r
            }
            Fault::Raw { status, body } => text(status, &body),
            Fault::Redirect(to) => {
                let mut r = text(302, "");
                r.headers_mut().insert("location", to.parse().unwrap());
                r
            }
        }
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Start a simulator on an ephemeral loopback port.
pub async fn start<U: Upstream>(upstream: U) -> Sim<U> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let core = Arc::new(Core::default());
    *core.base.lock().unwrap() = url.clone();
    let upstream = Arc::new(upstream);
    let ep = SimEndpoint {
        core: core.clone(),
        upstream: upstream.clone(),
    };
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    let server = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor).run(ep).await;
    });
    Sim {
        core,
        upstream,
        url,
        server,
    }
}

/// A loopback URL where nothing listens (connection refused).
pub fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

pub fn json_response(status: u16, v: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(v.to_string())
}

pub fn ok(v: Value) -> Response {
    json_response(200, v)
}

pub fn text(status: u16, s: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("text/plain")
        .body(s.to_string())
}

pub fn video() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("video/mp4")
        .body(VIDEO)
}

/// The demo MP4 with its `mvhd` header saying `seconds` long: what a channel that made
/// another length than asked serves (the gateway measures it from that header).
pub fn video_lasting(seconds: u64) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("video/mp4")
        .body(video_lasting_bytes(seconds))
}

/// The bytes [`video_lasting`] serves.
pub fn video_lasting_bytes(seconds: u64) -> Vec<u8> {
    let mut data = VIDEO.to_vec();
    let at = data
        .windows(4)
        .position(|w| w == b"mvhd")
        .expect("the demo MP4 has an mvhd box")
        + 4;
    assert_eq!(data[at], 0, "a version 0 mvhd");
    let timescale = u32::from_be_bytes(data[at + 12..at + 16].try_into().unwrap());
    let duration = u32::try_from(seconds * u64::from(timescale)).expect("a short video");
    data[at + 16..at + 20].copy_from_slice(&duration.to_be_bytes());
    data
}

/// `json!` shortcut for error bodies of the OpenAI family (`{"error":{code,message,...}}`).
pub fn openai_error(code: &str, message: &str, kind: &str) -> Value {
    json!({"error": {"code": code, "message": message, "type": kind, "param": null}})
}

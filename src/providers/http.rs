//! The adapter kit: one HTTP client, the classification of every upstream outcome into
//! [`ProviderError`], JSON helpers, streamed downloads and bounded fetching of input assets.
//!
//! The rules, shared by every adapter so they cannot drift apart:
//! - nothing left our side (connect refused, DNS) → `Retryable`;
//! - the request was sent but no answer came (timeout, connection dropped) → `Ambiguous`
//!   when submitting (upstream may have created the task), `Retryable` otherwise;
//! - 429 → `Retryable` with `Retry-After`; 500/502/503 → `Retryable`; 504/408 while
//!   submitting → `Ambiguous` (a proxy gave up waiting: the task may exist);
//! - 401/402/403 and 404 on submit → `Channel` (credentials, balance, model access);
//! - other 4xx on submit → `Final` with the upstream's own code and message;
//! - any 4xx on a poll → `BadResponse` (one odd answer never ends a task);
//! - a body we cannot parse → `BadResponse`.
//!
//! Upstream messages are cleaned by [`public_message`] (no URLs, bounded length) before they
//! can reach a customer; raw bodies never do.

use super::{ByteStream, ProviderError, ProviderResult};
use crate::domain::catalog::ProviderConfig;
use crate::error::AppError;
use crate::outbound::{OutboundError, Policy, Timeouts, refusal};
use futures_util::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest JSON answer read from an upstream (bigger is a bad response, not a crash).
const MAX_REPLY_BYTES: usize = 4 * 1024 * 1024;
/// Longest `Retry-After` honoured; a larger value is capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);
/// Default per-call timeout for API calls (not downloads).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest upstream message kept for a customer-visible error.
const MAX_MESSAGE_CHARS: usize = 300;
/// Most redirects followed while mirroring a result.
const MAX_REDIRECTS: usize = 5;

/// Which call an outcome belongs to: the same HTTP status means different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Submit,
    Poll,
    Download,
    Test,
    /// Fetching an input asset to inline: a refused or broken asset is the request's fault.
    Asset,
}

/// Where our own uploads live, so adapters that must inline images (Veo, multipart
/// uploads) read them from disk instead of fetching them over HTTP.
#[derive(Debug, Clone, Default)]
pub struct LocalAssets {
    /// The public base URL (no trailing slash); `<public_url>/uploads/...` is ours.
    pub public_url: String,
    /// The data directory that holds `uploads/`.
    pub root: PathBuf,
    /// With object storage the uploads are in the bucket: read through the facade.
    pub storage: Option<crate::storage::Storage>,
}

/// Everything an adapter gets when it is built.
#[derive(Clone)]
pub struct Kit {
    /// The channel's guarded client (see [`crate::outbound`]): public addresses plus the
    /// channel's `allow_private_cidrs`, no proxy, no redirects.
    pub http: reqwest::Client,
    pub assets: LocalAssets,
    /// Per-call timeout for API calls (channel setting `timeout_ms` / `timeout_secs`).
    pub timeout: Duration,
    /// What the channel's requests may reach; literal addresses are checked against it
    /// before sending (the client's resolver checks names).
    pub policy: Arc<Policy>,
}

impl Kit {
    /// Each channel gets its own guarded client: its allow-list is part of the client's
    /// resolver. Redirects are followed by the kit itself, so credentials never follow a
    /// redirect to another host and every hop is checked again.
    pub fn new(cfg: &ProviderConfig, assets: LocalAssets) -> Result<Kit, AppError> {
        let policy = Policy::from_settings(&cfg.settings);
        let policy = policy.map_err(|m| AppError::invalid("settings.allow_private_cidrs", m))?;
        let policy = Arc::new(policy);
        let timeouts = Timeouts {
            connect: Duration::from_secs(10),
            total: None,
            read: Some(Duration::from_secs(120)),
        };
        let setting = |key| cfg.settings.get(key).and_then(Value::as_u64);
        let ms = setting("timeout_ms").map(Duration::from_millis);
        let timeout = ms.or(setting("timeout_secs").map(Duration::from_secs));
        Ok(Kit {
            http: crate::outbound::client(policy.clone(), timeouts),
            assets,
            timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            policy,
        })
    }

    /// Send through the channel's client after the guard's literal-address check.
    async fn execute(&self, req: RequestBuilder, stage: Stage) -> ProviderResult<Response> {
        let (client, req) = req.build_split();
        let req = req.map_err(|e| ProviderError::bad(format!("cannot build the request: {e}")))?;
        let checked = self.policy.check_url(req.url());
        checked.map_err(|e| guard_error(&e, stage))?;
        client.execute(req).await.map_err(|e| match refusal(&e) {
            Some(o) => guard_error(o, stage),
            None => network_error(&e, stage),
        })
    }

    /// Send an API call and read its (bounded) answer; network failures are classified.
    pub async fn send(&self, req: RequestBuilder, stage: Stage) -> ProviderResult<Reply> {
        let resp = self.execute(req.timeout(self.timeout), stage).await?;
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let too_big = || ProviderError::bad(format!("answer larger than {MAX_REPLY_BYTES} bytes"));
        let body = read_capped(resp, MAX_REPLY_BYTES as u64, stage, too_big).await?;
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Stream a finished video. `auth` headers are sent only to `same_host_as`'s host; a
    /// redirect elsewhere (a signed storage URL) is followed without them. Every hop is
    /// resolved and checked again by the guard (at most [`MAX_REDIRECTS`]); a hop to a
    /// refused address fails the download for good (`Final`: the task fails and refunds).
    pub async fn download(
        &self,
        url: &str,
        auth: &[(&str, String)],
        same_host_as: Option<&str>,
    ) -> ProviderResult<ByteStream> {
        let parse = |u: &str| reqwest::Url::parse(u).ok();
        let mut url =
            parse(url).ok_or_else(|| ProviderError::bad("the result URL is not valid"))?;
        let auth_host = same_host_as.and_then(parse);
        let auth_host = auth_host.as_ref().and_then(|u| u.host_str());
        for _ in 0..=MAX_REDIRECTS {
            let ours = auth_host.is_some() && url.host_str() == auth_host;
            let req = auth.iter().filter(|_| ours);
            let req = req.fold(self.http.get(url.clone()), |r, (k, v)| r.header(*k, v));
            let resp = self.execute(req, Stage::Download).await?;
            let status = resp.status().as_u16();
            if (300..400).contains(&status) {
                let next = resp.headers().get(reqwest::header::LOCATION);
                let next = next.and_then(|v| url.join(v.to_str().ok()?).ok());
                url = next.ok_or_else(|| ProviderError::bad("redirect without a location"))?;
                continue;
            }
            if status == 200 {
                let stream = resp.bytes_stream().map(|c| c.map_err(|e| e.to_string()));
                return Ok(Box::pin(stream));
            }
            let retry_after = retry_after(resp.headers());
            let gone = "the upstream result has expired or is gone";
            let refused = "the channel's credentials were refused for the download";
            return Err(match status {
                403 | 404 | 410 => ProviderError::final_error("result_unavailable", gone),
                401 => ProviderError::channel("upstream_auth", refused),
                429 => ProviderError::Retryable {
                    message: "rate limited on download".into(),
                    retry_after,
                },
                s => ProviderError::retryable(format!("download answered HTTP {s}")),
            });
        }
        Err(ProviderError::bad("too many redirects on download"))
    }

    /// Read an input asset (an image to inline) of at most `limit` bytes: our own uploads
    /// come from disk; anything else is fetched over HTTP unless it points at a private
    /// address. Errors here are the caller's (a bad asset): `Final`, except network trouble.
    pub async fn fetch_asset(&self, url: &str, limit: u64) -> ProviderResult<Asset> {
        let big = format!("an image is larger than the channel's {limit}-byte limit");
        let too_big = || bad_asset(big.clone());
        // Our own uploads: from the bucket with object storage, else from disk.
        if let Some(key) = self.local_key(url) {
            let gone = || bad_asset("an uploaded asset no longer exists");
            let unreadable = || bad_asset("an uploaded asset cannot be read");
            let bytes = match self.assets.storage.as_ref().filter(|s| s.s3().is_some()) {
                Some(storage) => match storage.read_small(&key, limit).await {
                    Ok(Some(b)) => b,
                    Ok(None) => return Err(gone()),
                    Err(AppError::PayloadTooLarge { .. }) => return Err(too_big()),
                    Err(_) => return Err(unreadable()),
                },
                None => {
                    let path = self.assets.root.join(&key);
                    let meta = tokio::fs::metadata(&path).await.map_err(|_| gone())?;
                    if meta.len() > limit {
                        return Err(too_big());
                    }
                    tokio::fs::read(&path).await.map_err(|_| unreadable())?
                }
            };
            let by_name = mime_guess::from_path(&key).first_or_octet_stream();
            return Ok(Asset::new(bytes, || by_name.to_string()));
        }
        let url = reqwest::Url::parse(url).map_err(|_| bad_asset(INVALID_ASSET))?;
        let req = self.http.get(url).timeout(self.timeout);
        let resp = self.execute(req, Stage::Asset).await?;
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            let msg = format!("asset fetch answered HTTP {status}");
            return Err(ProviderError::retryable(msg));
        } else if status != 200 {
            return Err(bad_asset(format!("an asset URL answered HTTP {status}")));
        }
        let declared = resp.headers().get(reqwest::header::CONTENT_TYPE);
        let declared = declared.and_then(|v| v.to_str().ok());
        let declared = declared.map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let bytes = read_capped(resp, limit, Stage::Asset, too_big).await?;
        let octets = || "application/octet-stream".to_string();
        Ok(Asset::new(bytes, || declared.unwrap_or_else(octets)))
    }

    /// `uploads/...` when `url` is one of our own uploads.
    fn local_key(&self, url: &str) -> Option<String> {
        let base = self.assets.public_url.trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        let rest = url.strip_prefix(base)?.strip_prefix('/')?;
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        let plain = |s: &str| !s.is_empty() && s != "." && s != "..";
        let safe = rest.starts_with("uploads/") && rest.split('/').all(plain);
        safe.then(|| rest.to_string())
    }
}

const INVALID_ASSET: &str = "an asset URL is not valid";

/// A bad input asset: the request's fault, so the task fails.
fn bad_asset(message: impl Into<String>) -> ProviderError {
    ProviderError::final_error("invalid_asset", message)
}

/// A body read in full; past `limit` bytes, the error `too_big` makes.
async fn read_capped(
    resp: Response,
    limit: u64,
    stage: Stage,
    too_big: impl Fn() -> ProviderError,
) -> ProviderResult<Vec<u8>> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| network_error(&e, stage))?;
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An input asset read into memory for inlining.
#[derive(Debug, Clone)]
pub struct Asset {
    pub bytes: Vec<u8>,
    pub mime: String,
}

impl Asset {
    /// The type the bytes show, else the `declared` one.
    fn new(bytes: Vec<u8>, declared: impl FnOnce() -> String) -> Asset {
        let mime = sniff_mime(&bytes).map_or_else(declared, str::to_string);
        Asset { bytes, mime }
    }

    pub fn base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&self.bytes)
    }
}

fn sniff_mime(b: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "image/png"),
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"GIF8", "image/gif"),
    ];
    if b.len() > 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    let known = MAGIC.iter().find(|(magic, _)| b.starts_with(magic));
    known.map(|(_, mime)| *mime)
}

/// An upstream answer, read in full (bounded).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or `BadResponse`.
    pub fn json<T: DeserializeOwned>(&self) -> ProviderResult<T> {
        let status = self.status;
        serde_json::from_slice(&self.body)
            .map_err(|e| ProviderError::bad(format!("HTTP {status} with an unreadable body ({e})")))
    }

    /// The body as a JSON value, or `Value::Null` when it is not JSON.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// Classify a non-2xx answer, given the code and message the adapter found in it.
    pub fn error(&self, stage: Stage, code: Option<String>, msg: Option<String>) -> ProviderError {
        let status = self.status;
        let code = code.unwrap_or_else(|| format!("http_{status}"));
        let msg = msg.unwrap_or_else(|| format!("upstream answered HTTP {status}"));
        classify(stage, status, code, msg, self.retry_after())
    }
}

/// `Retry-After` (seconds) or `retry-after-ms`, capped at ten minutes.
pub fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| h.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let ms = number("retry-after-ms").map(|ms| ms / 1000.0);
    let secs = ms.or_else(|| number("retry-after"))?;
    // Capped before converting: `inf` or a huge number must not overflow a Duration.
    let secs = secs.max(0.0).min(MAX_RETRY_AFTER.as_secs_f64());
    Some(Duration::from_secs_f64(secs))
}

/// The shared status table (see the module docs).
pub fn classify(
    stage: Stage,
    status: u16,
    code: String,
    message: String,
    retry_after: Option<Duration>,
) -> ProviderError {
    let message = public_message(&message);
    let code = public_code(&code);
    match status {
        429 => ProviderError::Retryable {
            message: format!("rate limited ({code}): {message}"),
            retry_after,
        },
        408 | 504 if stage == Stage::Submit => ProviderError::Ambiguous {
            message: format!("upstream timed out (HTTP {status})"),
        },
        500..=599 | 408 => ProviderError::Retryable {
            message: format!("upstream error HTTP {status} ({code}): {message}"),
            retry_after,
        },
        401..=403 => ProviderError::Channel { code, message },
        404 if stage != Stage::Poll => ProviderError::Channel { code, message },
        400..=499 if stage == Stage::Submit => ProviderError::Final { code, message },
        _ => ProviderError::bad(format!("HTTP {status} ({code}): {message}")),
    }
}

/// The guard refused a request. A channel address (API, test call) is the operator's to
/// fix (`Channel`); a result URL comes from upstream and fails the task (`Final`); a name
/// that does not resolve may be passing (`Retryable`); an input asset's URL is the
/// request's (`Final`).
fn guard_error(e: &OutboundError, stage: Stage) -> ProviderError {
    let result = "the result URL (or a redirect) points at a non-public address";
    let channel = "the channel's address is not public; admit it with settings.allow_private_cidrs";
    match (e, stage) {
        (e, Stage::Asset) => bad_asset(match e {
            OutboundError::Unresolvable(_) => "an asset URL's host cannot be resolved",
            OutboundError::Private(_) => "an asset URL points at a private address",
            OutboundError::Invalid(_) => INVALID_ASSET,
        }),
        (OutboundError::Unresolvable(_), _) => {
            ProviderError::retryable("cannot resolve the channel's host")
        }
        (_, Stage::Download) => ProviderError::final_error("result_refused", result),
        _ => ProviderError::channel("private_address", channel),
    }
}

/// A reqwest failure: before sending → retryable; after → ambiguous while submitting.
pub fn network_error(e: &reqwest::Error, stage: Stage) -> ProviderError {
    let message = if e.is_connect() {
        return ProviderError::retryable("cannot connect to the channel");
    } else if e.is_timeout() {
        "the channel did not answer in time"
    } else {
        "the connection to the channel broke"
    };
    match stage {
        Stage::Submit => ProviderError::Ambiguous {
            message: message.into(),
        },
        _ => ProviderError::retryable(message),
    }
}

/// An upstream message made safe for customers: URLs removed, whitespace collapsed,
/// length bounded.
pub fn public_message(s: &str) -> String {
    let words: Vec<String> = (s.split_whitespace())
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            match lower.find("http://").or_else(|| lower.find("https://")) {
                Some(pos) => format!("{}[link]", &word[..pos]),
                None => word.to_string(),
            }
        })
        .collect();
    let out = words.join(" ");
    match out.chars().count() > MAX_MESSAGE_CHARS {
        true => out.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…",
        false => out,
    }
}

/// An upstream error code made safe to show: identifier characters only, bounded.
pub fn public_code(s: &str) -> String {
    let allowed = |c: &char| c.is_ascii_alphanumeric() || "._-".contains(*c);
    let code: String = s.chars().filter(allowed).take(64).collect();
    match code.is_empty() {
        true => "upstream_error".into(),
        false => code,
    }
}

/// `base` + `path` with exactly one slash between them.
pub fn join(base: &str, path: &str) -> String {
    let (base, path) = (base.trim_end_matches('/'), path.trim_start_matches('/'));
    format!("{base}/{path}")
}

/// The value at a JSON path; numbers index lists (`["output", "0"]`).
pub fn value_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, p| match cur {
        Value::Array(items) => items.get(p.parse::<usize>().ok()?),
        other => other.get(p),
    })
}

/// A string at a JSON path, e.g. `str_at(&v, &["error", "code"])`; numbers are rendered.
pub fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    match value_at(v, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A short, stable hash of the end user's id (never sent in clear).
pub fn end_user_hash(id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(format!("videoapi-end-user:{id}").as_bytes())[..16])
}

/// Identifier-like upstream ids only: they end up in URL paths.
pub fn safe_id(id: &str) -> ProviderResult<&str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
    let ok = !id.is_empty() && id.len() <= 512 && !id.contains("..") && !id.starts_with('/');
    let ok = ok && id.chars().all(allowed);
    ok.then_some(id)
        .ok_or_else(|| ProviderError::bad("unexpected upstream task id"))
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;

    #[test]
    fn status_table_per_stage() {
        use ProviderError as E;
        let c = |stage, status| classify(stage, status, "c".into(), "m".into(), None);
        assert!(matches!(c(Stage::Submit, 429), E::Retryable { .. }));
        assert!(matches!(c(Stage::Submit, 503), E::Retryable { .. }));
        assert!(matches!(c(Stage::Submit, 504), E::Ambiguous { .. }));
        assert!(matches!(c(Stage::Poll, 504), E::Retryable { .. }));
        assert!(matches!(c(Stage::Submit, 401), E::Channel { .. }));
        assert!(matches!(c(Stage::Submit, 404), E::Channel { .. }));
        assert!(matches!(c(Stage::Submit, 400), E::Final { .. }));
        assert!(matches!(c(Stage::Poll, 400), E::BadResponse { .. }));
        assert!(matches!(c(Stage::Poll, 404), E::BadResponse { .. }));
        assert!(matches!(c(Stage::Poll, 401), E::Channel { .. }));
    }

    #[test]
    fn retry_after_reads_seconds_and_milliseconds() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = HeaderMap::new();
        h.insert("retry-after", "99999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert("retry-after", "inf".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER), "capped, not a panic");
    }

    #[test]
    fn public_messages_lose_urls_and_length() {
        assert_eq!(public_message("bad  image https://x.y/a?sig=1 (see http://docs)"), "bad image [link] (see [link]");
        assert!(public_message(&"x".repeat(1000)).chars().count() <= MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn codes_are_identifiers() {
        assert_eq!(public_code("InvalidParameter.Size"), "InvalidParameter.Size");
        assert_eq!(public_code("<b>oops</b> {\"x\"}"), "boopsbx");
        assert_eq!(public_code(""), "upstream_error");
        assert_eq!(public_code(&"a".repeat(100)).len(), 64);
    }

    #[test]
    fn upstream_ids_are_checked_before_they_reach_a_path() {
        assert!(safe_id("cgt-2025-abc").is_ok());
        assert!(safe_id("models/veo/operations/x1").is_ok());
        assert!(safe_id("../admin").is_err());
        assert!(safe_id("a b").is_err());
        assert!(safe_id("/etc").is_err());
    }

    #[test]
    fn own_uploads_are_recognised_and_cannot_escape() {
        let assets = LocalAssets { public_url: "https://gw.example".into(), root: "/data".into(), storage: None };
        let kit = Kit::new(&crate::providers::credentials::tests::channel("k", ""), assets).unwrap();
        assert_eq!(kit.local_key("https://gw.example/uploads/ab/x.png?v=1") .as_deref(), Some("uploads/ab/x.png"));
        assert_eq!(kit.local_key("https://gw.example/uploads/../videos/x.mp4"), None);
        assert_eq!(kit.local_key("https://gw.example.evil/uploads/x.png"), None);
        assert_eq!(kit.local_key("https://other/uploads/x.png"), None);
    }
}

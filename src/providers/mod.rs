//! Upstream adapters behind one trait, and the registry that builds them from settings.
//! The engine and services never name a provider kind.

pub mod credentials;
pub mod demo;
pub mod example;
pub mod fal;
pub mod generic;
pub mod health;
pub mod http;
pub mod input_mapping;
pub mod kinds;
pub mod kling;
pub mod limit;
pub mod luma;
pub mod mapping;
pub mod minimax;
pub mod openai_videos;
pub mod replicate;
pub mod runway;
pub mod seedance;
pub mod veo;
pub mod videoapi;
pub mod vidu;
pub mod wan;

use crate::domain::catalog::ProviderConfig;
use crate::domain::request::UnifiedRequest;
use crate::domain::task::ResultRef;
use crate::error::{AppError, AppResult};
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use kinds::{KINDS, KindSpec, kind};

pub type ByteStream = BoxStream<'static, Result<bytes::Bytes, String>>;
pub type ProviderResult<T> = Result<T, ProviderError>;

/// What a submission carries to an adapter.
pub struct SubmitJob<'a> {
    /// Our task id; adapters that support a client-side id send it so a retry cannot
    /// create a second upstream task.
    pub task_id: &'a str,
    pub upstream_model: &'a str,
    pub request: &'a UnifiedRequest,
    pub route_settings: &'a Value,
    /// Fingerprint of the channel credential to use (from [`Provider::credentials`]),
    /// recorded on the task before this call so every later call uses the same one.
    pub credential: Option<&'a str>,
    /// A per-task URL on this gateway that the provider may call when the task ends, for
    /// adapters whose API offers a completion callback. `None` when the gateway has no
    /// `public_url`; polling then finds the result. A callback only makes the engine poll
    /// at once, so what arrives is never trusted by itself.
    pub callback_url: Option<&'a str>,
}

pub struct PollJob<'a> {
    pub task_id: &'a str,
    pub upstream_id: &'a str,
    pub upstream_model: &'a str,
    pub route_settings: &'a Value,
    /// The credential the task was submitted with.
    pub credential: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    Queued,
    Running,
    Succeeded(Vec<ResultRef>),
    Failed { code: String, message: String },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Upstream certainly created nothing (refused, 429, 5xx before acceptance): safe to
    /// try again or try another route.
    #[error("retryable upstream error: {message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request may have reached upstream (connection dropped after sending): never
    /// resubmit it elsewhere.
    #[error("ambiguous upstream error: {message}")]
    Ambiguous { message: String },
    /// Upstream refused the request for good (content policy, invalid input).
    #[error("{code}: {message}")]
    Final { code: String, message: String },
    /// The channel itself refused (credentials, balance, model not enabled, unknown
    /// endpoint): nothing was created and the request is not at fault. Another route may
    /// serve it; with none left the task fails and is refunded. Counts against health.
    #[error("channel refused: {code}: {message}")]
    Channel { code: String, message: String },
    /// An answer we could not understand; polls retry it with backoff.
    #[error("unreadable upstream answer: {message}")]
    BadResponse { message: String },
}

impl ProviderError {
    pub fn final_error(code: impl Into<String>, message: impl Into<String>) -> Self {
        let (code, message) = (code.into(), message.into());
        Self::Final { code, message }
    }

    /// [`ProviderError::Retryable`] without a `Retry-After`.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable {
            message: message.into(),
            retry_after: None,
        }
    }

    /// An answer we could not understand (see [`ProviderError::BadResponse`]).
    pub fn bad(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadResponse { message }
    }

    pub fn channel(code: impl Into<String>, message: impl Into<String>) -> Self {
        let (code, message) = (code.into(), message.into());
        Self::Channel { code, message }
    }

    /// Whether this error says something about the channel's health (user errors don't).
    pub fn counts_against_health(&self) -> bool {
        !matches!(self, ProviderError::Final { .. })
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> &'static str;

    /// Whether `submit` passes `SubmitJob::callback_url` to the upstream, which then calls
    /// it when the task ends; the engine polls such tasks at a slower fallback cadence.
    fn completion_callback(&self) -> bool {
        false
    }

    /// True when resubmitting the same task id cannot create a second upstream task.
    fn idempotent_submit(&self) -> bool {
        false
    }

    /// Fingerprints of the channel's credentials (several keys on one channel); the
    /// engine picks one per task and records it. Empty when the channel has no key.
    fn credentials(&self) -> Vec<String> {
        Vec::new()
    }

    /// Refuse at create time (422) what this adapter cannot send upstream on this route.
    fn check_route(&self, _model: &str, _settings: &Value, _req: &UnifiedRequest) -> AppResult<()> {
        Ok(())
    }

    /// Check a route's settings when an operator saves the model (a mapping that cannot
    /// be read is refused then, not discovered by a customer).
    fn validate_route(&self, _model: &str, _settings: &Value) -> Result<(), String> {
        Ok(())
    }

    /// Send the task upstream; returns the upstream task id.
    async fn submit(&self, job: SubmitJob<'_>) -> ProviderResult<String>;

    async fn poll(&self, job: PollJob<'_>) -> ProviderResult<PollOutcome>;

    /// Open a finished video for mirroring.
    async fn download(&self, result: &ResultRef) -> ProviderResult<ByteStream>;

    /// Ask upstream to stop a task we gave up on (its deadline passed), so it is not
    /// generated and paid for in vain. Best effort: the default does nothing.
    async fn cancel(&self, _job: PollJob<'_>) -> ProviderResult<()> {
        Ok(())
    }

    /// A free call that proves the credentials work, where the upstream has one.
    async fn test_connection(&self) -> ProviderResult<String> {
        Err(no_test_call())
    }
}

fn no_test_call() -> ProviderError {
    ProviderError::final_error("unsupported", "this provider has no free test call")
}

/// Builds adapters from stored channel settings and keeps them by channel name.
#[derive(Default)]
pub struct Registry {
    inner: RwLock<HashMap<String, Arc<dyn Provider>>>,
    limits: RwLock<HashMap<String, Arc<limit::Limiter>>>,
    pub health: health::Health,
    demo_delay: Duration,
    assets: http::LocalAssets,
}

impl Registry {
    pub fn new(demo_delay: Duration) -> Registry {
        Registry {
            demo_delay,
            ..Registry::default()
        }
    }

    /// Where our own uploads live (adapters that inline images read them from disk).
    pub fn with_local_assets(mut self, assets: http::LocalAssets) -> Registry {
        self.assets = assets;
        self
    }

    /// Build the adapter a channel's settings describe.
    pub fn build(&self, cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, AppError> {
        let spec = kind(&cfg.kind).ok_or_else(|| {
            let (given, known) = (&cfg.kind, Self::kinds().join(", "));
            let msg = format!("unknown provider kind `{given}`; known kinds: {known}");
            AppError::invalid("kind", msg)
        })?;
        (spec.build)(self, cfg)
    }

    /// Replace the adapter for a channel (after a create or an edit), or drop a disabled one.
    pub fn install(&self, cfg: &ProviderConfig) -> Result<(), AppError> {
        let adapter = self.build(cfg)?;
        let mut map = self.inner.write().expect("registry lock");
        let mut limits = self.limits.write().expect("registry lock");
        if cfg.enabled {
            map.insert(cfg.name.clone(), adapter);
            // Keep the live limiter (and its in-flight slots) unless its settings changed.
            let fresh = limit::Limiter::from_config(cfg);
            let live = limits.get(&cfg.name);
            if live.is_none_or(|l| l.params != fresh.params) {
                limits.insert(cfg.name.clone(), Arc::new(fresh));
            }
        } else {
            map.remove(&cfg.name);
            limits.remove(&cfg.name);
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Provider>> {
        self.inner.read().expect("registry lock").get(name).cloned()
    }

    /// The channel's pacing (a permissive default for a channel not installed).
    pub fn limiter(&self, name: &str) -> Arc<limit::Limiter> {
        if let Some(l) = self.limits.read().expect("registry lock").get(name) {
            return l.clone();
        }
        let permissive = || Arc::new(limit::Limiter::new(16, None));
        let mut limits = self.limits.write().expect("registry lock");
        let limiter = limits.entry(name.to_string()).or_insert_with(permissive);
        limiter.clone()
    }

    /// How long a connection test may take before it counts as no answer.
    pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

    /// The operator's "test connection": build the adapter from `cfg` (saved or not,
    /// enabled or not) and make its free call, bounded in time. Errors carry no secrets.
    pub async fn test_channel(&self, cfg: &ProviderConfig) -> ProviderResult<String> {
        let adapter = self.build(cfg);
        let adapter =
            adapter.map_err(|e| ProviderError::channel("invalid_settings", e.to_string()))?;
        let answer = tokio::time::timeout(Self::TEST_TIMEOUT, adapter.test_connection()).await;
        answer.unwrap_or_else(|_| {
            let secs = Self::TEST_TIMEOUT.as_secs();
            let msg = format!("the channel did not answer within {secs} seconds");
            Err(ProviderError::retryable(msg))
        })
    }

    /// Every kind this build can talk to, in the order of [`KINDS`].
    pub fn kinds() -> Vec<&'static str> {
        KINDS.iter().map(|k| k.kind).collect()
    }
}

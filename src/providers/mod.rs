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
use crate::error::AppError;
use async_trait::async_trait;
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use kinds::{KINDS, KindSpec, kind};

pub type ByteStream = BoxStream<'static, Result<bytes::Bytes, String>>;

/// What a submission carries to an adapter.
pub struct SubmitJob<'a> {
    /// Our task id; adapters that support a client-side id send it so a retry cannot
    /// create a second upstream task.
    pub task_id: &'a str,
    pub upstream_model: &'a str,
    pub request: &'a UnifiedRequest,
    pub route_settings: &'a serde_json::Value,
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
    pub route_settings: &'a serde_json::Value,
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
        Self::Final {
            code: code.into(),
            message: message.into(),
        }
    }

    /// An answer we could not understand (see [`ProviderError::BadResponse`]).
    pub fn bad(message: impl Into<String>) -> Self {
        Self::BadResponse {
            message: message.into(),
        }
    }

    pub fn channel(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Channel {
            code: code.into(),
            message: message.into(),
        }
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
    fn check_route(
        &self,
        _upstream_model: &str,
        _route_settings: &serde_json::Value,
        _request: &UnifiedRequest,
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// Check a route's settings when an operator saves the model (a mapping that cannot
    /// be read is refused then, not discovered by a customer).
    fn validate_route(
        &self,
        _upstream_model: &str,
        _route_settings: &serde_json::Value,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Send the task upstream; returns the upstream task id.
    async fn submit(&self, job: SubmitJob<'_>) -> Result<String, ProviderError>;

    async fn poll(&self, job: PollJob<'_>) -> Result<PollOutcome, ProviderError>;

    /// Open a finished video for mirroring.
    async fn download(&self, result: &ResultRef) -> Result<ByteStream, ProviderError>;

    /// Ask upstream to stop a task we gave up on (its deadline passed), so it is not
    /// generated and paid for in vain. Best effort: the default does nothing.
    async fn cancel(&self, _job: PollJob<'_>) -> Result<(), ProviderError> {
        Ok(())
    }

    /// A free call that proves the credentials work, where the upstream has one.
    async fn test_connection(&self) -> Result<String, ProviderError> {
        Err(ProviderError::final_error(
            "unsupported",
            "this provider has no free test call",
        ))
    }
}

/// Builds adapters from stored channel settings and keeps them by channel name.
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
            inner: RwLock::new(HashMap::new()),
            limits: RwLock::new(HashMap::new()),
            health: health::Health::default(),
            demo_delay,
            assets: http::LocalAssets::default(),
        }
    }

    /// Where our own uploads live (adapters that inline images read them from disk).
    pub fn with_local_assets(mut self, assets: http::LocalAssets) -> Registry {
        self.assets = assets;
        self
    }

    /// Build the adapter a channel's settings describe.
    pub fn build(&self, cfg: &ProviderConfig) -> Result<Arc<dyn Provider>, AppError> {
        match kind(&cfg.kind) {
            Some(spec) => (spec.build)(self, cfg),
            None => Err(AppError::invalid(
                "kind",
                format!(
                    "unknown provider kind `{}`; known kinds: {}",
                    cfg.kind,
                    Self::kinds().join(", ")
                ),
            )),
        }
    }

    /// Each channel gets its own guarded client: its allow-list is part of the client's
    /// resolver. Redirects are followed by the kit itself, so credentials never follow a
    /// redirect to another host and every hop is checked again.
    pub(super) fn kit(&self, cfg: &ProviderConfig) -> Result<http::Kit, AppError> {
        let policy = crate::outbound::Policy::from_settings(&cfg.settings)
            .map_err(|m| AppError::invalid("settings.allow_private_cidrs", m))?;
        let policy = Arc::new(policy);
        let client = crate::outbound::client(
            policy.clone(),
            crate::outbound::Timeouts {
                connect: Duration::from_secs(10),
                total: None,
                read: Some(Duration::from_secs(120)),
            },
        );
        Ok(http::Kit::new(client, policy, self.assets.clone(), cfg))
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
            if limits
                .get(&cfg.name)
                .is_none_or(|l| l.params != fresh.params)
            {
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
        self.limits
            .write()
            .expect("registry lock")
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(limit::Limiter::new(16, None)))
            .clone()
    }

    /// How long a connection test may take before it counts as no answer.
    pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

    /// The operator's "test connection": build the adapter from `cfg` (saved or not,
    /// enabled or not) and make its free call, bounded in time. Errors carry no secrets.
    pub async fn test_channel(&self, cfg: &ProviderConfig) -> Result<String, ProviderError> {
        let adapter = self.build(cfg).map_err(|e| ProviderError::Channel {
            code: "invalid_settings".into(),
            message: e.to_string(),
        })?;
        match tokio::time::timeout(Self::TEST_TIMEOUT, adapter.test_connection()).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::Retryable {
                message: format!(
                    "the channel did not answer within {} seconds",
                    Self::TEST_TIMEOUT.as_secs()
                ),
                retry_after: None,
            }),
        }
    }

    /// Every kind this build can talk to, in the order of [`KINDS`].
    pub fn kinds() -> Vec<&'static str> {
        KINDS.iter().map(|k| k.kind).collect()
    }
}

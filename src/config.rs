//! One `Config`: embedded defaults < TOML file (`--config`) < `VIDEOAPI_*` env < flags.

use crate::domain::catalog::{Model, PricingGroup, ProviderConfig};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    /// `listen` · `VIDEOAPI_LISTEN` · `--listen` · default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// `data_dir` · `VIDEOAPI_DATA_DIR` · `--data-dir` · default `./data`.
    pub data_dir: PathBuf,
    /// `public_url` · `VIDEOAPI_PUBLIC_URL` · `--public-url` · default `http://<listen>`.
    /// Base of every upload and video URL handed to callers and upstreams.
    pub public_url: String,
    /// `max_upload_mb` · `VIDEOAPI_MAX_UPLOAD_MB` · default 100 (per file).
    pub max_upload_bytes: u64,
    /// `max_result_mb` · `VIDEOAPI_MAX_RESULT_MB` · default 2048 (per mirrored video).
    pub max_result_bytes: u64,
    /// `[retention] uploads`, `videos` (`VIDEOAPI_RETENTION_UPLOADS`,
    /// `VIDEOAPI_RETENTION_VIDEOS`; `30s`, `12h`, `7d`, `0` = forever; defaults 7d and 30d)
    /// and `[retention.models]` (public model id = period): how long stored files live.
    pub retention: crate::domain::media::Retention,
    /// `[quotas] storage_mb`, `storage_files` (`VIDEOAPI_QUOTA_STORAGE_MB`,
    /// `VIDEOAPI_QUOTA_STORAGE_FILES`; defaults 1024 and 1000, 0 = unlimited) and
    /// `[quotas.groups.<pricing group>]` with the same keys: uploads each account may keep.
    pub quotas: crate::domain::media::Quotas,
    /// `[storage] min_free_mb` · `VIDEOAPI_STORAGE_MIN_FREE_MB` · default 1024: below
    /// this much free disk, uploads answer 507 and mirroring waits.
    pub min_free_bytes: u64,
    /// `[storage] critical_free_mb` · `VIDEOAPI_STORAGE_CRITICAL_FREE_MB` · default 256:
    /// below this, the janitor also removes the files that expire soonest.
    pub critical_free_bytes: u64,
    /// `[storage] backend` · `VIDEOAPI_STORAGE_BACKEND` · default `local`: where media
    /// lives. `s3` takes `bucket`, `region`, `endpoint`, `path_style`, `access_key_id`,
    /// `secret_access_key` (each secret also `*_file`), `prefix`, `serve` (`redirect` or
    /// `proxy`) and `presign_seconds`, each also `VIDEOAPI_STORAGE_<KEY>`.
    pub storage_backend: crate::storage::s3::BackendChoice,
    /// Not a setting: how free space is measured (tests inject a fixed figure).
    pub free_space_probe: crate::storage::guard::SharedProbe,
    /// Not a setting: whether the janitor runs on its own timer (measurements drive its
    /// passes themselves).
    pub janitor_timer: bool,
    /// `task_deadline_secs` · `VIDEOAPI_TASK_DEADLINE_SECS` · default 3600.
    pub task_deadline_secs: u64,
    /// `header_read_timeout_secs` · `VIDEOAPI_HEADER_READ_TIMEOUT_SECS` · default 10:
    /// a request head must arrive this long after the connection (or its previous
    /// response); trickled bytes do not extend it.
    pub header_read_timeout_secs: u64,
    /// `body_read_timeout_secs` · `VIDEOAPI_BODY_READ_TIMEOUT_SECS` · default 30:
    /// longest pause between two reads of a request body.
    pub body_read_timeout_secs: u64,
    /// `keep_alive_timeout_secs` · `VIDEOAPI_KEEP_ALIVE_TIMEOUT_SECS` · default 60:
    /// how long an idle kept-alive connection waits for its next request.
    pub keep_alive_timeout_secs: u64,
    /// `max_connections` · `VIDEOAPI_MAX_CONNECTIONS` · default 0 = 4096, or fewer when
    /// the descriptor limit is low. Further clients wait in the listen backlog.
    pub max_connections: usize,
    /// `demo` · `VIDEOAPI_DEMO` · default true: the demo provider and catalog.
    pub demo: bool,
    /// `demo_delay_ms` · `VIDEOAPI_DEMO_DELAY_MS` · default 3000.
    pub demo_delay_ms: u64,
    /// `poll_interval_ms` · `VIDEOAPI_POLL_INTERVAL_MS`: overrides every model's poll
    /// interval inside the engine (tests, local demos). Unset = the model's own.
    pub poll_interval_ms: Option<u64>,
    /// `VIDEOAPI_ADMIN_PASSWORD` or `VIDEOAPI_ADMIN_PASSWORD_FILE`: the first admin's
    /// password; generated and printed once when unset.
    pub admin_password: Option<String>,
    /// `metrics_token` · `VIDEOAPI_METRICS_TOKEN`: Bearer token for `/metrics` from
    /// non-loopback clients; without it `/metrics` answers loopback only.
    pub metrics_token: Option<String>,
    /// `trusted_proxies` · `VIDEOAPI_TRUSTED_PROXIES` (comma-separated) · default none:
    /// CIDR ranges of reverse proxies whose `X-Forwarded-For` / `Forwarded` give the
    /// client address. From any other peer those headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `allow_private_callbacks` · `VIDEOAPI_ALLOW_PRIVATE_CALLBACKS` · default false:
    /// whether `callback_url` may point at loopback/private networks.
    pub allow_private_callbacks: bool,
    /// `strict_request_fields` · `VIDEOAPI_STRICT_REQUEST_FIELDS` · default true: an
    /// unknown field in a public JSON body is a 422 `unknown_field` (a typo would otherwise
    /// be ignored and billed at the default); false ignores extra fields.
    pub strict_request_fields: bool,
    /// `limits_time_zone` · `VIDEOAPI_LIMITS_TIME_ZONE` · default `UTC`: the IANA time zone
    /// in which daily and monthly API-key and account budgets reset (at midnight).
    pub limits_time_zone: String,
    /// `log_format`: `auto` (plain under systemd or without a terminal), `pretty`, `plain`.
    pub log_format: String,
    /// Providers, models and pricing groups declared in the TOML file, applied at start-up.
    pub providers: Vec<ProviderConfig>,
    pub models: Vec<Model>,
    pub pricing_groups: Vec<PricingGroup>,
    /// `registration` · `VIDEOAPI_REGISTRATION` · default `closed`: whether visitors may
    /// create accounts (`closed`, `invite` = with an operator's invite code, `open`).
    /// The operator console can change it later (stored in the database, which then wins).
    pub registration: crate::domain::signup::Registration,
    /// `signup_credits` · `VIDEOAPI_SIGNUP_CREDITS` · default 0: credits a self-registered
    /// account starts with (a `signup_bonus` ledger entry). Console-editable too.
    pub signup_credits: i64,
    /// `signup_pricing_group` · `VIDEOAPI_SIGNUP_PRICING_GROUP` · default none (list
    /// prices): the pricing group of self-registered accounts. Console-editable too.
    pub signup_pricing_group: Option<String>,
    /// `email_verification` · `VIDEOAPI_EMAIL_VERIFICATION` · default false: sign-up needs
    /// an email address and the account can log in only after opening the emailed link.
    /// Needs `[smtp]`. Console-editable too.
    pub email_verification: bool,
    /// `[smtp]`: outgoing mail (verification, password resets). Without it there is no
    /// email at all.
    pub smtp: Option<SmtpConfig>,
    /// `[payments.stripe]`: online top-up through Stripe Checkout.
    pub stripe: Option<StripeConfig>,
    /// Not a setting: the wall clock the server reads. Tests put a
    /// [`crate::clock::ManualClock`] here to move time instead of waiting.
    pub clock: crate::clock::SharedClock,
}

impl Default for Config {
    fn default() -> Self {
        let listen: SocketAddr = "127.0.0.1:8080".parse().expect("valid default");
        Self {
            listen,
            data_dir: PathBuf::from("data"),
            public_url: String::new(),
            max_upload_bytes: 100 * MB,
            max_result_bytes: 2048 * MB,
            retention: Default::default(),
            quotas: Default::default(),
            min_free_bytes: 1024 * MB,
            critical_free_bytes: 256 * MB,
            free_space_probe: Default::default(),
            storage_backend: Default::default(),
            janitor_timer: true,
            task_deadline_secs: 3600,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            keep_alive_timeout_secs: 60,
            max_connections: 0,
            demo: true,
            demo_delay_ms: 3000,
            poll_interval_ms: None,
            admin_password: None,
            metrics_token: None,
            trusted_proxies: Vec::new(),
            allow_private_callbacks: false,
            strict_request_fields: true,
            limits_time_zone: "UTC".into(),
            log_format: "auto".into(),
            providers: Vec::new(),
            models: Vec::new(),
            pricing_groups: Vec::new(),
            clock: crate::clock::SharedClock::system(),
            registration: crate::domain::signup::Registration::Closed,
            signup_credits: 0,
            signup_pricing_group: None,
            email_verification: false,
            smtp: None,
            stripe: None,
        }
    }
}

const MB: u64 = 1024 * 1024;

/// `[smtp]`: where outgoing mail goes. `password_file` (or `VIDEOAPI_SMTP_PASSWORD(_FILE)`)
/// keeps the password out of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 587 (STARTTLS), 465 with `security = "tls"`.
    #[serde(default)]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS, port 465) or `none` (plain text: only
    /// for a relay on the same host).
    #[serde(default = "default_smtp_security")]
    pub security: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The sender, e.g. `VideoApi <noreply@example.com>`.
    pub from: String,
}

fn default_smtp_security() -> String {
    "starttls".into()
}

/// `[payments.stripe]`: Stripe Checkout for online top-ups. Amounts are in the currency's
/// smallest unit (cents for USD).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// `sk_live_...` / `sk_test_...`; or `secret_key_file`, or
    /// `VIDEOAPI_STRIPE_SECRET_KEY(_FILE)`.
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// `whsec_...` from the webhook endpoint; or `webhook_secret_file`, or
    /// `VIDEOAPI_STRIPE_WEBHOOK_SECRET(_FILE)`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
    #[serde(default)]
    pub webhook_secret_file: Option<PathBuf>,
    /// Stripe's API address; tests point it at a simulator.
    #[serde(default = "default_stripe_api_base")]
    pub api_base: String,
    /// Lower-case ISO code, default `usd`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Fixed offers: `[{ credits = 1000, amount = 500 }]` (500 = $5.00).
    #[serde(default)]
    pub packages: Vec<crate::domain::payments::Package>,
    /// A free amount: credits per smallest currency unit (e.g. 2 = 200 credits per $1).
    #[serde(default)]
    pub credits_per_unit: Option<i64>,
    /// Bounds of a free amount, in the smallest unit (default 100 and 100000).
    #[serde(default)]
    pub min_amount: Option<i64>,
    #[serde(default)]
    pub max_amount: Option<i64>,
    /// CIDRs the Stripe client may reach besides public addresses (tests: loopback).
    #[serde(default)]
    pub allow_private_cidrs: Vec<String>,
}

fn default_stripe_api_base() -> String {
    "https://api.stripe.com".into()
}

fn default_currency() -> String {
    "usd".into()
}

/// `[payments]`: one table per processor.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentsFile {
    stripe: Option<StripeConfig>,
}

/// The TOML file's shape; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
    max_upload_mb: Option<u64>,
    max_result_mb: Option<u64>,
    task_deadline_secs: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    body_read_timeout_secs: Option<u64>,
    keep_alive_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    demo: Option<bool>,
    demo_delay_ms: Option<u64>,
    poll_interval_ms: Option<u64>,
    admin_password_file: Option<PathBuf>,
    metrics_token: Option<String>,
    trusted_proxies: Option<Vec<String>>,
    allow_private_callbacks: Option<bool>,
    strict_request_fields: Option<bool>,
    limits_time_zone: Option<String>,
    log_format: Option<String>,
    #[serde(default)]
    providers: Vec<ProviderConfig>,
    #[serde(default)]
    models: Vec<Model>,
    #[serde(default)]
    pricing_groups: Vec<PricingGroup>,
    retention: Option<RetentionFile>,
    quotas: Option<QuotasFile>,
    storage: Option<StorageFile>,
    registration: Option<String>,
    signup_credits: Option<i64>,
    signup_pricing_group: Option<String>,
    email_verification: Option<bool>,
    smtp: Option<SmtpConfig>,
    payments: Option<PaymentsFile>,
}

/// `[retention]`: periods as `7d`, `12h`, `30s` or `0` (forever).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    uploads: Option<String>,
    videos: Option<String>,
    #[serde(default)]
    models: std::collections::BTreeMap<String, String>,
}

/// `[quotas]` and `[quotas.groups.<name>]`; 0 = unlimited.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotasFile {
    storage_mb: Option<u64>,
    storage_files: Option<u64>,
    #[serde(default)]
    groups: std::collections::BTreeMap<String, QuotaFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaFile {
    storage_mb: Option<u64>,
    storage_files: Option<u64>,
}

/// `[storage]`: where media lives and how much disk must stay free.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    min_free_mb: Option<u64>,
    critical_free_mb: Option<u64>,
    backend: Option<String>,
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    path_style: Option<bool>,
    access_key_id: Option<String>,
    access_key_id_file: Option<PathBuf>,
    secret_access_key: Option<String>,
    secret_access_key_file: Option<PathBuf>,
    prefix: Option<String>,
    serve: Option<String>,
    presign_seconds: Option<u64>,
}

fn period(name: &str, v: &str) -> anyhow::Result<Option<i64>> {
    crate::domain::media::parse_period(v).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// 0 means no limit.
fn limit(v: u64, unit: u64) -> Option<u64> {
    (v > 0).then(|| v.saturating_mul(unit))
}

/// Values from flags (which clap also fills from `VIDEOAPI_*` env), highest precedence.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub public_url: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> anyhow::Result<Option<T>> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| anyhow::anyhow!("{name}={v} is not a valid value")),
    }
}

fn read_secret_file(path: &Path) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

impl Config {
    /// Build the configuration from every layer, then validate it.
    pub fn load(o: &Overrides) -> anyhow::Result<Config> {
        let mut c = Config::default();
        let mut admin_file = None;
        let mut backend = crate::storage::s3::BackendOptions::default();
        if let Some(path) = &o.config {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", path.display()))?;
            let f: FileConfig = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("invalid config {}: {e}", path.display()))?;
            if let Some(v) = f.listen {
                c.listen = parse_listen(&v)?;
            }
            if let Some(v) = f.data_dir {
                c.data_dir = v;
            }
            if let Some(v) = f.public_url {
                c.public_url = v;
            }
            if let Some(v) = f.max_upload_mb {
                c.max_upload_bytes = v * MB;
            }
            if let Some(v) = f.max_result_mb {
                c.max_result_bytes = v * MB;
            }
            if let Some(v) = f.task_deadline_secs {
                c.task_deadline_secs = v;
            }
            if let Some(v) = f.header_read_timeout_secs {
                c.header_read_timeout_secs = v;
            }
            if let Some(v) = f.body_read_timeout_secs {
                c.body_read_timeout_secs = v;
            }
            if let Some(v) = f.keep_alive_timeout_secs {
                c.keep_alive_timeout_secs = v;
            }
            if let Some(v) = f.max_connections {
                c.max_connections = v;
            }
            if let Some(v) = f.demo {
                c.demo = v;
            }
            if let Some(v) = f.demo_delay_ms {
                c.demo_delay_ms = v;
            }
            c.poll_interval_ms = f.poll_interval_ms.or(c.poll_interval_ms);
            if let Some(v) = f.log_format {
                c.log_format = v;
            }
            admin_file = f.admin_password_file;
            c.metrics_token = f.metrics_token;
            if let Some(v) = f.trusted_proxies {
                c.trusted_proxies = parse_proxies(v.iter().map(String::as_str))?;
            }
            if let Some(v) = f.allow_private_callbacks {
                c.allow_private_callbacks = v;
            }
            if let Some(v) = f.strict_request_fields {
                c.strict_request_fields = v;
            }
            if let Some(v) = f.limits_time_zone {
                c.limits_time_zone = v;
            }
            c.providers = f.providers;
            c.models = f.models;
            c.pricing_groups = f.pricing_groups;
            if let Some(r) = f.retention {
                if let Some(v) = r.uploads {
                    c.retention.uploads_ms = period("retention.uploads", &v)?;
                }
                if let Some(v) = r.videos {
                    c.retention.videos_ms = period("retention.videos", &v)?;
                }
                for (model, v) in r.models {
                    let ttl = period(&format!("retention.models.{model}"), &v)?;
                    c.retention.models.insert(model, ttl);
                }
            }
            if let Some(q) = f.quotas {
                if let Some(v) = q.storage_mb {
                    c.quotas.default.bytes = limit(v, MB);
                }
                if let Some(v) = q.storage_files {
                    c.quotas.default.files = limit(v, 1);
                }
                for (group, g) in q.groups {
                    let quota = crate::domain::media::Quota {
                        bytes: g
                            .storage_mb
                            .map_or(c.quotas.default.bytes, |v| limit(v, MB)),
                        files: g
                            .storage_files
                            .map_or(c.quotas.default.files, |v| limit(v, 1)),
                    };
                    c.quotas.groups.insert(group, quota);
                }
            }
            if let Some(st) = f.storage {
                if let Some(v) = st.min_free_mb {
                    c.min_free_bytes = v * MB;
                }
                if let Some(v) = st.critical_free_mb {
                    c.critical_free_bytes = v * MB;
                }
                backend = crate::storage::s3::BackendOptions {
                    backend: st.backend,
                    bucket: st.bucket,
                    region: st.region,
                    endpoint: st.endpoint,
                    path_style: st.path_style,
                    access_key_id: st.access_key_id,
                    access_key_id_file: st.access_key_id_file,
                    secret_access_key: st.secret_access_key,
                    secret_access_key_file: st.secret_access_key_file,
                    prefix: st.prefix,
                    serve: st.serve,
                    presign_seconds: st.presign_seconds,
                };
            }
            if let Some(v) = f.registration {
                c.registration = v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("registration: {e}"))?;
            }
            if let Some(v) = f.signup_credits {
                c.signup_credits = v;
            }
            c.signup_pricing_group = f.signup_pricing_group.or(c.signup_pricing_group);
            if let Some(v) = f.email_verification {
                c.email_verification = v;
            }
            c.smtp = f.smtp;
            c.stripe = f.payments.and_then(|p| p.stripe);
        }
        load_money_env(&mut c)?;
        // Environment (VIDEOAPI_LISTEN/DATA_DIR/PUBLIC_URL arrive through clap as flags).
        if let Some(v) = env_parse::<u64>("VIDEOAPI_MAX_UPLOAD_MB")? {
            c.max_upload_bytes = v * MB;
        }
        if let Some(v) = env_parse::<u64>("VIDEOAPI_MAX_RESULT_MB")? {
            c.max_result_bytes = v * MB;
        }
        if let Some(v) = env("VIDEOAPI_RETENTION_UPLOADS") {
            c.retention.uploads_ms = period("VIDEOAPI_RETENTION_UPLOADS", &v)?;
        }
        if let Some(v) = env("VIDEOAPI_RETENTION_VIDEOS") {
            c.retention.videos_ms = period("VIDEOAPI_RETENTION_VIDEOS", &v)?;
        }
        if let Some(v) = env_parse::<u64>("VIDEOAPI_QUOTA_STORAGE_MB")? {
            c.quotas.default.bytes = limit(v, MB);
        }
        if let Some(v) = env_parse::<u64>("VIDEOAPI_QUOTA_STORAGE_FILES")? {
            c.quotas.default.files = limit(v, 1);
        }
        if let Some(v) = env_parse::<u64>("VIDEOAPI_STORAGE_MIN_FREE_MB")? {
            c.min_free_bytes = v * MB;
        }
        if let Some(v) = env_parse::<u64>("VIDEOAPI_STORAGE_CRITICAL_FREE_MB")? {
            c.critical_free_bytes = v * MB;
        }
        backend.apply_env()?;
        c.storage_backend = backend.resolve()?;
        if let Some(v) = env_parse("VIDEOAPI_TASK_DEADLINE_SECS")? {
            c.task_deadline_secs = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_HEADER_READ_TIMEOUT_SECS")? {
            c.header_read_timeout_secs = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_BODY_READ_TIMEOUT_SECS")? {
            c.body_read_timeout_secs = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_KEEP_ALIVE_TIMEOUT_SECS")? {
            c.keep_alive_timeout_secs = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_MAX_CONNECTIONS")? {
            c.max_connections = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_DEMO")? {
            c.demo = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_DEMO_DELAY_MS")? {
            c.demo_delay_ms = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_POLL_INTERVAL_MS")? {
            c.poll_interval_ms = Some(v);
        }
        if let Some(v) = env_parse("VIDEOAPI_ALLOW_PRIVATE_CALLBACKS")? {
            c.allow_private_callbacks = v;
        }
        if let Some(v) = env_parse("VIDEOAPI_STRICT_REQUEST_FIELDS")? {
            c.strict_request_fields = v;
        }
        if let Some(v) = env("VIDEOAPI_METRICS_TOKEN") {
            c.metrics_token = Some(v);
        }
        if let Some(v) = env("VIDEOAPI_TRUSTED_PROXIES") {
            c.trusted_proxies = parse_proxies(v.split(',').filter(|s| !s.trim().is_empty()))
                .map_err(|e| anyhow::anyhow!("VIDEOAPI_TRUSTED_PROXIES: {e}"))?;
        }
        if let Some(v) = env("VIDEOAPI_LIMITS_TIME_ZONE") {
            c.limits_time_zone = v;
        }
        if let Some(v) = env("VIDEOAPI_LOG_FORMAT") {
            c.log_format = v;
        }
        if let Some(p) = env("VIDEOAPI_ADMIN_PASSWORD_FILE") {
            admin_file = Some(PathBuf::from(p));
        }
        c.admin_password = match (env("VIDEOAPI_ADMIN_PASSWORD"), admin_file) {
            (Some(p), _) => Some(p),
            (None, Some(f)) => Some(read_secret_file(&f)?),
            (None, None) => None,
        };
        // Flags (and their env equivalents through clap).
        if let Some(v) = &o.listen {
            c.listen = parse_listen(v)?;
        }
        if let Some(v) = &o.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = &o.public_url {
            c.public_url = v.clone();
        }
        c.validate()?;
        Ok(c)
    }

    /// Reject values that would only fail later, and fill derived defaults.
    pub fn validate(&mut self) -> anyhow::Result<()> {
        if self.public_url.trim().is_empty() {
            self.public_url = format!("http://{}", self.listen);
        }
        self.public_url = self.public_url.trim().trim_end_matches('/').to_string();
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            anyhow::bail!(
                "public_url must start with http:// or https:// (got {})",
                self.public_url
            );
        }
        if self.max_upload_bytes == 0 {
            anyhow::bail!("max_upload_mb must be at least 1");
        }
        if self.critical_free_bytes > self.min_free_bytes {
            anyhow::bail!("storage.critical_free_mb must not be above storage.min_free_mb");
        }
        if self.task_deadline_secs == 0 {
            anyhow::bail!("task_deadline_secs must be at least 1");
        }
        for (name, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("keep_alive_timeout_secs", self.keep_alive_timeout_secs),
        ] {
            if v == 0 {
                anyhow::bail!("{name} must be at least 1");
            }
        }
        crate::domain::limits::time_zone(&self.limits_time_zone)
            .map_err(|e| anyhow::anyhow!("limits_time_zone: {e}"))?;
        if !matches!(self.log_format.as_str(), "auto" | "pretty" | "plain") {
            anyhow::bail!("log_format must be auto, pretty or plain");
        }
        for m in &self.models {
            if m.id.trim().is_empty() {
                anyhow::bail!("a model in the config has an empty id");
            }
            // A matrix that leaves something the model accepts unpriced stops the start.
            crate::domain::pricing::validate(m)
                .map_err(|e| anyhow::anyhow!("price of model `{}`: {e}", m.id))?;
        }
        if self.signup_credits < 0 {
            anyhow::bail!("signup_credits cannot be negative");
        }
        if let Some(smtp) = &self.smtp
            && !matches!(smtp.security.as_str(), "starttls" | "tls" | "none")
        {
            anyhow::bail!("smtp.security must be starttls, tls or none");
        }
        if let Some(st) = &self.stripe {
            crate::domain::payments::check_offer(
                &st.packages,
                st.credits_per_unit,
                st.min_amount,
                st.max_amount,
            )
            .map_err(|e| anyhow::anyhow!("payments.stripe: {e}"))?;
            if st.secret_key.is_none() || st.webhook_secret.is_none() {
                anyhow::bail!(
                    "payments.stripe needs secret_key and webhook_secret (or their *_FILE)"
                );
            }
        }
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("videoapi.redb")
    }
}

/// The completion-callback signing key's file in the data dir; made on first start and
/// kept across restarts (and in backups) so URLs handed to upstreams stay valid.
pub const CALLBACK_KEY_FILE: &str = "callback.key";

/// The sign-up, mail and payment settings from the environment, and their secret files.
fn load_money_env(c: &mut Config) -> anyhow::Result<()> {
    if let Some(v) = env("VIDEOAPI_REGISTRATION") {
        c.registration = v
            .parse()
            .map_err(|e| anyhow::anyhow!("VIDEOAPI_REGISTRATION: {e}"))?;
    }
    if let Some(v) = env_parse("VIDEOAPI_SIGNUP_CREDITS")? {
        c.signup_credits = v;
    }
    if let Some(v) = env("VIDEOAPI_SIGNUP_PRICING_GROUP") {
        c.signup_pricing_group = Some(v);
    }
    if let Some(v) = env_parse("VIDEOAPI_EMAIL_VERIFICATION")? {
        c.email_verification = v;
    }
    if let Some(smtp) = c.smtp.as_mut() {
        if let Some(p) = env("VIDEOAPI_SMTP_PASSWORD") {
            smtp.password = Some(p);
        } else if let Some(f) = env("VIDEOAPI_SMTP_PASSWORD_FILE") {
            smtp.password = Some(read_secret_file(Path::new(&f))?);
        } else if let (None, Some(f)) = (&smtp.password, &smtp.password_file) {
            smtp.password = Some(read_secret_file(f)?);
        }
    }
    if let Some(st) = c.stripe.as_mut() {
        for (value, file, var) in [
            (
                &mut st.secret_key,
                &st.secret_key_file,
                "VIDEOAPI_STRIPE_SECRET_KEY",
            ),
            (
                &mut st.webhook_secret,
                &st.webhook_secret_file,
                "VIDEOAPI_STRIPE_WEBHOOK_SECRET",
            ),
        ] {
            if let Some(v) = env(var) {
                *value = Some(v);
            } else if let Some(f) = env(&format!("{var}_FILE")) {
                *value = Some(read_secret_file(Path::new(&f))?);
            } else if let (None, Some(f)) = (&value, file) {
                *value = Some(read_secret_file(f)?);
            }
        }
    }
    Ok(())
}

fn parse_proxies<'a>(items: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<ipnet::IpNet>> {
    items
        .map(|s| {
            crate::domain::client_addr::parse_cidr(s)
                .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))
        })
        .collect()
}

fn parse_listen(v: &str) -> anyhow::Result<SocketAddr> {
    v.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("listen address `{v}` is not IP:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nmax_upload_mb = 5\npublic_url = \"https://v.example.com/\"\n",
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.max_upload_bytes, 5 * MB);
        assert_eq!(c.public_url, "https://v.example.com");
        let c = Config::load(&Overrides {
            config: Some(path),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
    }

    #[test]
    fn trusted_proxies_come_from_the_file_as_cidrs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "trusted_proxies = [\"127.0.0.1/32\", \"::1\"]\n").unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        let shown: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "::1/128"]);
        std::fs::write(&path, "trusted_proxies = [\"nginx\"]\n").unwrap();
        let err = Config::load(&Overrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("nginx"), "{err}");
        assert!(Config::default().trusted_proxies.is_empty());
    }

    #[test]
    fn strict_request_fields_defaults_on_and_the_file_can_relax_it() {
        assert!(Config::default().strict_request_fields);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "strict_request_fields = false\n").unwrap();
        let c = Config::load(&Overrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap();
        assert!(!c.strict_request_fields);
    }

    #[test]
    fn sign_up_mail_and_stripe_settings_read_their_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = |name: &str, value: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("{value}\n")).unwrap();
            p.display().to_string()
        };
        let (smtp, key, whsec) = (
            secret("smtp", "mail-pass"),
            secret("key", "sk_test_file"),
            secret("whsec", "whsec_file"),
        );
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!(
                "registration = \"invite\"\nsignup_credits = 25\n\
                 [smtp]\nhost = \"mail.example.com\"\nfrom = \"a@example.com\"\npassword_file = \"{smtp}\"\n\
                 [payments.stripe]\nsecret_key_file = \"{key}\"\nwebhook_secret_file = \"{whsec}\"\n\
                 packages = [{{ credits = 10, amount = 100 }}]\n"
            ),
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.registration, crate::domain::signup::Registration::Invite);
        assert_eq!(c.signup_credits, 25);
        let smtp = c.smtp.unwrap();
        assert_eq!(
            (smtp.password.as_deref(), smtp.security.as_str()),
            (Some("mail-pass"), "starttls")
        );
        let st = c.stripe.unwrap();
        assert_eq!(st.secret_key.as_deref(), Some("sk_test_file"));
        assert_eq!(st.webhook_secret.as_deref(), Some("whsec_file"));
        assert_eq!(st.currency, "usd");
        // Nothing on sale, or no secrets: refused at start, not at the first checkout.
        std::fs::write(
            &path,
            "[payments.stripe]\nsecret_key = \"k\"\nwebhook_secret = \"w\"\n",
        )
        .unwrap();
        let err = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("packages"), "{err}");
        std::fs::write(&path, "registration = \"maybe\"\n").unwrap();
        assert!(
            Config::load(&Overrides {
                config: Some(path),
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn s3_storage_keys_come_from_the_file_with_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("s3-secret");
        std::fs::write(&secret, "from-file\n").unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            format!(
                "[storage]\nbackend = \"s3\"\nbucket = \"media\"\nendpoint = \"http://127.0.0.1:9000\"\n\
                 access_key_id = \"AK\"\nsecret_access_key_file = \"{}\"\nserve = \"proxy\"\npresign_seconds = 60\n",
                secret.display()
            ),
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(path.clone()),
            ..Default::default()
        })
        .unwrap();
        let s3 = c.storage_backend.active_s3().expect("s3");
        assert_eq!(s3.secret_access_key, "from-file");
        assert_eq!(s3.serve, crate::storage::s3::Serve::Proxy);
        assert_eq!(s3.presign_seconds, 60);
        assert!(!Config::default().storage_backend.use_s3);
        // Incomplete: refused at start, naming the key.
        std::fs::write(&path, "[storage]\nbackend = \"s3\"\nbucket = \"media\"\n").unwrap();
        let err = Config::load(&Overrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("storage.access_key_id"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = Config::load(&Overrides {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err = Config::load(&Overrides {
            listen: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("nope"));
    }
}

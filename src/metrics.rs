//! Prometheus metrics: HTTP traffic, task lifecycle, upstream errors. One process-wide
//! registry, as Prometheus scrapes a process.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::LazyLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub area: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FinishLabels {
    pub model: String,
    pub status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_seconds: Histogram,
    pub tasks_created: Family<ModelLabels, Counter>,
    pub tasks_finished: Family<FinishLabels, Counter>,
    pub credits_reserved: Counter,
    pub credits_refunded: Counter,
    pub upstream_errors: Family<ProviderLabels, Counter>,
    pub engine_in_flight: Gauge,
    pub engine_tasks_held: Gauge,
    pub webhooks_delivered: Counter,
    pub webhooks_failed: Counter,
    pub storage_bytes: Family<KindLabels, Gauge>,
    pub storage_files: Family<KindLabels, Gauge>,
    pub storage_free_bytes: Gauge,
    pub storage_low: Gauge,
    pub janitor_removed: Counter,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("videoapi");
        let m = Metrics {
            http_requests: Family::default(),
            http_seconds: Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
            tasks_created: Family::default(),
            tasks_finished: Family::default(),
            credits_reserved: Counter::default(),
            credits_refunded: Counter::default(),
            upstream_errors: Family::default(),
            engine_in_flight: Gauge::default(),
            engine_tasks_held: Gauge::default(),
            webhooks_delivered: Counter::default(),
            webhooks_failed: Counter::default(),
            storage_bytes: Family::default(),
            storage_files: Family::default(),
            storage_free_bytes: Gauge::default(),
            storage_low: Gauge::default(),
            janitor_removed: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests by area and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            m.http_seconds.clone(),
        );
        registry.register(
            "tasks_created",
            "Tasks accepted, by public model",
            m.tasks_created.clone(),
        );
        registry.register(
            "tasks_finished",
            "Tasks that reached completed or failed",
            m.tasks_finished.clone(),
        );
        registry.register(
            "credits_reserved",
            "Credits reserved by new tasks",
            m.credits_reserved.clone(),
        );
        registry.register(
            "credits_refunded",
            "Credits returned by failed tasks",
            m.credits_refunded.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstream errors that count against a channel",
            m.upstream_errors.clone(),
        );
        registry.register(
            "engine_in_flight",
            "Engine steps running now",
            m.engine_in_flight.clone(),
        );
        registry.register(
            "engine_tasks_held",
            "Unfinished tasks the engine holds (each a timer entry unless being stepped)",
            m.engine_tasks_held.clone(),
        );
        registry.register(
            "webhooks_delivered",
            "Task callbacks delivered",
            m.webhooks_delivered.clone(),
        );
        registry.register(
            "webhooks_failed",
            "Task callbacks given up after retries",
            m.webhooks_failed.clone(),
        );
        registry.register(
            "storage_bytes",
            "Bytes of stored media, by kind (upload, video)",
            m.storage_bytes.clone(),
        );
        registry.register(
            "storage_files",
            "Stored media files, by kind (upload, video)",
            m.storage_files.clone(),
        );
        registry.register(
            "storage_free_bytes",
            "Free bytes on the data directory's filesystem at the last check",
            m.storage_free_bytes.clone(),
        );
        registry.register(
            "storage_low",
            "1 while free space is below the low watermark (uploads 507, mirroring paused)",
            m.storage_low.clone(),
        );
        registry.register(
            "janitor_removed",
            "Stored files removed by retention or the free-space guard",
            m.janitor_removed.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Add (or with negative figures, remove) stored bytes and files of a kind.
    pub fn storage_add(&self, kind: crate::domain::media::MediaKind, bytes: i64, files: i64) {
        let l = KindLabels {
            kind: kind.as_str(),
        };
        self.storage_bytes.get_or_create(&l).inc_by(bytes);
        self.storage_files.get_or_create(&l).inc_by(files);
    }

    pub fn storage_set(&self, kind: crate::domain::media::MediaKind, bytes: i64, files: i64) {
        let l = KindLabels {
            kind: kind.as_str(),
        };
        self.storage_bytes.get_or_create(&l).set(bytes);
        self.storage_files.get_or_create(&l).set(files);
    }

    pub fn task_finished(&self, model: &str, status: &'static str) {
        self.tasks_finished
            .get_or_create(&FinishLabels {
                model: model.to_string(),
                status,
            })
            .inc();
    }
}

/// Coarse route areas keep label cardinality bounded.
pub fn area_of(path: &str) -> &'static str {
    match path.split('/').nth(1).unwrap_or("") {
        "v1" => "v1",
        "api" => "api",
        "console" => "console",
        "uploads" => "uploads",
        "videos" => "videos",
        "docs" | "openapi.json" => "docs",
        "healthz" | "metrics" => "ops",
        _ => "web",
    }
}

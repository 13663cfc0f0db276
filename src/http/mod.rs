//! HTTP with poem + poem-openapi only: routes, auth, JSON errors for everything.

pub mod auth;
pub mod client_addr;
pub mod conn;
pub mod console;
pub mod errors;
pub mod failures;
pub mod files;
#[cfg(test)]
mod layering;
pub mod limits;
pub mod money;
pub mod openai;
pub mod public;
pub mod uploads;
pub mod upstream_callbacks;
pub mod views;

use crate::app::AppState;
use poem::{Endpoint, EndpointExt, IntoResponse, Route};
use poem_openapi::OpenApiService;

pub type Apis = (
    public::PublicApi,
    openai::OpenAiApi,
    uploads::UploadApi,
    console::ConsoleApis,
    money::RedeemApi,
);

/// The OpenAPI service for every documented route.
pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            public::PublicApi,
            openai::OpenAiApi,
            uploads::UploadApi,
            console::apis(),
            money::RedeemApi,
        ),
        "VideoApi",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "One stable API for video generation. Authenticate with `Authorization: Bearer vga_...`; \
         reference uploaded assets in prompts as `@Image1`, `@Video1`, `@Audio1`.",
    )
}

/// Tags in the order Swagger UI shows them: the public API first, the console after.
const TAG_ORDER: &[&str] = &[
    "Models",
    "Generations",
    "OpenAI-compatible",
    "Uploads",
    "Account",
    "Operations",
    "Console",
    "Console · Admin",
];

/// The spec as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    static SPEC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| order_tags(&api_service().spec()))
        .clone()
}

/// poem-openapi lists tags alphabetically, which puts the console's routes before the
/// public API in Swagger UI; put them in [`TAG_ORDER`] (unknown tags keep their place
/// after the known ones).
fn order_tags(spec: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(spec).expect("poem-openapi spec is JSON");
    if let Some(tags) = doc.get_mut("tags").and_then(|t| t.as_array_mut()) {
        let rank = |t: &serde_json::Value| {
            let name = t.get("name").and_then(|n| n.as_str()).unwrap_or("");
            TAG_ORDER
                .iter()
                .position(|known| *known == name)
                .unwrap_or(TAG_ORDER.len())
        };
        tags.sort_by_key(rank);
    }
    serde_json::to_string_pretty(&doc).expect("spec serialises")
}

/// Swagger UI over [`spec_json`] (poem-openapi's page embeds its own, unordered, spec).
fn swagger_ui(api: &OpenApiService<Apis, ()>) -> impl Endpoint + use<> {
    let html = api
        .swagger_ui_html()
        .replacen(&api.spec(), &spec_json(), 1)
        .replacen(
            "<title>Swagger UI</title>",
            "<title>VideoApi · API docs</title>\n    <link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.ico\">",
            1,
        );
    Route::new().at(
        "/",
        poem::endpoint::make_sync(move |_| poem::web::Html(html.clone())),
    )
}

/// The console's icon, also at `/favicon.ico` where browsers look for it by default.
#[poem::handler]
fn favicon() -> poem::Response {
    match files::WebAssets::get("favicon.svg") {
        Some(f) => poem::Response::builder()
            .content_type("image/svg+xml")
            .header(poem::http::header::CACHE_CONTROL, "public, max-age=86400")
            .body(f.data.into_owned()),
        None => poem::Response::builder()
            .status(poem::http::StatusCode::NOT_FOUND)
            .finish(),
    }
}

/// `/openapi.json`: the ordered spec.
#[poem::handler]
fn spec_endpoint() -> poem::Response {
    poem::Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(spec_json())
}

/// JSON bodies are small; a cap keeps a hostile client from filling memory.
const JSON_LIMIT: usize = 1024 * 1024;

pub fn routes(state: AppState) -> impl Endpoint {
    let api = api_service();
    let docs = swagger_ui(&api);
    let data_dir = state.config.data_dir.clone();
    let uploads = files::stored_files(data_dir.join("uploads"), state.storage.clone(), "uploads");
    let videos = files::stored_files(data_dir.join("videos"), state.storage.clone(), "videos");
    Route::new()
        // `POST /v1/videos` takes image files; it caps its own JSON and file parts.
        .at("/v1/videos", api.clone())
        .nest_no_strip("/v1", api.clone().around(limit_body))
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/console/api", api.clone().around(console::guard))
        .at("/healthz", api)
        .at("/payments/:processor/webhook", poem::post(money::webhook))
        .at("/openapi.json", poem::get(spec_endpoint))
        .at("/favicon.ico", poem::get(favicon))
        .nest("/docs", docs)
        .nest("/uploads", uploads)
        .nest("/videos", videos)
        .at("/metrics", poem::get(metrics))
        .at(
            "/callbacks/tasks/:task_id/:token",
            poem::post(upstream_callbacks::receive),
        )
        .at("/README.md", poem::get(files::readme))
        .nest("/", files::console())
        .data(state)
        .catch_all_error(errors::catch_all)
        .around(track)
}

/// Cap request bodies of the JSON API, chunked ones included (poem's `SizeLimit` would
/// refuse every request without a Content-Length, GETs too).
pub(crate) async fn limit_body<E: Endpoint>(
    ep: std::sync::Arc<E>,
    mut req: poem::Request,
) -> poem::Result<poem::Response> {
    let too_large = || {
        errors::ApiError(crate::error::AppError::BodyTooLarge {
            limit_bytes: JSON_LIMIT as u64,
        })
    };
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(n) if n > JSON_LIMIT => return Err(too_large().into()),
        Some(_) => {}
        None => {
            let body = req
                .take_body()
                .into_bytes_limit(JSON_LIMIT)
                .await
                .map_err(|_| too_large())?;
            req.set_body(body);
        }
    }
    Ok(ep.call(req).await?.into_response())
}

/// Count every request by area and final status, and time it.
async fn track<E: Endpoint>(
    ep: std::sync::Arc<E>,
    req: poem::Request,
) -> poem::Result<poem::Response> {
    let area = crate::metrics::area_of(req.uri().path());
    let started = std::time::Instant::now();
    let resp = ep.call(req).await?.into_response();
    let m = &crate::metrics::METRICS;
    m.http_requests
        .get_or_create(&crate::metrics::HttpLabels {
            area,
            status: resp.status().as_u16(),
        })
        .inc();
    m.http_seconds.observe(started.elapsed().as_secs_f64());
    Ok(resp)
}

/// Prometheus scrape endpoint. The metrics token always works. Without it only loopback
/// peers are served, and only while the server itself listens on loopback with no
/// `trusted_proxies`: behind a same-host proxy every visitor is a loopback peer.
#[poem::handler]
async fn metrics(req: &poem::Request, state: poem::web::Data<&AppState>) -> poem::Response {
    let config = &state.config;
    let token_ok = config.metrics_token.as_deref().is_some_and(|t| {
        req.headers()
            .get(poem::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| constant_time_eq(given.as_bytes(), t.as_bytes()))
    });
    let open_to_loopback = config.trusted_proxies.is_empty() && config.listen.ip().is_loopback();
    let loopback_peer = req
        .remote_addr()
        .as_socket_addr()
        .is_some_and(|a| a.ip().to_canonical().is_loopback());
    if !(token_ok || (open_to_loopback && loopback_peer)) {
        let message = if open_to_loopback {
            "metrics are served to loopback clients or with the metrics token"
        } else {
            "metrics need `Authorization: Bearer <metrics_token>` (set `metrics_token`): \
             the server listens beyond loopback or behind a trusted proxy"
        };
        return errors::ApiError(crate::error::AppError::forbidden(message)).into_response();
    }
    poem::Response::builder()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(crate::metrics::METRICS.render())
}

/// Compare secrets without leaking, through timing, how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

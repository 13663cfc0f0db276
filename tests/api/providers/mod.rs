//! Adapters against their simulators over real HTTP: one module per provider, sharing the
//! scaffolding and the scenario matrix below (success, every fault class, failover,
//! restart mid-task, ledger clean after each).

#![allow(dead_code)]

mod chain;
mod example;
mod examples;
mod fal;
mod forwarding;
mod guard;
mod kling;
mod luma;
mod minimax;
mod openai;
mod replicate;
mod runway;
mod seedance;
mod veo;
mod vidu;
mod wan;

use crate::common::*;
use crate::simulators::{self, Core, Fault, Op, VIDEO};
use serde_json::{Value, json};
use std::time::Duration;
use videoapi::domain::catalog::{Billing, BillingMode, Capabilities, Model, ProviderConfig, Route};

/// Every public task in these tests costs this much.
pub const PRICE: i64 = 100;
pub const START_CREDITS: i64 = 100_000;
/// The channel allow-list that lets a channel reach the loopback simulators.
pub const LOOPBACK: [&str; 2] = ["127.0.0.1/32", "::1/128"];

/// How a provider's channel is declared against its simulator.
#[derive(Clone)]
pub struct Spec {
    pub kind: &'static str,
    /// Appended to the simulator's URL to form `base_url`.
    pub base_path: &'static str,
    pub key: &'static str,
    pub secret: &'static str,
    pub settings: Value,
    pub upstream_model: &'static str,
    /// A valid public request for this provider (the model id is filled in).
    pub request: Value,
    /// `error.code` of the `sim:fail` script.
    pub failed_code: &'static str,
    /// `error.code` of the `sim:block` create-time refusal.
    pub blocked_code: &'static str,
    /// The adapter may resend a submission whose outcome is unknown.
    pub idempotent: bool,
}

/// A user whose key is made without password hashing (fast).
pub async fn fast_user(app: &TestApp, name: &str, credits: i64) -> String {
    let st = app.state();
    let uname = name.to_string();
    let user = st
        .store
        .write(move |txn| {
            videoapi::store::users::create(
                txn,
                videoapi::store::users::NewUser {
                    username: &uname,
                    password_hash: "!".into(),
                    is_admin: false,
                    credits,
                    pricing_group: None,
                    actor: "test",
                },
            )
        })
        .await
        .unwrap();
    st.accounts.create_key(user.id, "test").await.unwrap().1
}

pub async fn gateway() -> (TestApp, String) {
    let app = TestApp::new().await;
    let key = fast_user(&app, "buyer", START_CREDITS).await;
    (app, key)
}

/// Declare a channel; tests use a short call timeout.
pub async fn channel(app: &TestApp, name: &str, spec: &Spec, base_url: &str) {
    channel_with(app, name, spec, base_url, spec.key, spec.secret).await
}

pub async fn channel_with(
    app: &TestApp,
    name: &str,
    spec: &Spec,
    base_url: &str,
    key: &str,
    secret: &str,
) {
    // The simulators live on loopback: the channel admits exactly that (SSRF guard).
    let mut settings = json!({"timeout_ms": 600, "allow_private_cidrs": LOOPBACK});
    if let Some(extra) = spec.settings.as_object() {
        for (k, v) in extra {
            settings[k] = v.clone();
        }
    }
    app.state()
        .catalog
        .put_provider(ProviderConfig {
            name: name.into(),
            kind: spec.kind.into(),
            base_url: base_url.into(),
            api_key: key.into(),
            api_secret: secret.into(),
            enabled: true,
            priority: 0,
            weight: 1,
            settings,
        })
        .await
        .unwrap();
}

pub fn all_capabilities() -> Capabilities {
    Capabilities {
        types: ["text-to-video", "image-to-video", "reference-to-video"]
            .map(String::from)
            .to_vec(),
        resolutions: ["720p", "480p", "1080p"].map(String::from).to_vec(),
        durations: (2..=15).collect(),
        default_duration: 5,
        aspect_ratios: ["auto", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"]
            .map(String::from)
            .to_vec(),
        max_images: 9,
        max_videos: 3,
        max_audios: 3,
        supports_audio: true,
        default_generate_audio: false,
    }
}

/// A public model over `(channel, upstream model, priority)` routes, priced [`PRICE`] per task.
pub async fn model(app: &TestApp, id: &str, routes: &[(&str, &str, i32)]) {
    app.state()
        .catalog
        .put_model(Model {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            features: vec![],
            enabled: true,
            billing: Billing {
                mode: BillingMode::PerTask,
                credits: PRICE,
                resolution_credits: Default::default(),
                ..Default::default()
            },
            capabilities: all_capabilities(),
            poll_interval_seconds: 1,
            routes: routes
                .iter()
                .map(|(p, m, prio)| Route {
                    provider: p.to_string(),
                    upstream_model: m.to_string(),
                    priority: *prio,
                    weight: 1,
                    settings: Value::Null,
                    cost: None,
                })
                .collect(),
        })
        .await
        .unwrap();
}

/// Upload a small PNG through the public API; returns its URL.
pub async fn upload_png(app: &TestApp, key: &str) -> String {
    let form = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(png_bytes())
            .file_name("ref.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (s, v) = app.upload(key, form).await;
    assert_eq!(s, 200, "{v}");
    v["data"][0]["url"].as_str().unwrap().to_string()
}

/// The spec's request for `model`, with `suffix` appended to its prompt.
pub fn request(spec: &Spec, model: &str, suffix: &str) -> Value {
    let mut r = spec.request.clone();
    r["model"] = json!(model);
    let p = r["prompt"].as_str().unwrap_or_default().to_string();
    r["prompt"] = json!(format!("{p}{suffix}"));
    r
}

pub async fn create(app: &TestApp, key: &str, body: Value) -> String {
    let (s, v) = app.create(key, body).await;
    assert_eq!(s, 200, "{v}");
    v["task_id"].as_str().unwrap().to_string()
}

/// Wait until the task is completed or failed (bounded: 20 s).
pub async fn finish(app: &TestApp, key: &str, id: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (code, v) = app.get(key, &format!("/v1/video/generations/{id}")).await;
        assert_eq!(code, 200, "{v}");
        if v["status"] == "completed" || v["status"] == "failed" {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task never finished: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Nothing of the upstream (its URL, its ids, its raw JSON) in what a customer sees.
pub fn assert_no_leak(v: &Value, core: &Core) {
    let text = v.to_string();
    assert!(!text.contains(&core.base()), "upstream URL leaked: {text}");
    for t in core.tasks() {
        assert!(!text.contains(&t.id), "upstream id leaked: {text}");
    }
    if let Some(m) = v["error"]["message"].as_str() {
        assert!(!m.contains("http://") && !m.contains("https://"), "{m}");
    }
}

/// Completed, mirrored (the gateway serves the simulator's bytes), nothing leaked.
pub async fn expect_completed(app: &TestApp, key: &str, id: &str, core: &Core) -> Value {
    let v = finish(app, key, id).await;
    assert_eq!(v["status"], "completed", "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.starts_with(&app.url),
        "not served by the gateway: {url}"
    );
    let bytes = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // A task that asked upstream for another length (`sim:made=N`) got that header.
    let served = match simulators::made_seconds(&json!(stored(app, id).request.prompt)) {
        Some(n) => simulators::video_lasting_bytes(n),
        None => VIDEO.to_vec(),
    };
    assert_eq!(
        &bytes[..],
        &served[..],
        "the mirrored video differs from upstream's"
    );
    assert_no_leak(&v, core);
    v
}

pub async fn expect_failed(app: &TestApp, key: &str, id: &str, code: &str, core: &Core) -> Value {
    let v = finish(app, key, id).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["error"]["code"], code, "{v}");
    assert_eq!(v["credits_refunded"], true, "{v}");
    assert_eq!(v["url"], Value::Null);
    assert_no_leak(&v, core);
    v
}

/// The task as stored (internal fields: channel, credential, attempts).
pub fn stored(app: &TestApp, id: &str) -> videoapi::domain::task::Task {
    let id = id.to_string();
    app.state()
        .store
        .read_now(move |t| videoapi::store::tasks::read(t, &id))
        .unwrap()
        .unwrap()
}

/// Pretend the task's deadline passed, and wake it.
pub async fn force_deadline(app: &TestApp, id: &str) {
    let key = id.to_string();
    app.state()
        .store
        .write(move |txn| {
            videoapi::store::tasks::update(txn, &key, |t| {
                t.deadline_ms = videoapi::domain::now_ms() - 1;
                Ok(true)
            })
        })
        .await
        .unwrap();
    app.state().engine.schedule(id, Duration::ZERO);
}

pub async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

pub fn assert_ledger(app: &TestApp) {
    let v = app.audit();
    assert!(v.is_empty(), "ledger violations: {v:?}");
}

/// A gateway with one channel `<kind>-a` on `sim` and model `m` routed to it.
pub async fn single(spec: &Spec, sim_url: &str) -> (TestApp, String) {
    let (app, key) = gateway().await;
    channel(
        &app,
        "chan-a",
        spec,
        &format!("{sim_url}{}", spec.base_path),
    )
    .await;
    model(&app, "m", &[("chan-a", spec.upstream_model, 0)]).await;
    (app, key)
}

/// Every fault class, one after another on one gateway and channel; the ledger stays
/// clean and only completed tasks are paid for.
pub async fn fault_matrix(spec: &Spec, core: &Core, sim_url: &str) {
    let (app, key) = single(spec, sim_url).await;
    let health = |app: &TestApp| app.state().registry.health.record_ok("chan-a");
    let mut completed = 0;

    // 5xx on create: nothing was created, so it is retried (single route: backoff).
    core.inject(Op::Create, Fault::Status(503));
    let id = create(&app, &key, request(spec, "m", "")).await;
    expect_completed(&app, &key, &id, core).await;
    completed += 1;
    health(&app);

    // 429 with Retry-After: the retry waits at least that long.
    let before = core.count(Op::Create);
    core.inject(
        Op::Create,
        Fault::RateLimited {
            retry_after: "0.4".into(),
        },
    );
    let id = create(&app, &key, request(spec, "m", "")).await;
    expect_completed(&app, &key, &id, core).await;
    completed += 1;
    let creates = core.received(Op::Create);
    assert_eq!(creates.len(), before + 2);
    let gap = creates[before + 1].at.duration_since(creates[before].at);
    assert!(
        gap >= Duration::from_millis(380),
        "Retry-After not honoured: {gap:?}"
    );
    health(&app);

    // Poll trouble (5xx, malformed JSON, no answer in time) and an unknown status
    // string: back off, finish.
    core.inject(Op::Poll, Fault::Status(500));
    core.inject(Op::Poll, Fault::Malformed);
    core.inject(Op::Poll, Fault::Hang(Duration::from_millis(900)));
    let id = create(&app, &key, request(spec, "m", " sim:weird")).await;
    expect_completed(&app, &key, &id, core).await;
    completed += 1;
    health(&app);

    // A 5xx while mirroring is retried.
    core.inject(Op::Download, Fault::Status(503));
    let id = create(&app, &key, request(spec, "m", "")).await;
    expect_completed(&app, &key, &id, core).await;
    completed += 1;
    health(&app);

    // A failed generation carries the provider's code; credits come back.
    let id = create(&app, &key, request(spec, "m", " sim:fail")).await;
    let v = expect_failed(&app, &key, &id, spec.failed_code, core).await;
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());

    // Refused at create for content: the provider's code, refunded, sent once.
    let before = core.count(Op::Create);
    let id = create(&app, &key, request(spec, "m", " sim:block")).await;
    expect_failed(&app, &key, &id, spec.blocked_code, core).await;
    assert_eq!(
        core.count(Op::Create),
        before + 1,
        "a final refusal is not retried"
    );
    health(&app);

    // An expired result URL fails the task (refunded) instead of retrying forever.
    let id = create(&app, &key, request(spec, "m", " sim:expired")).await;
    expect_failed(&app, &key, &id, "result_unavailable", core).await;

    // A task that never finishes ends at its deadline, refunded.
    let id = create(&app, &key, request(spec, "m", " sim:never")).await;
    app.wait_for(&key, &id, "processing").await;
    force_deadline(&app, &id).await;
    expect_failed(&app, &key, &id, "deadline_exceeded", core).await;

    // The connection hangs after upstream created the task: the outcome is unknown.
    let before_tasks = core.tasks().len();
    core.inject(Op::Create, Fault::HangAfter(Duration::from_millis(1500)));
    let id = create(&app, &key, request(spec, "m", "")).await;
    if spec.idempotent {
        // Resent with the same client-side id: completes with exactly one upstream task.
        expect_completed(&app, &key, &id, core).await;
        completed += 1;
    } else {
        expect_failed(&app, &key, &id, "upstream_unreachable", core).await;
    }
    assert_eq!(
        core.tasks().len(),
        before_tasks + 1,
        "one upstream task, never two"
    );
    health(&app);

    assert_eq!(app.balance(&key).await, START_CREDITS - completed * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

/// Two routes: the first channel down (refused, then 5xx) fails over to the second; an
/// ambiguous failure on the first is never sent to the second.
pub async fn failover(spec: &Spec, core: &Core, sim_url: &str) {
    let (app, key) = gateway().await;
    let base = format!("{sim_url}{}", spec.base_path);
    channel(
        &app,
        "down",
        spec,
        &format!("{}{}", simulators::dead_url(), spec.base_path),
    )
    .await;
    channel(&app, "flaky", spec, &base).await;
    channel(&app, "good", spec, &base).await;
    model(
        &app,
        "refused-first",
        &[
            ("down", spec.upstream_model, 10),
            ("good", spec.upstream_model, 0),
        ],
    )
    .await;
    model(
        &app,
        "flaky-first",
        &[
            ("flaky", spec.upstream_model, 10),
            ("good", spec.upstream_model, 0),
        ],
    )
    .await;

    // Connection refused on the preferred channel: served by the second.
    let id = create(&app, &key, request(spec, "refused-first", "")).await;
    expect_completed(&app, &key, &id, core).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("good"));

    // A 503 on the preferred channel: served by the second, one upstream task.
    let before = core.tasks().len();
    core.inject(Op::Create, Fault::Status(503));
    let id = create(&app, &key, request(spec, "flaky-first", "")).await;
    expect_completed(&app, &key, &id, core).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("good"));
    assert_eq!(core.tasks().len(), before + 1);
    app.state().registry.health.record_ok("flaky");

    // Ambiguous on the preferred channel: never resent elsewhere.
    let before_creates = core.count(Op::Create);
    core.inject(Op::Create, Fault::HangAfter(Duration::from_millis(1500)));
    let id = create(&app, &key, request(spec, "flaky-first", "")).await;
    let v = finish(&app, &key, &id).await;
    let task = stored(&app, &id);
    assert_eq!(
        task.provider.as_deref(),
        Some("flaky"),
        "must not move to another channel"
    );
    if spec.idempotent {
        assert_eq!(v["status"], "completed", "{v}");
    } else {
        assert_eq!(v["status"], "failed", "{v}");
        assert_eq!(v["error"]["code"], "upstream_unreachable");
        assert_eq!(
            core.count(Op::Create),
            before_creates + 1,
            "sent once, to one channel"
        );
    }
    assert_eq!(core.tasks().len(), before + 2);

    let paid = if spec.idempotent { 3 } else { 2 };
    assert_eq!(app.balance(&key).await, START_CREDITS - paid * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

/// Tasks in flight survive a graceful restart and a crash; none is submitted twice.
pub async fn restart(spec: &Spec, core: &Core, sim_url: &str) {
    let (mut app, key) = single(spec, sim_url).await;
    core.hold();
    let a = create(&app, &key, request(spec, "m", "")).await;
    app.wait_for(&key, &a, "processing").await;
    app.restart().await;
    let b = create(&app, &key, request(spec, "m", "")).await;
    app.wait_for(&key, &b, "processing").await;
    app.crash_and_restart().await;
    let creates = core.count(Op::Create);
    core.release();
    expect_completed(&app, &key, &a, core).await;
    expect_completed(&app, &key, &b, core).await;
    assert_eq!(
        core.count(Op::Create),
        creates,
        "nothing resubmitted after a restart"
    );
    assert_eq!(core.tasks().len(), 2);
    assert_eq!(app.balance(&key).await, START_CREDITS - 2 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

/// Submit `spec.request` straight to channel `chan-a`'s adapter with a completion callback
/// URL on `hooks` (what the engine passes when the gateway has a `public_url`); returns the
/// upstream id and the URL given.
pub async fn submit_with_callback(
    app: &TestApp,
    spec: &Spec,
    route_settings: Value,
    hooks: &simulators::Hooks,
) -> (String, String) {
    let mut v = json!({"image_urls": [], "video_urls": [], "audio_urls": [], "resolution": "720p",
        "aspect_ratio": "16:9", "generate_audio": false});
    for (k, x) in spec.request.as_object().unwrap() {
        v[k] = x.clone();
    }
    let d = spec.request["duration"].as_u64();
    v["duration"] = json!(d);
    v["seconds"] = json!(d.unwrap_or(5));
    let req: videoapi::domain::request::UnifiedRequest = serde_json::from_value(v).unwrap();
    let url = format!("{}/hooks/vidgen_1?sig=abc", hooks.url);
    let adapter = app.state().registry.get("chan-a").expect("channel chan-a");
    let job = videoapi::providers::SubmitJob {
        task_id: "vidgen_1",
        upstream_model: spec.upstream_model,
        request: &req,
        route_settings: &route_settings,
        credential: None,
        callback_url: Some(&url),
    };
    (adapter.submit(job).await.unwrap(), url)
}

/// The callback a simulator posted when the task ended: exactly one, to the URL given.
pub async fn the_callback(hooks: &simulators::Hooks) -> Value {
    let got = hooks.wait(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "/hooks/vidgen_1?sig=abc");
    got[0].1.clone()
}

/// A create that must be refused with 422 naming `param`, before any credit moves.
pub async fn expect_422(app: &TestApp, key: &str, body: Value, param: &str) {
    let before = app.balance(key).await;
    let (s, v) = app.create(key, body).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["param"], param, "{v}");
    assert_eq!(app.balance(key).await, before);
}

/// The README's channel examples are valid configuration for every kind.
#[tokio::test]
async fn readme_channel_examples_load_and_build() {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme.find("### Declaring channels").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let toml = &section[start..start + section[start..].find("```").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("videoapi.toml");
    std::fs::write(&path, toml).unwrap();
    let cfg = videoapi::config::Config::load(&videoapi::config::Overrides {
        config: Some(path),
        ..Default::default()
    })
    .unwrap();
    let registry = videoapi::providers::Registry::new(Duration::from_millis(1));
    let mut kinds: Vec<&str> = cfg.providers.iter().map(|p| p.kind.as_str()).collect();
    for p in &cfg.providers {
        registry
            .build(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 7, "one example per kind: {kinds:?}");
    assert_eq!(cfg.models[0].routes.len(), 2);
}

/// A public model `id` with one route to `channel` carrying route `settings` (an input
/// mapping for the generic hosts), priced like [`model`].
pub async fn model_with_settings(
    app: &TestApp,
    id: &str,
    channel: &str,
    upstream_model: &str,
    settings: Value,
) {
    let mut m = Model {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        features: vec![],
        enabled: true,
        billing: Billing {
            mode: BillingMode::PerTask,
            credits: PRICE,
            resolution_credits: Default::default(),
            ..Default::default()
        },
        capabilities: all_capabilities(),
        poll_interval_seconds: 1,
        routes: vec![],
    };
    m.routes.push(Route {
        provider: channel.into(),
        upstream_model: upstream_model.into(),
        priority: 0,
        weight: 1,
        settings,
        cost: None,
    });
    app.state().catalog.put_model(m).await.unwrap();
}

/// Settlement on what the provider says it made. Model `m` costs 10 credits a second and
/// its route `cost` (the operator's upstream cost). A task asking the spec's duration
/// whose upstream made `longer` seconds (`sim:made=N`) is charged its reservation,
/// capped; one that made `shorter` is charged those seconds and refunded the rest, in one
/// `settle` entry. Returns the stored settlements (long, short) for the units check.
pub async fn settles_on_what_was_made(
    spec: &Spec,
    core: &Core,
    sim_url: &str,
    (longer, shorter): (i64, i64),
    cost: videoapi::domain::catalog::RouteCost,
) -> (
    videoapi::domain::settlement::Settlement,
    videoapi::domain::settlement::Settlement,
) {
    let (app, key) = single(spec, sim_url).await;
    let mut m = (*app.state().catalog.model("m").unwrap()).clone();
    m.billing = Billing {
        mode: BillingMode::PerSecond,
        credits: 10,
        ..Billing::default()
    };
    m.routes[0].cost = Some(cost);
    app.state().catalog.put_model(m).await.unwrap();
    let asked = spec.request["duration"]
        .as_i64()
        .expect("a spec asks a duration");
    let reserved = 10 * asked;
    let ask = |n: i64| request(spec, "m", &format!(" sim:made={n}"));
    let long = create(&app, &key, ask(longer)).await;
    let short = create(&app, &key, ask(shorter)).await;
    let l = expect_completed(&app, &key, &long, core).await;
    let s = expect_completed(&app, &key, &short, core).await;
    assert_eq!(
        (
            &l["credits_reserved"],
            &l["credits_charged"],
            &l["credits_refunded"]
        ),
        (&json!(reserved), &json!(reserved), &json!(false)),
        "{l}"
    );
    assert_eq!(l["billing"]["settlement"]["capped"], true, "{l}");
    assert_eq!(
        (
            &s["credits_reserved"],
            &s["credits_charged"],
            &s["credits_refunded"]
        ),
        (&json!(reserved), &json!(10 * shorter), &json!(true)),
        "{s}"
    );
    assert_eq!(
        s["billing"]["settlement"]["duration_seconds"], shorter,
        "{s}"
    );
    assert_eq!(
        app.balance(&key).await,
        START_CREDITS - reserved - 10 * shorter
    );
    let settles = app
        .state()
        .store
        .read_now(|txn| videoapi::store::ledger::list(txn, None, None, 1000))
        .unwrap()
        .iter()
        .filter(|e| e.kind.as_str() == "settle")
        .count();
    assert_eq!(settles, 1, "only the shorter task gives anything back");
    assert_ledger(&app);
    let (l, s) = (stored(&app, &long), stored(&app, &short));
    app.stop().await;
    (
        l.settlement.expect("settled"),
        s.settlement.expect("settled"),
    )
}

/// A route cost of `credits` per `per` provider units (a Kling unit, an Ark token).
pub fn units(credits: i64, per: Option<u64>) -> videoapi::domain::catalog::RouteCost {
    videoapi::domain::catalog::RouteCost {
        unit_credits: credits,
        per_units: per,
        ..Default::default()
    }
}

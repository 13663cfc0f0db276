//! Chaining to another VideoApi: a real second instance behind the fault proxy.

use super::*;
use crate::simulators::chain::VideoApiProxy;
use crate::simulators::{Op, Sim, start};
use videoapi::providers::ProviderError;

const UPSTREAM_MODEL: &str = "video-2.0-mini-reference-to-video";
/// What the upstream's demo model charges our account for a 5 s task at 720p.
const UPSTREAM_PRICE: i64 = 180;
const UPSTREAM_CREDITS: i64 = 1_000_000;

fn spec(key: &str) -> Spec {
    Spec {
        kind: "videoapi",
        base_path: "",
        key: Box::leak(key.to_string().into_boxed_str()),
        secret: "",
        settings: json!({}),
        upstream_model: UPSTREAM_MODEL,
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "demo_failure",
        blocked_code: "invalid_field",
        idempotent: true,
    }
}

/// The upstream gateway, our account there, and the proxy in front of it.
async fn upstream() -> (TestApp, String, Sim<VideoApiProxy>) {
    let up = TestApp::new().await;
    let key = fast_user(&up, "downstream-gateway", UPSTREAM_CREDITS).await;
    let proxy = start(VideoApiProxy::new(&up.url)).await;
    (up, key, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videoapi_chains_to_another_gateway_unchanged_and_is_charged_once() {
    let (up, up_key, sim) = upstream().await;
    let spec = spec(&up_key);
    let (app, key) = single(&spec, &sim.url).await;
    let image = upload_png(&app, &key).await;

    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "让 @Image1 自然转身", "image_urls": [image], "duration": "auto", "aspect_ratio": "16:9", "end_user_id": "customer_001"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.bearer(), Some(up_key.as_str()));
    assert_eq!(sent.header("idempotency-key"), Some(id.as_str()));
    let b = sent.json();
    assert_eq!(b["model"], UPSTREAM_MODEL);
    assert_eq!(
        b["prompt"], "让 @Image1 自然转身",
        "the protocol's own reference syntax"
    );
    assert_eq!(b["image_urls"], json!([image]));
    assert_eq!(b["duration"], "auto");
    assert_eq!(b["type"], "image-to-video");
    assert!(b["end_user_id"].is_string() && b["end_user_id"] != "customer_001");
    assert_eq!(up.balance(&up_key).await, UPSTREAM_CREDITS - UPSTREAM_PRICE);

    // What the chained gateway refuses (1080p on its model) fails here with its words,
    // refunded on both sides.
    let id = create(
        &app,
        &key,
        json!({"model": "m", "prompt": "a fox", "resolution": "1080p"}),
    )
    .await;
    let v = expect_failed(&app, &key, &id, "invalid_field", &sim).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1080p"),
        "{v}"
    );

    // A model the other gateway does not have is this channel's problem.
    model(&app, "missing", &[("chan-a", "no-such-model", 0)]).await;
    let id = create(&app, &key, request(&spec, "missing", "")).await;
    expect_failed(&app, &key, &id, "channel_unavailable", &sim).await;

    let msg = app
        .state()
        .registry
        .get("chan-a")
        .unwrap()
        .test_connection()
        .await
        .unwrap();
    assert!(
        msg.contains(&(UPSTREAM_CREDITS - UPSTREAM_PRICE).to_string()),
        "{msg}"
    );
    channel_with(&app, "bad", &spec, &sim.url, "vga_wrong", "").await;
    let err = app
        .state()
        .registry
        .get("bad")
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Channel { .. }), "{err:?}");

    assert_eq!(app.balance(&key).await, START_CREDITS - PRICE);
    assert_eq!(up.balance(&up_key).await, UPSTREAM_CREDITS - UPSTREAM_PRICE);
    assert_ledger(&app);
    assert!(up.audit().is_empty(), "{:?}", up.audit());
    app.stop().await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videoapi_fault_matrix_and_one_upstream_charge_per_task() {
    let (up, up_key, sim) = upstream().await;
    fault_matrix(&spec(&up_key), &sim, &sim.url).await;
    // Every upstream task was charged once and only the failed generation refunded: the
    // resent ambiguous submission reused its Idempotency-Key.
    assert!(up.audit().is_empty(), "{:?}", up.audit());
    let tasks = sim.tasks().len() as i64;
    let spent = UPSTREAM_CREDITS - up.balance(&up_key).await;
    assert_eq!(
        spent,
        (tasks - 1) * UPSTREAM_PRICE,
        "{tasks} upstream tasks"
    );
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videoapi_fails_over_and_resends_ambiguous_submits_only_to_the_same_channel() {
    let (up, up_key, sim) = upstream().await;
    failover(&spec(&up_key), &sim, &sim.url).await;
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videoapi_tasks_survive_restart_and_crash() {
    let (up, up_key, sim) = upstream().await;
    restart(&spec(&up_key), &sim, &sim.url).await;
    up.stop().await;
}

/// VideoApi → VideoApi: our engine hands the upstream a signed callback URL, the upstream
/// calls it the moment its task ends, and the task here completes at once although its
/// polls are an hour apart. The upstream takes 1.5 s here; issue 10's 30 s figure is
/// `CHAIN_UPSTREAM_DELAY_MS=30000 cargo nextest run --no-capture -E 'test(/a_chained_task/)'`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chained_task_completes_within_a_second_of_the_upstream_callback() {
    let delay_ms: u64 = std::env::var("CHAIN_UPSTREAM_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_500);
    let up_dir = tempfile::tempdir().unwrap();
    let mut up_cfg = test_config(up_dir.path());
    up_cfg.demo_delay_ms = delay_ms;
    up_cfg.allow_private_callbacks = true;
    let up = TestApp::with_config(up_dir, up_cfg).await;
    let up_key = fast_user(&up, "downstream-gateway", UPSTREAM_CREDITS).await;

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.poll_interval_ms = Some(3_600_000);
    cfg.allow_private_callbacks = true;
    let app = TestApp::with_config(dir, cfg).await;
    let key = fast_user(&app, "buyer", START_CREDITS).await;
    channel(&app, "chan-a", &spec(&up_key), &up.url).await;
    model(&app, "m", &[("chan-a", UPSTREAM_MODEL, 0)]).await;

    let id = create(
        &app,
        &key,
        json!({"model": "m", "prompt": "a red fox runs"}),
    )
    .await;
    wait_until("the submission", || {
        matches!(
            stored(&app, &id).phase,
            videoapi::domain::task::Phase::Submitted { .. }
        )
    })
    .await;
    let videoapi::domain::task::Phase::Submitted { upstream_id } = stored(&app, &id).phase else {
        unreachable!()
    };
    let sent = stored(&up, &upstream_id)
        .request
        .callback_url
        .unwrap_or_default();
    assert!(
        sent.starts_with(&format!("{}/callbacks/tasks/{id}/", app.url)),
        "{sent}"
    );
    // The upstream finishes (and then calls back); from then on, at most a second here.
    let deadline = std::time::Instant::now() + Duration::from_millis(delay_ms + 20_000);
    while up
        .get(&up_key, &format!("/v1/video/generations/{upstream_id}"))
        .await
        .1["status"]
        != "completed"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream never finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let done_upstream = std::time::Instant::now();
    let v = app.wait_for(&key, &id, "completed").await;
    let took = done_upstream.elapsed();
    eprintln!("upstream took {delay_ms} ms; completed here {took:?} after it finished");
    assert!(
        took < Duration::from_secs(1),
        "completed {took:?} after upstream: {v}"
    );
    assert_eq!(
        app.get(&key, &format!("/v1/video/generations/{id}"))
            .await
            .1["status"],
        "completed"
    );
    app.stop().await;
    up.stop().await;
}

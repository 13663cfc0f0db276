//! Replicate against its simulator: models declared as data, the three create paths,
//! outputs as a URL or a list, 429 without Retry-After, canceled/aborted.

use super::*;
use crate::simulators::replicate::{KLING_VERSION, Replicate};
use crate::simulators::{Fault, Op, start};
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "replicate",
        base_path: "/v1",
        key: "r8_simkey",
        secret: "",
        settings: json!({}),
        // A route without settings sends the prompt only.
        upstream_model: "minimax/video-01",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "E005",
        blocked_code: "invalid_input",
        idempotent: false,
    }
}

fn seedance_lite() -> Value {
    json!({
        "fields": {"image": "image", "last_image": "last_frame_image", "images": "reference_images",
                   "resolution": "resolution", "duration": "duration", "aspect_ratio": "aspect_ratio"},
        "durations": [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        "resolutions": ["480p", "720p", "1080p"], "max_images": 4
    })
}

fn kling_pinned() -> Value {
    json!({
        "types": ["image-to-video"],
        "fields": {"image": "start_image", "last_image": "end_image", "duration": "duration", "resolution": "mode"},
        "durations": [5, 10], "resolutions": {"720p": "standard", "1080p": "pro"},
        "fixed": {"negative_prompt": "blurry"}
    })
}

async fn gateway_with_models(sim_url: &str) -> (TestApp, String) {
    let (app, key) = single(&spec(), sim_url).await;
    model_with_settings(
        &app,
        "lite",
        "chan-a",
        "bytedance/seedance-1-lite",
        seedance_lite(),
    )
    .await;
    model_with_settings(
        &app,
        "kling",
        "chan-a",
        &format!("kwaivgi/kling-v2.1:{KLING_VERSION}"),
        kling_pinned(),
    )
    .await;
    model_with_settings(
        &app,
        "deployed",
        "chan-a",
        "deployments/minimax/video-01",
        Value::Null,
    )
    .await;
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_models_declared_as_data_run_as_predictions() {
    let sim = start(Replicate::new("r8_simkey")).await;
    let (app, key) = gateway_with_models(&sim.url).await;

    // An official model: input under `input`, values as the route declares them.
    let id = create(&app, &key, json!({"model": "lite", "prompt": "a lighthouse", "resolution": "480p", "duration": 6, "aspect_ratio": "9:16"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(
        sent.path,
        "/v1/models/bytedance/seedance-1-lite/predictions"
    );
    assert_eq!(sent.bearer(), Some("r8_simkey"));
    assert_eq!(
        sent.json(),
        json!({"input": {"prompt": "a lighthouse", "resolution": "480p", "duration": 6, "aspect_ratio": "9:16"}})
    );

    // Reference images; the output is a list (a poster and the video): the video is kept.
    let image = upload_png(&app, &key).await;
    let id = create(&app, &key, json!({
        "model": "lite", "type": "reference-to-video", "prompt": "@Image1 meets @Image2 sim:list",
        "image_urls": [image, "https://cdn.example.com/b.png"], "duration": "auto", "aspect_ratio": "auto"
    }))
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(
        sim.received(Op::Create)[1].json()["input"],
        json!({"prompt": "the first reference image meets the second reference image sim:list",
               "reference_images": [image, "https://cdn.example.com/b.png"], "resolution": "720p", "duration": 5})
    );

    // A pinned version: `POST /predictions` with `version`; renamed resolution, fixed input.
    let id = create(&app, &key, json!({
        "model": "kling", "type": "image-to-video", "prompt": "from @Image1 to @Image2",
        "image_urls": [image, "https://cdn.example.com/end.png"], "resolution": "1080p", "duration": 10
    }))
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[2].clone();
    assert_eq!(sent.path, "/v1/predictions");
    assert_eq!(
        sent.json(),
        json!({"version": KLING_VERSION, "input": {"prompt": "from the first frame to the last frame",
               "start_image": image, "end_image": "https://cdn.example.com/end.png", "mode": "pro",
               "duration": 10, "negative_prompt": "blurry"}})
    );

    // A deployment.
    let id = create(&app, &key, json!({"model": "deployed", "prompt": "waves"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(
        sim.received(Op::Create)[3].path,
        "/v1/deployments/minimax/video-01/predictions"
    );
    assert_eq!(app.balance(&key).await, START_CREDITS - 4 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_throttling_terminal_statuses_cancel_and_test_connection() {
    let sim = start(Replicate::new("r8_simkey")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;

    // 429 with no Retry-After header: the wait comes from "resets in ~1s".
    sim.inject(
        Op::Create,
        Fault::Raw {
            status: 429,
            body: r#"{"detail":"Request was throttled. Your rate limit resets in ~1s."}"#.into(),
        },
    );
    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    let creates = sim.received(Op::Create);
    let gap = creates[1].at.duration_since(creates[0].at);
    assert!(
        gap >= Duration::from_millis(950),
        "throttle hint not honoured: {gap:?}"
    );
    app.state().registry.health.record_ok("chan-a");

    // aborted (deadline passed before it started) is terminal and refunded.
    let id = create(&app, &key, request(&spec, "m", " sim:abort")).await;
    expect_failed(&app, &key, &id, "upstream_aborted", &sim).await;

    // Past our deadline a prediction is cancelled upstream.
    let id = create(&app, &key, request(&spec, "m", " sim:never")).await;
    app.wait_for(&key, &id, "processing").await;
    force_deadline(&app, &id).await;
    expect_failed(&app, &key, &id, "deadline_exceeded", &sim).await;
    let never = sim
        .tasks()
        .into_iter()
        .find(|t| t.request["input"]["prompt"] == "a red fox runs sim:never")
        .unwrap();
    assert_eq!(never.extra["canceled"], true);

    let adapter = app.state().registry.get("chan-a").unwrap();
    assert!(adapter.test_connection().await.unwrap().contains("acme"));
    channel_with(
        &app,
        "bad",
        &spec,
        &format!("{}/v1", sim.url),
        "r8_wrong",
        "",
    )
    .await;
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
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_refuses_what_a_route_does_not_map_and_bad_models() {
    let sim = start(Replicate::new("r8_simkey")).await;
    let (app, key) = gateway_with_models(&sim.url).await;
    let image = "https://cdn.example.com/a.png";
    expect_422(
        &app,
        &key,
        json!({"model": "m", "prompt": "x", "generate_audio": true}),
        "generate_audio",
    )
    .await;
    expect_422(&app, &key, json!({"model": "lite", "type": "reference-to-video", "prompt": "x", "image_urls": vec![image; 5]}), "image_urls").await;
    expect_422(&app, &key, json!({"model": "lite", "type": "reference-to-video", "prompt": "x", "video_urls": ["https://cdn.example.com/v.mp4"]}), "video_urls").await;
    expect_422(
        &app,
        &key,
        json!({"model": "lite", "prompt": "x", "duration": 15}),
        "duration",
    )
    .await;
    expect_422(&app, &key, json!({"model": "kling", "type": "image-to-video", "prompt": "x", "image_urls": [image], "resolution": "480p"}), "resolution").await;
    expect_422(&app, &key, json!({"model": "kling", "prompt": "x"}), "type").await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");

    let mut m = app.state().catalog.model("lite").unwrap().as_ref().clone();
    m.id = "broken".into();
    for bad in [
        "veo-3",
        "owner/name:not-a-version",
        "deployments/only-owner",
    ] {
        m.routes[0].upstream_model = bad.into();
        let err = app.state().catalog.put_model(m.clone()).await.unwrap_err();
        assert_eq!(err.param().as_deref(), Some("routes[0].settings"), "{err}");
    }
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_fault_matrix() {
    let sim = start(Replicate::new("r8_simkey")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Replicate::new("r8_simkey")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_tasks_survive_restart_and_crash() {
    let sim = start(Replicate::new("r8_simkey")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_sends_webhook_for_completed_and_replicate_posts_the_prediction() {
    let sim = start(Replicate::new("r8_simkey")).await;
    let (app, _) = single(&spec(), &sim.url).await;
    let hooks = crate::simulators::Hooks::start().await;
    let (id, url) = submit_with_callback(&app, &spec(), json!({}), &hooks).await;
    let body = sim.received(Op::Create)[0].json();
    assert_eq!(body["webhook"], url);
    assert_eq!(body["webhook_events_filter"], json!(["completed"]));
    assert_eq!(sim.finish(&id).await, Some(200));
    let p = the_callback(&hooks).await;
    assert_eq!(
        (p["id"].as_str(), p["status"].as_str()),
        (Some(id.as_str()), Some("succeeded"))
    );
    assert!(p["output"].is_string(), "{p}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicate_settles_on_the_measured_file_and_records_predict_time() {
    let sim = start(Replicate::new("r8_simkey")).await;
    // Replicate reports no length, so the gateway measures the file: 8 s for a 5 s ask
    // (capped), 3 s for another (refunded). `metrics.predict_time` (66.4 s of compute,
    // 67 units rounded up) at 2 credits a compute second.
    let (long, short) =
        settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), units(2, None)).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(134)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(134)));
}

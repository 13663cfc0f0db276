//! Luma against its simulator: keyframes, "5s"/"9s", failure_reason, 422s (no 480p).

use super::*;
use crate::simulators::luma::Luma;
use crate::simulators::{Op, start};
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "luma",
        base_path: "/dream-machine/v1",
        key: "luma-key-1",
        secret: "",
        settings: json!({}),
        upstream_model: "ray-2",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "content_policy_violation",
        blocked_code: "content_policy_violation",
        idempotent: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_keyframes_and_durations_reach_dream_machine() {
    let sim = start(Luma::new("luma-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;

    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.path, "/dream-machine/v1/generations/video");
    assert_eq!(sent.bearer(), Some("luma-key-1"));
    let b = sent.json();
    assert_eq!(b["model"], "ray-2");
    assert_eq!(b["generation_type"], "video");
    assert_eq!(b["duration"], "5s");
    assert_eq!(b["resolution"], "720p");
    assert_eq!(b["aspect_ratio"], "16:9");
    assert!(b.get("keyframes").is_none());

    // Start and end frame, 9 s, 21:9.
    let image = upload_png(&app, &key).await;
    let id = create(&app, &key, json!({
        "model": "m", "type": "image-to-video", "prompt": "@Image1 melts into @Image2",
        "image_urls": [image, "https://cdn.example.com/end.png"], "duration": 9, "aspect_ratio": "21:9",
        "resolution": "1080p"
    }))
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[1].json();
    assert_eq!(
        b["keyframes"],
        json!({"frame0": {"type": "image", "url": image}, "frame1": {"type": "image", "url": "https://cdn.example.com/end.png"}})
    );
    assert_eq!(b["prompt"], "the start frame melts into the end frame");
    assert_eq!(b["duration"], "9s");
    assert_eq!(b["aspect_ratio"], "21:9");
    assert_eq!(b["resolution"], "1080p");

    // `auto` sends "5s" and leaves the ratio to Luma.
    let id = create(
        &app,
        &key,
        json!({"model": "m", "prompt": "a calm lake", "duration": "auto", "aspect_ratio": "auto"}),
    )
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[2].json();
    assert_eq!(b["duration"], "5s");
    assert!(b.get("aspect_ratio").is_none());

    // A failed generation: its free-text reason comes back with a stable code.
    let id = create(&app, &key, request(&spec, "m", " sim:fail")).await;
    let v = expect_failed(&app, &key, &id, "content_policy_violation", &sim).await;
    assert_eq!(v["error"]["message"], "Advanced prompt moderation failed");

    let adapter = app.state().registry.get("chan-a").unwrap();
    assert!(adapter.test_connection().await.unwrap().contains("12345"));
    channel_with(
        &app,
        "bad",
        &spec,
        &format!("{}/dream-machine/v1", sim.url),
        "nope",
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

    assert_eq!(app.balance(&key).await, START_CREDITS - 3 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_refuses_what_it_cannot_honour_before_charging() {
    let sim = start(Luma::new("luma-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let with = |extra: Value| {
        let mut b = json!({"model": "m", "prompt": "a fox"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    expect_422(
        &app,
        &key,
        with(json!({"resolution": "480p"})),
        "resolution",
    )
    .await;
    expect_422(&app, &key, with(json!({"duration": 7})), "duration").await;
    expect_422(
        &app,
        &key,
        with(json!({"generate_audio": true})),
        "generate_audio",
    )
    .await;
    expect_422(&app, &key, with(json!({"prompt": "ok"})), "prompt").await;
    expect_422(
        &app,
        &key,
        with(
            json!({"type": "reference-to-video", "image_urls": ["https://cdn.example.com/a.png"]}),
        ),
        "type",
    )
    .await;
    expect_422(&app, &key, with(json!({"type": "image-to-video", "image_urls": vec!["https://cdn.example.com/a.png"; 3]})), "image_urls").await;
    expect_422(
        &app,
        &key,
        with(
            json!({"type": "reference-to-video", "video_urls": ["https://cdn.example.com/v.mp4"]}),
        ),
        "video_urls",
    )
    .await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_fault_matrix() {
    let sim = start(Luma::new("luma-key-1")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Luma::new("luma-key-1")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_tasks_survive_restart_and_crash() {
    let sim = start(Luma::new("luma-key-1")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn luma_settles_on_the_measured_file() {
    let sim = start(Luma::new("luma-key-1")).await;
    // Luma reports no length, so the gateway measures the mirrored file: 8 s for the
    // ask (capped), 3 s for another (refunded). The route costs 5 credits a task.
    let cost = videoapi::domain::catalog::RouteCost {
        per_task: 5,
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(5)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(5)));
}

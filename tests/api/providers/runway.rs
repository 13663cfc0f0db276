//! Runway against its simulator: version header, pixel ratios, THROTTLED, DELETE on deadline.

use super::*;
use crate::simulators::runway::Runway;
use crate::simulators::{Op, start};
use videoapi::providers::ProviderError;

const KEY: &str = "key_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn spec() -> Spec {
    Spec {
        kind: "runway",
        base_path: "",
        key: KEY,
        secret: "",
        settings: json!({}),
        upstream_model: "gen4.5",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "SAFETY.INPUT.TEXT",
        blocked_code: "invalid_request",
        idempotent: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_tasks_complete_with_version_header_and_pixel_ratios() {
    let sim = start(Runway::new(KEY)).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    channel(&app, "chan-veo", &spec, &sim.url).await;
    model(&app, "veo", &[("chan-veo", "veo3.1", 0)]).await;
    channel(&app, "chan-sd", &spec, &sim.url).await;
    model(&app, "sd", &[("chan-sd", "seedance2", 0)]).await;

    // Text to video: 720p + 16:9 is one pixel ratio.
    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.path, "/v1/text_to_video");
    assert_eq!(sent.bearer(), Some(KEY));
    assert_eq!(sent.header("x-runway-version"), Some("2024-11-06"));
    let b = sent.json();
    assert_eq!(b["model"], "gen4.5");
    assert_eq!(b["ratio"], "1280:720");
    assert_eq!(b["duration"], 5);
    assert_eq!(b["promptText"], "a red fox runs");

    // First and last frame on veo3.1 at 1080p portrait; our own uploads (plain HTTP on a
    // loopback address, which Runway cannot fetch) go inline as data URIs.
    let image = upload_png(&app, &key).await;
    let id = create(
        &app,
        &key,
        json!({
            "model": "veo", "type": "image-to-video", "prompt": "from @Image1 to @Image2",
            "image_urls": [image, "https://cdn.example.com/end.png"], "resolution": "1080p",
            "aspect_ratio": "9:16", "duration": "auto", "generate_audio": true
        }),
    )
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[1].clone();
    assert_eq!(sent.path, "/v1/image_to_video");
    let b = sent.json();
    assert_eq!(b["ratio"], "1080:1920");
    assert_eq!(b["promptText"], "from the first frame to the last frame");
    assert!(
        b["promptImage"][0]["uri"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,"),
        "{b}"
    );
    assert_eq!(b["promptImage"][0]["position"], "first");
    assert_eq!(
        b["promptImage"][1],
        json!({"uri": "https://cdn.example.com/end.png", "position": "last"})
    );
    assert_eq!(b["audio"], true);
    assert_eq!(b["duration"], 8, "auto is veo3.1's default");

    // Seedance 2 references: images, videos and audio as positional arrays.
    let id = create(&app, &key, json!({
        "model": "sd", "type": "reference-to-video", "prompt": "@Image1 sings @Audio1",
        "image_urls": ["https://cdn.example.com/a.png"], "audio_urls": ["https://cdn.example.com/a.mp3"],
        "video_urls": ["https://cdn.example.com/v.mp4"], "resolution": "480p", "aspect_ratio": "1:1"
    }))
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[2].json();
    assert_eq!(b["ratio"], "640:640");
    assert_eq!(
        b["references"],
        json!([{"uri": "https://cdn.example.com/a.png"}])
    );
    assert_eq!(
        b["referenceVideos"],
        json!([{"type": "video", "uri": "https://cdn.example.com/v.mp4"}])
    );
    assert_eq!(
        b["promptText"],
        "the first reference image sings the first reference audio"
    );

    // THROTTLED (over the org's concurrency) is a queue, not a failure.
    sim.set_timeline(3, 1);
    let id = create(&app, &key, request(&spec, "m", " sim:throttle")).await;
    expect_completed(&app, &key, &id, &sim).await;
    let throttled = sim
        .tasks()
        .into_iter()
        .find(|t| t.request["promptText"] == "a red fox runs sim:throttle")
        .unwrap();
    assert!(throttled.polls >= 4, "seen THROTTLED, then finished");
    sim.set_timeline(1, 1);

    assert_eq!(app.balance(&key).await, START_CREDITS - 4 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_refuses_what_the_model_cannot_do_before_charging() {
    let sim = start(Runway::new(KEY)).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    channel(&app, "chan-gen4", &spec, &sim.url).await;
    model(&app, "gen4", &[("chan-gen4", "gen4_turbo", 0)]).await;
    channel(&app, "chan-veo", &spec, &sim.url).await;
    model(&app, "veo", &[("chan-veo", "veo3", 0)]).await;
    let p = |m: &str, extra: Value| {
        let mut b = json!({"model": m, "prompt": "a fox"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    expect_422(
        &app,
        &key,
        p("gen4", json!({"type": "text-to-video"})),
        "type",
    )
    .await;
    expect_422(
        &app,
        &key,
        p("m", json!({"resolution": "480p"})),
        "resolution",
    )
    .await;
    expect_422(
        &app,
        &key,
        p("m", json!({"resolution": "1080p"})),
        "resolution",
    )
    .await;
    expect_422(
        &app,
        &key,
        p("veo", json!({"aspect_ratio": "21:9", "duration": 8})),
        "aspect_ratio",
    )
    .await;
    expect_422(&app, &key, p("veo", json!({"duration": 5})), "duration").await;
    expect_422(
        &app,
        &key,
        p("m", json!({"generate_audio": true})),
        "generate_audio",
    )
    .await;
    expect_422(
        &app,
        &key,
        p(
            "m",
            json!({"type": "reference-to-video", "image_urls": ["https://cdn.example.com/a.png"]}),
        ),
        "type",
    )
    .await;
    expect_422(&app, &key, p("gen4", json!({"type": "image-to-video", "prompt": "@Image1 @Image2", "image_urls": ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]})), "image_urls").await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_deadline_cancels_upstream_and_test_connection_reads_the_org() {
    let sim = start(Runway::new(KEY)).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;

    let id = create(&app, &key, request(&spec, "m", " sim:never")).await;
    app.wait_for(&key, &id, "processing").await;
    force_deadline(&app, &id).await;
    expect_failed(&app, &key, &id, "deadline_exceeded", &sim).await;
    let upstream = sim.tasks()[0].id.clone();
    let deletes: Vec<_> = sim
        .received(Op::Other)
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "the abandoned task is cancelled upstream");
    assert_eq!(deletes[0].path, format!("/v1/tasks/{upstream}"));
    assert_eq!(deletes[0].header("x-runway-version"), Some("2024-11-06"));
    assert_eq!(sim.task(&upstream).unwrap().extra["cancelled"], true);

    let adapter = app.state().registry.get("chan-a").unwrap();
    let msg = adapter.test_connection().await.unwrap();
    assert!(msg.contains("12000"), "{msg}");
    let wrong = format!("key_{}", "f".repeat(128));
    channel_with(&app, "bad", &spec, &sim.url, &wrong, "").await;
    let err = app
        .state()
        .registry
        .get("bad")
        .unwrap()
        .test_connection()
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Channel { .. }), "{err:?}");
    assert_eq!(app.balance(&key).await, START_CREDITS);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_fault_matrix() {
    let sim = start(Runway::new(KEY)).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Runway::new(KEY)).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_tasks_survive_restart_and_crash() {
    let sim = start(Runway::new(KEY)).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_settles_on_the_measured_file() {
    let sim = start(Runway::new(KEY)).await;
    // Runway reports no length, so the gateway measures the mirrored file: 8 s for the
    // ask (capped), 3 s for another (refunded). The route costs 5 credits a task.
    let cost = videoapi::domain::catalog::RouteCost {
        per_task: 5,
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(5)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(5)));
}

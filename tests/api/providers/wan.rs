//! Wan on DashScope against its simulator: async header, legacy and `media[]` bodies.

use super::*;
use crate::simulators::wan::WanSim;
use crate::simulators::{Op, start};
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "wan",
        base_path: "/api/v1",
        key: "sk-dash",
        secret: "",
        settings: json!({}),
        upstream_model: "wan2.6",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "DataInspectionFailed",
        blocked_code: "DataInspectionFailed",
        idempotent: false,
    }
}

fn sim() -> WanSim {
    WanSim {
        key: "sk-dash".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_tasks_complete_in_both_body_formats() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    model(&app, "m27", &[("chan-a", "wan2.7", 0)]).await;
    let image = upload_png(&app, &key).await;

    // Legacy text to video on a family route: the model id and size are derived.
    let id = create(&app, &key, json!({"model": "m", "prompt": "a fox", "resolution": "1080p", "aspect_ratio": "9:16", "duration": 10, "generate_audio": true})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.header("x-dashscope-async"), Some("enable"));
    assert_eq!(sent.bearer(), Some("sk-dash"));
    let b = sent.json();
    assert_eq!(b["model"], "wan2.6-t2v");
    assert_eq!(b["parameters"]["size"], "1080*1920");
    assert_eq!(b["parameters"]["duration"], 10);
    assert_eq!(b["parameters"]["audio"], true);

    // Legacy image to video with a driving audio clip.
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 sings @Audio1", "image_urls": [image], "audio_urls": ["https://cdn.example/voice.mp3"]})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[1].json();
    assert_eq!(b["model"], "wan2.6-i2v");
    assert_eq!(b["input"]["img_url"], image);
    assert_eq!(b["input"]["audio_url"], "https://cdn.example/voice.mp3");
    assert_eq!(b["input"]["prompt"], "the first frame sings the audio");
    assert_eq!(b["parameters"]["resolution"], "720P");

    // Legacy references: images then videos, named character1, character2...
    let id = create(&app, &key, json!({"model": "m", "type": "reference-to-video", "prompt": "@Image1 dances with @Video1", "image_urls": [image], "video_urls": ["https://cdn.example/v.mp4"]})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[2].json();
    assert_eq!(b["model"], "wan2.6-r2v");
    assert_eq!(
        b["input"]["reference_urls"],
        json!([image, "https://cdn.example/v.mp4"])
    );
    assert_eq!(b["input"]["prompt"], "character1 dances with character2");

    // wan2.7: the media list, first and last frame.
    let id = create(&app, &key, json!({"model": "m27", "type": "image-to-video", "prompt": "@Image1 to @Image2", "image_urls": [image, image], "resolution": "1080p"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[3].json();
    assert_eq!(b["model"], "wan2.7-i2v");
    assert_eq!(
        b["input"]["media"],
        json!([{"type": "first_frame", "url": image}, {"type": "last_frame", "url": image}])
    );
    assert_eq!(b["parameters"]["resolution"], "1080P");
    assert!(b["input"].get("img_url").is_none());

    assert!(
        app.state()
            .registry
            .get("chan-a")
            .unwrap()
            .test_connection()
            .await
            .is_ok()
    );
    channel_with(
        &app,
        "bad",
        &spec,
        &format!("{}/api/v1", sim.url),
        "sk-wrong",
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
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_refuses_what_it_cannot_do_before_charging() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    model(&app, "m22", &[("chan-a", "wan2.2", 0)]).await;
    model(&app, "m25", &[("chan-a", "wan2.5", 0)]).await;
    expect_422(
        &app,
        &key,
        json!({"model": "m", "prompt": "a fox", "resolution": "480p"}),
        "resolution",
    )
    .await;
    expect_422(
        &app,
        &key,
        json!({"model": "m", "prompt": "a fox", "aspect_ratio": "21:9"}),
        "aspect_ratio",
    )
    .await;
    expect_422(
        &app,
        &key,
        json!({"model": "m22", "prompt": "a fox", "generate_audio": true}),
        "generate_audio",
    )
    .await;
    expect_422(&app, &key, json!({"model": "m", "type": "reference-to-video", "prompt": "p", "image_urls": ["https://x/1.png"], "audio_urls": ["https://x/a.mp3"]}), "audio_urls").await;
    expect_422(&app, &key, json!({"model": "m25", "type": "reference-to-video", "prompt": "p", "image_urls": ["https://x/1.png"]}), "type").await;
    expect_422(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "p", "image_urls": ["https://x/1.png", "https://x/2.png"]}), "image_urls").await;
    assert_eq!(sim.count(Op::Create), 0);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_fault_matrix() {
    let sim = start(sim()).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(sim()).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_tasks_survive_restart_and_crash() {
    let sim = start(sim()).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wan_settles_on_the_usage_duration_and_resolution() {
    let sim = start(sim()).await;
    // DashScope's `usage` says 8 s for a 5 s ask (capped) and 3 s for another
    // (refunded); its `SR` 720 prices the channel's 3 credits a second at 720p.
    let cost = videoapi::domain::catalog::RouteCost {
        per_second: [("720p".to_string(), 3), ("*".to_string(), 100)].into(),
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(24)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(9)));
}

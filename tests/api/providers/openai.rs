//! OpenAI-Videos-compatible upstreams against their simulator: multipart and JSON bodies,
//! content downloads that need the key.

use super::*;
use crate::simulators::openai::OpenAiSim;
use crate::simulators::{Op, start};
use videoapi::domain::catalog::ProviderConfig;
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "openai-videos",
        base_path: "/v1",
        key: "sk-oai",
        secret: "",
        settings: json!({}),
        upstream_model: "sora-2",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 8, "aspect_ratio": "16:9", "generate_audio": true}),
        failed_code: "video_generation_failed",
        blocked_code: "moderation_blocked",
        idempotent: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_videos_multipart_and_json_bodies_and_keyed_content() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let mut json_spec = spec.clone();
    json_spec.settings = json!({"body": "json"});
    channel(&app, "chan-json", &json_spec, &format!("{}/v1", sim.url)).await;
    model(&app, "mj", &[("chan-json", "sora-2", 0)]).await;
    let image = upload_png(&app, &key).await;

    // Multipart (the declared format): the reference image travels as a file.
    let body = json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 waves", "image_urls": [image], "aspect_ratio": "9:16", "duration": 12, "generate_audio": true});
    let id = create(&app, &key, body.clone()).await;
    expect_completed(&app, &key, &id, &sim).await;
    let f = sim.upstream.creates()[0].clone();
    assert_eq!(f["_format"], "multipart");
    assert_eq!(f["model"], "sora-2");
    assert_eq!(f["prompt"], "the reference image waves");
    assert_eq!(f["seconds"], "12");
    assert_eq!(f["size"], "720x1280");
    assert_eq!(f["input_reference"]["content_type"], "image/png");
    assert_eq!(f["input_reference"]["size"], png_bytes().len());
    let content = sim.received(Op::Download);
    assert!(content[0].path.ends_with("/content"));
    assert_eq!(content[0].bearer(), Some("sk-oai"), "content needs the key");

    // JSON: the reference image goes as a URL.
    let mut b2 = body;
    b2["model"] = json!("mj");
    let id = create(&app, &key, b2).await;
    expect_completed(&app, &key, &id, &sim).await;
    let f = sim.upstream.creates()[1].clone();
    assert_eq!(f["_format"], "json");
    assert_eq!(f["input_reference"], json!({"image_url": image}));
    assert_eq!(f["seconds"], "12");

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
        &format!("{}/v1", sim.url),
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
    // A generic adapter cannot guess the upstream: the base URL is required.
    let err = app
        .state()
        .catalog
        .put_provider(ProviderConfig {
            name: "nobase".into(),
            kind: "openai-videos".into(),
            base_url: String::new(),
            api_key: "k".into(),
            api_secret: String::new(),
            enabled: true,
            priority: 0,
            weight: 1,
            settings: Value::Null,
        })
        .await
        .unwrap_err();
    assert_eq!(err.param().as_deref(), Some("base_url"));
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_videos_refuses_what_it_cannot_do_before_charging() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let b = |extra: Value| {
        let mut v = json!({"model": "m", "prompt": "a fox", "duration": 8, "generate_audio": true});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    expect_422(&app, &key, b(json!({"resolution": "1080p"})), "resolution").await;
    expect_422(
        &app,
        &key,
        b(json!({"aspect_ratio": "1:1"})),
        "aspect_ratio",
    )
    .await;
    expect_422(&app, &key, b(json!({"duration": 5})), "duration").await;
    expect_422(
        &app,
        &key,
        b(json!({"generate_audio": false})),
        "generate_audio",
    )
    .await;
    expect_422(
        &app,
        &key,
        b(json!({"type": "image-to-video", "image_urls": ["https://x/1.png", "https://x/2.png"]})),
        "image_urls",
    )
    .await;
    expect_422(
        &app,
        &key,
        b(json!({"type": "reference-to-video", "image_urls": ["https://x/1.png"]})),
        "type",
    )
    .await;
    assert_eq!(sim.count(Op::Create), 0);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_videos_fault_matrix() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_videos_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_videos_tasks_survive_restart_and_crash() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sora_settles_on_the_reported_seconds() {
    let sim = start(OpenAiSim::new("sk-oai")).await;
    // The Video object says 12 s for an 8 s ask (capped) and 4 s for another
    // (refunded); the channel costs 2 credits a second at any resolution.
    let cost = videoapi::domain::catalog::RouteCost {
        per_second: [("*".to_string(), 2)].into(),
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (12, 4), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (12, Some(24)));
    assert_eq!((short.seconds, short.upstream_cost), (4, Some(8)));
}

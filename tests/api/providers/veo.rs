//! Veo (Gemini API) against its simulator: operations, inline images, keyed downloads.

use super::*;
use crate::simulators::veo::VeoSim;
use crate::simulators::{Op, start};
use base64::Engine as _;
use videoapi::providers::ProviderError;

const V31: &str = "veo-3.1-generate-preview";

fn spec() -> Spec {
    Spec {
        kind: "veo",
        base_path: "/v1beta",
        key: "gemini-key",
        secret: "",
        settings: json!({}),
        upstream_model: V31,
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 8, "aspect_ratio": "16:9", "generate_audio": true}),
        failed_code: "content_filtered",
        blocked_code: "INVALID_ARGUMENT",
        idempotent: false,
    }
}

fn sim() -> VeoSim {
    VeoSim {
        key: "gemini-key".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_inlines_our_uploads_and_downloads_with_the_key() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let image = upload_png(&app, &key).await;

    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 opens into @Image2", "image_urls": [image, image], "duration": "auto", "aspect_ratio": "auto", "generate_audio": true})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(
        sent.path,
        format!("/v1beta/models/{V31}:predictLongRunning")
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("gemini-key"));
    let b = sent.json();
    let inst = &b["instances"][0];
    assert_eq!(inst["prompt"], "the first frame opens into the last frame");
    let png64 = base64::engine::general_purpose::STANDARD.encode(png_bytes());
    assert_eq!(
        inst["image"],
        json!({"bytesBase64Encoded": png64, "mimeType": "image/png"})
    );
    assert_eq!(inst["lastFrame"]["bytesBase64Encoded"], png64);
    assert!(
        !b.to_string().contains("/uploads/"),
        "images travel inline, not as URLs"
    );
    let p = &b["parameters"];
    assert_eq!(p["resolution"], "720p");
    assert_eq!(p["personGeneration"], "allow_adult");
    assert!(
        p.get("aspectRatio").is_none() && p.get("durationSeconds").is_none(),
        "{p}"
    );
    assert!(p.get("generateAudio").is_none(), "a Vertex-only field");
    // The file endpoint gets the key; the signed redirect target on another host does not.
    let downloads = sim.received(Op::Download);
    let api = downloads
        .iter()
        .find(|r| r.path.starts_with("/v1beta/files/"))
        .unwrap();
    assert_eq!(api.header("x-goog-api-key"), Some("gemini-key"));
    let signed = downloads
        .iter()
        .find(|r| r.path.starts_with("/_sim/files/"))
        .unwrap();
    assert_eq!(
        signed.header("x-goog-api-key"),
        None,
        "key leaked across a redirect"
    );
    assert_eq!(
        signed.header("host").map(|h| h.starts_with("localhost")),
        Some(true)
    );

    // Reference images: asset references, 8 s, plain-words references in the prompt.
    let id = create(&app, &key, json!({"model": "m", "type": "reference-to-video", "prompt": "@Image1 meets @Image2", "image_urls": [image, image], "resolution": "1080p", "generate_audio": true})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[1].json();
    assert_eq!(
        b["instances"][0]["prompt"],
        "reference image 1 meets reference image 2"
    );
    assert_eq!(
        b["instances"][0]["referenceImages"][1]["referenceType"],
        "asset"
    );
    assert_eq!(b["parameters"]["durationSeconds"], 8);
    assert_eq!(b["parameters"]["resolution"], "1080p");

    // An operation that ends with an error carries Google's status as the code.
    let id = create(&app, &key, request(&spec, "m", " sim:operror")).await;
    let v = expect_failed(&app, &key, &id, "INTERNAL", &sim).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("internal error")
    );

    // An image on a private address outside the channel's allow-list is never fetched:
    // failed, refunded, nothing sent.
    let creates = sim.count(Op::Create);
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "p", "image_urls": ["http://169.254.169.254/latest/secret.png"], "generate_audio": true})).await;
    let v = expect_failed(&app, &key, &id, "invalid_asset", &sim).await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("private"),
        "{v}"
    );
    assert_eq!(sim.count(Op::Create), creates);

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
        &format!("{}/v1beta", sim.url),
        "wrong",
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
    assert_eq!(app.balance(&key).await, START_CREDITS - 2 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_refuses_what_it_cannot_do_before_charging() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let b = |extra: Value| {
        let mut v = json!({"model": "m", "prompt": "a fox", "generate_audio": true, "duration": 8});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    expect_422(&app, &key, b(json!({"resolution": "480p"})), "resolution").await;
    expect_422(&app, &key, b(json!({"duration": 5})), "duration").await;
    expect_422(
        &app,
        &key,
        b(json!({"resolution": "1080p", "duration": 4})),
        "duration",
    )
    .await;
    expect_422(
        &app,
        &key,
        b(json!({"aspect_ratio": "1:1"})),
        "aspect_ratio",
    )
    .await;
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
        b(json!({"type": "reference-to-video", "video_urls": ["https://x/v.mp4"]})),
        "video_urls",
    )
    .await;
    expect_422(&app, &key, b(json!({"type": "reference-to-video", "image_urls": ["https://x/1.png"], "aspect_ratio": "9:16"})), "aspect_ratio").await;
    assert_eq!(sim.count(Op::Create), 0);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_fault_matrix() {
    let sim = start(sim()).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(sim()).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_tasks_survive_restart_and_crash() {
    let sim = start(sim()).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_settles_on_the_measured_file() {
    let sim = start(sim()).await;
    // Veo reports no length, so the gateway measures the mirrored file: 12 s for the
    // ask (capped), 4 s for another (refunded). The route costs 5 credits a task.
    let cost = videoapi::domain::catalog::RouteCost {
        per_task: 5,
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (12, 4), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (12, Some(5)));
    assert_eq!((short.seconds, short.upstream_cost), (4, Some(5)));
}

//! Kling against its simulator: JWT auth, endpoint per type, `external_task_id` resends.

use super::*;
use crate::simulators::kling::KlingSim;
use crate::simulators::{Hooks, Op, start};
use base64::Engine as _;
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "kling",
        base_path: "",
        key: "AK-test",
        secret: "SK-test-secret",
        settings: json!({}),
        upstream_model: "kling-v2-6",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "generation_failed",
        blocked_code: "content_policy",
        idempotent: true,
    }
}

fn sim() -> KlingSim {
    KlingSim::new("AK-test", "SK-test-secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_tasks_complete_with_the_kling_wire_format() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    model(&app, "omni", &[("chan-a", "kling-v3-omni", 0)]).await;
    let image = upload_png(&app, &key).await;

    // Image to video: first and last frame; the ratio follows the image.
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 becomes @Image2", "image_urls": [image, image], "aspect_ratio": "9:16", "duration": "auto"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.path, "/v1/videos/image2video");
    let b = sent.json();
    assert_eq!(b["model_name"], "kling-v2-6");
    assert_eq!(b["prompt"], "the first frame becomes the last frame");
    assert_eq!(b["image"], image);
    assert_eq!(b["image_tail"], image);
    assert_eq!(b["duration"], "5");
    assert_eq!(b["mode"], "std");
    assert_eq!(b["sound"], "off");
    assert_eq!(b["external_task_id"], id);
    assert!(b.get("aspect_ratio").is_none());
    let polls = sim.received(Op::Poll);
    assert!(
        polls
            .iter()
            .all(|p| p.path.starts_with("/v1/videos/image2video/"))
    );
    // The bearer token is a JWT whose issuer is the access key.
    let token = sent.bearer().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "AK-test");
    assert!(!token.contains("SK-test-secret"));

    // Omni references: `<<<image_1>>>`, a video list, 1080p with sound.
    let id = create(&app, &key, json!({"model": "omni", "type": "reference-to-video", "prompt": "@Image1 dances in @Video1", "image_urls": [image], "video_urls": ["https://cdn.example/v.mp4"], "resolution": "1080p", "duration": 8, "aspect_ratio": "1:1", "generate_audio": true})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[1].clone();
    assert_eq!(sent.path, "/v1/videos/omni-video");
    let b = sent.json();
    assert_eq!(b["prompt"], "<<<image_1>>> dances in <<<video_1>>>");
    assert_eq!(b["image_list"], json!([{"image_url": image}]));
    assert_eq!(b["video_list"][0]["video_url"], "https://cdn.example/v.mp4");
    assert_eq!(
        (
            b["mode"].as_str(),
            b["duration"].as_str(),
            b["sound"].as_str()
        ),
        (Some("pro"), Some("8"), Some("on"))
    );
    assert_eq!(b["aspect_ratio"], "1:1");

    let adapter = app.state().registry.get("chan-a").unwrap();
    assert!(adapter.test_connection().await.is_ok());
    channel_with(&app, "bad", &spec, &sim.url, "AK-test", "wrong-secret").await;
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
async fn kling_refuses_what_it_cannot_do_before_charging() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    model(&app, "turbo", &[("chan-a", "kling-v2-5-turbo", 0)]).await;
    let b = |extra: Value| {
        let mut v = json!({"model": "m", "prompt": "a fox"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    expect_422(&app, &key, b(json!({"resolution": "480p"})), "resolution").await;
    expect_422(
        &app,
        &key,
        b(json!({"aspect_ratio": "21:9"})),
        "aspect_ratio",
    )
    .await;
    expect_422(&app, &key, b(json!({"duration": 7})), "duration").await;
    expect_422(
        &app,
        &key,
        b(json!({"type": "reference-to-video", "image_urls": ["https://x/1.png"]})),
        "type",
    )
    .await;
    expect_422(
        &app,
        &key,
        json!({"model": "turbo", "prompt": "a fox", "generate_audio": true}),
        "generate_audio",
    )
    .await;
    assert_eq!(sim.count(Op::Create), 0);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_fault_matrix() {
    let sim = start(sim()).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_fails_over_and_resends_ambiguous_submits_only_to_the_same_channel() {
    let sim = start(sim()).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_tasks_survive_restart_and_crash() {
    let sim = start(sim()).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_sends_callback_url_and_kling_posts_the_task_when_it_ends() {
    let sim = start(sim()).await;
    let (app, _) = single(&spec(), &sim.url).await;
    let hooks = Hooks::start().await;
    let (stored, url) = submit_with_callback(&app, &spec(), json!({}), &hooks).await;
    assert_eq!(sim.received(Op::Create)[0].json()["callback_url"], url);
    let id = stored.strip_prefix("text2video:").unwrap();
    assert_eq!(sim.finish(id).await, Some(200));
    let task = the_callback(&hooks).await;
    assert_eq!(
        (task["task_id"].as_str(), task["task_status"].as_str()),
        (Some(id), Some("succeed"))
    );
    assert!(
        task["task_result"]["videos"][0]["url"].is_string(),
        "{task}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kling_settles_on_the_reported_duration_and_records_final_unit_deduction() {
    let sim = start(sim()).await;
    // Kling made 8 s for a 5 s ask (capped at the reservation) and 3 s for another
    // (refunded); `final_unit_deduction` 2 and 1 at 7 credits a unit is the upstream cost.
    let (long, short) =
        settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), units(7, None)).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(14)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(7)));
}

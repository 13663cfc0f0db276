//! Vidu against its simulator: `Token` auth, one endpoint per mode, subjects, 422s.

use super::*;
use crate::simulators::vidu::Vidu;
use crate::simulators::{Op, start};
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "vidu",
        base_path: "",
        key: "vidu-key-1",
        secret: "",
        settings: json!({}),
        upstream_model: "viduq2",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "CreationPolicyViolation",
        blocked_code: "TaskPromptPolicyViolation",
        idempotent: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_every_mode_reaches_its_endpoint_with_token_auth() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    channel(&app, "chan-q3", &spec, &sim.url).await;
    model(&app, "q3", &[("chan-q3", "viduq3-turbo", 0)]).await;
    channel(&app, "chan-q1", &spec, &sim.url).await;
    model(&app, "q1", &[("chan-q1", "viduq1", 0)]).await;

    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.path, "/ent/v2/text2video");
    assert_eq!(sent.header("authorization"), Some("Token vidu-key-1"));
    let b = sent.json();
    assert_eq!(b["model"], "viduq2");
    assert_eq!(b["resolution"], "720p");
    assert_eq!(b["duration"], 5);
    assert_eq!(b["aspect_ratio"], "16:9");
    assert_eq!(b["audio"], false);
    assert_eq!(b["payload"], id.as_str(), "payload carries our task id");

    // One image → img2video; two → start-end2video (first and last frame).
    let image = upload_png(&app, &key).await;
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 waves", "image_urls": [image]})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[1].clone();
    assert_eq!(sent.path, "/ent/v2/img2video");
    assert_eq!(sent.json()["images"], json!([image]));
    assert_eq!(sent.json()["prompt"], "the first frame waves");
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "from @Image1 to @Image2", "image_urls": [image, image]})).await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(sim.received(Op::Create)[2].path, "/ent/v2/start-end2video");

    // Reference to video on q3: one subject per image, tagged @1, @2 in the prompt.
    let id = create(
        &app,
        &key,
        json!({
            "model": "q3", "type": "reference-to-video", "prompt": "@Image1 and @Image2 eat hotpot",
            "image_urls": [image, "https://cdn.example.com/b.png"], "resolution": "1080p",
            "duration": 8, "aspect_ratio": "auto", "generate_audio": true
        }),
    )
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[3].clone();
    assert_eq!(sent.path, "/ent/v2/reference2video");
    let b = sent.json();
    assert_eq!(b["prompt"], "@1 and @2 eat hotpot");
    assert_eq!(
        b["subjects"],
        json!([{"id": "1", "images": [image]}, {"id": "2", "images": ["https://cdn.example.com/b.png"]}])
    );
    assert_eq!(b["audio"], true);
    assert!(b.get("aspect_ratio").is_none(), "auto leaves the default");

    // Older models: plain `images`, 1080p only, audio as background music.
    let id = create(
        &app,
        &key,
        json!({
            "model": "q1", "type": "reference-to-video", "prompt": "@Image1 dances",
            "image_urls": [image], "resolution": "1080p", "generate_audio": true
        }),
    )
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[4].json();
    assert_eq!(b["images"], json!([image]));
    assert!(b.get("subjects").is_none());
    assert_eq!(b["bgm"], true);
    assert_eq!(b["prompt"], "the first reference image dances");

    assert_eq!(app.balance(&key).await, START_CREDITS - 5 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_refuses_what_it_cannot_honour_before_charging() {
    let sim = start(Vidu::new("vidu-key-1")).await;
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
    expect_422(
        &app,
        &key,
        with(json!({"aspect_ratio": "21:9"})),
        "aspect_ratio",
    )
    .await;
    expect_422(&app, &key, with(json!({"duration": 12})), "duration").await;
    expect_422(&app, &key, with(json!({"type": "reference-to-video", "prompt": "@Image1 sings @Audio1", "image_urls": ["https://cdn.example.com/a.png"], "audio_urls": ["https://cdn.example.com/a.mp3"]})), "audio_urls").await;
    expect_422(&app, &key, with(json!({"type": "reference-to-video", "image_urls": ["https://cdn.example.com/a.png"], "video_urls": ["https://cdn.example.com/v.mp4"]})), "video_urls").await;
    expect_422(&app, &key, with(json!({"type": "reference-to-video", "image_urls": vec!["https://cdn.example.com/a.png"; 8]})), "image_urls").await;
    expect_422(&app, &key, with(json!({"type": "image-to-video", "image_urls": vec!["https://cdn.example.com/a.png"; 3]})), "image_urls").await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_account_problems_deadlines_and_test_connection() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;

    // Out of credit upstream is the channel's problem: refunded, generic message.
    let id = create(&app, &key, request(&spec, "m", " sim:broke")).await;
    let v = expect_failed(&app, &key, &id, "channel_unavailable", &sim).await;
    assert!(
        !v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("insufficient")
    );
    app.state().registry.health.record_ok("chan-a");

    // Past its deadline a task is cancelled upstream (best effort) and refunded.
    let id = create(&app, &key, request(&spec, "m", " sim:never")).await;
    app.wait_for(&key, &id, "processing").await;
    force_deadline(&app, &id).await;
    expect_failed(&app, &key, &id, "deadline_exceeded", &sim).await;
    let upstream = sim.tasks()[0].id.clone();
    assert_eq!(sim.task(&upstream).unwrap().extra["cancelled"], true);

    let adapter = app.state().registry.get("chan-a").unwrap();
    assert!(adapter.test_connection().await.is_ok());
    channel_with(&app, "bad", &spec, &sim.url, "wrong", "").await;
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
async fn vidu_fault_matrix() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_tasks_survive_restart_and_crash() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vidu_settles_on_the_measured_file_and_records_its_credits() {
    let sim = start(Vidu::new("vidu-key-1")).await;
    // Vidu reports no length, so the gateway measures the file: 8 s for a 5 s ask
    // (capped), 3 s for another (refunded). Its `credits` (10) at 3 credits each.
    let (long, short) =
        settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), units(3, None)).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(30)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(30)));
}

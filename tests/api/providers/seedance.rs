//! Seedance on Ark (CN) and BytePlus (intl) against the Ark simulator.

use super::*;
use crate::simulators::seedance::{Ark, EXECUTION_EXPIRES_AFTER};
use crate::simulators::{Hooks, Op, start};
use videoapi::providers::ProviderError;

const V2: &str = "doubao-seedance-2-0-260128";

fn spec() -> Spec {
    Spec {
        kind: "seedance",
        base_path: "/api/v3",
        key: "ark-key-1",
        secret: "",
        settings: json!({}),
        upstream_model: V2,
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "OutputVideoSensitiveContentDetected",
        blocked_code: "InputTextSensitiveContentDetected",
        idempotent: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_reference_task_completes_with_the_ark_wire_format() {
    let sim = start(Ark::new("ark-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let mut intl = spec.clone();
    intl.kind = "seedance-byteplus";
    channel(&app, "chan-intl", &intl, &format!("{}/api/v3", sim.url)).await;
    model(
        &app,
        "m-intl",
        &[("chan-intl", "dreamina-seedance-2-0-260128", 0)],
    )
    .await;

    let image = upload_png(&app, &key).await;
    let body = json!({
        "model": "m", "type": "reference-to-video",
        "prompt": "@Image1 walks into @Video1 humming @Audio1",
        "image_urls": [image], "video_urls": ["https://cdn.example/v.mp4"], "audio_urls": ["https://cdn.example/a.wav"],
        "resolution": "1080p", "duration": "auto", "aspect_ratio": "auto", "generate_audio": true,
        "end_user_id": "customer_001"
    });
    let id = create(&app, &key, body.clone()).await;
    let done = expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(done["credits_reserved"], PRICE);

    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.bearer(), Some("ark-key-1"));
    let b = sent.json();
    assert_eq!(b["model"], V2);
    assert_eq!(
        b["content"][0],
        json!({"type": "text", "text": "[图1] walks into [视频1] humming [音频1]"})
    );
    assert_eq!(
        b["content"][1],
        json!({"type": "image_url", "image_url": {"url": image}, "role": "reference_image"})
    );
    assert_eq!(b["content"][2]["role"], "reference_video");
    assert_eq!(b["content"][3]["role"], "reference_audio");
    assert_eq!(b["resolution"], "1080p");
    assert_eq!(b["ratio"], "adaptive");
    assert_eq!(b["duration"], 5, "auto sends the billed seconds");
    assert_eq!(b["generate_audio"], true);
    assert_eq!(b["watermark"], false);
    assert!(
        !b.to_string().contains("customer_001"),
        "end user id is hashed"
    );
    assert!(b["safety_identifier"].is_string());

    // BytePlus: same wire format, English reference words.
    let mut b2 = body.clone();
    b2["model"] = json!("m-intl");
    let id = create(&app, &key, b2).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[1].json();
    assert_eq!(b["model"], "dreamina-seedance-2-0-260128");
    assert_eq!(
        b["content"][0]["text"],
        "[Image 1] walks into [Video 1] humming [Audio 1]"
    );

    // An image-to-video task: first and last frames.
    let id = create(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "from @Image1 to @Image2", "image_urls": [image, image]})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[2].json();
    assert_eq!(b["content"][1]["role"], "first_frame");
    assert_eq!(b["content"][2]["role"], "last_frame");
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_refuses_what_ark_cannot_do_before_charging() {
    let sim = start(Ark::new("ark-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    channel(&app, "chan-fast", &spec, &format!("{}/api/v3", sim.url)).await;
    model(
        &app,
        "fast",
        &[("chan-fast", "doubao-seedance-2-0-fast-260128", 0)],
    )
    .await;
    let base = json!({"model": "m", "prompt": "a fox"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    expect_422(
        &app,
        &key,
        json!({"model": "fast", "prompt": "a fox", "resolution": "1080p"}),
        "resolution",
    )
    .await;
    expect_422(&app, &key, with("duration", json!(2)), "duration").await;
    expect_422(&app, &key, json!({"model": "m", "type": "reference-to-video", "prompt": "@Audio1", "audio_urls": ["https://x/a.wav"]}), "audio_urls").await;
    expect_422(&app, &key, json!({"model": "m", "type": "image-to-video", "prompt": "p", "image_urls": ["https://x/1.png", "https://x/2.png", "https://x/3.png"]}), "image_urls").await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_keys_tasks_and_test_connection() {
    // Two keys on one channel: tasks alternate keys and each is polled with its own (the
    // simulator hides a task from the other account).
    let mut ark = Ark::new("ark-key-1");
    ark.keys.push("ark-key-2".into());
    let sim = start(ark).await;
    let spec = spec();
    let (app, key) = gateway().await;
    channel_with(
        &app,
        "multi",
        &spec,
        &format!("{}/api/v3", sim.url),
        "ark-key-1\nark-key-2",
        "",
    )
    .await;
    model(&app, "m", &[("multi", V2, 0)]).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(create(&app, &key, request(&spec, "m", "")).await);
    }
    for id in &ids {
        expect_completed(&app, &key, id, &sim).await;
        assert!(stored(&app, id).credential.is_some());
    }
    let used: std::collections::HashSet<String> = sim
        .received(Op::Create)
        .iter()
        .map(|r| r.bearer().unwrap().to_string())
        .collect();
    assert_eq!(used.len(), 2, "both keys in use");
    let stored_creds = serde_json::to_string(&stored(&app, &ids[0])).unwrap();
    assert!(
        !stored_creds.contains("ark-key"),
        "tasks keep a fingerprint, not the key"
    );

    let adapter = app.state().registry.get("multi").unwrap();
    assert!(adapter.test_connection().await.is_ok());
    assert_eq!(sim.count(Op::List), 2, "every key is tried");
    channel_with(
        &app,
        "bad",
        &spec,
        &format!("{}/api/v3", sim.url),
        "wrong-key",
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

    // A channel whose key is refused is not the customer's fault: failed, refunded,
    // with a generic message.
    model(&app, "bad-model", &[("bad", V2, 0)]).await;
    let id = create(&app, &key, request(&spec, "bad-model", "")).await;
    let v = expect_failed(&app, &key, &id, "channel_unavailable", &sim).await;
    assert!(
        !v["error"]["message"].as_str().unwrap().contains("API key"),
        "{v}"
    );

    // Ark expires tasks that did not run in time (simulated 48 h later).
    sim.hold();
    let id = create(&app, &key, request(&spec, "m", "")).await;
    app.wait_for(&key, &id, "processing").await;
    sim.clock
        .advance(Duration::from_secs(EXECUTION_EXPIRES_AFTER as u64 + 60));
    expect_failed(&app, &key, &id, "upstream_expired", &sim).await;
    sim.release();
    assert_eq!(app.balance(&key).await, START_CREDITS - 4 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_fault_matrix() {
    let sim = start(Ark::new("ark-key-1")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Ark::new("ark-key-1")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_tasks_survive_restart_and_crash() {
    let sim = start(Ark::new("ark-key-1")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_sends_callback_url_and_ark_posts_the_task_when_it_ends() {
    let sim = start(Ark::new("ark-key-1")).await;
    let (app, _) = single(&spec(), &sim.url).await;
    let hooks = Hooks::start().await;
    let (id, url) = submit_with_callback(&app, &spec(), json!({}), &hooks).await;
    assert_eq!(sim.received(Op::Create)[0].json()["callback_url"], url);
    assert_eq!(sim.finish(&id).await, Some(200));
    let task = the_callback(&hooks).await;
    assert_eq!(
        (task["id"].as_str(), task["status"].as_str()),
        (Some(id.as_str()), Some("succeeded"))
    );
    assert!(task["content"]["video_url"].is_string(), "{task}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seedance_settles_on_the_reported_duration_and_records_usage_tokens() {
    let sim = start(Ark::new("ark-key-1")).await;
    // Ark made 8 s for a 5 s ask (capped) and 3 s for another (refunded); its
    // `usage.completion_tokens` (21 780 a second here) at 15 credits per 1000 tokens is
    // the upstream cost, rounded up.
    let (long, short) =
        settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), units(15, Some(1000))).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(2614)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(981)));
}

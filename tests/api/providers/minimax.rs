//! MiniMax Hailuo against its simulator: `base_resp` errors, query, file retrieve.

use super::*;
use crate::simulators::minimax::MiniMaxSim;
use crate::simulators::{Fault, Op, start};
use videoapi::providers::ProviderError;

fn spec() -> Spec {
    Spec {
        kind: "minimax",
        base_path: "",
        key: "mm-key",
        secret: "",
        settings: json!({}),
        upstream_model: "MiniMax-Hailuo-2.3",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 6, "aspect_ratio": "16:9"}),
        failed_code: "output_sensitive",
        blocked_code: "input_sensitive",
        idempotent: false,
    }
}

fn sim() -> MiniMaxSim {
    MiniMaxSim {
        key: "mm-key".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_tasks_complete_through_query_and_file_retrieve() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    model(&app, "m02", &[("chan-a", "MiniMax-Hailuo-02", 0)]).await;
    model(&app, "s2v", &[("chan-a", "S2V-01", 0)]).await;
    let image = upload_png(&app, &key).await;

    // First and last frame on Hailuo-02 at 1080P; the retrieve step fails once (5xx).
    sim.inject(Op::Retrieve, Fault::Status(503));
    let id = create(&app, &key, json!({"model": "m02", "type": "image-to-video", "prompt": "@Image1 turns into @Image2", "image_urls": [image, image], "resolution": "1080p", "duration": "auto", "aspect_ratio": "9:16"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.bearer(), Some("mm-key"));
    let b = sent.json();
    assert_eq!(b["model"], "MiniMax-Hailuo-02");
    assert_eq!(b["first_frame_image"], image);
    assert_eq!(b["last_frame_image"], image);
    assert_eq!(b["resolution"], "1080P");
    assert!(
        b.get("duration").is_none(),
        "auto at 1080P leaves MiniMax's 6 s default"
    );
    assert_eq!(b["prompt"], "the first frame turns into the last frame");
    let polls = sim.received(Op::Poll);
    assert!(polls.iter().all(|p| p.query.contains_key("task_id")));
    let retrieves = sim.received(Op::Retrieve);
    assert_eq!(retrieves.len(), 2, "retried after the 5xx");
    assert!(retrieves.iter().all(|r| r.bearer() == Some("mm-key")));
    let downloads = sim.received(Op::Download);
    assert!(
        downloads
            .iter()
            .all(|d| d.header("authorization").is_none()),
        "the signed URL gets no key"
    );

    // Subject reference.
    let id = create(&app, &key, json!({"model": "s2v", "type": "reference-to-video", "prompt": "@Image1 waves", "image_urls": [image], "duration": 6})).await;
    expect_completed(&app, &key, &id, &sim).await;
    let b = sim.received(Op::Create)[1].json();
    assert_eq!(
        b["subject_reference"],
        json!([{"type": "character", "image": [image]}])
    );
    assert_eq!(b["resolution"], "720P");
    assert_eq!(b["prompt"], "the subject waves");

    // Balance trouble on the channel is the channel's problem, reported in base_resp.
    sim.inject(Op::Create, Fault::Raw { status: 200, body: json!({"task_id": "", "base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}}).to_string() });
    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_failed(&app, &key, &id, "channel_unavailable", &sim).await;

    assert!(
        app.state()
            .registry
            .get("chan-a")
            .unwrap()
            .test_connection()
            .await
            .is_ok()
    );
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
    assert_eq!(app.balance(&key).await, START_CREDITS - 2 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_refuses_what_it_cannot_do_before_charging() {
    let sim = start(sim()).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    let b = |extra: Value| {
        let mut v = json!({"model": "m", "prompt": "a fox", "duration": 6});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    expect_422(&app, &key, b(json!({"resolution": "480p"})), "resolution").await;
    expect_422(
        &app,
        &key,
        b(json!({"aspect_ratio": "9:16"})),
        "aspect_ratio",
    )
    .await;
    expect_422(
        &app,
        &key,
        b(json!({"generate_audio": true})),
        "generate_audio",
    )
    .await;
    expect_422(&app, &key, b(json!({"duration": 5})), "duration").await;
    expect_422(
        &app,
        &key,
        b(json!({"resolution": "1080p", "duration": 10})),
        "duration",
    )
    .await;
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
        b(json!({"type": "image-to-video", "image_urls": ["https://x/1.png", "https://x/2.png"]})),
        "image_urls",
    )
    .await;
    assert_eq!(sim.count(Op::Create), 0);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_fault_matrix() {
    let sim = start(sim()).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(sim()).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_tasks_survive_restart_and_crash() {
    let sim = start(sim()).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimax_settles_on_the_measured_file() {
    let sim = start(sim()).await;
    // MiniMax reports no length, so the gateway measures the mirrored file: 10 s for the
    // ask (capped), 3 s for another (refunded). The route costs 5 credits a task.
    let cost = videoapi::domain::catalog::RouteCost {
        per_task: 5,
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (10, 3), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (10, Some(5)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(5)));
}

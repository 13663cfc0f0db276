//! Restarts: unfinished tasks resume, nothing is submitted twice, the ledger stays clean.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_pending_and_processing_complete_after_restart_submitted_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 1500;
    let mut app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("restarter", 10_000).await;
    let mut ids = Vec::new();
    // Processing: submitted before the stop.
    for i in 0..4 {
        let (_, v) = app
            .create(
                &key,
                json!({"model": "video-2.0-mini-text-to-video", "prompt": format!("p{i}")}),
            )
            .await;
        ids.push(v["task_id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        app.wait_for(&key, id, "processing").await;
    }
    // Pending: its channel is cooling down, so it is not submitted before the stop.
    for _ in 0..3 {
        app.state().registry.health.record_error("demo");
    }
    let (_, v) = app
        .create(
            &key,
            json!({"model": "video-2.0-mini-text-to-video", "prompt": "queued"}),
        )
        .await;
    let pending = v["task_id"].as_str().unwrap().to_string();
    let (_, v) = app
        .get(&key, &format!("/v1/video/generations/{pending}"))
        .await;
    assert_eq!(v["status"], "pending");
    ids.push(pending);

    app.restart().await;
    for id in &ids {
        app.wait_for(&key, id, "completed").await;
        assert_eq!(
            videoapi::providers::demo::submissions(id),
            1,
            "{id} submitted more than once"
        );
    }
    assert_eq!(app.balance(&key).await, 10_000 - 500);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_flight_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 400;
    let mut app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("crash", 10_000).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let mut req = seed_request();
        if i % 3 == 0 {
            req["prompt"] = json!("@Image1 demo:fail");
        }
        let (s, v) = app.create(&key, req).await;
        assert_eq!(s, 200);
        ids.push((v["task_id"].as_str().unwrap().to_string(), i % 3 == 0));
    }
    app.crash_and_restart().await;
    for (id, fails) in &ids {
        let v = app
            .wait_for(&key, id, if *fails { "failed" } else { "completed" })
            .await;
        assert_eq!(v["credits_refunded"], *fails);
    }
    // 6 completed x 180; the 4 failures were refunded.
    assert_eq!(app.balance(&key).await, 10_000 - 6 * 180);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

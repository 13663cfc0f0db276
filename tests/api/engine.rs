//! The engine driven by a manual clock: deadlines, the poll cadence and completion
//! callbacks happen when the clock says so, with no waiting in the test.

use crate::common::*;
use futures_util::StreamExt;
use serde_json::json;
use videoapi::clock::{ManualClock, SharedClock};

const MODEL: &str = "video-2.0-mini-text-to-video";

/// A server whose engine reads `manual`; the demo provider finishes `demo_delay_ms` after
/// submission (real time), and polls come every `poll_ms` of clock time (None: the
/// model's own cadence).
async fn clocked(manual: &ManualClock, demo_delay_ms: u64, poll_ms: Option<u64>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.clock = SharedClock::new(manual.clone());
    cfg.demo_delay_ms = demo_delay_ms;
    cfg.poll_interval_ms = poll_ms;
    cfg.allow_private_callbacks = true;
    TestApp::with_config(dir, cfg).await
}

async fn status(app: &TestApp, key: &str, id: &str) -> serde_json::Value {
    let (s, v) = app.get(key, &format!("/v1/video/generations/{id}")).await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn create(app: &TestApp, key: &str) -> String {
    let (s, v) = app
        .create(key, json!({"model": MODEL, "prompt": "a fox"}))
        .await;
    assert_eq!(s, 200, "{v}");
    v["task_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_deadline_fails_and_refunds_when_the_clock_passes_it() {
    let manual = ManualClock::starting_now();
    let app = clocked(&manual, 3_600_000, Some(60_000)).await;
    let key = app.user_with_key("clocked", 1_000).await;
    let id = create(&app, &key).await;
    let engine = app.state().engine.clone();
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");
    assert!(app.balance(&key).await < 1_000);

    manual.advance_ms(app.config.task_deadline_secs as i64 * 1_000 - 1);
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");
    manual.advance_ms(1);
    engine.run_until_idle().await;
    let v = status(&app, &key, &id).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert_eq!(v["error"]["code"], "deadline_exceeded");
    assert_eq!(app.balance(&key).await, 1_000);
    assert!(app.audit().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn polls_come_when_the_clock_says_not_before() {
    let manual = ManualClock::starting_now();
    let app = clocked(&manual, 0, Some(60_000)).await;
    let key = app.user_with_key("poller", 1_000).await;
    let id = create(&app, &key).await;
    let engine = app.state().engine.clone();
    engine.run_until_idle().await;
    // Upstream (the demo) is done at once, but the next poll is a minute of clock away.
    assert_eq!(status(&app, &key, &id).await["status"], "processing");
    manual.advance_ms(50_000);
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");
    manual.advance_ms(20_000);
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "completed");
    app.stop().await;
}

#[tokio::test]
async fn the_first_poll_comes_right_after_submission() {
    let manual = ManualClock::starting_now();
    // No override: the model's own cadence (5 s interval), fast at first.
    let app = clocked(&manual, 0, None).await;
    let key = app.user_with_key("cadence", 1_000).await;
    let id = create(&app, &key).await;
    let engine = app.state().engine.clone();
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");
    // 10 ms ± 10 % jitter (real time moves too, so only the 'by then' is checked).
    manual.advance_ms(12);
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "completed");
    app.stop().await;
}

#[tokio::test]
async fn a_signed_callback_makes_the_engine_poll_at_once() {
    let manual = ManualClock::starting_now();
    let app = clocked(&manual, 0, Some(3_600_000)).await;
    let key = app.user_with_key("called-back", 1_000).await;
    let id = create(&app, &key).await;
    let engine = app.state().engine.clone();
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");

    let signer = videoapi::engine::callbacks::Signer::load(&app.data_dir(), &app.url).unwrap();
    let url = signer.url(&videoapi::domain::ids::TaskId::parse(&id).unwrap());
    assert!(url.starts_with(&format!("{}/callbacks/tasks/{id}/", app.url)));
    // A wrong token, another task's token and junk are one and the same 404.
    let other = signer.url(&videoapi::domain::ids::TaskId::parse("vidgen_1_00000000").unwrap());
    let token = other.rsplit('/').next().unwrap();
    for bad in [
        format!("{}/callbacks/tasks/{id}/{token}", app.url),
        format!("{}/callbacks/tasks/{id}/zz", app.url),
        format!("{}/callbacks/tasks/not-a-task/{token}", app.url),
    ] {
        let resp = app.http.post(&bad).body("{}").send().await.unwrap();
        let (s, v) = status_json(resp).await;
        assert_eq!(s, 404, "{bad}: {v}");
        assert_eq!(error_code(&v), "not_found");
    }
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "processing");

    // What the caller says is not trusted: the body claims failure, upstream is asked.
    let resp = app
        .http
        .post(&url)
        .json(&json!({"status": "failed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    engine.run_until_idle().await;
    assert_eq!(status(&app, &key, &id).await["status"], "completed");
    app.stop().await;
}

/// A small version of `scripts/hold-bench.sh`: many unfinished tasks cost the engine a
/// timer each, a graceful stop does not wait for them, and a restart picks all of them up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_tasks_are_held_as_timers_and_resumed_after_a_quick_stop() {
    const N: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    cfg.demo_delay_ms = 3_600_000;
    cfg.poll_interval_ms = Some(60_000);
    let mut app = TestApp::with_config(dir, cfg).await;
    let key = app.user_with_key("holder", (N as i64) * 1_000).await;
    let body = json!({"model": MODEL, "prompt": "held"});
    let mut creates = futures_util::stream::iter(0..N)
        .map(|_| app.create(&key, body.clone()))
        .buffer_unordered(16);
    while let Some((s, v)) = creates.next().await {
        assert_eq!(s, 200, "{v}");
    }
    drop(creates);
    assert_eq!(app.state().engine.held(), N);
    // Every task submitted, each now waiting a minute for its next poll.
    app.state().engine.run_until_idle().await;

    let stopping = std::time::Instant::now();
    let running = app.running.take().unwrap();
    running.stop().await.unwrap();
    let stop = stopping.elapsed();
    assert!(
        stop < std::time::Duration::from_secs(5),
        "stop took {stop:?}"
    );
    let starting = std::time::Instant::now();
    app.start_after_stop().await;
    let start = starting.elapsed();
    assert!(
        start < std::time::Duration::from_secs(2),
        "start took {start:?}"
    );
    assert_eq!(app.state().engine.held(), N);
    let (s, v) = app.get(&key, "/v1/video/generations?limit=1").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"][0]["status"], "processing");
    app.stop().await;
}

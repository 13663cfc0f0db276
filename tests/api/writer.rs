//! The database writer cannot die silently: a panicking or failing job fails only its
//! caller, a dead writer thread is restarted, /healthz says 503 while writes are
//! impossible, and i64 extremes from an operator are refused, never wrapped.

use crate::common::*;
use crate::console::Console;
use serde_json::json;
use std::time::Duration;
use videoapi::domain::ledger::EntryKind;
use videoapi::error::{AppError, AppResult};
use videoapi::store::{WriterFault, ledger};

async fn user_id(app: &TestApp, name: &str) -> videoapi::domain::ids::UserId {
    let users = app.state().accounts.users().await.unwrap();
    users.iter().find(|u| u.username == name).unwrap().id
}

async fn healthz(app: &TestApp) -> (u16, serde_json::Value) {
    status_json(app.http.get(app.path("/healthz")).send().await.unwrap()).await
}

#[tokio::test]
async fn a_panicking_or_failing_job_fails_only_its_caller() {
    let app = TestApp::new().await;
    let key = app.user_with_key("batch", 0).await;
    let uid = user_id(&app, "batch").await;
    let store = app.state().store.clone();

    // Hold the writer so that the jobs below queue up and share the next batch.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = std::sync::Arc::new(std::sync::Mutex::new(held));
    let (started, running) = tokio::sync::mpsc::unbounded_channel::<()>();
    let blocker = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(move |_| {
                    let _ = started.send(());
                    let _ = held.lock().unwrap().recv_timeout(Duration::from_secs(5));
                    Ok(())
                })
                .await
        }
    });
    let mut running = running;
    tokio::time::timeout(Duration::from_secs(5), running.recv())
        .await
        .expect("the blocking job runs");

    let mut adds = Vec::new();
    for _ in 0..10 {
        let accounts = app.state().accounts.clone();
        adds.push(tokio::spawn(async move {
            accounts.adjust_credits(uid, 7.into(), None, "test").await
        }));
    }
    let panicking = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(|_| -> AppResult<()> { panic!("this job panics on purpose") })
                .await
        }
    });
    // Writes, then fails like a full disk would: what it wrote must not stay.
    let failing = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .write(move |txn| {
                    ledger::apply(
                        txn,
                        uid,
                        1000.into(),
                        ledger::Reason {
                            kind: EntryKind::TopUp,
                            task_id: None,
                            actor: "test",
                            note: None,
                        },
                    )?;
                    Err::<(), _>(AppError::storage("no space left on device"))
                })
                .await
        }
    });
    tokio::task::yield_now().await;
    release.send(()).unwrap();
    drop(release);

    blocker.await.unwrap().unwrap();
    let err = panicking.await.unwrap().unwrap_err();
    assert!(matches!(err, AppError::Internal(_)), "{err:?}");
    let err = failing.await.unwrap().unwrap_err();
    assert_eq!(err, AppError::storage("no space left on device"));
    for a in adds {
        a.await.unwrap().expect("the rest of the batch commits");
    }
    assert_eq!(app.balance(&key).await, 70);
    assert_eq!(app.audit(), Vec::<String>::new());
    assert_eq!(healthz(&app).await.0, 200);
    // Later writes are unaffected.
    app.state()
        .accounts
        .adjust_credits(uid, 1.into(), None, "test")
        .await
        .unwrap();
    assert_eq!(app.balance(&key).await, 71);
    app.stop().await;
}

#[tokio::test]
async fn a_dead_writer_thread_is_restarted() {
    let app = TestApp::new().await;
    let key = app.user_with_key("phoenix", 0).await;
    let uid = user_id(&app, "phoenix").await;
    let store = app.state().store.clone();
    assert_eq!(store.writer_restarts(), 0);
    store.inject_writer_fault(WriterFault::PanicThread);
    // Queued behind the panic: served by the new thread.
    app.state()
        .accounts
        .adjust_credits(uid, 5.into(), None, "test")
        .await
        .unwrap();
    assert_eq!(store.writer_restarts(), 1);
    assert_eq!(app.balance(&key).await, 5);
    let (status, v) = healthz(&app).await;
    assert_eq!(status, 200, "{v}");
    app.stop().await;
}

#[tokio::test]
async fn healthz_is_503_with_the_reason_while_writes_fail() {
    let app = TestApp::new().await;
    let key = app.user_with_key("ill", 0).await;
    let uid = user_id(&app, "ill").await;
    let store = app.state().store.clone();
    let accounts = app.state().accounts.clone();

    store.inject_writer_fault(WriterFault::FailCommits(true));
    let err = accounts
        .adjust_credits(uid, 5.into(), None, "test")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Storage(_)), "{err:?}");
    let (status, v) = healthz(&app).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["error"]["code"], "service_unavailable");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("commit failed"), "{message}");

    store.inject_writer_fault(WriterFault::FailCommits(false));
    accounts
        .adjust_credits(uid, 5.into(), None, "test")
        .await
        .unwrap();
    let (status, v) = healthz(&app).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("ok")));
    assert!(app.balance(&key).await >= 5);
    app.stop().await;
}

#[tokio::test]
async fn i64_extremes_from_the_operator_are_422() {
    let app = TestApp::new().await;
    let key = app.user_with_key("extreme", 100).await;
    let uid = user_id(&app, "extreme").await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let credits = format!("/console/api/admin/users/{uid}/credits");
    for amount in [i64::MIN, i64::MIN + 1, i64::MAX, -101] {
        let (status, v) = ops.post(&credits, json!({ "amount": amount })).await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (422, Some("invalid_field")),
            "{amount}: {v}"
        );
    }
    assert_eq!(app.balance(&key).await, 100);

    // A price no real model has is refused when saved...
    let model = json!({
        "id": "costly",
        "name": "Costly",
        "features": ["text-to-video"],
        "enabled": true,
        "billing": {"mode": "per_second", "credits": i64::MAX},
        "capabilities": {"types": ["text-to-video"], "resolutions": ["720p"], "durations": [5],
                         "default_duration": 5, "aspect_ratios": ["16:9"]},
        "poll_interval_seconds": 2,
        "routes": [{"provider": "demo", "upstream_model": "demo-text"}]
    });
    let (status, v) = ops.post("/console/api/admin/models", model).await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("billing.credits"))
    );
    // ...and so is an override that would overflow.
    let (status, v) = ops
        .put(
            "/console/api/admin/pricing-groups/huge",
            json!({"percent": 100, "overrides": {"video-2.0-mini-reference-to-video": i64::MAX}}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(app.audit(), Vec::<String>::new());
    assert_eq!(healthz(&app).await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn an_overflowing_price_from_the_config_file_is_422_at_create() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    let mut m = videoapi::domain::catalog::demo_models()[0].clone();
    assert_eq!(m.id, "video-2.0-mini-reference-to-video");
    m.billing.credits = i64::MAX;
    m.billing.resolution_credits.clear();
    config.models = vec![m];
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("rich", 1000).await;
    let (status, v) = app.create(&key, seed_request()).await;
    assert_eq!(
        (
            status,
            v["error"]["code"].as_str(),
            v["error"]["param"].as_str()
        ),
        (422, Some("invalid_field"), Some("model")),
        "{v}"
    );
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

#[test]
fn cli_add_credits_with_i64_min_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_videoapi"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = cli(&["admin", "create-user", "alice", "--password", "pw-123456"]);
    assert!(out.status.success(), "{out:?}");
    for amount in ["-9223372036854775808", "9223372036854775807"] {
        let out = cli(&["admin", "add-credits", "alice", "--", "5"]);
        assert!(out.status.success(), "{out:?}");
        let out = cli(&["admin", "add-credits", "alice", "--", amount]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{amount}: {stderr}");
        assert!(
            stderr.contains("below zero") || stderr.contains("out of range"),
            "{amount}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

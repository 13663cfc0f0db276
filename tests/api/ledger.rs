//! The credit ledger under concurrency: no overdraft, no lost or double charge.

use crate::common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_creates_against_57_tasks_of_balance() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 60_000; // keep tasks in flight; only the reservations matter here
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("rush", 57 * 100).await;
    let body = json!({"model": "video-2.0-mini-text-to-video", "prompt": "rush"});
    let mut handles = Vec::new();
    for _ in 0..200 {
        let (http, url, key, body) = (
            app.http.clone(),
            app.path("/v1/video/generations"),
            key.clone(),
            body.clone(),
        );
        handles.push(tokio::spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            status_json(resp).await
        }));
    }
    let mut ok = 0;
    let mut short = 0;
    for h in handles {
        let (s, v) = h.await.unwrap();
        match s {
            200 => ok += 1,
            402 => {
                assert_eq!(error_code(&v), "insufficient_credits");
                short += 1
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!((ok, short), (57, 143));
    assert_eq!(app.balance(&key).await, 0);
    let (_, list) = app.get(&key, "/v1/video/generations?limit=100").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 57);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn check_command_reports_a_clean_ledger_and_catches_tampering() {
    let app = TestApp::new().await;
    let key = app.user_with_key("chk", 1000).await;
    let (_, v) = app.create(&key, seed_request()).await;
    app.wait_for(&key, v["task_id"].as_str().unwrap(), "completed")
        .await;
    let guard = app.stop().await;
    let dir = guard.path().to_path_buf();

    let bin = env!("CARGO_BIN_EXE_videoapi");
    let out = std::process::Command::new(bin)
        .args(["--data-dir", dir.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ledger OK"));

    // Tamper: give the user credits without a ledger entry.
    let store = videoapi::store::Store::open(&dir.join("videoapi.redb")).unwrap();
    store
        .write_now(|txn| {
            let u = videoapi::store::users::get_by_name(txn, "chk")?;
            videoapi::store::users::update(txn, u.id, |u| {
                u.credits = u.credits.checked_add(5.into())?;
                Ok(())
            })
        })
        .unwrap();
    store.close();
    drop(store);
    let out = std::process::Command::new(bin)
        .args(["--data-dir", dir.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("VIOLATION"));
}

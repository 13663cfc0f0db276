use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn seed_example_completes_with_the_documented_response() {
    let app = TestApp::new().await;
    let key = app.user_with_key("alice", 1000).await;
    let (status, v) = app.create(&key, seed_request()).await;
    assert_eq!(status, 200, "{v}");
    let id = v["task_id"].as_str().unwrap().to_string();
    assert!(videoapi::domain::ids::is_task_id(&id), "{id}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["poll_interval_seconds"], 5);
    assert_eq!(v.as_object().unwrap().len(), 3);
    assert_eq!(app.balance(&key).await, 820);

    let done = app.wait_for(&key, &id, "completed").await;
    let keys: Vec<&String> = done.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            // Added by issue 11: the settlement (null until settled) and its breakdown.
            "billing",
            "credits_charged",
            "credits_refunded",
            "credits_reserved",
            "error",
            // Beyond the document (issue 14): when retention deletes the videos.
            "expires_at",
            "format",
            "generated",
            "metadata",
            "outputs",
            "status",
            "task_id",
            "url",
            "videos"
        ]
    );
    assert_eq!(done["format"], "mp4");
    assert_eq!(done["credits_reserved"], 180);
    assert_eq!(done["credits_refunded"], false);
    assert_eq!(done["credits_charged"], 180);
    assert_eq!(done["error"], serde_json::Value::Null);
    assert_eq!(done["metadata"]["credits_reserved"], 180);
    assert_eq!(
        done["metadata"]["public_model"],
        "video-2.0-mini-reference-to-video"
    );
    assert_eq!(
        done["metadata"]["asset_reference_style"],
        "@Image1/@Video1/@Audio1"
    );
    let url = done["url"].as_str().unwrap();
    assert_eq!(done["videos"][0], url);
    assert_eq!(done["generated"][0], url);
    assert!(url.starts_with(&app.url), "served by the gateway: {url}");

    // The mirrored file is a real MP4, streamed with the right headers.
    let resp = app.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    assert_eq!(videoapi::providers::demo::submissions(&id), 1);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn per_task_model_charges_its_fixed_price() {
    let app = TestApp::new().await;
    let key = app.user_with_key("bob", 100).await;
    let (s, v) = app
        .create(
            &key,
            json!({"model": "video-2.0-mini-text-to-video", "prompt": "a cat surfing"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.balance(&key).await, 0);
    let done = app
        .wait_for(&key, v["task_id"].as_str().unwrap(), "completed")
        .await;
    assert_eq!(done["credits_reserved"], 100);
    app.stop().await;
}

#[tokio::test]
async fn a_success_without_a_video_is_a_refunded_failure() {
    let app = TestApp::new().await;
    let key = app.user_with_key("erin", 500).await;
    let mut req = seed_request();
    req["prompt"] = json!("@Image1 demo:empty filtered upstream");
    let (_, v) = app.create(&key, req).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&key).await, 320);
    let failed = app.wait_for(&key, &id, "failed").await;
    assert_eq!(failed["error"]["code"], "empty_result");
    assert_eq!(failed["credits_refunded"], true);
    assert_eq!(failed["url"], serde_json::Value::Null);
    assert_eq!(app.balance(&key).await, 500);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn demo_failure_refunds_exactly_once() {
    let app = TestApp::new().await;
    let key = app.user_with_key("carol", 500).await;
    let mut req = seed_request();
    req["prompt"] = json!("@Image1 demo:fail please");
    let (_, v) = app.create(&key, req).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&key).await, 320);
    let failed = app.wait_for(&key, &id, "failed").await;
    assert_eq!(failed["credits_refunded"], true);
    assert_eq!(failed["error"]["code"], "demo_failure");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("demo:fail")
    );
    assert_eq!(failed["url"], serde_json::Value::Null);
    assert_eq!(app.balance(&key).await, 500);
    let refunds = app
        .state()
        .store
        .read_now(|txn| videoapi::store::ledger::list(txn, None, None, 100))
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.task_id.as_deref() == Some(id.as_str())
                && e.kind == videoapi::domain::ledger::EntryKind::Refund
        })
        .count();
    assert_eq!(refunds, 1);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn list_is_newest_first_with_cursor_pagination() {
    let app = TestApp::new().await;
    let key = app.user_with_key("dave", 10_000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, v) = app
            .create(
                &key,
                json!({"model": "video-2.0-mini-text-to-video", "prompt": format!("clip {i}")}),
            )
            .await;
        ids.push(v["task_id"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let (s, page1) = app.get(&key, "/v1/video/generations?limit=2").await;
    assert_eq!(s, 200, "{page1}");
    let got: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    assert_eq!(page1["has_more"], true);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = app
        .get(
            &key,
            &format!("/v1/video/generations?limit=2&before={cursor}"),
        )
        .await;
    let got: Vec<&str> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    let (_, page3) = app
        .get(
            &key,
            &format!(
                "/v1/video/generations?limit=2&before={}",
                page2["next_cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(page3["data"].as_array().unwrap().len(), 1);
    assert_eq!(page3["has_more"], false);
    assert_eq!(page3["next_cursor"], serde_json::Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn users_cannot_see_each_others_tasks_and_revoked_keys_fail() {
    let app = TestApp::new().await;
    let a = app.user_with_key("usera", 1000).await;
    let b = app.user_with_key("userb", 1000).await;
    let (_, v) = app.create(&b, seed_request()).await;
    let b_task = v["task_id"].as_str().unwrap().to_string();
    let (s, v) = app
        .get(&a, &format!("/v1/video/generations/{b_task}"))
        .await;
    assert_eq!((s, error_code(&v).as_str()), (404, "not_found"));
    let (s, _) = app
        .post(
            &a,
            &format!("/v1/video/generations/{b_task}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(s, 404);
    let (_, list) = app.get(&a, "/v1/video/generations").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    // Revoke a's key: every call with it is 401.
    let st = app.state();
    let user = st
        .store
        .read_now(|t| videoapi::store::users::read_by_name(t, "usera"))
        .unwrap()
        .unwrap();
    let keys = st.accounts.list_keys(user.id).await.unwrap();
    st.accounts.revoke_key(user.id, keys[0].id).await.unwrap();
    let (s, v) = app.get(&a, "/v1/account").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "invalid_api_key"));
    let (s, _) = app.create(&a, seed_request()).await;
    assert_eq!(s, 401);
    app.stop().await;
}

#[tokio::test]
async fn cancel_before_submission_refunds_and_after_is_409() {
    let app = TestApp::new().await;
    let key = app.user_with_key("erin", 1000).await;
    // With its only channel cooling down, a task stays queued (pending, not submitted).
    let st = app.state();
    for _ in 0..3 {
        st.registry.health.record_error("demo");
    }
    let (_, v) = app.create(&key, seed_request()).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(
            &key,
            &format!("/v1/video/generations/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "cancelled");
    assert_eq!(v["credits_refunded"], true);
    assert_eq!(app.balance(&key).await, 1000);

    st.registry.health.record_ok("demo");
    let (_, v) = app.create(&key, seed_request()).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &id, "completed").await;
    let (s, v) = app
        .post(
            &key,
            &format!("/v1/video/generations/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (409, "conflict"));
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn idempotency_key_returns_the_same_task_and_charges_once() {
    let app = TestApp::new().await;
    let key = app.user_with_key("frank", 1000).await;
    let send = |body: serde_json::Value| {
        app.http
            .post(app.path("/v1/video/generations"))
            .bearer_auth(&key)
            .header("Idempotency-Key", "order-42")
            .json(&body)
            .send()
    };
    let (_, first) = status_json(send(seed_request()).await.unwrap()).await;
    let (s, second) = status_json(send(seed_request()).await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(first["task_id"], second["task_id"]);
    assert_eq!(app.balance(&key).await, 820);
    let mut other = seed_request();
    other["prompt"] = json!("different");
    let (s, v) = status_json(send(other).await.unwrap()).await;
    assert_eq!((s, error_code(&v).as_str()), (409, "conflict"));
    app.stop().await;
}

#[tokio::test]
async fn a_task_past_its_deadline_fails_and_is_refunded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 60_000;
    config.task_deadline_secs = 1;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("late", 500).await;
    let (_, v) = app.create(&key, seed_request()).await;
    let failed = app
        .wait_for(&key, v["task_id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(failed["error"]["code"], "deadline_exceeded");
    assert_eq!(failed["credits_refunded"], true);
    assert_eq!(app.balance(&key).await, 500);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn providers_and_models_declared_in_the_config_are_applied_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("videoapi.toml");
    std::fs::write(
        &path,
        r#"
demo_delay_ms = 100
poll_interval_ms = 40
[[providers]]
name = "second-demo"
kind = "demo"

[[models]]
id = "house-model"
name = "House model"
billing = { mode = "per_task", credits = 7 }
poll_interval_seconds = 2
capabilities = { types = ["text-to-video"], resolutions = ["1080p"], durations = [6], default_duration = 6, aspect_ratios = ["16:9"] }
routes = [{ provider = "second-demo", upstream_model = "x" }]

[[pricing_groups]]
name = "friends"
percent = 50
"#,
    )
    .unwrap();
    let mut config = videoapi::config::Config::load(&videoapi::config::Overrides {
        config: Some(path),
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap();
    config.admin_password = Some("admin-password".into());
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("cfg", 10).await;
    let (_, models) = app.get(&key, "/v1/models").await;
    let m = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "house-model")
        .expect("declared model");
    assert_eq!(m["billing"]["credits"], 7);
    assert_eq!(m["poll_interval_seconds"], 2);
    let (s, v) = app
        .create(
            &key,
            json!({"model": "house-model", "prompt": "hello", "resolution": "1080p"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.wait_for(&key, v["task_id"].as_str().unwrap(), "completed")
        .await;
    assert!(app.state().catalog.group(Some("friends")).is_some());
    app.stop().await;
}

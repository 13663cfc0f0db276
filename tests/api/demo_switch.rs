//! The `demo` switch: off disables the built-in demo channel and its models (tasks and
//! ledger kept); on again brings back what the switch disabled, not what an operator chose.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};

const R2V: &str = "video-2.0-mini-reference-to-video";
const T2V: &str = "video-2.0-mini-text-to-video";

async fn listed(app: &TestApp) -> Vec<String> {
    let resp = app.http.get(app.path("/v1/models")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

fn text_request(model: &str) -> Value {
    json!({"model": model, "type": "text-to-video", "prompt": "a cat", "duration": "auto"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_off_disables_the_demo_catalog_and_keeps_its_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let mut app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("buyer", 1000).await;
    let (status, created) = app.create(&key, text_request(T2V)).await;
    assert_eq!(status, 200, "{created}");
    let task_id = created["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &task_id, "completed").await;
    let spent = 1000 - app.balance(&key).await;
    assert!(spent > 0);

    app.config.demo = false;
    app.restart().await;
    let ids = listed(&app).await;
    assert!(
        !ids.iter().any(|id| id == R2V || id == T2V),
        "demo models still listed: {ids:?}"
    );
    let (status, v) = app.create(&key, text_request(T2V)).await;
    assert_eq!((status, error_code(&v).as_str()), (400, "model_disabled"));
    // Nothing was charged for the refused create; the old task and its ledger stay.
    assert_eq!(app.balance(&key).await, 1000 - spent);
    let (status, old) = app
        .get(&key, &format!("/v1/video/generations/{task_id}"))
        .await;
    assert_eq!((status, old["status"].as_str()), (200, Some("completed")));
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    // The operator still sees them (disabled), and the channel is off too.
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (_, models) = ops.get("/console/api/admin/models").await;
    let demo_models: Vec<&Value> = models
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["id"] == R2V || m["id"] == T2V)
        .collect();
    assert_eq!(demo_models.len(), 2, "{models}");
    assert!(
        demo_models.iter().all(|m| m["enabled"] == false),
        "{models}"
    );
    let (_, providers) = ops.get("/console/api/admin/providers").await;
    let demo = providers
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "demo")
        .expect("demo channel kept");
    assert_eq!(demo["enabled"], false, "{demo}");

    // Turning demo on again brings both back.
    app.config.demo = true;
    app.restart().await;
    let ids = listed(&app).await;
    assert!(ids.iter().any(|id| id == R2V) && ids.iter().any(|id| id == T2V));
    let (status, v) = app.create(&key, text_request(T2V)).await;
    assert_eq!(status, 200, "{v}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_on_again_keeps_what_the_operator_chose_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let mut app = TestApp::with_config(dir, config).await;
    app.config.demo = false;
    app.restart().await;

    // While demo is off, the operator saves one demo model (a new price, still disabled):
    // from now on its enabled state is the operator's.
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (_, models) = ops.get("/console/api/admin/models").await;
    let mut t2v = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == T2V)
        .unwrap()
        .clone();
    assert_eq!(t2v["enabled"], false);
    t2v["billing"]["credits"] = json!(7);
    let (status, v) = ops
        .put(&format!("/console/api/admin/models/{T2V}"), t2v)
        .await;
    assert_eq!(status, 200, "{v}");
    // And re-enables the other one: demo = false wins at the next start.
    let mut r2v = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == R2V)
        .unwrap()
        .clone();
    r2v["enabled"] = json!(true);
    let (status, v) = ops
        .put(&format!("/console/api/admin/models/{R2V}"), r2v)
        .await;
    assert_eq!(status, 200, "{v}");
    app.restart().await;
    assert!(!listed(&app).await.iter().any(|id| id == R2V));

    app.config.demo = true;
    app.restart().await;
    let ids = listed(&app).await;
    assert!(ids.iter().any(|id| id == R2V), "switched back on: {ids:?}");
    assert!(
        !ids.iter().any(|id| id == T2V),
        "the operator's saved state wins: {ids:?}"
    );
    app.stop().await;
}

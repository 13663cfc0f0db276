//! The source document's curl, JavaScript and Python examples, run as written against a
//! real server, get the documented answers.

use crate::common::*;
use serde_json::Value;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/examples");

fn run(cmd: &str, args: &[&str], app: &TestApp, key: &str, extra: &[(&str, &str)]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .env("VIDEOAPI_BASE", &app.url)
        .env("VIDEOAPI_KEY", key)
        .envs(extra.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn assert_created(v: &Value) {
    assert_eq!(v["status"], "pending", "{v}");
    assert!(
        videoapi::domain::ids::is_task_id(v["task_id"].as_str().unwrap()),
        "{v}"
    );
    assert_eq!(v["poll_interval_seconds"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_and_python_examples_run_verbatim() {
    let app = TestApp::new().await;
    let key = app.user_with_key("examples", 1000).await;
    let js = run("node", &[&format!("{DIR}/doc.mjs")], &app, &key, &[]);
    let js: Value = serde_json::from_str(js.trim()).unwrap();
    assert_created(&js);
    let py = run("python3", &[&format!("{DIR}/doc.py")], &app, &key, &[]);
    let py: Value = serde_json::from_str(py.trim()).unwrap();
    assert_created(&py);
    app.wait_for(&key, js["task_id"].as_str().unwrap(), "completed")
        .await;
    app.wait_for(&key, py["task_id"].as_str().unwrap(), "completed")
        .await;
    assert_eq!(app.balance(&key).await, 1000 - 2 * 180);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_examples_run_verbatim() {
    let app = TestApp::new().await;
    let key = app.user_with_key("curlex", 1000).await;
    let assets = tempfile::tempdir().unwrap();
    std::fs::write(assets.path().join("image.png"), png_bytes()).unwrap();
    std::fs::write(
        assets.path().join("audio.mp3"),
        [0xFF, 0xFB, 0x90, 0x00, 0, 0, 0, 0],
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    run(
        "bash",
        &[&format!("{DIR}/doc-curl.sh")],
        &app,
        &key,
        &[
            ("ASSETS", assets.path().to_str().unwrap()),
            ("OUT", out.path().to_str().unwrap()),
        ],
    );
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(out.path().join(name)).unwrap()).unwrap()
    };
    assert_eq!(read("models.json")["object"], "list");
    let upload = read("upload.json");
    assert_eq!(upload["data"].as_array().unwrap().len(), 2, "{upload}");
    assert_eq!(upload["data"][0]["filename"], "image.png");
    assert_eq!(upload["data"][1]["content_type"], "audio/mpeg");
    let created = read("create.json");
    assert_created(&created);
    let done = app
        .wait_for(&key, created["task_id"].as_str().unwrap(), "completed")
        .await;
    assert_eq!(done["credits_reserved"], 180);
    app.stop().await;
}

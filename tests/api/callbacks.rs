//! Signed task callbacks, delivered from the outbox with retries.

use crate::common::*;
use poem::{EndpointExt, Route, handler, http::StatusCode, web::Data};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(poem::http::HeaderMap, String)>>>,
    fail_first: Arc<AtomicUsize>,
}

#[handler]
async fn hook(req: &poem::Request, body: String, r: Data<&Receiver>) -> StatusCode {
    if r.fail_first.load(Ordering::SeqCst) > 0 {
        r.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.got.lock().unwrap().push((req.headers().clone(), body));
    StatusCode::NO_CONTENT
}

async fn receiver(fail_first: usize) -> (Receiver, String) {
    let r = Receiver {
        fail_first: Arc::new(AtomicUsize::new(fail_first)),
        ..Default::default()
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    let app = Route::new().at("/hook", poem::post(hook)).data(r.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (r, url)
}

async fn app_allowing_loopback_callbacks() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.allow_private_callbacks = true;
    TestApp::with_config(dir, config).await
}

async fn wait_deliveries(r: &Receiver, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.got.lock().unwrap().len() < n {
        assert!(Instant::now() < deadline, "callback not delivered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_and_failed_tasks_are_posted_signed_after_retries() {
    let app = app_allowing_loopback_callbacks().await;
    let key = app.user_with_key("hooked", 1000).await;
    let (r, url) = receiver(2).await;
    let mut req = seed_request();
    req["callback_url"] = json!(url);
    let (s, v) = app.create(&key, req.clone()).await;
    assert_eq!(s, 200, "{v}");
    let done_id = v["task_id"].as_str().unwrap().to_string();
    req["prompt"] = json!("@Image1 demo:fail");
    let (_, v) = app.create(&key, req).await;
    let failed_id = v["task_id"].as_str().unwrap().to_string();
    wait_deliveries(&r, 2).await;

    let got = r.got.lock().unwrap().clone();
    let secret = videoapi::domain::ids::hash_key(&key);
    for (headers, body) in &got {
        let sig = headers["x-videoapi-signature"].to_str().unwrap();
        let t: i64 = sig
            .trim_start_matches("t=")
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            sig,
            videoapi::engine::webhooks::signature(secret.as_bytes(), t, body)
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let id = headers["x-videoapi-task"].to_str().unwrap();
        assert_eq!(v["task_id"], id);
        if id == done_id {
            assert_eq!(headers["x-videoapi-event"], "task.completed");
            assert_eq!(v["status"], "completed");
            assert!(v["url"].as_str().unwrap().starts_with(&app.url));
        } else {
            assert_eq!(id, failed_id);
            assert_eq!(headers["x-videoapi-event"], "task.failed");
            assert_eq!(v["credits_refunded"], true);
        }
    }
    // Delivered ones leave the outbox: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.got.lock().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn internal_callback_urls_are_refused_by_default() {
    let app = TestApp::new().await;
    let key = app.user_with_key("ssrf", 1000).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest",
        "http://localhost/x",
        "ftp://x",
    ] {
        let mut req = seed_request();
        req["callback_url"] = json!(url);
        let (s, v) = app.create(&key, req).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{url}"
        );
        assert_eq!(v["error"]["param"], "callback_url");
    }
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

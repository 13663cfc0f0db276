//! Signed task callbacks, delivered from the outbox with retries, fairly across tenants;
//! the README's verification snippets checked against a real delivery.

use crate::common::*;
use crate::console::Console;
use base64::Engine as _;
use poem::{EndpointExt, Route, handler, http::StatusCode, web::Data};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(poem::http::HeaderMap, String, i64)>>>,
    fail_first: Arc<AtomicUsize>,
    /// Every request, answered or not.
    hits: Arc<AtomicUsize>,
    /// Answer 500 to everything (`fail_first` = forever).
    always_fail: bool,
    /// Never answer.
    hang: bool,
}

#[handler]
async fn hook(req: &poem::Request, body: String, r: Data<&Receiver>) -> StatusCode {
    r.hits.fetch_add(1, Ordering::SeqCst);
    if r.hang {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if r.always_fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if r.fail_first.load(Ordering::SeqCst) > 0 {
        r.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let at = videoapi::domain::now_ms();
    r.got
        .lock()
        .unwrap()
        .push((req.headers().clone(), body, at));
    StatusCode::NO_CONTENT
}

async fn serve(r: Receiver) -> (Receiver, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    let app = Route::new().at("/hook", poem::post(hook)).data(r.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (r, url)
}

async fn receiver(fail_first: usize) -> (Receiver, String) {
    serve(Receiver {
        fail_first: Arc::new(AtomicUsize::new(fail_first)),
        ..Default::default()
    })
    .await
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

/// `whsec_<base64>` → the HMAC key.
fn secret_key(whsec: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(whsec.strip_prefix("whsec_").unwrap())
        .unwrap()
}

/// The Standard Webhooks headers verify with `secret`.
fn assert_standard_signature(headers: &poem::http::HeaderMap, body: &str, secret: &[u8]) {
    let id = headers["webhook-id"].to_str().unwrap();
    let ts: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((videoapi::domain::now_ms() / 1000 - ts).abs() < 60);
    assert_eq!(
        headers["webhook-signature"].to_str().unwrap(),
        videoapi::engine::webhooks::standard_signature(secret, id, ts, body)
    );
}

fn legacy_timestamp(headers: &poem::http::HeaderMap) -> i64 {
    let sig = headers["x-videoapi-signature"].to_str().unwrap();
    sig.trim_start_matches("t=")
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap()
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
    let (_, v) = app.create(&key, req.clone()).await;
    let failed_id = v["task_id"].as_str().unwrap().to_string();
    wait_deliveries(&r, 2).await;

    let mut console = Console::login(&app, "hooked", "password-123").await;
    let (s, v) = console.get("/console/api/webhook-secret").await;
    assert_eq!(s, 200, "{v}");
    let whsec = v["secret"].as_str().unwrap().to_string();
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    let account_secret = secret_key(&whsec);
    assert_eq!(account_secret.len(), 32);

    let got = r.got.lock().unwrap().clone();
    // API-key tasks keep the old X-VideoApi-Signature (key hash) for existing receivers.
    let key_hash = videoapi::domain::ids::hash_key(&key);
    for (headers, body, _) in &got {
        let t = legacy_timestamp(headers);
        assert_eq!(
            headers["x-videoapi-signature"].to_str().unwrap(),
            videoapi::engine::webhooks::signature(key_hash.as_bytes(), t, body)
        );
        assert_standard_signature(headers, body, &account_secret);
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let id = headers["x-videoapi-task"].to_str().unwrap();
        assert_eq!(headers["webhook-id"], id);
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

    // Rotation: a console-created task is signed (both headers) with the new secret.
    let (s, v) = console
        .post("/console/api/webhook-secret/rotate", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let rotated = v["secret"].as_str().unwrap().to_string();
    assert_ne!(rotated, whsec);
    let (_, v) = console.get("/console/api/webhook-secret").await;
    assert_eq!(v["secret"], rotated.as_str());
    let new_secret = secret_key(&rotated);
    req["prompt"] = json!("@Image1 from the console");
    let (s, v) = console.post("/console/api/generations", req).await;
    assert_eq!(s, 200, "{v}");
    wait_deliveries(&r, 3).await;
    let (headers, body, _) = r.got.lock().unwrap()[2].clone();
    assert_eq!(headers["webhook-id"], v["task_id"].as_str().unwrap());
    assert_standard_signature(&headers, &body, &new_secret);
    assert_eq!(
        headers["x-videoapi-signature"].to_str().unwrap(),
        videoapi::engine::webhooks::signature(&new_secret, legacy_timestamp(&headers), &body)
    );
    // Delivered ones leave the outbox: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(r.got.lock().unwrap().len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_2000_failing_callbacks_does_not_delay_another() {
    let app = app_allowing_loopback_callbacks().await;
    let key_a = app.user_with_key("tenant-a", 1000).await;
    let key_b = app.user_with_key("tenant-b", 100_000_000).await;
    let (failing, failing_url) = serve(Receiver {
        always_fail: true,
        ..Default::default()
    })
    .await;
    let (hanging, hanging_url) = serve(Receiver {
        hang: true,
        ..Default::default()
    })
    .await;
    let (a, a_url) = receiver(0).await;

    // One real task of B, cloned 2 000 times straight into the store (each failed, so its
    // callback enters the outbox in the same transaction, as in production).
    let mut req = seed_request();
    req["callback_url"] = json!(failing_url);
    let (_, v) = app.create(&key_b, req.clone()).await;
    let b_id = v["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key_b, &b_id, "completed").await;
    let st = app.state();
    let template = st
        .store
        .read_now(|txn| videoapi::store::tasks::read(txn, &b_id))
        .unwrap()
        .unwrap();
    st.store
        .write(move |txn| {
            for i in 0..2000 {
                let mut t = template.clone();
                t.id = videoapi::domain::ids::TaskId::parse(&format!("vidgen_1_{i:08x}")).unwrap();
                t.status = videoapi::domain::task::Status::Pending;
                t.credits_refunded = false;
                t.request.callback_url = Some(if i % 2 == 0 {
                    failing_url.clone()
                } else {
                    hanging_url.clone()
                });
                let id = t.id.clone();
                videoapi::store::tasks::create(txn, t, "test", None)?;
                videoapi::store::tasks::fail_and_refund(txn, &id, "upstream_error", "seeded")?;
            }
            Ok(())
        })
        .await
        .unwrap();
    // B's flood is under way before A's task exists.
    let deadline = Instant::now() + Duration::from_secs(10);
    while failing.hits.load(Ordering::SeqCst) == 0 || hanging.hits.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "B's callbacks are not being tried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut req = seed_request();
    req["callback_url"] = json!(a_url);
    let (_, v) = app.create(&key_a, req).await;
    let a_id = v["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key_a, &a_id, "completed").await;
    wait_deliveries(&a, 1).await;
    let finished = st
        .store
        .read_now(|txn| videoapi::store::tasks::read(txn, &a_id))
        .unwrap()
        .unwrap()
        .updated_at_ms;
    let received = a.got.lock().unwrap()[0].2;
    let delay = received - finished;
    eprintln!(
        "callback delay of tenant A under 2000 failing callbacks of tenant B: {delay} ms \
         (B's receivers: {} answered 500, {} left hanging)",
        failing.hits.load(Ordering::SeqCst),
        hanging.hits.load(Ordering::SeqCst)
    );
    assert!(delay < 5000, "A's callback waited {delay} ms");
    // B never holds more than its share of deliveries in flight.
    assert!(
        hanging.hits.load(Ordering::SeqCst) <= videoapi::engine::webhooks::PER_TENANT,
        "{} hanging deliveries at once",
        hanging.hits.load(Ordering::SeqCst)
    );
    app.stop().await;
}

/// The first fenced block of `lang` in the README's "Verifying callbacks" section.
fn readme_snippet(lang: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Verifying callbacks")
        .nth(1)
        .expect("README has a Verifying callbacks section");
    let fence = format!("```{lang}\n");
    let start = section.find(&fence).expect("snippet") + fence.len();
    section[start..].split("\n```").next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_snippets_verify_a_real_delivery() {
    let app = app_allowing_loopback_callbacks().await;
    let key = app.user_with_key("verifier", 1000).await;
    let (r, url) = receiver(0).await;
    let mut req = seed_request();
    req["callback_url"] = json!(url);
    app.create(&key, req).await;
    wait_deliveries(&r, 1).await;
    let mut console = Console::login(&app, "verifier", "password-123").await;
    let (_, v) = console.get("/console/api/webhook-secret").await;
    let secret = v["secret"].as_str().unwrap().to_string();
    let (headers, body, _) = r.got.lock().unwrap()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let headers_json: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), json!(v.to_str().unwrap())))
        .collect();
    let hp = dir.path().join("headers.json");
    std::fs::write(&hp, serde_json::to_vec(&headers_json).unwrap()).unwrap();
    let good = dir.path().join("body.json");
    std::fs::write(&good, &body).unwrap();
    let bad = dir.path().join("tampered.json");
    std::fs::write(&bad, body.replace("completed", "c0mpleted")).unwrap();

    let py = dir.path().join("verify.py");
    std::fs::write(
        &py,
        readme_snippet("python")
            + "\n\nimport json, sys\nh = json.load(open(sys.argv[1]))\n\
               print(verify(sys.argv[3], h, open(sys.argv[2], 'rb').read()))\n",
    )
    .unwrap();
    let js = dir.path().join("verify.cjs");
    std::fs::write(
        &js,
        readme_snippet("js")
            + "\n\nconst fs = require(\"node:fs\");\nconst h = JSON.parse(fs.readFileSync(process.argv[2]));\n\
               console.log(verify(process.argv[4], h, fs.readFileSync(process.argv[3])));\n",
    )
    .unwrap();
    for (prog, script, yes, no) in [
        ("python3", &py, "True", "False"),
        ("node", &js, "true", "false"),
    ] {
        for (body, want) in [(&good, yes), (&bad, no)] {
            let out = std::process::Command::new(prog)
                .arg(script)
                .arg(&hp)
                .arg(body)
                .arg(&secret)
                .output()
                .unwrap_or_else(|e| panic!("{prog}: {e}"));
            assert!(
                out.status.success(),
                "{prog}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{prog}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn internal_callback_urls_are_refused_by_default_in_every_spelling() {
    let app = TestApp::new().await;
    let key = app.user_with_key("ssrf", 1000).await;
    for url in [
        "http://127.0.0.1:9/x",
        "http://169.254.169.254/latest",
        "http://localhost/x",
        "ftp://x",
        "http://2130706433/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://0/",
        "http://127.0.0.1./",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://198.18.0.1/",
        "http://240.0.0.1/",
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

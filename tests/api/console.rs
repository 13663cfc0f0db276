//! The console API: sessions, CSRF, the customer's pages and the operator's pages.

use crate::common::*;
use serde_json::{Value, json};

/// A browser-like console client: keeps the session cookie, sends the CSRF header.
pub struct Console<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
}

impl<'a> Console<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Console { app, cookie: None }
    }

    /// Log in and keep the cookie; panics unless 200.
    pub async fn login(app: &'a TestApp, user: &str, password: &str) -> Console<'a> {
        let mut c = Console::new(app);
        let (status, v) = c
            .post(
                "/console/api/login",
                json!({"username": user, "password": password}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        c
    }

    pub fn req(&self, method: reqwest::Method, p: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .app
            .http
            .request(method, self.app.path(p))
            .header("X-Requested-With", "videoapi")
            .header("Origin", &self.app.url);
        if let Some(c) = &self.cookie {
            r = r.header("Cookie", c);
        }
        r
    }

    /// Send and remember a cookie the server set.
    pub async fn send(&mut self, r: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
        let resp = r.send().await.unwrap();
        let set = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        if let Some(s) = &set {
            let pair = s.split(';').next().unwrap().to_string();
            self.cookie = if pair.ends_with('=') {
                None
            } else {
                Some(pair)
            };
        }
        let (status, v) = status_json(resp).await;
        (status, v, set)
    }

    pub async fn get(&mut self, p: &str) -> (u16, Value) {
        let r = self.req(reqwest::Method::GET, p);
        let (s, v, _) = self.send(r).await;
        (s, v)
    }

    pub async fn post(&mut self, p: &str, body: Value) -> (u16, Value) {
        let r = self.req(reqwest::Method::POST, p).json(&body);
        let (s, v, _) = self.send(r).await;
        (s, v)
    }

    pub async fn put(&mut self, p: &str, body: Value) -> (u16, Value) {
        let r = self.req(reqwest::Method::PUT, p).json(&body);
        let (s, v, _) = self.send(r).await;
        (s, v)
    }

    pub async fn patch(&mut self, p: &str, body: Value) -> (u16, Value) {
        let r = self.req(reqwest::Method::PATCH, p).json(&body);
        let (s, v, _) = self.send(r).await;
        (s, v)
    }
}

async fn raw_login(app: &TestApp, user: &str, password: &str) -> (u16, Value) {
    Console::new(app)
        .post(
            "/console/api/login",
            json!({"username": user, "password": password}),
        )
        .await
}

#[tokio::test]
async fn login_sets_an_httponly_strict_cookie_stored_only_as_a_hash() {
    let app = TestApp::new().await;
    let mut c = Console::new(&app);
    let r = c
        .req(reqwest::Method::POST, "/console/api/login")
        .json(&json!({"username": "admin", "password": "admin-password"}));
    let (status, me, set) = c.send(r).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "admin");
    assert_eq!(me["is_admin"], true);
    let set = set.expect("Set-Cookie");
    for attr in ["videoapi_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{attr} missing in {set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain http has no Secure flag: {set}"
    );

    let token = c.cookie.clone().unwrap()["videoapi_session=".len()..].to_string();
    let hash = videoapi::domain::session::hash_token(&token);
    let st = app.state();
    let stored = st
        .store
        .read_now(|txn| videoapi::store::sessions::read(txn, &hash))
        .unwrap();
    assert!(stored.is_some(), "the hash is the key");
    let by_token = st
        .store
        .read_now(|txn| videoapi::store::sessions::read(txn, &token))
        .unwrap();
    assert!(by_token.is_none(), "the token itself is never stored");

    let (status, me) = c.get("/console/api/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["username"], "admin");
    app.stop().await;
}

#[tokio::test]
async fn state_changing_calls_need_the_csrf_header_and_a_same_origin() {
    let app = TestApp::new().await;
    let body = json!({"username": "admin", "password": "admin-password"});
    let url = app.path("/console/api/login");
    // No custom header: a plain cross-site form post looks like this.
    let resp = app.http.post(&url).json(&body).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (403, "csrf_rejected"),
        "{v}"
    );
    // Header present but another origin.
    let resp = app
        .http
        .post(&url)
        .header("X-Requested-With", "videoapi")
        .header("Origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (403, "csrf_rejected"),
        "{v}"
    );
    // The browser says it is cross-site.
    let resp = app
        .http
        .post(&url)
        .header("X-Requested-With", "videoapi")
        .header("Sec-Fetch-Site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Same origin with the header: fine.
    let mut c = Console::new(&app);
    let (status, v) = c.post("/console/api/login", body).await;
    assert_eq!(status, 200, "{v}");
    // A logged-in state change without the header is refused too.
    let resp = app
        .http
        .post(app.path("/console/api/logout"))
        .header("Cookie", c.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let (status, _) = c.get("/console/api/me").await;
    assert_eq!(status, 200, "the session survived the refused logout");
    app.stop().await;
}

#[tokio::test]
async fn api_keys_never_open_the_console_and_cookies_never_open_v1() {
    let app = TestApp::new().await;
    let key = app.user_with_key("alice", 100).await;
    let (status, v) = app.get(&key, "/console/api/me").await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (401, "not_logged_in"),
        "{v}"
    );
    let (status, v) = app.get(&key, "/console/api/admin/users").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "not_logged_in"));

    let c = Console::login(&app, "alice", "password-123").await;
    let resp = app
        .http
        .get(app.path("/v1/account"))
        .header("Cookie", c.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (401, "missing_api_key"),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = TestApp::new().await;
    let mut c = Console::login(&app, "admin", "admin-password").await;
    let old = c.cookie.clone().unwrap();
    let r = c.req(reqwest::Method::POST, "/console/api/logout");
    let (status, _, set) = c.send(r).await;
    assert_eq!(status, 204);
    assert!(set.unwrap().contains("Max-Age=0"));
    c.cookie = Some(old);
    let (status, v) = c.get("/console/api/me").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "not_logged_in"));
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_ends_other_sessions() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let mut here = Console::login(&app, "alice", "password-123").await;
    let mut elsewhere = Console::login(&app, "alice", "password-123").await;

    let (status, v) = here
        .post(
            "/console/api/password",
            json!({"current_password": "nope-nope", "new_password": "new-password-1"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["param"], "current_password");
    let (status, v) = here
        .post(
            "/console/api/password",
            json!({"current_password": "password-123", "new_password": "short"}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["param"], "new_password");

    let (status, v) = here
        .post(
            "/console/api/password",
            json!({"current_password": "password-123", "new_password": "new-password-1"}),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert_eq!(
        here.get("/console/api/me").await.0,
        200,
        "this session stays"
    );
    assert_eq!(elsewhere.get("/console/api/me").await.0, 401, "others end");
    assert_eq!(raw_login(&app, "alice", "password-123").await.0, 401);
    assert_eq!(raw_login(&app, "alice", "new-password-1").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_loses_the_session() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let mut c = Console::login(&app, "alice", "password-123").await;
    let st = app.state();
    let id = st
        .store
        .read_now(|txn| videoapi::store::users::read_by_name(txn, "alice"))
        .unwrap()
        .unwrap()
        .id;
    st.store
        .write(move |txn| {
            videoapi::store::users::update(txn, id, |u| {
                u.disabled = true;
                Ok(())
            })
        })
        .await
        .unwrap();
    let (status, v) = c.get("/console/api/me").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "user_disabled"));
    let (status, v) = raw_login(&app, "alice", "password-123").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "user_disabled"));
    app.stop().await;
}

/// Poll the console's own task view until `status` (bounded: 20 s).
async fn console_wait(c: &mut Console<'_>, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (code, v) = c.get(&format!("/console/api/tasks/{id}")).await;
        assert_eq!(code, 200, "{v}");
        if v["status"] == status {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {status}: {v}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn keys_are_shown_once_listed_by_prefix_and_revocable() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let mut c = Console::login(&app, "alice", "password-123").await;
    let (status, created) = c.post("/console/api/keys", json!({"name": "laptop"})).await;
    assert_eq!(status, 200, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("vga_") && key.len() == 36, "{key}");
    assert_eq!(created["name"], "laptop");
    assert_eq!(created["status"], "active");
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    // The key works on the public API and its use is recorded.
    assert_eq!(app.balance(&key).await, 0);
    let (status, list) = c.get("/console/api/keys").await;
    assert_eq!(status, 200);
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap()
        .clone();
    assert!(
        listed.get("key").is_none(),
        "the full key is never listed: {listed}"
    );
    assert!(!list.to_string().contains(&key));
    assert_eq!(listed["prefix"], created["prefix"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, list) = c.get("/console/api/keys").await;
        let k = list
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == created["id"])
            .unwrap()
            .clone();
        if k["last_used_ms"].is_i64() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "last_used never set");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Someone else's key cannot be revoked (404), one's own can, and stops working.
    let other = app.user_with_key("bob", 0).await;
    let bob_key_id = app
        .state()
        .store
        .read_now(|txn| {
            let bob = videoapi::store::users::read_by_name(txn, "bob")?.unwrap();
            videoapi::store::users::list_keys(txn, bob.id)
        })
        .unwrap()[0]
        .id;
    let (status, _) = c
        .post(&format!("/console/api/keys/{bob_key_id}/revoke"), json!({}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(app.balance(&other).await, 0, "bob's key still works");
    let (status, revoked) = c
        .post(
            &format!("/console/api/keys/{}/revoke", created["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let (status, v) = app.get(&key, "/v1/account").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "invalid_api_key"));
    app.stop().await;
}

#[tokio::test]
async fn console_generation_follows_the_public_rules_and_ledger() {
    let app = TestApp::new().await;
    let key = app.user_with_key("alice", 200).await;
    let mut c = Console::login(&app, "alice", "password-123").await;

    // Same validation as the public API, with the field named.
    let mut bad = seed_request();
    bad["prompt"] = json!("@Image1 and @Image3");
    let (status, v) = c.post("/console/api/generations", bad).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (422, "unknown_asset_reference")
    );
    assert_eq!(v["error"]["param"], "prompt");
    let mut bad = seed_request();
    bad["duration"] = json!(7);
    let (status, v) = c.post("/console/api/generations", bad).await;
    assert_eq!(status, 422);
    assert_eq!(v["error"]["param"], "duration");

    let (status, v) = c.post("/console/api/generations", seed_request()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["poll_interval_seconds"], 5);
    let id = v["task_id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&key).await, 20, "the same 180 credits as /v1");

    // Not enough left: 402 and nothing is created or charged.
    let (status, v) = c.post("/console/api/generations", seed_request()).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (402, "insufficient_credits")
    );
    assert_eq!(app.balance(&key).await, 20);

    let done = console_wait(&mut c, &id, "completed").await;
    assert_eq!(done["source"], "console");
    assert_eq!(done["model"], "video-2.0-mini-reference-to-video");
    assert_eq!(done["model_name"], "Video 2.0 Mini · Reference to Video");
    assert_eq!(done["credits_reserved"], 180);
    assert_eq!(done["credits_charged"], 180);
    assert_eq!(done["credits_refunded"], false);
    assert_eq!(done["billing_mode"], "per_second");
    assert_eq!(done["unit_credits"], 36);
    assert_eq!(done["billed_units"], 5);
    assert!(done["elapsed_ms"].as_i64().unwrap() > 0);
    assert!(done["finished_at_ms"].is_i64());
    assert!(done["url"].as_str().unwrap().starts_with(&app.url));

    // The same task through the public API, owned by the same user.
    let public = app.wait_for(&key, &id, "completed").await;
    assert_eq!(public["url"], done["url"]);
    let (status, list) = c.get("/console/api/tasks?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["has_more"], false);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn a_failed_console_task_shows_its_refund() {
    let app = TestApp::new().await;
    let key = app.user_with_key("alice", 500).await;
    let mut c = Console::login(&app, "alice", "password-123").await;
    let mut req = seed_request();
    req["prompt"] = json!("@Image1 demo:fail");
    let (status, v) = c.post("/console/api/generations", req).await;
    assert_eq!(status, 200, "{v}");
    let id = v["task_id"].as_str().unwrap().to_string();
    let failed = console_wait(&mut c, &id, "failed").await;
    assert_eq!(failed["credits_refunded"], true);
    assert_eq!(failed["credits_refunded_amount"], 180);
    assert_eq!(failed["credits_charged"], 0);
    assert!(failed["error"]["message"].is_string());
    assert_eq!(app.balance(&key).await, 500);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn overview_counts_keys_and_tasks_and_shows_the_latest() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 1000).await;
    let mut c = Console::login(&app, "alice", "password-123").await;
    let (status, o) = c.get("/console/api/overview").await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["credits"], 1000);
    assert_eq!(o["api_key_count"], 1);
    assert_eq!(o["task_count"], 0);
    assert_eq!(o["latest_status"], Value::Null);
    assert_eq!(o["recent_tasks"], json!([]));

    let (_, v) = c.post("/console/api/generations", seed_request()).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    let (_, o) = c.get("/console/api/overview").await;
    assert_eq!(o["credits"], 820);
    assert_eq!(o["task_count"], 1);
    assert_eq!(o["recent_tasks"][0]["task_id"], id.as_str());
    assert!(o["latest_status"].is_string());
    console_wait(&mut c, &id, "completed").await;
    let (_, o) = c.get("/console/api/overview").await;
    assert_eq!(o["latest_status"], "completed");
    app.stop().await;
}

#[tokio::test]
async fn console_models_show_the_users_own_price() {
    let app = TestApp::new().await;
    let st = app.state();
    st.catalog
        .put_group(videoapi::domain::catalog::PricingGroup {
            name: "half".into(),
            percent: 50,
            overrides: Default::default(),
        })
        .await
        .unwrap();
    st.accounts
        .create_user(
            "vip",
            Some("password-123".into()),
            0,
            false,
            Some("half".into()),
            "test",
        )
        .await
        .unwrap();
    let mut c = Console::login(&app, "vip", "password-123").await;
    let (status, v) = c.get("/console/api/models").await;
    assert_eq!(status, 200, "{v}");
    let m = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "video-2.0-mini-reference-to-video")
        .unwrap();
    assert_eq!(m["billing"]["credits"], 18);
    assert_eq!(m["billing"]["resolution_credits"]["480p"], 12);
    app.stop().await;
}

#[tokio::test]
async fn console_upload_uses_the_session_and_the_public_rules() {
    use reqwest::multipart::{Form, Part};
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let form = || {
        Form::new().part(
            "files",
            Part::bytes(png_bytes())
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap(),
        )
    };
    let mut anon = Console::new(&app);
    let r = anon
        .req(reqwest::Method::POST, "/console/api/upload")
        .multipart(form());
    let (status, v, _) = anon.send(r).await;
    assert_eq!((status, error_code(&v).as_str()), (401, "not_logged_in"));

    let mut c = Console::login(&app, "alice", "password-123").await;
    let r = c
        .req(reqwest::Method::POST, "/console/api/upload")
        .multipart(form());
    let (status, v, _) = c.send(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"][0]["content_type"], "image/png");
    let url = v["data"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/uploads/", app.url)));
    assert_eq!(app.http.get(url).send().await.unwrap().status(), 200);

    let html = Form::new().part(
        "files",
        Part::bytes(b"<html><script>alert(1)</script>".to_vec())
            .file_name("x.html")
            .mime_str("text/html")
            .unwrap(),
    );
    let r = c
        .req(reqwest::Method::POST, "/console/api/upload")
        .multipart(html);
    let (status, _, _) = c.send(r).await;
    assert_eq!(status, 415);
    app.stop().await;
}

#[tokio::test]
async fn console_json_bodies_are_capped_and_answers_are_not_cached() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let mut c = Console::login(&app, "alice", "password-123").await;
    let mut big = seed_request();
    big["prompt"] = json!("x".repeat(2 * 1024 * 1024));
    let (status, v) = c.post("/console/api/generations", big).await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (413, "payload_too_large")
    );
    let resp = c
        .req(reqwest::Method::GET, "/console/api/me")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    app.stop().await;
}

// ---- operator pages ----

fn operator_routes() -> Vec<(reqwest::Method, &'static str, Value)> {
    use reqwest::Method as M;
    vec![
        (M::GET, "/console/api/admin/users", json!(null)),
        (M::GET, "/console/api/admin/overview", json!(null)),
        (
            M::POST,
            "/console/api/admin/users",
            json!({"username": "mallory2", "credits": 100}),
        ),
        (
            M::PATCH,
            "/console/api/admin/users/1",
            json!({"disabled": true}),
        ),
        (
            M::POST,
            "/console/api/admin/users/1/credits",
            json!({"amount": 1000}),
        ),
        (M::GET, "/console/api/admin/pricing-groups", json!(null)),
        (
            M::PUT,
            "/console/api/admin/pricing-groups/free",
            json!({"percent": 1}),
        ),
        (M::GET, "/console/api/admin/providers", json!(null)),
        (M::GET, "/console/api/admin/provider-kinds", json!(null)),
        (
            M::POST,
            "/console/api/admin/providers",
            json!({"name": "x", "kind": "demo"}),
        ),
        (
            M::PUT,
            "/console/api/admin/providers/demo",
            json!({"kind": "demo", "enabled": false}),
        ),
        (M::POST, "/console/api/admin/providers/demo/test", json!({})),
        (M::GET, "/console/api/admin/models", json!(null)),
        (M::GET, "/console/api/admin/tasks", json!(null)),
        (M::GET, "/console/api/admin/ledger", json!(null)),
    ]
}

#[tokio::test]
async fn operator_apis_refuse_customers_anonymous_callers_and_api_keys() {
    let app = TestApp::new().await;
    let key = app.user_with_key("mallory", 0).await;
    let mut customer = Console::login(&app, "mallory", "password-123").await;
    let mut anon = Console::new(&app);
    let (admin_id, admin_key) = {
        let st = app.state();
        let admin = st
            .store
            .read_now(|txn| videoapi::store::users::read_by_name(txn, "admin"))
            .unwrap()
            .unwrap();
        let (_, k) = st.accounts.create_key(admin.id, "ops").await.unwrap();
        (admin.id, k)
    };
    for (method, path, body) in operator_routes() {
        let with_body = |r: reqwest::RequestBuilder| {
            if body.is_null() { r } else { r.json(&body) }
        };
        let r = with_body(customer.req(method.clone(), path));
        let (status, v, _) = customer.send(r).await;
        assert_eq!(
            (status, error_code(&v).as_str()),
            (403, "forbidden"),
            "{method} {path}: {v}"
        );
        let r = with_body(anon.req(method.clone(), path));
        let (status, v, _) = anon.send(r).await;
        assert_eq!(
            (status, error_code(&v).as_str()),
            (401, "not_logged_in"),
            "{method} {path}"
        );
        // An operator's API key is still no way in.
        let r = with_body(anon.req(method.clone(), path).bearer_auth(&admin_key));
        let (status, _, _) = anon.send(r).await;
        assert_eq!(status, 401, "{method} {path} with an API key");
    }
    // Nothing changed.
    assert_eq!(app.balance(&key).await, 0);
    let admin = app.state().accounts.user(admin_id).await.unwrap();
    assert!(!admin.disabled);
    assert!(app.state().catalog.provider("demo").unwrap().enabled);
    app.stop().await;
}

/// Every operator route the server serves, read from its own spec (tag `Console · Admin`),
/// so a route added later is covered without editing this test.
async fn served_operator_routes(app: &TestApp) -> Vec<(reqwest::Method, String)> {
    let spec: Value = app
        .http
        .get(app.path("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let tags = op["tags"].as_array().cloned().unwrap_or_default();
            let operator = tags.iter().any(|t| t == "Console · Admin");
            assert_eq!(
                operator,
                path.starts_with("/console/api/admin"),
                "{method} {path}: operator routes live under /console/api/admin and only there"
            );
            if operator {
                // Any value fits a path parameter: the guard answers before it is read.
                let path = path
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { "1" } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                out.push((method, path));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_served_operator_route_refuses_customers_and_anonymous_callers() {
    let app = TestApp::new().await;
    let key = app.user_with_key("mallory", 0).await;
    let mut customer = Console::login(&app, "mallory", "password-123").await;
    let mut anon = Console::new(&app);
    let routes = served_operator_routes(&app).await;
    assert!(routes.len() >= 38, "only {} operator routes", routes.len());
    for (method, path) in routes {
        // A body that is valid JSON but fits no operator request: the admin guard must
        // refuse before the body is even parsed.
        let with_body = |r: reqwest::RequestBuilder| {
            if method == reqwest::Method::GET {
                r
            } else {
                r.json(&json!({}))
            }
        };
        let r = with_body(customer.req(method.clone(), &path));
        let (status, v, _) = customer.send(r).await;
        assert_eq!(
            (status, error_code(&v).as_str()),
            (403, "forbidden"),
            "{method} {path} as a customer: {v}"
        );
        let r = with_body(anon.req(method.clone(), &path));
        let (status, v, _) = anon.send(r).await;
        assert_eq!(
            (status, error_code(&v).as_str()),
            (401, "not_logged_in"),
            "{method} {path} without a session: {v}"
        );
    }
    assert_eq!(app.balance(&key).await, 0);
    assert!(app.state().catalog.provider("demo").unwrap().enabled);
    app.stop().await;
}

#[tokio::test]
async fn operator_creates_a_user_tops_up_and_deducts_with_notes() {
    let app = TestApp::new().await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (status, v) = ops
        .post(
            "/console/api/admin/users",
            json!({"username": "carol", "credits": 50}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let id = v["user"]["id"].as_u64().unwrap();
    assert_eq!(v["user"]["credits"], 50);
    let password = v["generated_password"].as_str().unwrap().to_string();
    let (status, v) = ops
        .post("/console/api/admin/users", json!({"username": "carol"}))
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = ops
        .post("/console/api/admin/users", json!({"username": "x y"}))
        .await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("username"))
    );

    let credits = format!("/console/api/admin/users/{id}/credits");
    let (status, v) = ops
        .post(&credits, json!({"amount": 500, "note": "welcome"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["credits"], 550);
    assert_eq!(v["entry"]["kind"], "top_up");
    assert_eq!(v["entry"]["actor"], "admin:admin");
    let (status, v) = ops
        .post(&credits, json!({"amount": -100, "note": "correction"}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["credits"], 450);
    assert_eq!(v["entry"]["kind"], "adjust");
    let (status, v) = ops.post(&credits, json!({"amount": -1000})).await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("amount"))
    );
    let (status, _) = ops.post(&credits, json!({"amount": 0})).await;
    assert_eq!(status, 422);
    let (status, _) = ops
        .post("/console/api/admin/users/999/credits", json!({"amount": 5}))
        .await;
    assert_eq!(status, 404);

    // The ledger, newest first, filtered by user.
    let (status, l) = ops.get("/console/api/admin/ledger?user=carol").await;
    assert_eq!(status, 200, "{l}");
    let notes: Vec<&str> = l["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["note"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(notes, ["correction", "welcome", "starting credits"]);
    // The system's own entries carry a reason code for the console to translate; an
    // operator's free text has none.
    let reasons: Vec<&serde_json::Value> = l["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["reason"])
        .collect();
    assert_eq!(
        reasons,
        [&json!(null), &json!(null), &json!("starting_credits")]
    );
    assert_eq!(l["data"][0]["username"], "carol");
    assert_eq!(l["data"][0]["balance_after"], 450);
    let (_, page) = ops
        .get("/console/api/admin/ledger?user=carol&limit=2")
        .await;
    assert_eq!(page["has_more"], true);
    let cursor = page["next_cursor"].as_u64().unwrap();
    let (_, rest) = ops
        .get(&format!(
            "/console/api/admin/ledger?user=carol&limit=2&before={cursor}"
        ))
        .await;
    assert_eq!(rest["data"][0]["note"], "starting credits");

    // The new user can log in with the generated password and sees the balance.
    let mut carol = Console::login(&app, "carol", &password).await;
    assert_eq!(carol.get("/console/api/me").await.1["credits"], 450);
    let (_, users) = ops.get("/console/api/admin/users?q=CAR").await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn operator_disables_and_enables_users_and_assigns_pricing_groups() {
    let app = TestApp::new().await;
    let key = app.user_with_key("dave", 100).await;
    let mut dave = Console::login(&app, "dave", "password-123").await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (_, users) = ops.get("/console/api/admin/users?q=dave").await;
    let id = users[0]["id"].as_u64().unwrap();
    let path = format!("/console/api/admin/users/{id}");

    let (status, v) = ops.patch(&path, json!({"disabled": true})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["disabled"], true);
    let (status, v) = app.get(&key, "/v1/account").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "user_disabled"));
    assert_eq!(dave.get("/console/api/me").await.0, 401);
    let (status, _) = ops.patch(&path, json!({"disabled": false})).await;
    assert_eq!(status, 200);
    assert_eq!(app.balance(&key).await, 100);

    // Operators cannot lock themselves out.
    let (_, me) = ops.get("/console/api/me").await;
    let (status, _) = ops
        .patch(
            &format!("/console/api/admin/users/{}", me["id"]),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, 409);

    // Pricing groups: create, assign, the user's price follows; unknown names are 422.
    let (status, v) = ops
        .put(
            "/console/api/admin/pricing-groups/vip",
            json!({"percent": 80}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = ops
        .put(
            "/console/api/admin/pricing-groups/bad",
            json!({"percent": 80, "overrides": {"no-such-model": 1}}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    let (status, v) = ops.patch(&path, json!({"pricing_group": "nope"})).await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("pricing_group"))
    );
    let (status, v) = ops.patch(&path, json!({"pricing_group": "vip"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["pricing_group"], "vip");
    let (_, groups) = ops.get("/console/api/admin/pricing-groups").await;
    assert_eq!(groups[0]["name"], "vip");
    assert_eq!(groups[0]["users"], 1);
    let mut dave = Console::login(&app, "dave", "password-123").await;
    let (_, models) = dave.get("/console/api/models").await;
    let m = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "video-2.0-mini-reference-to-video")
        .unwrap()
        .clone();
    assert_eq!(m["billing"]["credits"], 29, "36 x 80 % rounded up");
    let (status, v) = ops.patch(&path, json!({"pricing_group": null})).await;
    assert_eq!((status, &v["pricing_group"]), (200, &Value::Null));

    // A password reset ends the user's sessions.
    let (status, _) = ops
        .patch(&path, json!({"password": "reset-password-1"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(dave.get("/console/api/me").await.0, 401);
    Console::login(&app, "dave", "reset-password-1").await;
    app.stop().await;
}

#[tokio::test]
async fn channels_keep_their_secrets_masked_and_can_be_tested() {
    let app = TestApp::new().await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let secret = "sk-live-very-secret-value-9876";
    let (status, v) = ops
        .post(
            "/console/api/admin/providers",
            json!({"name": "demo2", "kind": "demo", "api_key": secret, "api_secret": "another-secret-5555",
                   "priority": 2, "weight": 3, "settings": {"region": "eu", "token": "tok-123456789"}}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["api_key"], "••••9876");
    assert_eq!(v["api_secret"], "••••5555");
    assert_eq!(v["has_api_key"], true);
    assert_eq!(v["settings"]["region"], "eu");
    assert_eq!(v["settings"]["token"], "••••6789");
    let (_, list) = ops.get("/console/api/admin/providers").await;
    let text = list.to_string();
    assert!(
        !text.contains(secret) && !text.contains("another-secret") && !text.contains("tok-123")
    );
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "demo2" && p["priority"] == 2)
    );

    // Edit without credentials keeps them; an empty string clears one.
    let (status, v) = ops
        .put(
            "/console/api/admin/providers/demo2",
            json!({"kind": "demo", "base_url": "https://example.invalid/api", "enabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["enabled"], false);
    let stored = app.state().catalog.provider("demo2").unwrap();
    assert_eq!(stored.api_key, secret);
    assert_eq!(stored.base_url, "https://example.invalid/api");
    let (_, v) = ops
        .put(
            "/console/api/admin/providers/demo2",
            json!({"kind": "demo", "api_secret": ""}),
        )
        .await;
    assert_eq!(v["has_api_secret"], false);
    assert_eq!(
        app.state().catalog.provider("demo2").unwrap().api_key,
        secret
    );

    let (status, _) = ops
        .post(
            "/console/api/admin/providers",
            json!({"name": "demo2", "kind": "demo"}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, v) = ops
        .post(
            "/console/api/admin/providers",
            json!({"name": "x", "kind": "no-such-kind"}),
        )
        .await;
    assert_eq!((status, v["error"]["param"].as_str()), (422, Some("kind")));
    let (status, _) = ops
        .put(
            "/console/api/admin/providers/missing",
            json!({"kind": "demo"}),
        )
        .await;
    assert_eq!(status, 404);

    let (status, t) = ops
        .post("/console/api/admin/providers/demo/test", json!({}))
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["ok"], true);
    assert_eq!(t["code"], "ok");
    let (_, kinds) = ops.get("/console/api/admin/provider-kinds").await;
    assert!(
        kinds
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "demo")
    );
    app.stop().await;
}

#[tokio::test]
async fn operator_publishes_a_model_with_routes_prices_and_enable() {
    let app = TestApp::new().await;
    let key = app.user_with_key("erin", 1000).await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let model = json!({
        "id": "ops-text",
        "name": "Ops text",
        "features": ["text-to-video"],
        "enabled": false,
        "billing": {"mode": "per_task", "credits": 70},
        "capabilities": {"types": ["text-to-video"], "resolutions": ["720p"], "durations": [5],
                         "default_duration": 5, "aspect_ratios": ["16:9"]},
        "poll_interval_seconds": 2,
        "routes": [{"provider": "demo", "upstream_model": "demo-text"}]
    });
    let mut bad = model.clone();
    bad["routes"][0]["provider"] = json!("ghost");
    let (status, v) = ops.post("/console/api/admin/models", bad).await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("routes[0].provider"))
    );
    let mut bad = model.clone();
    bad["billing"]["mode"] = json!("per_minute");
    let (status, _) = ops.post("/console/api/admin/models", bad).await;
    assert_eq!(status, 422);

    let (status, v) = ops.post("/console/api/admin/models", model.clone()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["routes"][0]["weight"], 1);
    let (status, _) = ops.post("/console/api/admin/models", model.clone()).await;
    assert_eq!(status, 409);

    // Disabled: not listed and not callable.
    let (_, list) = app.get(&key, "/v1/models").await;
    assert!(!list.to_string().contains("ops-text"));
    let req = json!({"model": "ops-text", "prompt": "a cat"});
    let (status, v) = app.create(&key, req.clone()).await;
    assert_eq!((status, error_code(&v).as_str()), (400, "model_disabled"));

    let mut enabled = model.clone();
    enabled["enabled"] = json!(true);
    let (status, v) = ops.put("/console/api/admin/models/ops-text", enabled).await;
    assert_eq!(status, 200, "{v}");
    let (_, list) = app.get(&key, "/v1/models").await;
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "ops-text")
        .unwrap()
        .clone();
    assert_eq!(listed["billing"]["credits"], 70);
    let (status, v) = app.create(&key, req).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(app.balance(&key).await, 930);
    let (status, _) = ops.put("/console/api/admin/models/missing", model).await;
    assert_eq!(status, 404);
    let (_, all) = ops.get("/console/api/admin/models").await;
    assert!(all.as_array().unwrap().len() >= 3);
    app.stop().await;
}

#[tokio::test]
async fn operator_sees_every_task_filtered_by_user_model_and_status() {
    let app = TestApp::new().await;
    let a = app.user_with_key("fay", 1000).await;
    let b = app.user_with_key("gus", 1000).await;
    let (_, t1) = app.create(&a, seed_request()).await;
    let (_, t2) = app
        .create(
            &b,
            json!({"model": "video-2.0-mini-text-to-video", "prompt": "demo:fail"}),
        )
        .await;
    app.wait_for(&a, t1["task_id"].as_str().unwrap(), "completed")
        .await;
    app.wait_for(&b, t2["task_id"].as_str().unwrap(), "failed")
        .await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;

    let (status, all) = ops.get("/console/api/admin/tasks").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["data"][0]["task_id"], t2["task_id"], "newest first");
    assert_eq!(all["data"][0]["username"], "gus");
    let (_, v) = ops.get("/console/api/admin/tasks?user=fay").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["username"], "fay");
    let (_, v) = ops.get("/console/api/admin/tasks?status=failed").await;
    assert_eq!(v["data"][0]["task_id"], t2["task_id"]);
    assert_eq!(v["data"][0]["credits_refunded"], true);
    let (_, v) = ops
        .get("/console/api/admin/tasks?model=video-2.0-mini-reference-to-video")
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let (_, v) = ops.get("/console/api/admin/tasks?user=nobody").await;
    assert_eq!(v["data"], json!([]));
    let (status, _) = ops.get("/console/api/admin/tasks?status=weird").await;
    assert_eq!(status, 422);
    let (_, l) = ops.get("/console/api/admin/ledger").await;
    assert!(l["data"].as_array().unwrap().len() >= 5);
    // A reservation and its refund carry reason codes, the refund also the task's error.
    let entries = l["data"].as_array().unwrap();
    let of = |kind: &str| entries.iter().find(|e| e["kind"] == kind).unwrap().clone();
    assert_eq!(of("reserve")["reason"], "task_reserved");
    assert_eq!(of("refund")["reason"], "task_refunded");
    assert_eq!(of("refund")["error_code"], "demo_failure");
    app.stop().await;
}

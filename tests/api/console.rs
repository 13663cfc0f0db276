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
async fn wrong_passwords_are_401_then_throttled_per_user_and_address() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let (status, v) = raw_login(&app, "nobody", "whatever-123").await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (401, "invalid_credentials")
    );
    for _ in 0..5 {
        let (status, v) = raw_login(&app, "alice", "wrong-password").await;
        assert_eq!(
            (status, error_code(&v).as_str()),
            (401, "invalid_credentials"),
            "{v}"
        );
    }
    // Even the right password is refused while throttled: guessing cannot go on.
    let (status, v) = raw_login(&app, "alice", "password-123").await;
    assert_eq!(
        (status, error_code(&v).as_str()),
        (429, "login_throttled"),
        "{v}"
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("seconds"));
    // Another account from the same address is not locked out.
    let (status, v) = raw_login(&app, "admin", "admin-password").await;
    assert_eq!(status, 200, "{v}");
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
    assert!(status == 401 || status == 404, "{status} {v}");

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

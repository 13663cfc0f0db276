//! Console logins under attack: growing delays instead of locks, client addresses through
//! trusted proxies only, a login flood, the session cap and purge, `/metrics` access.

use crate::common::{TestApp, test_config};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One login, optionally claiming a client address in `X-Forwarded-For`; returns the
/// status, the `Retry-After` header and the body.
async fn login(
    app: &TestApp,
    user: &str,
    password: &str,
    xff: Option<&str>,
) -> (u16, Option<u64>, Value) {
    let mut req = app
        .http
        .post(app.path("/console/api/login"))
        .header("X-Requested-With", "videoapi")
        .json(&json!({"username": user, "password": password}));
    if let Some(ip) = xff {
        req = req.header("X-Forwarded-For", ip);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

/// Fail `user`'s login from `xff` until the server starts delaying (bounded).
async fn fail_until_delayed(app: &TestApp, user: &str, xff: Option<&str>) -> u64 {
    for _ in 0..20 {
        let (status, retry_after, v) = login(app, user, "wrong-password", xff).await;
        match status {
            401 => assert_eq!(code(&v), "invalid_credentials", "{v}"),
            429 => {
                assert_eq!(code(&v), "login_throttled", "{v}");
                return retry_after.expect("every 429 carries Retry-After");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    panic!("20 wrong passwords were never delayed");
}

async fn app_behind_proxy() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    config.metrics_token = Some("scrape-token".into());
    TestApp::with_config(dir, config).await
}

#[tokio::test]
async fn wrong_passwords_slow_down_but_the_right_one_gets_in_after_the_delay() {
    let app = TestApp::new().await;
    app.user_with_key("alice", 0).await;
    let (status, _, v) = login(&app, "nobody", "whatever-123", None).await;
    assert_eq!((status, code(&v)), (401, "invalid_credentials"), "{v}");
    let wait = fail_until_delayed(&app, "alice", None).await;
    assert!((1..=60).contains(&wait), "{wait}");
    // While the delay runs even the right password waits (guessing cannot go on) ...
    let (status, retry_after, v) = login(&app, "alice", "password-123", None).await;
    assert_eq!((status, code(&v)), (429, "login_throttled"), "{v}");
    assert!(retry_after.is_some());
    assert!(v["error"]["message"].as_str().unwrap().contains("seconds"));
    // ... another account from the same address is not delayed ...
    let (status, _, v) = login(&app, "admin", "admin-password", None).await;
    assert_eq!(status, 200, "{v}");
    // ... and once the delay is over the right password is accepted: never a lock.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, retry_after, v) = login(&app, "alice", "password-123", None).await;
        if status == 200 {
            break;
        }
        assert_eq!((status, code(&v)), (429, "login_throttled"), "{v}");
        assert!(Instant::now() < deadline, "still refused: {v}");
        tokio::time::sleep(
            Duration::from_millis(250).min(Duration::from_secs(retry_after.unwrap_or(1))),
        )
        .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn an_attacker_behind_the_trusted_proxy_cannot_keep_the_operator_out() {
    let app = app_behind_proxy().await;
    // Every request comes from the proxy (127.0.0.1); only X-Forwarded-For differs.
    fail_until_delayed(&app, "admin", Some("203.0.113.66")).await;
    for _ in 0..10 {
        let (status, _, v) = login(&app, "admin", "guess-123", Some("203.0.113.66")).await;
        assert_eq!(status, 429, "{v}");
    }
    let (status, _, v) = login(&app, "admin", "admin-password", Some("198.51.100.7")).await;
    assert_eq!(status, 200, "the operator at another address gets in: {v}");
    // A client that forges a first hop is still known by the hop the proxy appended.
    let (status, _, v) = login(
        &app,
        "admin",
        "admin-password",
        Some("203.0.113.66, 198.51.100.8"),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, _, v) = login(
        &app,
        "admin",
        "admin-password",
        Some("198.51.100.9, 203.0.113.66"),
    )
    .await;
    assert_eq!(status, 429, "the attacker's own address stays delayed: {v}");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::new().await;
    assert!(app.config.trusted_proxies.is_empty());
    fail_until_delayed(&app, "admin", Some("203.0.113.66")).await;
    // Claiming another address does not help: without trusted_proxies the peer counts.
    let (status, _, v) = login(&app, "admin", "admin-password", Some("198.51.100.7")).await;
    assert_eq!((status, code(&v)), (429, "login_throttled"), "{v}");
    let resp = app
        .http
        .post(app.path("/console/api/login"))
        .header("X-Requested-With", "videoapi")
        .header("Forwarded", "for=198.51.100.7")
        .json(&json!({"username": "admin", "password": "admin-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    app.stop().await;
}

#[tokio::test]
async fn unknown_names_beyond_their_budget_still_answer_like_wrong_passwords() {
    let app = TestApp::new().await;
    // More made-up names than the per-address budget of real checks.
    for i in 0..25 {
        let (status, _, v) = login(&app, &format!("ghost{i}"), "whatever-123", None).await;
        assert_eq!((status, code(&v)), (401, "invalid_credentials"), "{v}");
    }
    let (status, _, v) = login(&app, "admin", "admin-password", None).await;
    assert_eq!(status, 200, "{v}");
    app.stop().await;
}

// Several threads: on one, the server's /healthz would wait behind the flood's own client.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_keeps_healthz_fast_and_lets_the_operator_in() {
    let app = TestApp::new().await;
    let args = videoapi::login_flood::LoginFloodArgs {
        url: app.url.clone(),
        concurrency: 64,
        seconds: 4,
        user: "admin".into(),
        password: "admin-password".into(),
        server_pid: Some(std::process::id()),
    };
    let report = videoapi::login_flood::flood(&args, Duration::from_secs(4))
        .await
        .unwrap();
    report.print();
    assert!(report.bad_logins > 64, "{report:?}");
    assert_eq!(
        report.answered_other + report.transport_errors,
        0,
        "{report:?}"
    );
    assert!(report.legit_ok(), "{report:?}");
    // The full 30 s run (scripts/login_flood.sh, release build) holds p99 < 100 ms. Here
    // a debug build shares the process with its own flood client and the cores with
    // other tests, so the bound is looser; before the fix /healthz timed out.
    assert!(report.healthz_p50 < Duration::from_millis(50), "{report:?}");
    assert!(
        report.healthz_p99 < Duration::from_millis(500),
        "{report:?}"
    );
    // Test client and server together, debug build: still under the 200 MiB goal.
    assert!(report.vm_hwm_kib.unwrap() < 200 * 1024, "{report:?}");
    app.stop().await;
}

#[tokio::test]
async fn sessions_are_capped_per_account_oldest_first() {
    let app = TestApp::new().await;
    let cap = videoapi::domain::session::MAX_SESSIONS_PER_USER;
    let mut cookies = Vec::new();
    for _ in 0..cap + 2 {
        let resp = app
            .http
            .post(app.path("/console/api/login"))
            .header("X-Requested-With", "videoapi")
            .json(&json!({"username": "admin", "password": "admin-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        cookies.push(set.split(';').next().unwrap().to_string());
    }
    let me = |cookie: String| {
        let req = app
            .http
            .get(app.path("/console/api/me"))
            .header("Cookie", cookie);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(cookies[0].clone()).await, 401, "the oldest was ended");
    assert_eq!(me(cookies[1].clone()).await, 401);
    for c in &cookies[2..] {
        assert_eq!(me(c.clone()).await, 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn expired_sessions_are_purged_by_the_timer() {
    use videoapi::domain::session::{Session, hash_token, new_token};
    let mut app = TestApp::new().await;
    let admin_id = app
        .state()
        .store
        .read_now(|txn| videoapi::store::users::read_by_name(txn, "admin"))
        .unwrap()
        .unwrap()
        .id;
    let stale = hash_token(&new_token());
    let s = stale.clone();
    app.state()
        .store
        .write(move |txn| {
            videoapi::store::sessions::put(
                txn,
                &s,
                &Session {
                    user_id: admin_id,
                    created_at_ms: 1_000,
                    expires_at_ms: 2_000,
                },
            )
        })
        .await
        .unwrap();
    let read = |app: &TestApp, h: String| {
        app.state()
            .store
            .read_now(move |txn| videoapi::store::sessions::read(txn, &h))
            .unwrap()
    };
    // The purge timer runs at start-up (then every 10 minutes); logins never sweep.
    app.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while read(&app, stale.clone()).is_some() {
        assert!(
            Instant::now() < deadline,
            "the expired session was not purged"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_need_the_token_behind_a_trusted_proxy() {
    let app = app_behind_proxy().await;
    let resp = app.http.get(app.path("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 403, "a loopback peer is not enough");
    let resp = app
        .http
        .get(app.path("/metrics"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let resp = app
        .http
        .get(app.path("/metrics"))
        .bearer_auth("scrape-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    app.stop().await;

    // Loopback listener, no proxy: loopback peers need no token (as before).
    let app = TestApp::new().await;
    let resp = app.http.get(app.path("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    app.stop().await;
}

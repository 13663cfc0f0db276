//! API key limits over real HTTP: expiry, model and address allow-lists, budgets with
//! period resets (a manual clock), rpm, account limits, and the per-key queue (positions,
//! cancel, restarts), plus the exactness cases under parallel load.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};
use std::time::Duration;
use videoapi::clock::{ManualClock, SharedClock};

const MODEL: &str = "video-2.0-mini-text-to-video";
const PRICE: i64 = 100;

fn text(prompt: &str) -> Value {
    json!({"model": MODEL, "prompt": prompt})
}

/// A gateway whose clock only moves when the test says so.
async fn manual_app() -> (TestApp, ManualClock) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    let clock = ManualClock::starting_now();
    config.clock = SharedClock::new(clock.clone());
    (TestApp::with_config(dir, config).await, clock)
}

/// A customer with `credits` and one key made in the console with `settings`; returns
/// the key and the key as the console lists it.
async fn key_with(app: &TestApp, name: &str, credits: i64, settings: Value) -> (String, Value) {
    app.user_with_key(name, credits).await;
    let mut c = Console::login(app, name, "password-123").await;
    let mut body = settings;
    body["name"] = json!("limited");
    let (s, v) = c.post("/console/api/keys", body).await;
    assert_eq!(s, 200, "{v}");
    (v["key"].as_str().unwrap().to_string(), v)
}

async fn account(app: &TestApp, key: &str) -> Value {
    let (s, v) = app.get(key, "/v1/account").await;
    assert_eq!(s, 200, "{v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_401_key_expired() {
    let (app, clock) = manual_app().await;
    let at = videoapi::domain::limits::format_rfc3339(clock_now(&clock) + 3_600_000);
    let (key, v) = key_with(&app, "expiring", 1_000, json!({"expires_at": at})).await;
    assert_eq!(v["expires_at"], at);
    assert_eq!(v["expired"], false);
    account(&app, &key).await;
    clock.advance_ms(3_600_000);
    let (s, v) = app.get(&key, "/v1/account").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "key_expired"), "{v}");
    let (s, v) = app.create(&key, text("late")).await;
    assert_eq!((s, error_code(&v).as_str()), (401, "key_expired"), "{v}");
    app.stop().await;
}

fn clock_now(c: &ManualClock) -> i64 {
    use videoapi::clock::Clock;
    c.now_ms()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_allow_list_refuses_other_models_and_filters_the_model_list() {
    let app = TestApp::new().await;
    let (key, _) = key_with(&app, "onemodel", 1_000, json!({"models": [MODEL]})).await;
    let (s, v) = app.create(&key, seed_request()).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (403, "model_not_allowed"),
        "{v}"
    );
    assert_eq!(v["error"]["param"], "model");
    assert_eq!(app.balance(&key).await, 1_000);
    let (s, v) = app.create(&key, text("allowed")).await;
    assert_eq!(s, 200, "{v}");
    let (_, models) = app.get(&key, "/v1/models").await;
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [MODEL]);
    // Without a key, every model is listed.
    let all: Value = app
        .http
        .get(app.path("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all["data"].as_array().unwrap().len() > 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_allow_list_follows_the_trusted_proxy_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let app = TestApp::with_config(dir, config).await;
    let (key, v) = key_with(
        &app,
        "officeonly",
        1_000,
        json!({"allowed_ips": ["10.1.2.3/8", "2001:db8::/32"]}),
    )
    .await;
    assert_eq!(v["allowed_ips"], json!(["10.0.0.0/8", "2001:db8::/32"]));
    let call = |xff: Option<&'static str>| {
        let mut r = app.http.get(app.path("/v1/account")).bearer_auth(&key);
        if let Some(x) = xff {
            r = r.header("X-Forwarded-For", x);
        }
        r
    };
    // From the proxy itself (127.0.0.1) without a forwarded address: refused.
    let (s, v) = status_json(call(None).send().await.unwrap()).await;
    assert_eq!((s, error_code(&v).as_str()), (403, "ip_not_allowed"), "{v}");
    let (s, _) = status_json(call(Some("10.9.8.7")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    let (s, _) = status_json(call(Some("2001:db8::5")).send().await.unwrap()).await;
    assert_eq!(s, 200);
    // A client that claims an allowed address before its real one gains nothing.
    let (s, v) = status_json(call(Some("10.0.0.1, 192.0.2.1")).send().await.unwrap()).await;
    assert_eq!((s, error_code(&v).as_str()), (403, "ip_not_allowed"), "{v}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_budget_refuses_with_402_gives_refunds_back_and_resets_at_midnight() {
    let (app, clock) = manual_app().await;
    // Noon UTC today, so the day's end is a known 12 h away.
    let now = clock_now(&clock);
    let noon = now - now.rem_euclid(86_400_000) + 43_200_000;
    clock.set_ms(noon);
    let (key, _) = key_with(
        &app,
        "budgeted",
        10_000,
        json!({"budget": 2 * PRICE, "budget_period": "daily"}),
    )
    .await;
    let (_, a) = app.create(&key, text("one")).await;
    let (_, b) = app.create(&key, text("two demo:fail")).await;
    let (s, v) = app.create(&key, text("three")).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (402, "key_budget_exceeded"),
        "{v}"
    );
    assert_eq!(
        app.balance(&key).await,
        10_000 - 2 * PRICE,
        "nothing charged"
    );
    let acc = account(&app, &key).await;
    assert_eq!(acc["key"]["usage"]["spent_this_period"], 2 * PRICE);
    assert_eq!(acc["key"]["usage"]["budget_remaining"], 0);
    assert_eq!(acc["key"]["limits"]["budget_period"], "daily");
    let resets = acc["key"]["usage"]["period_resets_at"].as_str().unwrap();
    assert!(resets.ends_with("T00:00:00Z"), "{resets}");

    // The failed task is refunded: its budget comes back.
    app.wait_for(&key, b["task_id"].as_str().unwrap(), "failed")
        .await;
    let (s, v) = app.create(&key, text("after refund")).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.create(&key, text("over again")).await;
    assert_eq!(s, 402);

    // Past midnight the day's budget is whole again.
    clock.advance_ms(12 * 3_600_000);
    let acc = account(&app, &key).await;
    assert_eq!(acc["key"]["usage"]["spent_this_period"], 0);
    let (s, v) = app.create(&key, text("tomorrow")).await;
    assert_eq!(s, 200, "{v}");
    app.wait_for(&key, a["task_id"].as_str().unwrap(), "completed")
        .await;
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_is_a_token_bucket_429_with_retry_after() {
    let (app, clock) = manual_app().await;
    let (key, _) = key_with(&app, "ratey", 10_000, json!({"rpm": 3})).await;
    for i in 0..3 {
        let (s, v) = app.create(&key, text(&format!("r{i}"))).await;
        assert_eq!(s, 200, "{v}");
    }
    let resp = app
        .http
        .post(app.path("/v1/video/generations"))
        .bearer_auth(&key)
        .json(&text("r3"))
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (429, "rate_limited"), "{v}");
    assert_eq!(
        account(&app, &key).await["key"]["usage"]["requests_this_minute"],
        3
    );
    // One token back every 20 s.
    clock.advance_ms(20_000);
    let (s, v) = app.create(&key, text("r4")).await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.create(&key, text("r5")).await;
    assert_eq!(s, 429);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_key_settings_are_422_naming_the_field() {
    let app = TestApp::new().await;
    app.user_with_key("formy", 100).await;
    let mut c = Console::login(&app, "formy", "password-123").await;
    let cases = [
        (json!({"expires_at": "tomorrow"}), "expires_at"),
        (json!({"expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"allowed_ips": ["10.0.0.0/33"]}), "allowed_ips"),
        (json!({"models": ["no-such-model"]}), "models"),
        (json!({"budget": 0}), "budget"),
        (json!({"budget_period": "weekly"}), "budget_period"),
        (json!({"max_concurrency": 0}), "max_concurrency"),
        (json!({"max_concurrency": -1}), "max_concurrency"),
        (json!({"rpm": 1_000_000}), "rpm"),
        (json!({"max_queued": -5}), "max_queued"),
    ];
    for (body, param) in cases {
        let (s, v) = c.post("/console/api/keys", body.clone()).await;
        assert_eq!(s, 422, "{body} -> {v}");
        assert_eq!(error_code(&v), "invalid_field");
        assert_eq!(v["error"]["param"], param, "{body} -> {v}");
    }
    // Edit: a missing field stays, null clears.
    let (_, created) = c
        .post("/console/api/keys", json!({"rpm": 5, "max_concurrency": 2}))
        .await;
    let id = created["id"].as_u64().unwrap();
    let (s, v) = c
        .patch(
            &format!("/console/api/keys/{id}"),
            json!({"rpm": null, "budget": 500, "budget_period": "monthly", "name": "renamed"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "renamed");
    assert_eq!(v["limits"]["rpm"], Value::Null);
    assert_eq!(v["limits"]["max_concurrency"], 2);
    assert_eq!(v["limits"]["budget"], 500);
    assert_eq!(v["usage"]["spent_this_period"], 0);
    let (s, v) = c
        .patch(
            &format!("/console/api/keys/{id}"),
            json!({"max_queued": "x"}),
        )
        .await;
    assert!(s == 400 || s == 422, "{v}");
    let (s, _) = c.patch("/console/api/keys/9999", json!({"rpm": 3})).await;
    assert_eq!(s, 404);
    let (_, list) = c.get("/console/api/keys").await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap();
    assert_eq!(listed["limits"]["budget_period"], "monthly");
    assert_eq!(listed["usage"]["queued_tasks"], 0);
    app.stop().await;
}

/// Poll until `f` holds for the task (bounded).
async fn wait_task(app: &TestApp, key: &str, id: &str, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = app.get(key, &format!("/v1/video/generations/{id}")).await;
        if f(&v) {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_concurrency_tasks_queue_with_a_position_and_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 600;
    let app = TestApp::with_config(dir, config).await;
    let (key, _) = key_with(
        &app,
        "queued",
        10_000,
        json!({"max_concurrency": 1, "max_queued": 2}),
    )
    .await;
    let (_, first) = app.create(&key, text("first")).await;
    assert!(first.get("queue_position").is_none(), "{first}");
    let (s, second) = app.create(&key, text("second")).await;
    assert_eq!(s, 200);
    assert_eq!(second["status"], "pending");
    assert_eq!(second["queue_position"], 1, "{second}");
    let (_, third) = app.create(&key, text("third")).await;
    assert_eq!(third["queue_position"], 2, "{third}");
    let (s, v) = app.create(&key, text("fourth")).await;
    assert_eq!((s, error_code(&v).as_str()), (429, "queue_full"), "{v}");
    assert_eq!(app.balance(&key).await, 10_000 - 3 * PRICE);
    let usage = &account(&app, &key).await["key"]["usage"];
    assert_eq!(
        (
            &usage["running_tasks"],
            &usage["queued_tasks"],
            &usage["unfinished_tasks"]
        ),
        (&json!(1), &json!(2), &json!(3))
    );

    // Cancel the first queued task: refunded, and the next moves up.
    let second_id = second["task_id"].as_str().unwrap();
    let third_id = third["task_id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &key,
            &format!("/v1/video/generations/{second_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["credits_refunded"], true);
    let (_, v) = app
        .get(&key, &format!("/v1/video/generations/{third_id}"))
        .await;
    assert_eq!(v["queue_position"], 1, "{v}");
    assert_eq!(v["status"], "pending");

    let first_id = first["task_id"].as_str().unwrap();
    app.wait_for(&key, first_id, "completed").await;
    let v = app.wait_for(&key, third_id, "completed").await;
    assert!(v.get("queue_position").is_none());
    assert_eq!(app.balance(&key).await, 10_000 - 2 * PRICE);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_limits_apply_across_keys() {
    let app = TestApp::new().await;
    let key = app.user_with_key("teamlead", 10_000).await;
    let st = app.state();
    let users = st.accounts.users().await.unwrap();
    let uid = users.iter().find(|u| u.username == "teamlead").unwrap().id;
    st.accounts
        .modify_user(uid, |u| {
            u.limits.budget = Some(PRICE);
            Ok(())
        })
        .await
        .unwrap();
    let (second, _) = st.accounts.create_key(uid, "second").await.unwrap();
    let _ = second;
    let (_, other) = st.accounts.create_key(uid, "other").await.unwrap();
    let (s, v) = app.create(&key, text("one")).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.create(&other, text("two")).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (402, "user_budget_exceeded"),
        "{v}"
    );
    let acc = account(&app, &other).await;
    assert_eq!(acc["account_limits"]["limits"]["budget"], PRICE);
    assert_eq!(acc["account_limits"]["usage"]["spent_this_period"], PRICE);
    assert_eq!(acc["key"]["usage"]["spent_this_period"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_are_honoured_across_a_crash_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 500;
    let mut app = TestApp::with_config(dir, config).await;
    let (key, _) = key_with(&app, "restarts", 10_000, json!({"max_concurrency": 1})).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let (s, v) = app.create(&key, text(&format!("r{i}"))).await;
        assert_eq!(s, 200, "{v}");
        ids.push(v["task_id"].as_str().unwrap().to_string());
    }
    app.wait_for(&key, &ids[0], "processing").await;
    app.crash_and_restart().await;
    let (_, v) = app
        .get(&key, &format!("/v1/video/generations/{}", ids[3]))
        .await;
    // Still waiting after the crash (the first may have finished meanwhile).
    let p = v["queue_position"].as_u64();
    assert!(p.is_some_and(|p| (1..=3).contains(&p)), "{v}");
    let mut restarted = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut processing = 0;
        let mut completed = 0;
        for id in &ids {
            let (_, v) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
            match v["status"].as_str().unwrap() {
                "processing" => processing += 1,
                "completed" => completed += 1,
                "failed" => panic!("{v}"),
                _ => {}
            }
        }
        assert!(
            processing <= 1,
            "{processing} tasks of a 1-slot key run at once"
        );
        if completed >= 2 && !restarted {
            app.restart().await;
            restarted = true;
        }
        if completed == ids.len() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "tasks did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

/// Send `n` creates at once; returns (status, body) of each.
async fn burst(app: &TestApp, key: &str, n: usize, body: Value) -> Vec<(u16, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (http, url, key) = (
            app.http.clone(),
            app.path("/v1/video/generations"),
            key.to_string(),
        );
        let mut body = body.clone();
        body["prompt"] = json!(format!("{} #{i}", body["prompt"].as_str().unwrap()));
        set.spawn(async move {
            let resp = http
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            status_json(resp).await
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

fn tally(results: &[(u16, Value)]) -> std::collections::BTreeMap<(u16, String), usize> {
    let mut m = std::collections::BTreeMap::new();
    for (s, v) in results {
        let code = if *s == 200 {
            String::new()
        } else {
            error_code(v)
        };
        *m.entry((*s, code)).or_insert(0) += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parallel_creates_on_a_budget_for_twenty_accept_exactly_twenty() {
    let app = TestApp::new().await;
    let (key, _) = key_with(&app, "burst", 1_000_000, json!({"budget": 20 * PRICE})).await;
    let results = burst(&app, &key, 200, text("budget")).await;
    let t = tally(&results);
    assert_eq!(t.get(&(200, String::new())), Some(&20), "{t:?}");
    assert_eq!(
        t.get(&(402, "key_budget_exceeded".into())),
        Some(&180),
        "{t:?}"
    );
    assert_eq!(app.balance(&key).await, 1_000_000 - 20 * PRICE);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

mod upstream {
    //! The queue measured at a real simulated upstream (OpenAI Videos).

    use super::*;
    use crate::providers::{Spec, fast_user, single};
    use crate::simulators::openai::OpenAiSim;
    use crate::simulators::{Op, start};

    fn spec() -> Spec {
        Spec {
            kind: "openai-videos",
            base_path: "/v1",
            key: "sk-oai",
            secret: "",
            settings: json!({}),
            upstream_model: "sora-2",
            request: json!({"type": "text-to-video", "prompt": "a fox"}),
            failed_code: "video_generation_failed",
            blocked_code: "moderation_blocked",
            idempotent: false,
        }
    }

    /// The most tasks upstream had at once: created there and not yet downloaded (a
    /// task's download is its last upstream call).
    fn max_in_flight(core: &crate::simulators::Core) -> usize {
        let mut events: Vec<(std::time::Instant, i32)> = core
            .received(Op::Create)
            .iter()
            .map(|r| (r.at, 1))
            .chain(core.received(Op::Download).iter().map(|r| (r.at, -1)))
            .collect();
        events.sort_by_key(|e| (e.0, -e.1));
        let (mut now, mut max) = (0i32, 0i32);
        for (_, d) in events {
            now += d;
            max = max.max(now);
        }
        max as usize
    }

    async fn limited_key(app: &TestApp, settings: Value) -> String {
        let _ = fast_user(app, "unused", 0).await;
        let (key, _) = key_with(app, "upstreamer", 1_000_000, settings).await;
        key
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hundred_parallel_creates_with_max_concurrency_four_never_exceed_four_upstream() {
        let sim = start(OpenAiSim::new("sk-oai")).await;
        let (app, _) = single(&spec(), &sim.url).await;
        let key = limited_key(&app, json!({"max_concurrency": 4})).await;
        let started = std::time::Instant::now();
        let results = burst(
            &app,
            &key,
            100,
            json!({"model": "m", "prompt": "fox", "duration": 8, "generate_audio": true}),
        )
        .await;
        let t = tally(&results);
        assert_eq!(t.get(&(200, String::new())), Some(&100), "{t:?}");
        for (_, v) in &results {
            let id = v["task_id"].as_str().unwrap();
            wait_task(&app, &key, id, |v| v["status"] == "completed").await;
        }
        let peak = max_in_flight(&sim);
        eprintln!(
            "100 tasks, max_concurrency 4: peak upstream {peak}, {} creates, {:.1} s",
            sim.count(Op::Create),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(sim.count(Op::Create), 100);
        assert!(peak <= 4, "{peak} tasks upstream at once");
        assert!(peak >= 2, "the slots were not used in parallel ({peak})");
        assert!(app.audit().is_empty(), "{:?}", app.audit());
        app.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_max_queued_ten_exactly_fourteen_of_a_hundred_are_accepted() {
        let sim = start(OpenAiSim::new("sk-oai")).await;
        sim.hold();
        let (app, _) = single(&spec(), &sim.url).await;
        let key = limited_key(&app, json!({"max_concurrency": 4, "max_queued": 10})).await;
        let results = burst(
            &app,
            &key,
            100,
            json!({"model": "m", "prompt": "fox", "duration": 8, "generate_audio": true}),
        )
        .await;
        let t = tally(&results);
        assert_eq!(
            t.get(&(200, String::new())),
            Some(&14),
            "{t:?} {:?}",
            results[0]
        );
        assert_eq!(t.get(&(429, "queue_full".into())), Some(&86), "{t:?}");
        let ids: Vec<String> = results
            .iter()
            .filter(|(s, _)| *s == 200)
            .map(|(_, v)| v["task_id"].as_str().unwrap().to_string())
            .collect();
        let mut positions = Vec::new();
        for id in &ids {
            let (_, v) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
            if let Some(p) = v["queue_position"].as_u64() {
                assert_eq!(v["status"], "pending");
                positions.push(p);
            }
        }
        positions.sort_unstable();
        assert_eq!(positions, (1..=10).collect::<Vec<u64>>());
        sim.release();
        for id in &ids {
            wait_task(&app, &key, id, |v| v["status"] == "completed").await;
        }
        assert!(max_in_flight(&sim) <= 4);
        assert_eq!(
            app.balance(&key).await,
            1_000_000 - 14 * crate::providers::PRICE
        );
        assert!(app.audit().is_empty(), "{:?}", app.audit());
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_key_takes_every_limit_as_a_flag() {
    let bin = env!("CARGO_BIN_EXE_videoapi");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("VIDEOAPI_ADMIN_PASSWORD")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, out) = run(&["admin", "create-user", "cliuser", "--credits", "1000"]);
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "admin",
        "create-key",
        "cliuser",
        "--name",
        "ci",
        "--expires-in",
        "30d",
        "--models",
        &format!("{MODEL},other-model"),
        "--allowed-ips",
        "127.0.0.1/32,::1",
        "--budget",
        "500",
        "--budget-period",
        "monthly",
        "--max-concurrency",
        "2",
        "--rpm",
        "10",
        "--max-queued",
        "3",
    ]);
    assert!(ok, "{out}");
    let key = out.trim().to_string();
    assert!(key.starts_with("vga_"), "{out}");
    let (ok, out) = run(&[
        "admin",
        "create-key",
        "cliuser",
        "--budget-period",
        "weekly",
    ]);
    assert!(!ok && out.contains("budget_period"), "{out}");
    let (ok, out) = run(&["admin", "create-key", "cliuser", "--allowed-ips", "nope"]);
    assert!(!ok && out.contains("nope"), "{out}");
    let (ok, out) = run(&[
        "admin",
        "set-user-limits",
        "cliuser",
        "--max-concurrency",
        "5",
    ]);
    assert!(ok && out.contains("max_concurrency 5"), "{out}");

    let config = test_config(dir.path());
    let app = TestApp::with_config(dir, config).await;
    let acc = account(&app, &key).await;
    let k = &acc["key"];
    assert_eq!(k["name"], "ci");
    assert_eq!(k["models"], json!([MODEL, "other-model"]));
    assert_eq!(k["allowed_ips"], json!(["127.0.0.1/32", "::1/128"]));
    assert_eq!(
        k["limits"],
        json!({"budget": 500, "budget_period": "monthly", "max_concurrency": 2, "rpm": 10, "max_queued": 3})
    );
    assert!(k["expires_at"].is_string());
    assert_eq!(acc["account_limits"]["limits"]["max_concurrency"], 5);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_set_account_limits_and_pricing_group_defaults() {
    let app = TestApp::new().await;
    let key = app.user_with_key("member", 10_000).await;
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    let (s, v) = admin
        .put(
            "/console/api/admin/pricing-groups/team",
            json!({"percent": 100}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = admin
        .put(
            "/console/api/admin/pricing-groups/team/limits",
            json!({"max_concurrency": 1, "max_queued": 0}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["max_concurrency"], 1);
    let (s, _) = admin
        .put(
            "/console/api/admin/pricing-groups/nope/limits",
            json!({"rpm": 1}),
        )
        .await;
    assert_eq!(s, 404);
    let (_, users) = admin.get("/console/api/admin/users").await;
    let uid = users
        .as_array()
        .or_else(|| users["data"].as_array())
        .unwrap()
        .iter()
        .find(|u| u["username"] == "member")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let (s, v) = admin
        .patch(
            &format!("/console/api/admin/users/{uid}"),
            json!({"pricing_group": "team"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // The group's default: one task at once, no queue.
    let (s, _) = app.create(&key, text("a")).await;
    assert_eq!(s, 200);
    let (s, v) = app.create(&key, text("b")).await;
    assert_eq!((s, error_code(&v).as_str()), (429, "queue_full"), "{v}");
    // The account's own value wins over the group's.
    let (s, v) = admin
        .put(
            &format!("/console/api/admin/users/{uid}/limits"),
            json!({"max_concurrency": 3, "rpm": -1}),
        )
        .await;
    assert_eq!((s, v["error"]["param"].as_str()), (422, Some("rpm")), "{v}");
    let (s, v) = admin
        .put(
            &format!("/console/api/admin/users/{uid}/limits"),
            json!({"max_concurrency": 3}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["limits"]["max_concurrency"], 3);
    assert_eq!(v["limits"]["max_queued"], 0);
    assert_eq!(v["usage"]["unfinished_tasks"], 1);
    let (s, v) = app.create(&key, text("c")).await;
    assert_eq!(s, 200, "{v}");
    // Customers cannot reach these routes.
    let mut member = Console::login(&app, "member", "password-123").await;
    let (s, _) = member
        .get(&format!("/console/api/admin/users/{uid}/limits"))
        .await;
    assert_eq!(s, 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_settlement_entry_of_a_task_corrects_its_keys_spend() {
    let app = TestApp::new().await;
    let (key, _) = key_with(&app, "settled", 10_000, json!({"budget": 1_000})).await;
    let (_, v) = app.create(&key, text("settle me")).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &id, "completed").await;
    assert_eq!(
        account(&app, &key).await["key"]["usage"]["spent_this_period"],
        PRICE
    );
    // Billing settles on the real video for less than was reserved: a ledger entry of
    // the task gives 30 back. Budgets follow the task's entries, whatever writes them.
    let st = app.state();
    let uid = st
        .accounts
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "settled")
        .unwrap()
        .id;
    st.store
        .write(move |txn| {
            videoapi::store::ledger::apply(
                txn,
                uid,
                30.into(),
                videoapi::store::ledger::Reason {
                    kind: videoapi::domain::ledger::EntryKind::Adjust,
                    task_id: Some(&videoapi::domain::ids::TaskId::parse(&id).unwrap()),
                    actor: "system",
                    note: Some("settled"),
                },
            )
        })
        .await
        .unwrap();
    let acc = account(&app, &key).await;
    assert_eq!(acc["key"]["usage"]["spent_this_period"], PRICE - 30);
    assert_eq!(
        acc["account_limits"]["usage"]["spent_this_period"],
        PRICE - 30
    );
    assert_eq!(acc["key"]["usage"]["budget_remaining"], 1_000 - PRICE + 30);
    app.stop().await;
}

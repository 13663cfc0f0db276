//! Price matrices, the free estimate, price snapshots and settlement on what was made
//! (issue 11), over real HTTP.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};
use videoapi::domain::catalog::{Billing, BillingMode, Model, PricingGroup, RouteCost};

const SEED: &str = "video-2.0-mini-reference-to-video";

/// The issue's example on the seed model: 720p 10/s, 1080p 20/s, ×1.5 with audio,
/// +50 with a video input.
async fn matrix_model(app: &TestApp) -> Model {
    let mut m = (*app.state().catalog.model(SEED).unwrap()).clone();
    m.capabilities.resolutions = vec!["720p".into(), "1080p".into()];
    m.billing = Billing {
        mode: BillingMode::PerSecond,
        credits: 10,
        resolution_credits: [("1080p".to_string(), 20)].into(),
        audio_percent: Some(150),
        video_input_credits: 50,
        ..Billing::default()
    };
    app.state().catalog.put_model(m.clone()).await.unwrap();
    m
}

fn sum(lines: &Value) -> i64 {
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["credits"].as_i64().unwrap())
        .sum()
}

/// A customer in pricing group `group`, and their key.
async fn user_in_group(app: &TestApp, name: &str, credits: i64, group: &str) -> (u64, String) {
    let st = app.state();
    let (user, _) = st
        .accounts
        .create_user(
            name,
            Some("password-123".into()),
            credits,
            false,
            Some(group.into()),
            "t",
        )
        .await
        .unwrap();
    let (_, key) = st.accounts.create_key(user.id, "k").await.unwrap();
    (user.id.get(), key)
}

async fn ledger_kinds(app: &TestApp) -> Vec<String> {
    app.state()
        .store
        .read_now(|txn| videoapi::store::ledger::list(txn, None, None, 1000))
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str().to_string())
        .collect()
}

#[tokio::test]
async fn estimate_answers_what_a_create_reserves_and_writes_nothing() {
    let app = TestApp::new().await;
    let key = app.user_with_key("est", 1000).await;
    let (s, e) = app
        .post(&key, "/v1/video/generations/estimate", seed_request())
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["model"], SEED);
    assert_eq!(e["credits"], 180);
    assert_eq!(e["duration_seconds"], 5);
    assert_eq!(e["balance_after"], 820);
    assert_eq!(e["billing"]["mode"], "per_second");
    assert_eq!(e["billing"]["price_source"], "list");
    assert_eq!(sum(&e["breakdown"]), 180);
    let (_, list) = app.get(&key, "/v1/video/generations").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.balance(&key).await, 1000);

    let (_, created) = app.create(&key, seed_request()).await;
    let id = created["task_id"].as_str().unwrap();
    let (_, task) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
    assert_eq!(task["credits_reserved"], e["credits"]);
    assert_eq!(task["billing"]["breakdown"], e["breakdown"]);
    assert_eq!(app.balance(&key).await, 820);
    app.stop().await;
}

#[tokio::test]
async fn estimate_fails_exactly_like_a_create_and_402_creates_nothing() {
    let app = TestApp::new().await;
    let key = app.user_with_key("same", 100).await;
    let mut bad_res = seed_request();
    bad_res["resolution"] = json!("8k");
    let mut unknown = seed_request();
    unknown["model"] = json!("no-such-model");
    let mut bad_ref = seed_request();
    bad_ref["prompt"] = json!("use @Image3");
    let cases = [
        seed_request(), // 180 > 100: 402
        bad_res,
        unknown,
        bad_ref,
        json!({"prompt": "no model"}),
        json!([1, 2]),
    ];
    for body in cases {
        let (se, ve) = app
            .post(&key, "/v1/video/generations/estimate", body.clone())
            .await;
        let (sc, vc) = app.create(&key, body.clone()).await;
        assert!(se >= 400, "{body}: {ve}");
        assert_eq!((se, error_code(&ve)), (sc, error_code(&vc)), "{body}");
        assert_eq!(ve["error"]["param"], vc["error"]["param"], "{body}");
    }
    let (s, v) = app
        .post(&key, "/v1/video/generations/estimate", seed_request())
        .await;
    assert_eq!((s, error_code(&v).as_str()), (402, "insufficient_credits"));
    let (_, list) = app.get(&key, "/v1/video/generations").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.balance(&key).await, 100);
    let (s, _) = app
        .post(
            "vga_wrong",
            "/v1/video/generations/estimate",
            seed_request(),
        )
        .await;
    assert_eq!(s, 401);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn a_matrix_prices_resolution_audio_and_video_input_at_the_callers_price() {
    let app = TestApp::new().await;
    matrix_model(&app).await;
    app.state()
        .catalog
        .put_group(PricingGroup {
            name: "vip".into(),
            percent: 80,
            overrides: Default::default(),
        })
        .await
        .unwrap();
    let key = app.user_with_key("mxx", 10_000).await;
    let mut body = seed_request();
    body["resolution"] = json!("1080p");
    body["duration"] = json!(4);
    body["video_urls"] = json!(["https://example.com/a.mp4"]);
    body["prompt"] = json!("@Image1 follows @Video1");
    // 1080p 4 s × 20 = 80, audio ×150% = +40, video input +50: 170.
    let (s, e) = app
        .post(&key, "/v1/video/generations/estimate", body.clone())
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["credits"], 170);
    let items: Vec<(String, i64)> = e["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["item"].as_str().unwrap().to_string(),
                l["credits"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        vec![
            ("1080p · 4 s × 20 credits/s".to_string(), 80),
            ("audio ×150%".to_string(), 40),
            ("video input".to_string(), 50),
        ]
    );
    let cell = |v: &Value, res: &str, secs: u64, audio: bool, video: bool| -> i64 {
        let m = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == SEED)
            .unwrap()
            .clone();
        m["billing"]["prices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["resolution"] == res
                    && c["duration_seconds"] == secs
                    && c["generate_audio"] == audio
                    && c["video_input"] == video
            })
            .unwrap()["credits"]
            .as_i64()
            .unwrap()
    };
    let (_, models) = app.get(&key, "/v1/models").await;
    assert_eq!(cell(&models, "1080p", 4, true, true), 170);
    assert_eq!(cell(&models, "720p", 10, false, false), 100);

    // In the group at 80 %: the whole price scaled, rounded up, as its own line.
    let (_, key) = user_in_group(&app, "mx-vip", 10_000, "vip").await;
    let (_, e) = app
        .post(&key, "/v1/video/generations/estimate", body.clone())
        .await;
    assert_eq!(e["credits"], 136);
    assert_eq!(e["billing"]["price_source"], "group:vip");
    assert_eq!(sum(&e["breakdown"]), 136);
    let (_, models) = app.get(&key, "/v1/models").await;
    assert_eq!(cell(&models, "1080p", 4, true, true), 136);
    let (s, task) = app.create(&key, body).await;
    assert_eq!(s, 200, "{task}");
    let id = task["task_id"].as_str().unwrap();
    let done = app.wait_for(&key, id, "completed").await;
    assert_eq!(done["credits_reserved"], 136);
    assert_eq!(done["credits_charged"], 136);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn a_customers_own_price_beats_the_group_and_is_set_in_the_console() {
    let app = TestApp::new().await;
    app.state()
        .catalog
        .put_group(PricingGroup {
            name: "half".into(),
            percent: 50,
            overrides: Default::default(),
        })
        .await
        .unwrap();
    let (uid, key) = user_in_group(&app, "own", 1000, "half").await;
    let (_, e) = app
        .post(&key, "/v1/video/generations/estimate", seed_request())
        .await;
    assert_eq!(e["credits"], 90);
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let path = format!("/console/api/admin/users/{uid}/prices/{SEED}");
    for (body, param) in [
        (json!({"percent": 0}), "percent"),
        (json!({"percent": 50, "credits": 3}), "percent"),
        (json!({"credits": -1}), "credits"),
    ] {
        let (s, v) = ops.put(&path, body.clone()).await;
        assert_eq!(
            (s, v["error"]["param"].as_str()),
            (422, Some(param)),
            "{body}"
        );
    }
    let (s, v) = ops
        .put(
            &format!("/console/api/admin/users/{uid}/prices/no-such-model"),
            json!({"percent": 10}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = ops.put(&path, json!({"credits": 7})).await;
    assert_eq!(s, 200, "{v}");
    let (_, listed) = ops
        .get(&format!("/console/api/admin/users/{uid}/prices"))
        .await;
    assert_eq!(
        listed,
        json!([{"model": SEED, "percent": null, "credits": 7}])
    );
    let (_, e) = app
        .post(&key, "/v1/video/generations/estimate", seed_request())
        .await;
    assert_eq!(
        (e["credits"].as_i64(), e["billing"]["price_source"].as_str()),
        (Some(35), Some("user"))
    );
    let (_, models) = app.get(&key, "/v1/models").await;
    let m = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == SEED)
        .unwrap()
        .clone();
    assert_eq!(m["billing"]["credits"], 7);
    // Both null removes it: back to the group.
    let (s, _) = ops
        .put(&path, json!({"percent": null, "credits": null}))
        .await;
    assert_eq!(s, 200);
    let (_, e) = app
        .post(&key, "/v1/video/generations/estimate", seed_request())
        .await;
    assert_eq!(e["credits"], 90);
    app.stop().await;
}

#[tokio::test]
async fn an_unpriced_combination_is_refused_naming_it() {
    let app = TestApp::new().await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (_, models) = ops.get("/console/api/admin/models").await;
    let mut m = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == SEED)
        .unwrap()
        .clone();
    m["billing"] = json!({
        "mode": "per_duration",
        "credits": 0,
        "buckets": [
            {"max_seconds": 5, "credits": 100},
            {"max_seconds": 8, "resolution_credits": {"720p": 150}}
        ]
    });
    let path = format!("/console/api/admin/models/{SEED}");
    let (s, v) = ops.put(&path, m.clone()).await;
    assert_eq!(s, 422, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("720p · 10 s") && msg.contains("no duration bucket covers 10 s"),
        "{msg}"
    );
    m["billing"]["buckets"]
        .as_array_mut()
        .unwrap()
        .push(json!({"max_seconds": 10, "credits": 200}));
    let (s, v) = ops.put(&path, m.clone()).await;
    assert_eq!(s, 422, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("480p · 6 s") && msg.contains("8 s bucket has no price for 480p"),
        "{msg}"
    );
    m["billing"]["buckets"][1]["credits"] = json!(120);
    let (s, v) = ops.put(&path, m.clone()).await;
    assert_eq!(s, 200, "{v}");
    let key = app.user_with_key("bkt", 1000).await;
    let mut body = seed_request();
    body["duration"] = json!(6);
    let (_, e) = app.post(&key, "/v1/video/generations/estimate", body).await;
    assert_eq!(e["credits"], 150);
    assert_eq!(e["billing"]["mode"], "per_duration");
    app.stop().await;
}

#[tokio::test]
async fn an_unpriced_matrix_in_the_config_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("videoapi.toml");
    std::fs::write(
        &path,
        r#"
[[models]]
id = "bucketed"
name = "Bucketed"
capabilities = { types = ["text-to-video"], resolutions = ["720p", "1080p"], durations = [5, 10], default_duration = 5, aspect_ratios = ["16:9"] }
routes = [{ provider = "demo", upstream_model = "x" }]
[models.billing]
mode = "per_duration"
credits = 0
buckets = [{ max_seconds = 10, credits = 180, resolution_credits = { "1080p" = 300 } }, { max_seconds = 5, resolution_credits = { "720p" = 100 } }]
"#,
    )
    .unwrap();
    let err = videoapi::config::Config::load(&videoapi::config::Overrides {
        config: Some(path),
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bucketed") && err.contains("1080p · 5 s"),
        "{err}"
    );
}

#[tokio::test]
async fn a_price_change_affects_only_tasks_created_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 600;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("snap", 10_000).await;
    let (_, old) = app.create(&key, seed_request()).await;
    let mut m = (*app.state().catalog.model(SEED).unwrap()).clone();
    m.billing.credits = 72;
    m.billing.audio_credits = 11;
    app.state().catalog.put_model(m).await.unwrap();
    let (_, new) = app.create(&key, seed_request()).await;
    let old = app
        .wait_for(&key, old["task_id"].as_str().unwrap(), "completed")
        .await;
    let new = app
        .wait_for(&key, new["task_id"].as_str().unwrap(), "completed")
        .await;
    // Settled on each task's own snapshot: the old one at the old price.
    assert_eq!(
        (
            old["credits_reserved"].as_i64(),
            old["credits_charged"].as_i64()
        ),
        (Some(180), Some(180))
    );
    assert_eq!(
        (
            new["credits_reserved"].as_i64(),
            new["credits_charged"].as_i64()
        ),
        (Some(371), Some(371))
    );
    assert_eq!(old["billing"]["unit_credits"], 36);
    assert_eq!(new["billing"]["breakdown"][1]["item"], "audio +11");
    assert_eq!(app.balance(&key).await, 10_000 - 180 - 371);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn settlement_refunds_a_shorter_video_and_caps_a_longer_one() {
    let app = TestApp::new().await;
    let key = app.user_with_key("made", 1000).await;
    // The demo file lasts 3.0 s: measured from its mvhd box, 3 × 36 = 108 of 180.
    let mut short = seed_request();
    short["prompt"] = json!("@Image1 turns demo:made=measure");
    let mut long = seed_request();
    long["prompt"] = json!("@Image1 turns demo:made=12");
    let (_, a) = app.create(&key, short).await;
    let (_, b) = app.create(&key, long).await;
    let a = app
        .wait_for(&key, a["task_id"].as_str().unwrap(), "completed")
        .await;
    let b = app
        .wait_for(&key, b["task_id"].as_str().unwrap(), "completed")
        .await;
    assert_eq!(a["credits_reserved"], 180);
    assert_eq!(a["credits_charged"], 108);
    assert_eq!(a["credits_refunded"], true);
    let st = &a["billing"]["settlement"];
    assert_eq!(
        (
            st["charged"].as_i64(),
            st["refunded"].as_i64(),
            st["duration_seconds"].as_i64()
        ),
        (Some(108), Some(72), Some(3))
    );
    assert_eq!(sum(&st["breakdown"]), 108);
    assert_eq!(b["credits_charged"], 180);
    assert_eq!(b["credits_refunded"], false);
    assert_eq!(b["billing"]["settlement"]["capped"], true);
    assert_eq!(sum(&b["billing"]["settlement"]["breakdown"]), 180);
    assert_eq!(app.balance(&key).await, 1000 - 108 - 180);
    let kinds = ledger_kinds(&app).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "settle").count(),
        1,
        "{kinds:?}"
    );
    // `videoapi check` runs the same audit.
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn route_costs_are_validated_and_recorded_at_settlement() {
    let app = TestApp::new().await;
    let mut m = (*app.state().catalog.model(SEED).unwrap()).clone();
    m.routes[0].cost = Some(RouteCost {
        per_second: [("720p".to_string(), 4)].into(),
        ..RouteCost::default()
    });
    let e = app.state().catalog.put_model(m.clone()).await.unwrap_err();
    assert_eq!(e.status(), 422);
    assert!(e.to_string().contains("480p"), "{e}");
    m.routes[0].cost = Some(RouteCost {
        per_task: 5,
        per_second: [("720p".to_string(), 4), ("*".to_string(), 2)].into(),
        ..RouteCost::default()
    });
    app.state().catalog.put_model(m).await.unwrap();
    let key = app.user_with_key("cost", 1000).await;
    let (_, t) = app.create(&key, seed_request()).await;
    let id = t["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &id, "completed").await;
    let task = app
        .state()
        .store
        .read_now(move |txn| videoapi::store::tasks::read(txn, &id))
        .unwrap()
        .unwrap();
    let s = task.settlement.expect("settled");
    assert_eq!((s.charged.get(), s.upstream_cost), (180, Some(5 + 4 * 5)));
    app.stop().await;
}

#[tokio::test]
async fn settlement_racing_a_deadline_settles_exactly_once() {
    use videoapi::domain::settlement::Made;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.demo_delay_ms = 60_000;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("race", 10_000).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        let (_, t) = app.create(&key, seed_request()).await;
        ids.push(t["task_id"].as_str().unwrap().to_string());
    }
    // Completion (with settlement) and the deadline's refund race on every task, each
    // twice; the writer orders them and only the first may touch the balance.
    let store = &app.state().store;
    let mut jobs = Vec::new();
    for id in &ids {
        for _ in 0..2 {
            let (a, b) = (id.clone(), id.clone());
            let made = Made {
                seconds: Some(3.0),
                videos: 1,
                ..Made::default()
            };
            jobs.push(tokio::spawn({
                let store = store.clone();
                async move {
                    store
                        .write(move |txn| {
                            videoapi::store::tasks::complete(txn, &a, Vec::new(), &made, None)
                        })
                        .await
                        .map(|_| ())
                }
            }));
            jobs.push(tokio::spawn({
                let store = store.clone();
                async move {
                    store
                        .write(move |txn| {
                            videoapi::store::tasks::fail_and_refund(
                                txn,
                                &b,
                                "deadline_exceeded",
                                "late",
                            )
                        })
                        .await
                        .map(|_| ())
                }
            }));
        }
    }
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    let mut charged = 0;
    for id in &ids {
        let (_, t) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
        match t["status"].as_str().unwrap() {
            "completed" => assert_eq!(t["credits_charged"], 108),
            "failed" => assert_eq!(t["credits_charged"], 0),
            other => panic!("{other}"),
        }
        charged += t["credits_charged"].as_i64().unwrap();
    }
    assert_eq!(app.balance(&key).await, 10_000 - charged);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn the_console_estimate_shows_the_price_even_when_the_balance_is_short() {
    let app = TestApp::new().await;
    app.user_with_key("poor", 100).await;
    let mut c = Console::login(&app, "poor", "password-123").await;
    let (s, e) = c
        .post("/console/api/generations/estimate", seed_request())
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(
        (e["credits"].as_i64(), e["balance_after"].as_i64()),
        (Some(180), Some(-80))
    );
    let (s, v) = c.post("/console/api/generations", seed_request()).await;
    assert_eq!((s, error_code(&v).as_str()), (402, "insufficient_credits"));
    app.stop().await;
}

#[tokio::test]
async fn the_operator_sees_charged_cost_and_margin_per_task_and_per_model_channel_customer() {
    let app = TestApp::new().await;
    let mut m = (*app.state().catalog.model(SEED).unwrap()).clone();
    m.routes[0].cost = Some(RouteCost {
        per_task: 5,
        per_second: [("*".to_string(), 4)].into(),
        ..RouteCost::default()
    });
    app.state().catalog.put_model(m).await.unwrap();
    let key = app.user_with_key("payer", 1000).await;
    let mut failing = seed_request();
    failing["prompt"] = json!("@Image1 demo:fail");
    let (_, ok) = app.create(&key, seed_request()).await;
    let (_, bad) = app.create(&key, failing).await;
    app.wait_for(&key, ok["task_id"].as_str().unwrap(), "completed")
        .await;
    app.wait_for(&key, bad["task_id"].as_str().unwrap(), "failed")
        .await;

    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (s, r) = ops.get("/console/api/admin/margins").await;
    assert_eq!(s, 200, "{r}");
    let line = |list: &Value, key: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} in {list}"))
    };
    // 180 charged for the completed task (0 for the failed one); cost 5 + 4 × 5 = 25.
    for l in [
        r["all"].clone(),
        line(&r["by_model"], SEED),
        line(&r["by_channel"], "demo"),
        line(&r["by_customer"], "payer"),
    ] {
        assert_eq!(
            (
                l["tasks"].as_u64(),
                l["charged"].as_i64(),
                l["costed_tasks"].as_u64(),
                l["upstream_cost"].as_i64(),
                l["margin"].as_i64()
            ),
            (Some(2), Some(180), Some(1), Some(25), Some(155)),
            "{l}"
        );
    }
    let now = videoapi::domain::now_ms();
    let (_, empty) = ops
        .get(&format!(
            "/console/api/admin/margins?from_ms={}&to_ms={}",
            now + 60_000,
            now + 120_000
        ))
        .await;
    assert_eq!(empty["all"]["tasks"], 0);
    let (s, v) = ops
        .get("/console/api/admin/margins?from_ms=10&to_ms=5")
        .await;
    assert_eq!((s, v["error"]["param"].as_str()), (422, Some("from_ms")));

    let (_, tasks) = ops.get("/console/api/admin/tasks?status=completed").await;
    let t = &tasks["data"][0];
    assert_eq!(
        (
            t["credits_charged"].as_i64(),
            t["upstream_cost"].as_i64(),
            t["margin"].as_i64()
        ),
        (Some(180), Some(25), Some(155))
    );
    // A customer never sees the operator's cost.
    let mut me = Console::login(&app, "payer", "password-123").await;
    let (_, own) = me.get("/console/api/tasks?status=completed").await;
    assert_eq!(own["data"][0]["upstream_cost"], Value::Null);
    assert_eq!(own["data"][0]["margin"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn settlement_happens_once_across_a_crash_and_restart() {
    let mut app = TestApp::new().await;
    let key = app.user_with_key("crash", 10_000).await;
    let mut body = seed_request();
    body["prompt"] = json!("@Image1 demo:made=measure");
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (_, t) = app.create(&key, body.clone()).await;
        ids.push(t["task_id"].as_str().unwrap().to_string());
    }
    // Crash as soon as the first one completes: the others are mid-poll or mid-mirror.
    app.wait_for(&key, &ids[0], "completed").await;
    app.crash_and_restart().await;
    for id in &ids {
        let t = app.wait_for(&key, id, "completed").await;
        assert_eq!(t["credits_charged"], 108, "{t}");
    }
    assert_eq!(app.balance(&key).await, 10_000 - 4 * 108);
    let settles = ledger_kinds(&app)
        .await
        .into_iter()
        .filter(|k| k == "settle")
        .count();
    assert_eq!(settles, 4);
    assert!(app.audit().is_empty(), "{:?}", app.audit());
    app.stop().await;
}

#[tokio::test]
async fn check_command_proves_reserved_minus_refunded_minus_settled_back_is_charged() {
    let app = TestApp::new().await;
    let key = app.user_with_key("audit", 1000).await;
    let mut body = seed_request();
    body["prompt"] = json!("@Image1 demo:made=measure");
    let (_, t) = app.create(&key, body).await;
    let id = t["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &id, "completed").await;
    let guard = app.stop().await;
    let dir = guard.path().to_path_buf();
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_videoapi"))
            .args(["--data-dir", dir.to_str().unwrap(), "check"])
            .output()
            .unwrap()
    };
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 settled") && stdout.contains("ledger OK"),
        "{stdout}"
    );

    // Tamper: claim the task cost 10 more than its entries took.
    let store = videoapi::store::Store::open(&dir.join("videoapi.redb")).unwrap();
    store
        .write_now(|txn| {
            use redb::ReadableTable;
            let mut table = txn.open_table(videoapi::store::tables::TASKS)?;
            let mut task: Value =
                serde_json::from_slice(table.get(id.as_str())?.unwrap().value()).unwrap();
            task["credits_charged"] = json!(118);
            table.insert(id.as_str(), serde_json::to_vec(&task).unwrap().as_slice())?;
            Ok(())
        })
        .unwrap();
    store.close();
    drop(store);
    let out = check();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("≠ charged 118"), "{stdout}");
}

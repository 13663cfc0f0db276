//! The operator overview and the channel-kind table, over the console API.

use crate::common::*;
use crate::console::Console;
use serde_json::{Value, json};

async fn overview(ops: &mut Console<'_>, query: &str) -> Value {
    let (status, v) = ops
        .get(&format!("/console/api/admin/overview{query}"))
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn operator_overview_is_for_operators_only() {
    let app = TestApp::new().await;
    app.user_with_key("dora", 0).await;
    let mut customer = Console::login(&app, "dora", "password-123").await;
    let (status, v) = customer.get("/console/api/admin/overview").await;
    assert_eq!((status, error_code(&v).as_str()), (403, "forbidden"));
    let (status, v) = customer.get("/console/api/admin/provider-kinds").await;
    assert_eq!((status, error_code(&v).as_str()), (403, "forbidden"));
    let (status, v) = Console::new(&app).get("/console/api/admin/overview").await;
    assert_eq!((status, error_code(&v).as_str()), (401, "not_logged_in"));
    app.stop().await;
}

#[tokio::test]
async fn operator_overview_counts_users_credits_tasks_channels_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    // Slow enough that a task is still in flight when the overview is read.
    config.demo_delay_ms = 3_000;
    let app = TestApp::with_config(dir, config).await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;

    let empty = overview(&mut ops, "").await;
    assert_eq!(empty["users"], 1, "{empty}");
    assert_eq!(empty["credits_sold_today"], 0);
    assert_eq!(empty["recent_failures"], json!([]));

    // Sold: 1000 at creation + 500 top-up; a deduction is not a sale.
    let key = app.user_with_key("erin", 1000).await;
    let erin = app
        .state()
        .store
        .read_now(|txn| videoapi::store::users::read_by_name(txn, "erin"))
        .unwrap()
        .unwrap();
    for amount in [500, -100] {
        let (status, v) = ops
            .post(
                &format!("/console/api/admin/users/{}/credits", erin.id),
                json!({ "amount": amount }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    // One task fails (refunded), one stays in flight.
    let text = |prompt: &str| json!({"model": "video-2.0-mini-text-to-video", "prompt": prompt});
    let (_, failed) = app.create(&key, text("demo:fail now")).await;
    let failed_id = failed["task_id"].as_str().unwrap().to_string();
    app.wait_for(&key, &failed_id, "failed").await;
    let (status, running) = app.create(&key, text("a slow cat")).await;
    assert_eq!(status, 200, "{running}");
    let price = 1400 - app.balance(&key).await;
    assert!(price > 0);

    // A channel no task uses, so no success resets its error count while we look; its
    // errors are recorded the way the engine records an upstream failure.
    let (status, v) = ops
        .post(
            "/console/api/admin/providers",
            json!({"name": "spare", "kind": "demo", "enabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    app.state().registry.health.record_error("spare");

    let o = overview(&mut ops, "?tz_offset_minutes=480").await;
    assert_eq!(o["users"], 2, "{o}");
    assert_eq!(o["new_users_today"], 2);
    assert_eq!(o["credits_sold_today"], 1500);
    // The failed task's reservation came back; the running one's is spent.
    assert_eq!(o["credits_spent_today"], price);
    assert_eq!(
        o["tasks_pending"].as_u64().unwrap() + o["tasks_processing"].as_u64().unwrap(),
        1
    );
    let channel = |o: &Value, name: &str| {
        o["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing in {o}"))
    };
    let demo = channel(&o, "demo");
    assert_eq!(
        (demo["enabled"].clone(), demo["healthy"].clone()),
        (json!(true), json!(true))
    );
    let spare = channel(&o, "spare");
    assert_eq!(spare["enabled"], false);
    assert_eq!(spare["healthy"], true);
    assert_eq!(spare["recent_errors"], 1);
    assert_eq!(spare["consecutive_errors"], 1);
    let failures = o["recent_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{o}");
    assert_eq!(failures[0]["task_id"], failed_id.as_str());
    assert_eq!(failures[0]["username"], "erin");
    assert_eq!(failures[0]["model"], "video-2.0-mini-text-to-video");
    assert_eq!(failures[0]["error_code"], "demo_failure");
    let day_start = o["day_start_ms"].as_i64().unwrap();
    assert_eq!(
        (day_start + 8 * 3_600_000) % 86_400_000,
        0,
        "local midnight"
    );

    // Three errors in a row cool the channel down.
    for _ in 0..2 {
        app.state().registry.health.record_error("spare");
    }
    let o = overview(&mut ops, "").await;
    let spare = channel(&o, "spare");
    assert_eq!(
        (
            spare["healthy"].clone(),
            spare["consecutive_errors"].clone()
        ),
        (json!(false), json!(3))
    );

    let (status, v) = ops
        .get("/console/api/admin/overview?tz_offset_minutes=900")
        .await;
    assert_eq!(
        (status, v["error"]["param"].as_str()),
        (422, Some("tz_offset_minutes")),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn provider_kinds_come_from_one_table_with_fields_and_default_urls() {
    let app = TestApp::new().await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;
    let (status, kinds) = ops.get("/console/api/admin/provider-kinds").await;
    assert_eq!(status, 200, "{kinds}");
    let kinds = kinds.as_array().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, videoapi::providers::Registry::kinds());
    let by = |k: &str| kinds.iter().find(|x| x["kind"] == k).unwrap().clone();

    let kling = by("kling");
    assert_eq!(
        kling["fields"],
        json!(["api_key", "api_secret", "base_url"])
    );
    assert_eq!(
        kling["default_base_url"],
        "https://api-singapore.klingai.com"
    );
    assert!(
        kling["api_secret_label"]
            .as_str()
            .unwrap()
            .contains("Secret")
    );
    assert!(kling["regions"].as_array().unwrap().len() >= 2);

    let demo = by("demo");
    assert_eq!(demo["fields"], json!([]));
    assert_eq!(demo["default_base_url"], Value::Null);

    let gateway = by("openai-videos");
    assert_eq!(gateway["base_url_required"], true);
    assert_eq!(gateway["default_base_url"], Value::Null);
    assert_eq!(gateway["fields"], json!(["api_key", "base_url"]));

    let fal = by("fal");
    assert_eq!(fal["route_mapping"], true);
    assert_eq!(fal["test_connection"], false);
    assert_eq!(fal["default_base_url"], "https://queue.fal.run");

    // Every README anchor names a real README section.
    let readme = include_str!("../../README.md");
    let slugs: Vec<String> = readme
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    for k in kinds {
        let anchor = k["readme_anchor"].as_str().unwrap();
        assert!(
            slugs.iter().any(|s| s == anchor),
            "{anchor} is not a README section"
        );
        let kind = k["kind"].as_str().unwrap();
        assert!(
            kind == "demo" || readme.contains(&format!("`{kind}`")),
            "README names {kind}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_readme_the_channel_dialog_links_to_is_served_as_text() {
    let app = TestApp::new().await;
    let resp = app.http.get(app.path("/README.md")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let text = resp.text().await.unwrap();
    assert!(text.contains("| `kling` |"), "the kind's row is there");
    app.stop().await;
}

//! The committed spec must equal the generated one, and it tells the truth: examples that
//! work, the statuses each route answers, `null` only where declared.

use crate::common::TestApp;
use serde_json::{Value, json};

#[test]
fn committed_openapi_matches_the_generated_spec() {
    let generated = videoapi::http::spec_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed.trim() != generated.trim() {
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, format!("{}\n", generated.trim())).unwrap();
            return;
        }
        panic!(
            "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` (or UPDATE_OPENAPI=1 cargo test)"
        );
    }
}

#[tokio::test]
async fn served_spec_and_swagger_ui_are_live() {
    let app = TestApp::new().await;
    let spec: serde_json::Value = app
        .http
        .get(app.path("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in [
        "/v1/models",
        "/api/upload",
        "/v1/video/generations",
        "/v1/video/generations/{task_id}",
        "/v1/video/generations/{task_id}/cancel",
        "/v1/account",
    ] {
        assert!(spec["paths"].get(p).is_some(), "{p} missing from spec");
    }
    let docs = app.http.get(app.path("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    app.stop().await;
}

/// The spec as the server serves it.
async fn live_spec(app: &TestApp) -> Value {
    app.http
        .get(app.path("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `#/components/schemas/X` → the schema.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &spec["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Every `null` in `value` sits where the spec says nullable; returns the paths that do not.
fn undeclared_nulls(spec: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(spec, schema);
    if value.is_null() {
        return if schema["nullable"] == true {
            vec![]
        } else {
            vec![at.to_string()]
        };
    }
    let mut bad = Vec::new();
    let parts: Vec<&Value> = match schema["allOf"].as_array() {
        Some(all) => all.iter().map(|s| resolve(spec, s)).collect(),
        None => vec![schema],
    };
    for part in parts {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    if let Some(prop) = part["properties"].get(k) {
                        bad.extend(undeclared_nulls(spec, prop, v, &format!("{at}.{k}")));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item) = part.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        bad.extend(undeclared_nulls(spec, item, v, &format!("{at}[{i}]")));
                    }
                }
            }
            _ => {}
        }
    }
    bad
}

/// The 200 (or 204) schema of an operation.
fn ok_schema<'a>(spec: &'a Value, path: &str, method: &str) -> &'a Value {
    let responses = &spec["paths"][path][method]["responses"];
    &responses["200"]["content"]["application/json; charset=utf-8"]["schema"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_create_example_is_accepted_and_completes() {
    let app = TestApp::new().await;
    let key = app.user_with_key("swagger", 1000).await;
    let spec = live_spec(&app).await;
    let body = &spec["paths"]["/v1/video/generations"]["post"]["requestBody"]["content"]["application/json; charset=utf-8"]
        ["schema"];
    let example = resolve(&spec, body)["example"].clone();
    assert!(
        example.is_object(),
        "no example for the create call: {body}"
    );
    let (status, created) = app.create(&key, example).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "pending");
    let task_id = created["task_id"].as_str().unwrap();
    let done = app.wait_for(&key, task_id, "completed").await;
    assert!(
        done["url"].as_str().unwrap().starts_with(&app.url),
        "{done}"
    );
    app.stop().await;
}

#[tokio::test]
async fn models_declares_optional_bearer_and_gives_the_callers_prices() {
    let app = TestApp::new().await;
    let spec = live_spec(&app).await;
    let security = &spec["paths"]["/v1/models"]["get"]["security"];
    assert_eq!(security, &json!([{ "ApiKeyAuth": [] }, {}]), "{security}");
    let st = app.state();
    st.catalog
        .put_group(videoapi::domain::catalog::PricingGroup {
            name: "half".into(),
            percent: 50,
            overrides: Default::default(),
        })
        .await
        .unwrap();
    let (user, _) = st
        .accounts
        .create_user("vip", None, 0, false, Some("half".into()), "test")
        .await
        .unwrap();
    let (_, key) = st.accounts.create_key(user.id, "k").await.unwrap();
    let price = |v: &Value| {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "video-2.0-mini-text-to-video")
            .unwrap()["billing"]["credits"]
            .as_i64()
            .unwrap()
    };
    let anonymous: Value = app
        .http
        .get(app.path("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (status, own) = app.get(&key, "/v1/models").await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(price(&own) * 2, price(&anonymous));
    let (status, wrong) = app.get("vga_wrong", "/v1/models").await;
    assert_eq!(status, 401, "{wrong}");
    app.stop().await;
}

#[tokio::test]
async fn public_tags_come_first_and_docs_have_a_favicon() {
    let app = TestApp::new().await;
    let spec = live_spec(&app).await;
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let first_console = tags.iter().position(|t| t.starts_with("Console")).unwrap();
    assert_eq!(
        &tags[..first_console],
        &[
            "Models",
            "Generations",
            "OpenAI-compatible",
            "Uploads",
            "Account",
            "Operations"
        ]
    );
    assert!(
        tags[first_console..]
            .iter()
            .all(|t| t.starts_with("Console"))
    );
    let docs = app
        .http
        .get(app.path("/docs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains(r#"href="/favicon.ico""#));
    // The page embeds the ordered spec, not poem-openapi's alphabetical one.
    let models = docs.find(r#""name": "Models""#).unwrap();
    let console = docs.find(r#""name": "Console""#).unwrap();
    assert!(models < console);
    let icon = app.http.get(app.path("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().contains("<svg"));
    app.stop().await;
}

/// Operations declare only what they answer: a session route lists 401, body routes the
/// body errors, console writes the CSRF 403, operator routes 403; no route lists every
/// status (the old spec had the same 11 on each).
#[test]
fn each_operation_declares_its_own_statuses() {
    let spec: Value = serde_json::from_str(&videoapi::http::spec_json()).unwrap();
    let mut sizes = std::collections::BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let declared: Vec<&str> = op["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let has = |s: &str| declared.contains(&s);
            let what = format!("{method} {path}: {declared:?}");
            sizes.insert(declared.len());
            let secured = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().unwrap().len() == 1));
            if secured {
                assert!(has("401"), "{what}");
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(has(s), "{what} lacks {s}");
                }
            }
            if path.starts_with("/console/api/") && method != "get" {
                assert!(has("403"), "{what}");
            }
            if path.starts_with("/console/api/admin/") {
                assert!(has("403"), "{what}");
            }
            assert!(!has("402") || method == "post", "{what}");
            assert!(!has("500"), "{what}");
        }
    }
    assert!(sizes.len() > 3, "operations all declare alike: {sizes:?}");
}

/// Every status an operation answers to a caller without credentials (or with junk
/// parameters) is one it declares.
#[tokio::test]
async fn unauthenticated_answers_are_declared() {
    let app = TestApp::new().await;
    let spec = live_spec(&app).await;
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let url = app.path(
                &path
                    .replace("{task_id}", "vidgen_1_deadbeef")
                    .replace("{key_id}", "x")
                    .replace("{user_id}", "1")
                    .replace("{name}", "n")
                    .replace("{model_id}", "m"),
            );
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = app
                .http
                .request(m, &url)
                .header("X-Requested-With", "videoapi")
                .header("Origin", &app.url)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16().to_string();
            assert!(
                op["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, which it does not declare"
            );
            checked += 1;
        }
    }
    assert!(checked > 30);
    app.stop().await;
}

/// Fields that come back `null` are the ones the spec marks nullable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nulls_in_answers_are_declared_nullable() {
    let app = TestApp::new().await;
    let key = app.user_with_key("nulls", 1000).await;
    let spec = live_spec(&app).await;
    let (_, created) = app
        .create(
            &key,
            json!({"model": "video-2.0-mini-text-to-video", "prompt": "demo:fail now"}),
        )
        .await;
    let task_id = created["task_id"].as_str().unwrap();
    let (_, pending) = app
        .get(&key, &format!("/v1/video/generations/{task_id}"))
        .await;
    app.wait_for(&key, task_id, "failed").await;
    let login = app
        .http
        .post(app.path("/console/api/login"))
        .header("X-Requested-With", "videoapi")
        .json(&json!({"username": "nulls", "password": "password-123"}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let console = |p: &str| {
        let req = app.http.get(app.path(p)).header("Cookie", &cookie);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let mut bad = undeclared_nulls(
        &spec,
        ok_schema(&spec, "/v1/video/generations/{task_id}", "get"),
        &pending,
        "pending",
    );
    let (_, list) = app.get(&key, "/v1/video/generations").await;
    bad.extend(undeclared_nulls(
        &spec,
        ok_schema(&spec, "/v1/video/generations", "get"),
        &list,
        "list",
    ));
    let (_, account) = app.get(&key, "/v1/account").await;
    bad.extend(undeclared_nulls(
        &spec,
        ok_schema(&spec, "/v1/account", "get"),
        &account,
        "account",
    ));
    for p in [
        "/console/api/me",
        "/console/api/keys",
        "/console/api/overview",
        "/console/api/tasks",
    ] {
        let v = console(p).await;
        bad.extend(undeclared_nulls(&spec, ok_schema(&spec, p, "get"), &v, p));
    }
    let (_, err) = app
        .get(&key, "/v1/video/generations/vidgen_1_deadbeef")
        .await;
    let err_schema = &spec["paths"]["/v1/video/generations/{task_id}"]["get"]["responses"]["404"]["content"]
        ["application/json; charset=utf-8"]["schema"];
    bad.extend(undeclared_nulls(&spec, err_schema, &err, "error"));
    assert!(
        bad.is_empty(),
        "null where the spec does not allow it: {bad:?}"
    );
    app.stop().await;
}

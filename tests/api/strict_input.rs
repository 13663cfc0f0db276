//! Strict, helpful input: unknown and mistyped fields, malformed JSON, query ranges,
//! uploads recognised by their bytes, and own-upload URLs that name no file.

use crate::common::*;
use crate::console::Console;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

/// No error message may show a Rust type or parser jargon.
fn assert_plain(v: &Value) {
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    for jargon in [
        "CreateGeneration",
        "CreateBody",
        "failed to parse",
        "occurred while parsing",
        "integer(",
        "uint32",
    ] {
        assert!(!msg.contains(jargon), "`{jargon}` in {v}");
    }
}

#[tokio::test]
async fn a_misspelt_field_is_422_unknown_field_with_a_suggestion_and_charges_nothing() {
    let app = TestApp::new().await;
    let key = app.user_with_key("typo", 1000).await;
    let mut req = seed_request();
    req.as_object_mut().unwrap().remove("resolution");
    req["resolutoin"] = json!("480p");
    let (s, v) = app.create(&key, req).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "unknown_field"), "{v}");
    assert_eq!(v["error"]["param"], "resolutoin");
    assert_eq!(
        v["error"]["message"],
        "unknown field \"resolutoin\" \u{2014} did you mean \"resolution\"?"
    );
    // A field nothing resembles is named without a guess.
    let mut req = seed_request();
    req["negative_prompt"] = json!("blur");
    let (s, v) = app.create(&key, req).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "unknown_field"));
    assert_eq!(v["error"]["message"], "unknown field \"negative_prompt\"");
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

#[tokio::test]
async fn strict_request_fields_false_ignores_extra_fields() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.strict_request_fields = false;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("relaxed", 1000).await;
    let mut req = seed_request();
    req["seed"] = json!(42);
    req["metadata"] = json!({"order": "A-1"});
    let (s, v) = app.create(&key, req).await;
    assert_eq!(s, 200, "{v}");
    // Mistyped known fields are still refused.
    let mut req = seed_request();
    req["seed"] = json!(42);
    req["generate_audio"] = json!("yes");
    let (s, v) = app.create(&key, req).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    assert_eq!(v["error"]["param"], "generate_audio");
    app.stop().await;
}

#[tokio::test]
async fn missing_and_mistyped_fields_say_the_field_and_type_in_plain_words() {
    let app = TestApp::new().await;
    let key = app.user_with_key("plain", 1000).await;
    let m = "video-2.0-mini-reference-to-video";
    for (body, param, message) in [
        (
            json!({"model": m}),
            "prompt",
            "\"prompt\" is required".to_string(),
        ),
        (
            json!({"model": m, "prompt": "x", "duration": true}),
            "duration",
            "\"duration\" must be \"auto\", a number or a numeric string, not true/false"
                .to_string(),
        ),
        (
            json!({"model": m, "prompt": "x", "image_urls": ["https://a/b.png", 3]}),
            "image_urls",
            "\"image_urls\" must be an array of strings, not an array".to_string(),
        ),
        (
            json!({"model": 7, "prompt": "x"}),
            "model",
            "\"model\" must be a string, not a number".to_string(),
        ),
    ] {
        let (s, v) = app.create(&key, body).await;
        assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
        assert_eq!(v["error"]["param"], param, "{v}");
        assert_eq!(v["error"]["message"], message.as_str());
        assert_plain(&v);
    }
    // A body that is JSON but not an object.
    let (s, v) = app.create(&key, json!(["model", "prompt"])).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
    assert_plain(&v);

    // The console's own create is as strict and as plain.
    let mut c = Console::login(&app, "plain", "password-123").await;
    let (s, v) = c
        .post(
            "/console/api/generations",
            json!({"model": m, "promt": "x"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (422, "unknown_field"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"prompt\"")
    );
    // Other console bodies: the field's type in words, no type names.
    let (s, v) = c
        .post("/console/api/password", json!({"current_password": "x"}))
        .await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
    assert_plain(&v);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("missing") && msg.contains("\"new_password\" (required)"),
        "{msg}"
    );
    assert!(!msg.contains("ChangePassword"), "{msg}");
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

async fn raw_create(app: &TestApp, key: &str, ct: Option<&str>, body: &str) -> (u16, Value) {
    let mut r = app
        .http
        .post(app.path("/v1/video/generations"))
        .bearer_auth(key)
        .body(body.to_string());
    if let Some(ct) = ct {
        r = r.header("content-type", ct);
    }
    status_json(r.send().await.unwrap()).await
}

#[tokio::test]
async fn malformed_json_is_400_with_the_position_and_a_wrong_content_type_is_415() {
    let app = TestApp::new().await;
    let key = app.user_with_key("syntax", 1000).await;
    let (s, v) = raw_create(&app, &key, Some("application/json"), "{\"model\":").await;
    assert_eq!((s, error_code(&v).as_str()), (400, "invalid_json"), "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 1, column 9"), "{msg}");
    let (s, v) = raw_create(
        &app,
        &key,
        Some("application/json"),
        "{\"model\": \"m\",\n \"prompt\": 'x'}",
    )
    .await;
    assert_eq!((s, error_code(&v).as_str()), (400, "invalid_json"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("line 2"),
        "{v}"
    );
    let (s, v) = raw_create(&app, &key, Some("application/json"), "").await;
    assert_eq!((s, error_code(&v).as_str()), (400, "invalid_json"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("empty"),
        "{v}"
    );

    let body = seed_request().to_string();
    let (s, v) = raw_create(&app, &key, Some("text/plain"), &body).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (415, "unsupported_content_type"),
        "{v}"
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("application/json") && msg.contains("text/plain"),
        "{msg}"
    );
    let (s, v) = raw_create(&app, &key, None, &body).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (415, "unsupported_content_type"),
        "{v}"
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("missing"),
        "{v}"
    );
    // `application/json; charset=utf-8` and `+json` types are JSON.
    let (s, v) = raw_create(&app, &key, Some("application/json; charset=utf-8"), &body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.balance(&key).await, 820);
    app.stop().await;
}

#[tokio::test]
async fn out_of_range_query_parameters_are_422_naming_them() {
    let app = TestApp::new().await;
    let key = app.user_with_key("pages", 1000).await;
    for q in ["limit=0", "limit=101", "limit=-1", "limit=abc"] {
        let (s, v) = app.get(&key, &format!("/v1/video/generations?{q}")).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{q}: {v}"
        );
        assert_eq!(v["error"]["param"], "limit", "{v}");
        assert_plain(&v);
    }
    for q in ["status=done", "before=yesterday"] {
        let (s, v) = app.get(&key, &format!("/v1/video/generations?{q}")).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{q}: {v}"
        );
        assert_eq!(v["error"]["param"], q.split('=').next().unwrap(), "{v}");
    }
    for q in ["limit=1", "limit=100", "status=completed"] {
        let (s, v) = app.get(&key, &format!("/v1/video/generations?{q}")).await;
        assert_eq!(s, 200, "{q}: {v}");
    }

    let mut c = Console::login(&app, "pages", "password-123").await;
    for q in ["limit=0", "limit=101", "status=done", "before=x"] {
        let (s, v) = c.get(&format!("/console/api/tasks?{q}")).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{q}: {v}"
        );
    }
    let mut admin = Console::login(&app, "admin", "admin-password").await;
    for (path, param) in [
        ("/console/api/admin/tasks?limit=101", "limit"),
        ("/console/api/admin/tasks?status=done", "status"),
        ("/console/api/admin/ledger?limit=201", "limit"),
        ("/console/api/admin/ledger?limit=0", "limit"),
        ("/console/api/admin/ledger?before=x", "before"),
    ] {
        let (s, v) = admin.get(path).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{path}: {v}"
        );
        assert_eq!(v["error"]["param"], param, "{v}");
        assert_plain(&v);
    }
    let (s, v) = admin.get("/console/api/admin/ledger?limit=200").await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}

fn part(bytes: Vec<u8>, name: &str, mime: Option<&str>) -> Part {
    let p = Part::bytes(bytes).file_name(name.to_string());
    match mime {
        Some(m) => p.mime_str(m).unwrap(),
        None => p,
    }
}

#[tokio::test]
async fn a_text_file_declared_as_png_is_415_naming_both() {
    let app = TestApp::new().await;
    let key = app.user_with_key("liar", 0).await;
    let form = Form::new().part(
        "files",
        part(
            b"shopping list\nmilk\n".to_vec(),
            "notes.png",
            Some("image/png"),
        ),
    );
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (415, "unsupported_media_type"),
        "{v}"
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("declared image/png but the content is text/plain"),
        "{msg}"
    );
    // A real image declared as another image type is refused too, naming both.
    let form = Form::new().part("files", part(png_bytes(), "a.jpg", Some("image/jpeg")));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 415, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("image/jpeg") && msg.contains("image/png"),
        "{msg}"
    );
    // Without a declared type, text is still not an image.
    let form = Form::new().part("files", part(b"hello".to_vec(), "notes.txt", None));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 415, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text/plain"),
        "{v}"
    );
    let stored = std::fs::read_dir(app.data_dir().join("uploads"))
        .unwrap()
        .count();
    assert_eq!(stored, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_png_sent_as_octet_stream_is_stored_and_served_as_png() {
    let app = TestApp::new().await;
    let key = app.user_with_key("generic", 0).await;
    let form = Form::new()
        .part(
            "files",
            part(png_bytes(), "photo.bin", Some("application/octet-stream")),
        )
        .part("files", part(png_bytes(), "no-type", None));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 200, "{v}");
    for f in v["data"].as_array().unwrap() {
        assert_eq!(f["content_type"], "image/png", "{f}");
        let k = f["key"].as_str().unwrap();
        assert!(k.ends_with(".png"), "{k}");
        let resp = app
            .http
            .get(f["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "image/png");
        assert_eq!(resp.bytes().await.unwrap().to_vec(), png_bytes());
    }
    app.stop().await;
}

#[tokio::test]
async fn empty_uploads_get_a_clear_message() {
    let app = TestApp::new().await;
    let key = app.user_with_key("empty", 0).await;
    // No body and no Content-Type at all.
    let resp = app
        .http
        .post(app.path("/api/upload"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("no body") && msg.contains("files"), "{msg}");
    assert!(!msg.contains("none"), "{msg}");
    // A multipart body whose file is empty.
    let form = Form::new().part("files", part(Vec::new(), "blank.png", Some("image/png")));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("empty"),
        "{v}"
    );
    // An empty multipart body.
    let resp = app
        .http
        .post(app.path("/api/upload"))
        .bearer_auth(&key)
        .header("content-type", "multipart/form-data; boundary=X")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert!(s == 400 || s == 422, "{s} {v}");
    error_code(&v);
    app.stop().await;
}

#[tokio::test]
async fn an_own_upload_url_that_names_no_file_is_422_with_its_index() {
    let app = TestApp::new().await;
    let key = app.user_with_key("ghost", 1000).await;
    let form = Form::new().part("files", part(png_bytes(), "real.png", Some("image/png")));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 200, "{v}");
    let real = v["data"][0]["url"].as_str().unwrap().to_string();

    let mut req = seed_request();
    req["type"] = json!("reference-to-video");
    req["prompt"] = json!("@Image1 and @Image2");
    req["image_urls"] = json!([real, format!("{}/uploads/0123456789ab/gone.png", app.url)]);
    let (s, v) = app.create(&key, req.clone()).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (422, "upload_not_found"),
        "{v}"
    );
    assert_eq!(v["error"]["param"], "image_urls[1]");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("gone.png"),
        "{v}"
    );
    for path in ["../../videoapi.redb", "x"] {
        req["image_urls"] = json!([real, format!("{}/uploads/{path}", app.url)]);
        let (s, v) = app.create(&key, req.clone()).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "upload_not_found"),
            "{v}"
        );
    }
    assert_eq!(app.balance(&key).await, 1000);
    // The real upload alone is accepted.
    req["prompt"] = json!("@Image1 turns around");
    req["image_urls"] = json!([real]);
    let (s, v) = app.create(&key, req).await;
    assert_eq!(s, 200, "{v}");
    app.stop().await;
}

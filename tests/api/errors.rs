//! Every documented error status, in the one JSON shape.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn auth_errors_are_401_in_the_error_shape() {
    let app = TestApp::new().await;
    let resp = app.http.get(app.path("/v1/account")).send().await.unwrap();
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (401, "missing_api_key"));
    let (s, v) = app.get("vga_nope", "/v1/account").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "invalid_api_key"));
    let (s, v) = app.get("not-a-key", "/v1/video/generations").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "invalid_api_key"));

    let key = app.user_with_key("gone", 10).await;
    let st = app.state();
    let user = st
        .store
        .read_now(|t| videoapi::store::users::read_by_name(t, "gone"))
        .unwrap()
        .unwrap();
    st.accounts
        .modify_user(user.id, |u| {
            u.disabled = true;
            Ok(())
        })
        .await
        .unwrap();
    let (s, v) = app.get(&key, "/v1/account").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "user_disabled"));
    app.stop().await;
}

#[tokio::test]
async fn model_errors_are_400() {
    let app = TestApp::new().await;
    let key = app.user_with_key("mia", 1000).await;
    let mut req = seed_request();
    req["model"] = json!("no-such-model");
    let (s, v) = app.create(&key, req).await;
    assert_eq!((s, error_code(&v).as_str()), (400, "model_not_found"));
    assert_eq!(v["error"]["param"], "model");

    let st = app.state();
    let mut m = (*st.catalog.model("video-2.0-mini-text-to-video").unwrap()).clone();
    m.enabled = false;
    st.catalog.put_model(m.clone()).await.unwrap();
    let (s, v) = app
        .create(&key, json!({"model": m.id, "prompt": "x"}))
        .await;
    assert_eq!((s, error_code(&v).as_str()), (400, "model_disabled"));

    m.enabled = true;
    m.routes[0].provider = "missing-channel".into();
    st.catalog.put_model(m.clone()).await.unwrap();
    let (s, v) = app
        .create(&key, json!({"model": m.id, "prompt": "x"}))
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (400, "provider_not_configured")
    );
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

#[tokio::test]
async fn short_balance_is_402_and_creates_nothing() {
    let app = TestApp::new().await;
    let key = app.user_with_key("poor", 179).await;
    let (s, v) = app.create(&key, seed_request()).await;
    assert_eq!((s, error_code(&v).as_str()), (402, "insufficient_credits"));
    assert!(v["error"]["message"].as_str().unwrap().contains("180"));
    assert_eq!(app.balance(&key).await, 179);
    let (_, list) = app.get(&key, "/v1/video/generations").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert!(app.audit().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_422_naming_the_field() {
    let app = TestApp::new().await;
    let key = app.user_with_key("val", 1000).await;
    let cases = [
        (json!({"resolution": "4k"}), "resolution"),
        (json!({"duration": 7}), "duration"),
        (json!({"duration": "7.5"}), "duration"),
        (json!({"aspect_ratio": "3:2"}), "aspect_ratio"),
        (json!({"image_urls": ["not a url"]}), "image_urls[0]"),
        (json!({"type": "audio-to-video"}), "type"),
        (json!({"prompt": ""}), "prompt"),
    ];
    for (patch, param) in cases {
        let mut req = seed_request();
        for (k, v) in patch.as_object().unwrap() {
            req[k] = v.clone();
        }
        let (s, v) = app.create(&key, req).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (422, "invalid_field"),
            "{param}: {v}"
        );
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    // Wrong JSON types are 422 too, and broken JSON 400; never 500.
    let (s, v) = app
        .create(&key, json!({"model": ["x"], "prompt": "x"}))
        .await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    let resp = app
        .http
        .post(app.path("/v1/video/generations"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"model\":")
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (400, "invalid_json"));
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

#[tokio::test]
async fn a_reference_past_the_assets_is_422_with_name_and_count() {
    let app = TestApp::new().await;
    let key = app.user_with_key("refs", 1000).await;
    let mut req = seed_request();
    req["image_urls"] = json!(["https://x.test/1.png", "https://x.test/2.png"]);
    req["prompt"] = json!("@Image1 hugs @Image3");
    let (s, v) = app.create(&key, req).await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (422, "unknown_asset_reference")
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("@Image3") && msg.contains('2'), "{msg}");
    assert_eq!(v["error"]["param"], "prompt");
    app.stop().await;
}

#[tokio::test]
async fn framework_errors_use_the_error_shape() {
    let app = TestApp::new().await;
    let key = app.user_with_key("fwuser", 10).await;
    let (s, v) = app.get(&key, "/v1/nothing-here").await;
    assert_eq!((s, error_code(&v).as_str()), (404, "not_found"));
    let resp = app
        .http
        .delete(app.path("/v1/models"))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!(s, 405);
    error_code(&v);
    let (s, v) = app
        .get(&key, "/v1/video/generations/../../etc/passwd")
        .await;
    assert!(s == 404 || s == 400, "{s}");
    error_code(&v);
    let (s, v) = app
        .get(&key, "/v1/video/generations/vidgen_1_zzzzzzzz")
        .await;
    assert_eq!((s, error_code(&v).as_str()), (404, "not_found"));
    let (s, v) = app.get(&key, "/v1/video/generations?limit=abc").await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    let (s, v) = app.get(&key, "/v1/video/generations?status=done").await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    // Oversized JSON bodies, declared or chunked, are 413.
    let big = format!(
        "{{\"model\":\"x\",\"prompt\":\"{}\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let resp = app
        .http
        .post(app.path("/v1/video/generations"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (413, "payload_too_large"));
    let stream = futures_util::stream::iter(
        big.into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = app
        .http
        .post(app.path("/v1/video/generations"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (413, "payload_too_large"));
    app.stop().await;
}

#[tokio::test]
async fn missing_and_mistyped_fields_name_the_param() {
    let app = TestApp::new().await;
    let key = app.user_with_key("params", 1000).await;
    for (body, param) in [
        (json!({"prompt": "x"}), "model"),
        (json!({"model": "video-2.0-mini-text-to-video"}), "prompt"),
        (json!({"model": "m", "prompt": 3}), "prompt"),
        (
            json!({"model": "m", "prompt": "x", "image_urls": "https://a/b.png"}),
            "image_urls",
        ),
        (
            json!({"model": "m", "prompt": "x", "generate_audio": "yes"}),
            "generate_audio",
        ),
        (
            json!({"model": "m", "prompt": "x", "duration": [5]}),
            "duration",
        ),
    ] {
        let (s, v) = app.create(&key, body).await;
        assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"), "{v}");
        assert_eq!(v["error"]["param"], param, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(param),
            "{v}"
        );
    }
    app.stop().await;
}

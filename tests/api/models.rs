use crate::common::*;

#[tokio::test]
async fn models_are_public_and_list_the_documented_fields() {
    let app = TestApp::new().await;
    let resp = app.http.get(app.path("/v1/models")).send().await.unwrap();
    let (status, v) = status_json(resp).await;
    assert_eq!(status, 200);
    assert_eq!(v["object"], "list");
    let m = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "video-2.0-mini-reference-to-video")
        .expect("seed model listed");
    assert_eq!(m["object"], "model");
    assert_eq!(m["billing"]["mode"], "per_second");
    for field in [
        "name",
        "features",
        "types",
        "resolutions",
        "durations",
        "aspect_ratios",
        "max_images",
        "max_videos",
        "max_audios",
        "supports_audio",
        "poll_interval_seconds",
    ] {
        assert!(m.get(field).is_some(), "missing {field}");
    }
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["billing"]["mode"] == "per_task")
    );
    app.stop().await;
}

#[tokio::test]
async fn models_show_the_callers_own_price_with_a_key() {
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
    let (user, _) = st
        .accounts
        .create_user(
            "vip",
            Some("password-123".into()),
            0,
            false,
            Some("half".into()),
            "t",
        )
        .await
        .unwrap();
    let (_, key) = st.accounts.create_key(user.id, "k").await.unwrap();
    let (_, v) = app.get(&key, "/v1/models").await;
    let m = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "video-2.0-mini-reference-to-video")
        .unwrap();
    assert_eq!(m["billing"]["credits"], 18);
    let (s, v) = app.get("vga_wrong", "/v1/models").await;
    assert_eq!((s, error_code(&v).as_str()), (401, "invalid_api_key"));
    app.stop().await;
}

//! The OpenAI Videos API over real HTTP: one task, two views, same credits and errors.

use crate::common::*;
use serde_json::{Value, json};
use std::time::Duration;

const REF_MODEL: &str = "video-2.0-mini-reference-to-video";
const TEXT_MODEL: &str = "video-2.0-mini-text-to-video";

/// Poll `GET /v1/videos/{id}` until it is completed or failed (bounded: 20 s); the
/// progress figures seen on the way.
async fn wait_video(app: &TestApp, key: &str, id: &str) -> (Value, Vec<i64>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let (s, v) = app.get(key, &format!("/v1/videos/{id}")).await;
        assert_eq!(s, 200, "{v}");
        seen.push(v["progress"].as_i64().unwrap());
        if v["status"] == "completed" || v["status"] == "failed" {
            return (v, seen);
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_create_is_a_task_on_both_apis_and_content_is_the_mirrored_file() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-json", 1000).await;
    let (s, v) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": REF_MODEL, "prompt": "a calm lake", "seconds": "8", "size": "720x1280"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["object"], "video");
    assert_eq!(v["status"], "queued");
    assert_eq!(v["progress"], 0);
    assert_eq!(v["seconds"], "8");
    assert_eq!(v["size"], "720x1280");
    assert!(v["completed_at"].is_null() && v["error"].is_null(), "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&key).await, 1000 - 8 * 36);

    let (done, progress) = wait_video(&app, &key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["progress"], 100);
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(done["completed_at"].as_i64().unwrap() >= done["created_at"].as_i64().unwrap());

    // The same task on the unified API.
    let (s, task) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(task["status"], "completed");
    let url = task["url"].as_str().unwrap();
    let mirrored = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    let content = app
        .http
        .get(app.path(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(content.status(), 200);
    assert_eq!(content.headers()["content-type"], "video/mp4");
    assert_eq!(content.bytes().await.unwrap(), mirrored);

    let part = app
        .http
        .get(app.path(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&key)
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), mirrored.slice(0..100));

    let (s, thumb) = app
        .get(&key, &format!("/v1/videos/{id}/content?variant=thumbnail"))
        .await;
    assert_eq!((s, error_code(&thumb).as_str()), (404, "not_found"));

    // Another user sees nothing.
    let other = app.user_with_key("oa-other", 10).await;
    let (s, v) = app.get(&other, &format!("/v1/videos/{id}")).await;
    assert_eq!((s, error_code(&v).as_str()), (404, "not_found"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_with_an_image_file_uses_it_as_the_first_frame() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-mp", 1000).await;
    let form = || {
        reqwest::multipart::Form::new()
            .text("model", REF_MODEL)
            .text("prompt", "@Image1 waves")
            .text("seconds", "4")
            .text("size", "1280x720")
            .part(
                "input_reference",
                reqwest::multipart::Part::bytes(png_bytes())
                    .file_name("me.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
    };
    let send = |idem: &'static str| {
        app.http
            .post(app.path("/v1/videos"))
            .bearer_auth(&key)
            .header("idempotency-key", idem)
            .multipart(form())
            .send()
    };
    let (s, v) = status_json(send("k1").await.unwrap()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (_, task) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
    // The engine may already have picked it up on a loaded machine; it must not have failed.
    assert!(
        matches!(
            task["status"].as_str(),
            Some("pending" | "processing" | "completed")
        ),
        "{task}"
    );
    // The same key and the same file: the same task, charged once.
    let (s, again) = status_json(send("k1").await.unwrap()).await;
    assert_eq!(
        (s, again["id"].as_str()),
        (200, Some(id.as_str())),
        "{again}"
    );
    assert_eq!(app.balance(&key).await, 1000 - 4 * 36);

    let stored = {
        let id = id.clone();
        app.state()
            .store
            .read_now(move |t| videoapi::store::tasks::read(t, &id))
            .unwrap()
            .unwrap()
    };
    let first = &stored.request.image_urls[0];
    assert!(
        first.starts_with(&format!("{}/uploads/", app.url)),
        "{first}"
    );
    assert_eq!(stored.request.kind, "image-to-video");
    let bytes = app
        .http
        .get(first)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), png_bytes().as_slice());

    // One first frame only: a second file part is refused before anything is charged.
    let png = || {
        reqwest::multipart::Part::bytes(png_bytes())
            .file_name("x.png")
            .mime_str("image/png")
            .unwrap()
    };
    let two = reqwest::multipart::Form::new()
        .text("model", REF_MODEL)
        .text("prompt", "x")
        .part("input_reference", png())
        .part("input_reference", png());
    let resp = app
        .http
        .post(app.path("/v1/videos"))
        .bearer_auth(&key)
        .multipart(two)
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (422, Some("input_reference")),
        "{v}"
    );
    assert_eq!(app.balance(&key).await, 1000 - 4 * 36);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_documented_error() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-bad", 1000).await;
    let cases = [
        (
            json!({"model": REF_MODEL, "prompt": "x", "size": "1792x1024"}),
            422,
            "invalid_field",
            "size",
        ),
        (
            json!({"model": REF_MODEL, "prompt": "x", "sise": "1280x720"}),
            422,
            "unknown_field",
            "sise",
        ),
        (
            json!({"model": REF_MODEL, "prompt": "x", "seconds": "7"}),
            422,
            "invalid_field",
            "duration",
        ),
        (
            json!({"model": "sora-2", "prompt": "x"}),
            400,
            "model_not_found",
            "model",
        ),
        (
            json!({"model": REF_MODEL, "prompt": "x", "input_reference": {"file_id": "file_1"}}),
            422,
            "invalid_field",
            "input_reference",
        ),
    ];
    for (body, status, code, param) in cases {
        let (s, v) = app.post(&key, "/v1/videos", body.clone()).await;
        assert_eq!((s, error_code(&v).as_str()), (status, code), "{body} → {v}");
        assert_eq!(v["error"]["param"], param, "{v}");
    }
    let (s, v) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": REF_MODEL, "prompt": "x", "size": "1792x1024"}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1280x720"),
        "{v}"
    );

    let poor = app.user_with_key("oa-poor", 10).await;
    let (s, v) = app
        .post(
            &poor,
            "/v1/videos",
            json!({"model": TEXT_MODEL, "prompt": "x"}),
        )
        .await;
    assert_eq!((s, error_code(&v).as_str()), (402, "insufficient_credits"));
    let (_, list) = app.get(&poor, "/v1/videos").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.balance(&key).await, 1000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_both_ways_with_after() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-list", 10_000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (s, v) = app
            .post(
                &key,
                "/v1/videos",
                json!({"model": TEXT_MODEL, "prompt": format!("n{i}")}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for (order, expected) in [
        ("asc", ids.clone()),
        ("desc", ids.iter().rev().cloned().collect::<Vec<_>>()),
    ] {
        let mut got = Vec::new();
        let mut after = String::new();
        for _ in 0..5 {
            let (s, page) = app
                .get(
                    &key,
                    &format!("/v1/videos?limit=2&order={order}&after={after}"),
                )
                .await;
            assert_eq!(s, 200, "{page}");
            assert_eq!(page["object"], "list");
            for v in page["data"].as_array().unwrap() {
                got.push(v["id"].as_str().unwrap().to_string());
            }
            assert_eq!(page["first_id"], page["data"][0]["id"]);
            if page["has_more"] == false {
                break;
            }
            after = page["last_id"].as_str().unwrap().to_string();
        }
        assert_eq!(got, expected, "{order}");
    }
    let (s, v) = app.get(&key, "/v1/videos?order=sideways").await;
    assert_eq!((s, v["error"]["param"].as_str()), (422, Some("order")));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_refunds_a_queued_video_and_removes_a_finished_ones_files() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-del", 1000).await;

    // With its only channel cooling down, a video stays queued: delete cancels it.
    let st = app.state();
    for _ in 0..3 {
        st.registry.health.record_error("demo");
    }
    let (_, v) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": TEXT_MODEL, "prompt": "drop"}),
        )
        .await;
    let queued = v["id"].as_str().unwrap().to_string();
    assert_eq!(app.balance(&key).await, 900);
    let resp = app
        .http
        .delete(app.path(&format!("/v1/videos/{queued}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, &v["deleted"]), (200, &json!(true)), "{v}");
    assert_eq!(app.balance(&key).await, 1000, "queued: refunded");
    let (_, v) = app.get(&key, &format!("/v1/videos/{queued}")).await;
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "cancelled");
    st.registry.health.record_ok("demo");

    let (_, v) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": TEXT_MODEL, "prompt": "keep"}),
        )
        .await;
    let id = v["id"].as_str().unwrap().to_string();
    let (done, _) = wait_video(&app, &key, &id).await;
    assert_eq!(done["status"], "completed");
    let (_, task) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
    let file = app.data_dir().join(
        task["url"]
            .as_str()
            .unwrap()
            .trim_start_matches(&format!("{}/", app.url)),
    );
    assert!(file.exists());
    let resp = app
        .http
        .delete(app.path(&format!("/v1/videos/{id}")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"id": id, "object": "video.deleted", "deleted": true})
    );
    assert!(!file.exists());
    assert_eq!(
        app.balance(&key).await,
        900,
        "finished: the ledger is untouched"
    );
    let (s, v) = app.get(&key, &format!("/v1/videos/{id}")).await;
    assert_eq!((s, &v["status"]), (200, &json!("completed")));
    let (s, v) = app.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!((s, error_code(&v).as_str()), (404, "not_found"));
    assert!(app.audit().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remix_makes_a_new_task_where_the_model_takes_a_video() {
    let app = TestApp::new().await;
    let key = app.user_with_key("oa-remix", 10_000).await;
    let (_, v) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": REF_MODEL, "prompt": "a fox", "seconds": 4}),
        )
        .await;
    let id = v["id"].as_str().unwrap().to_string();
    wait_video(&app, &key, &id).await;
    let (s, remix) = app
        .post(
            &key,
            &format!("/v1/videos/{id}/remix"),
            json!({"prompt": "@Video1 at night"}),
        )
        .await;
    assert_eq!(s, 200, "{remix}");
    assert_ne!(remix["id"], id);
    assert_eq!(remix["seconds"], "4");
    let (done, _) = wait_video(&app, &key, remix["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");

    let (_, t) = app
        .post(
            &key,
            "/v1/videos",
            json!({"model": TEXT_MODEL, "prompt": "text only"}),
        )
        .await;
    let tid = t["id"].as_str().unwrap().to_string();
    wait_video(&app, &key, &tid).await;
    let (s, v) = app
        .post(
            &key,
            &format!("/v1/videos/{tid}/remix"),
            json!({"prompt": "again"}),
        )
        .await;
    assert_eq!(
        (s, error_code(&v).as_str()),
        (422, "remix_unsupported"),
        "{v}"
    );
    app.stop().await;
}

/// Gateways chain both ways: our own `openai-videos` adapter, pointed at a second VideoApi's
/// `/v1/videos`, completes tasks there (multipart with the image file, and JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_videos_adapter_completes_tasks_on_another_videoapi() {
    use crate::providers::{Spec, channel, create, finish, single, upload_png};
    let back = TestApp::new().await;
    let back_key = back.user_with_key("front-gateway", 100_000).await;
    let spec = Spec {
        kind: "openai-videos",
        base_path: "/v1",
        key: Box::leak(back_key.clone().into_boxed_str()),
        secret: "",
        settings: json!({}),
        upstream_model: REF_MODEL,
        request: json!({}),
        failed_code: "demo_failure",
        blocked_code: "invalid_field",
        idempotent: false,
    };
    let (front, key) = single(&spec, &back.url).await;

    // Multipart: the image goes upstream as the input_reference file part.
    let image = upload_png(&front, &key).await;
    let id = create(
        &front,
        &key,
        json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 waves",
               "image_urls": [image], "resolution": "720p", "duration": 8,
               "aspect_ratio": "9:16", "generate_audio": true}),
    )
    .await;
    let done = finish(&front, &key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (_, page) = back.get(&back_key, "/v1/videos?limit=1").await;
    let upstream = &page["data"][0];
    assert_eq!(upstream["status"], "completed", "{page}");
    assert_eq!(upstream["size"], "720x1280");
    assert_eq!(upstream["seconds"], "8");
    assert_eq!(upstream["prompt"], "the reference image waves");
    let ours = front
        .http
        .get(done["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let theirs = back
        .http
        .get(back.path(&format!(
            "/v1/videos/{}/content",
            upstream["id"].as_str().unwrap()
        )))
        .bearer_auth(&back_key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(ours.len() > 1000 && ours == theirs);
    assert_eq!(back.balance(&back_key).await, 100_000 - 8 * 36);

    // A failure upstream fails the task here with its code, refunded on both sides.
    let before = front.balance(&key).await;
    let id = create(
        &front,
        &key,
        json!({"model": "m", "prompt": "demo:fail", "resolution": "720p", "duration": 4,
               "aspect_ratio": "16:9", "generate_audio": true}),
    )
    .await;
    let failed = finish(&front, &key, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "demo_failure");
    assert_eq!(front.balance(&key).await, before);
    assert_eq!(back.balance(&back_key).await, 100_000 - 8 * 36);

    // The JSON body of the same adapter.
    let json_spec = Spec {
        settings: json!({"body": "json"}),
        ..spec.clone()
    };
    channel(&front, "chan-json", &json_spec, &format!("{}/v1", back.url)).await;
    crate::providers::model(&front, "mj", &[("chan-json", REF_MODEL, 0)]).await;
    let id = create(
        &front,
        &key,
        json!({"model": "mj", "prompt": "a kite", "resolution": "720p", "duration": 4,
               "aspect_ratio": "16:9", "generate_audio": true}),
    )
    .await;
    assert_eq!(finish(&front, &key, &id).await["status"], "completed");
    assert!(front.audit().is_empty() && back.audit().is_empty());
    front.stop().await;
    back.stop().await;
}

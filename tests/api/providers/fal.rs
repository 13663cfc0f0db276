//! fal against its queue simulator: models declared as data in route settings, the queue
//! protocol (Key auth, owner/app request URLs, 202 until done), failing results.

use super::*;
use crate::simulators::fal::Fal;
use crate::simulators::{Fault, Op, start};

fn spec() -> Spec {
    Spec {
        kind: "fal",
        base_path: "",
        key: "fal-key-id:secret",
        secret: "",
        settings: json!({}),
        // A route without settings sends the prompt only: any text model works as is.
        upstream_model: "fal-ai/ltx-video",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "content_policy_violation",
        blocked_code: "content_policy_violation",
        idempotent: false,
    }
}

fn veo_i2v() -> Value {
    json!({
        "types": ["image-to-video"],
        "fields": {"image": "image_url", "resolution": "resolution", "duration": "duration",
                   "aspect_ratio": "aspect_ratio", "generate_audio": "generate_audio"},
        "durations": [8], "duration_format": "seconds",
        "resolutions": ["720p", "1080p"], "aspect_ratios": ["auto", "16:9", "9:16"],
        "output": "video.url"
    })
}

fn veo_t2v() -> Value {
    json!({
        "types": ["text-to-video"],
        "fields": {"resolution": "resolution", "duration": "duration", "aspect_ratio": "aspect_ratio",
                   "generate_audio": "generate_audio"},
        "durations": [4, 6, 8], "duration_format": "seconds",
        "resolutions": ["720p", "1080p"], "aspect_ratios": ["16:9", "9:16"],
        "fixed": {"enhance_prompt": true}
    })
}

fn kling_r2v() -> Value {
    json!({
        "types": ["reference-to-video"],
        "fields": {"images": "image_urls", "duration": "duration", "aspect_ratio": "aspect_ratio"},
        "durations": [5, 10], "duration_format": "string", "max_images": 7,
        "aspect_ratios": ["16:9", "9:16", "1:1"], "references": "keep"
    })
}

async fn gateway_with_models(sim_url: &str) -> (TestApp, String) {
    let spec = spec();
    let (app, key) = single(&spec, sim_url).await;
    model_with_settings(
        &app,
        "veo-i2v",
        "chan-a",
        "fal-ai/veo3/image-to-video",
        veo_i2v(),
    )
    .await;
    model_with_settings(&app, "veo-t2v", "chan-a", "fal-ai/veo3", veo_t2v()).await;
    model_with_settings(
        &app,
        "kling-r2v",
        "chan-a",
        "fal-ai/kling-video/o1/reference-to-video",
        kling_r2v(),
    )
    .await;
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_models_declared_as_data_complete_through_the_queue() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    let (app, key) = gateway_with_models(&sim.url).await;

    // Veo 3 image to video: the route's mapping names every input.
    let image = upload_png(&app, &key).await;
    let id = create(
        &app,
        &key,
        json!({
            "model": "veo-i2v", "type": "image-to-video", "prompt": "@Image1 turns its head",
            "image_urls": [image], "resolution": "1080p", "duration": 8, "aspect_ratio": "auto",
            "generate_audio": true
        }),
    )
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.path, "/fal-ai/veo3/image-to-video");
    assert_eq!(sent.header("authorization"), Some("Key fal-key-id:secret"));
    assert_eq!(
        sent.json(),
        json!({"prompt": "the first frame turns its head", "image_url": image, "resolution": "1080p",
               "duration": "8s", "aspect_ratio": "auto", "generate_audio": true})
    );
    let upstream = sim.tasks()[0].id.clone();
    // Status and result URLs use owner/app only, never the model's subpath.
    let polls = sim.received(Op::Poll);
    assert!(!polls.is_empty());
    assert!(
        polls
            .iter()
            .all(|p| p.path == format!("/fal-ai/veo3/requests/{upstream}/status"))
    );
    assert_eq!(
        sim.received(Op::Retrieve)[0].path,
        format!("/fal-ai/veo3/requests/{upstream}")
    );

    // Veo 3 text to video: fixed inputs, "6s".
    let id = create(&app, &key, json!({"model": "veo-t2v", "prompt": "a lighthouse", "duration": 6, "aspect_ratio": "9:16"})).await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(
        sim.received(Op::Create)[1].json(),
        json!({"prompt": "a lighthouse", "resolution": "720p", "duration": "6s", "aspect_ratio": "9:16",
               "generate_audio": false, "enhance_prompt": true})
    );

    // Kling O1 reference to video reads @Image1 itself: the prompt is kept.
    let id = create(&app, &key, json!({
        "model": "kling-r2v", "type": "reference-to-video", "prompt": "@Image1 and @Image2 dance",
        "image_urls": [image, "https://cdn.example.com/b.png"], "duration": 10, "aspect_ratio": "1:1"
    }))
    .await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(
        sim.received(Op::Create)[2].json(),
        json!({"prompt": "@Image1 and @Image2 dance", "image_urls": [image, "https://cdn.example.com/b.png"],
               "duration": "10", "aspect_ratio": "1:1"})
    );
    assert_eq!(app.balance(&key).await, START_CREDITS - 3 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_a_completed_request_whose_result_fails_is_a_failure() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;

    // COMPLETED, then the result call answers the model's 500: failed and refunded.
    let id = create(&app, &key, request(&spec, "m", " sim:crash")).await;
    let v = expect_failed(&app, &key, &id, "internal_server_error", &sim).await;
    assert_eq!(v["error"]["message"], "Model crashed while generating");

    // A bare proxy 503 on the result call proves nothing: asked again, then completed.
    sim.inject(
        Op::Retrieve,
        Fault::Raw {
            status: 503,
            body: "upstream connect error".into(),
        },
    );
    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_eq!(sim.count(Op::Retrieve), 3, "crash + 503 + success");

    // Past its deadline a queued request is cancelled with PUT .../cancel.
    sim.hold();
    let id = create(&app, &key, request(&spec, "m", "")).await;
    app.wait_for(&key, &id, "processing").await;
    force_deadline(&app, &id).await;
    expect_failed(&app, &key, &id, "deadline_exceeded", &sim).await;
    sim.release();
    let cancels: Vec<_> = sim
        .received(Op::Other)
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(cancels.len(), 1);
    assert!(cancels[0].path.starts_with("/fal-ai/ltx-video/requests/"));
    assert!(cancels[0].path.ends_with("/cancel"));

    assert_eq!(app.balance(&key).await, START_CREDITS - PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_refuses_what_a_route_does_not_map_and_bad_settings() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    let (app, key) = gateway_with_models(&sim.url).await;
    let image = "https://cdn.example.com/a.png";
    // The prompt-only default route: audio and images are not mapped.
    expect_422(
        &app,
        &key,
        json!({"model": "m", "prompt": "x", "generate_audio": true}),
        "generate_audio",
    )
    .await;
    expect_422(
        &app,
        &key,
        json!({"model": "m", "type": "image-to-video", "prompt": "x", "image_urls": [image]}),
        "type",
    )
    .await;
    // Declared value lists.
    expect_422(&app, &key, json!({"model": "veo-i2v", "type": "image-to-video", "prompt": "x", "image_urls": [image], "resolution": "480p"}), "resolution").await;
    expect_422(&app, &key, json!({"model": "veo-i2v", "type": "image-to-video", "prompt": "x", "image_urls": [image], "duration": 5}), "duration").await;
    expect_422(&app, &key, json!({"model": "veo-i2v", "type": "image-to-video", "prompt": "x", "image_urls": [image, image]}), "image_urls").await;
    expect_422(
        &app,
        &key,
        json!({"model": "veo-t2v", "prompt": "x", "aspect_ratio": "1:1"}),
        "aspect_ratio",
    )
    .await;
    expect_422(&app, &key, json!({"model": "kling-r2v", "type": "reference-to-video", "prompt": "x", "video_urls": ["https://cdn.example.com/v.mp4"]}), "video_urls").await;
    assert_eq!(sim.count(Op::Create), 0, "nothing reached upstream");

    // A mapping that cannot be read is refused when the operator saves it.
    let bad = |settings: Value, model: &'static str| {
        let mut m = app
            .state()
            .catalog
            .model("veo-i2v")
            .unwrap()
            .as_ref()
            .clone();
        m.id = "broken".into();
        m.routes[0].settings = settings;
        m.routes[0].upstream_model = model.into();
        m
    };
    for (settings, model) in [
        (json!({"feilds": {"image": "image_url"}}), "fal-ai/veo3"),
        (json!({"types": ["image-to-video"]}), "fal-ai/veo3"),
        (json!({"duration_format": "minutes"}), "fal-ai/veo3"),
        (Value::Null, "veo3"),
    ] {
        let err = app
            .state()
            .catalog
            .put_model(bad(settings, model))
            .await
            .unwrap_err();
        assert_eq!(err.param().as_deref(), Some("routes[0].settings"), "{err}");
    }
    assert!(app.state().catalog.model("broken").is_none());
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_fault_matrix() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    fault_matrix(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_fails_over_but_never_resends_an_ambiguous_submit() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    failover(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_tasks_survive_restart_and_crash() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    restart(&spec(), &sim, &sim.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_sends_fal_webhook_and_fal_posts_the_envelope_when_the_request_ends() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    let (app, _) = single(&spec(), &sim.url).await;
    let hooks = crate::simulators::Hooks::start().await;
    let (id, url) = submit_with_callback(&app, &spec(), json!({}), &hooks).await;
    let sent = sim.received(Op::Create)[0].clone();
    assert_eq!(sent.query.get("fal_webhook"), Some(&url));
    assert!(
        sent.json().get("fal_webhook").is_none(),
        "a query parameter, not an input"
    );
    assert_eq!(sim.finish(&id).await, Some(200));
    let env = the_callback(&hooks).await;
    assert_eq!(
        (env["request_id"].as_str(), env["status"].as_str()),
        (Some(id.as_str()), Some("OK"))
    );
    assert!(env["payload"]["video"]["url"].is_string(), "{env}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fal_settles_on_the_measured_file() {
    let sim = start(Fal::new("fal-key-id:secret")).await;
    // fal reports no length, so the gateway measures the mirrored file: 8 s for the
    // ask (capped), 3 s for another (refunded). The route costs 5 credits a task.
    let cost = videoapi::domain::catalog::RouteCost {
        per_task: 5,
        ..Default::default()
    };
    let (long, short) = settles_on_what_was_made(&spec(), &sim, &sim.url, (8, 3), cost).await;
    assert_eq!((long.seconds, long.upstream_cost), (8, Some(5)));
    assert_eq!((short.seconds, short.upstream_cost), (3, Some(5)));
}

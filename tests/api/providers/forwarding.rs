//! The forwarding layer across providers: one public model over several upstreams, route
//! choice by what each can honour, per-channel pacing, health from upstream errors only.

use super::*;
use crate::simulators::kling::KlingSim;
use crate::simulators::minimax::MiniMaxSim;
use crate::simulators::seedance::Ark;
use crate::simulators::{Fault, Op, dead_url, start};

fn ark_spec() -> Spec {
    Spec {
        kind: "seedance",
        base_path: "/api/v3",
        key: "ark-key-1",
        secret: "",
        settings: json!({}),
        upstream_model: "doubao-seedance-2-0-260128",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 6, "aspect_ratio": "16:9"}),
        failed_code: "",
        blocked_code: "InputTextSensitiveContentDetected",
        idempotent: false,
    }
}

fn kling_spec() -> Spec {
    Spec {
        kind: "kling",
        base_path: "",
        key: "AK-test",
        secret: "SK-test-secret",
        settings: json!({}),
        upstream_model: "kling-v2-6",
        request: json!({}),
        failed_code: "",
        blocked_code: "",
        idempotent: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_public_model_fails_over_across_providers_in_each_ones_syntax() {
    let ark = start(Ark::new("ark-key-1")).await;
    let kling = start(KlingSim::new("AK-test", "SK-test-secret")).await;
    let (app, key) = gateway().await;
    channel(
        &app,
        "ark-down",
        &ark_spec(),
        &format!("{}/api/v3", dead_url()),
    )
    .await;
    channel(&app, "ark", &ark_spec(), &format!("{}/api/v3", ark.url)).await;
    channel(&app, "kling", &kling_spec(), &kling.url).await;
    model(
        &app,
        "down-first",
        &[
            ("ark-down", "doubao-seedance-2-0-260128", 10),
            ("kling", "kling-v2-6", 0),
        ],
    )
    .await;
    model(
        &app,
        "ark-first",
        &[
            ("ark", "doubao-seedance-2-0-260128", 10),
            ("kling", "kling-v2-6", 0),
        ],
    )
    .await;
    let image = upload_png(&app, &key).await;
    let body = |m: &str| json!({"model": m, "type": "image-to-video", "prompt": "@Image1 walks away", "image_urls": [image], "duration": 5});

    // Seedance refuses connections: Kling serves it, in its own words.
    let id = create(&app, &key, body("down-first")).await;
    expect_completed(&app, &key, &id, &kling).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("kling"));
    assert_eq!(
        kling.received(Op::Create)[0].json()["prompt"],
        "the first frame walks away"
    );

    // Seedance answers: the same public model speaks Ark's syntax.
    let id = create(&app, &key, body("ark-first")).await;
    expect_completed(&app, &key, &id, &ark).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("ark"));
    assert_eq!(
        ark.received(Op::Create)[0].json()["content"][0]["text"],
        "[图1] walks away"
    );

    // Seedance is overloaded (5xx): Kling again, nothing created on Ark.
    ark.inject(Op::Create, Fault::Status(500));
    let id = create(&app, &key, body("ark-first")).await;
    expect_completed(&app, &key, &id, &kling).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("kling"));
    assert_eq!(ark.tasks().len(), 1);
    assert_eq!(app.balance(&key).await, START_CREDITS - 3 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_that_cannot_honour_a_request_are_skipped_and_none_is_422() {
    let ark = start(Ark::new("ark-key-1")).await;
    let mm = start(MiniMaxSim {
        key: "mm-key".into(),
    })
    .await;
    let (app, key) = gateway().await;
    let mm_spec = Spec {
        kind: "minimax",
        base_path: "",
        key: "mm-key",
        ..ark_spec()
    };
    channel(&app, "mm", &mm_spec, &mm.url).await;
    channel(&app, "ark", &ark_spec(), &format!("{}/api/v3", ark.url)).await;
    model(
        &app,
        "mixed",
        &[
            ("mm", "MiniMax-Hailuo-2.3", 10),
            ("ark", "doubao-seedance-2-0-260128", 0),
        ],
    )
    .await;

    // Silent: the preferred MiniMax route takes it.
    let id = create(
        &app,
        &key,
        json!({"model": "mixed", "prompt": "a fox", "duration": 6}),
    )
    .await;
    expect_completed(&app, &key, &id, &mm).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("mm"));
    // With audio only Seedance can: it goes there, never to MiniMax.
    let id = create(
        &app,
        &key,
        json!({"model": "mixed", "prompt": "a fox", "duration": 6, "generate_audio": true}),
    )
    .await;
    expect_completed(&app, &key, &id, &ark).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("ark"));
    assert_eq!(mm.count(Op::Create), 1);
    // Neither can make 3 seconds: 422 naming the field, nothing charged.
    expect_422(
        &app,
        &key,
        json!({"model": "mixed", "prompt": "a fox", "duration": 3}),
        "duration",
    )
    .await;
    assert_eq!(app.balance(&key).await, START_CREDITS - 2 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_is_paced_and_a_retry_after_pauses_all_its_calls() {
    let ark = start(Ark::new("ark-key-1")).await;
    ark.set_timeline(2, 4);
    let (app, key) = gateway().await;
    let mut spec = ark_spec();
    spec.settings = json!({"requests_per_second": 10});
    channel(&app, "paced", &spec, &format!("{}/api/v3", ark.url)).await;
    model(&app, "m", &[("paced", "doubao-seedance-2-0-260128", 0)]).await;
    ark.inject(
        Op::Poll,
        Fault::RateLimited {
            retry_after: "0.6".into(),
        },
    );
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create(&app, &key, request(&spec, "m", "")).await);
    }
    for id in &ids {
        expect_completed(&app, &key, id, &ark).await;
    }
    let mut calls: Vec<_> = ark.received(Op::Create);
    calls.extend(ark.received(Op::Poll));
    calls.sort_by_key(|r| r.at);
    // 100 ms apart when sent. One late arrival on a busy machine shrinks the gap after
    // it, so single gaps get a wide margin and spans of four gaps a tight one (a delay
    // moves one end of a span, never adds up along it). Unpaced calls would be ~0 apart.
    for pair in calls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(20),
            "calls {gap:?} apart at 10 per second"
        );
    }
    for span in calls.windows(5) {
        let took = span[4].at.duration_since(span[0].at);
        assert!(
            took >= Duration::from_millis(320),
            "five calls within {took:?} at 10 per second"
        );
    }
    // The first poll was answered 429 + Retry-After 0.6 s: the whole channel waited.
    let first_poll = ark.received(Op::Poll)[0].at;
    let next = calls
        .iter()
        .find(|r| r.at > first_poll)
        .expect("later calls");
    let gap = next.at.duration_since(first_poll);
    assert!(
        gap >= Duration::from_millis(550),
        "channel resumed after {gap:?}"
    );
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_health_counts_upstream_errors_only() {
    let ark = start(Ark::new("ark-key-1")).await;
    let kling = start(KlingSim::new("AK-test", "SK-test-secret")).await;
    let (app, key) = gateway().await;
    channel(&app, "ark", &ark_spec(), &format!("{}/api/v3", ark.url)).await;
    channel(&app, "kling", &kling_spec(), &kling.url).await;
    model(
        &app,
        "m",
        &[
            ("ark", "doubao-seedance-2-0-260128", 10),
            ("kling", "kling-v2-6", 0),
        ],
    )
    .await;
    let body = json!({"model": "m", "prompt": "a fox", "duration": 5});

    // Customers' mistakes and refusals for content say nothing about the channel.
    let broke = fast_user(&app, "broke", 10).await;
    for _ in 0..3 {
        let (s, _) = app.create(&broke, body.clone()).await;
        assert_eq!(s, 402);
        let (s, _) = app
            .create(
                &key,
                json!({"model": "m", "prompt": "a fox", "duration": 3}),
            )
            .await;
        assert_eq!(s, 422);
        let id = create(
            &app,
            &key,
            json!({"model": "m", "prompt": "a fox sim:block", "duration": 5}),
        )
        .await;
        expect_failed(&app, &key, &id, "InputTextSensitiveContentDetected", &ark).await;
    }
    assert!(app.state().registry.health.is_healthy("ark"));
    let id = create(&app, &key, body.clone()).await;
    expect_completed(&app, &key, &id, &ark).await;
    assert_eq!(stored(&app, &id).provider.as_deref(), Some("ark"));

    // Three upstream failures cool the channel down: each task fails over, then the next
    // one skips Ark without trying it.
    for _ in 0..3 {
        ark.inject(Op::Create, Fault::Status(503));
        let id = create(&app, &key, body.clone()).await;
        expect_completed(&app, &key, &id, &kling).await;
        assert_eq!(stored(&app, &id).provider.as_deref(), Some("kling"));
    }
    assert!(!app.state().registry.health.is_healthy("ark"));
    let creates = ark.count(Op::Create);
    let id = create(&app, &key, body.clone()).await;
    expect_completed(&app, &key, &id, &kling).await;
    assert_eq!(
        ark.count(Op::Create),
        creates,
        "a cooling channel is not tried"
    );
    assert_eq!(app.balance(&key).await, START_CREDITS - 5 * PRICE);
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_test_channels_and_never_see_full_keys() {
    let ark = start(Ark::new("ark-key-1")).await;
    let (app, _key) = gateway().await;
    let mut cfg = videoapi::domain::catalog::ProviderConfig {
        name: "unsaved".into(),
        kind: "seedance".into(),
        base_url: format!("{}/api/v3", ark.url),
        api_key: "ark-key-1".into(),
        api_secret: String::new(),
        enabled: false,
        priority: 0,
        weight: 1,
        settings: json!({"timeout_ms": 500}),
    };
    let reg = &app.state().registry;
    // The simulator is on loopback: refused until the channel's allow-list admits it.
    let err = reg.test_channel(&cfg).await.unwrap_err();
    assert!(err.to_string().contains("allow_private_cidrs"), "{err}");
    cfg.settings = json!({"timeout_ms": 500, "allow_private_cidrs": LOOPBACK});
    assert!(
        reg.test_channel(&cfg).await.is_ok(),
        "a draft, disabled channel can be tested"
    );
    cfg.api_key = "ark-wrong-key-9876".into();
    let err = reg.test_channel(&cfg).await.unwrap_err();
    assert!(!err.to_string().contains("ark-wrong"), "{err}");
    cfg.kind = "nope".into();
    assert!(reg.test_channel(&cfg).await.is_err());
    // Stored in full (redb), shown masked.
    cfg.kind = "seedance".into();
    cfg.api_key = "ark-key-1\nark-key-0000000002".into();
    app.state().catalog.put_provider(cfg.clone()).await.unwrap();
    let stored = app.state().catalog.provider("unsaved").unwrap();
    assert_eq!(stored.api_key, cfg.api_key);
    assert_eq!(stored.redacted().api_key, "••••ey-1\n••••0002");
    app.stop().await;
}

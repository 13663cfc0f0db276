//! The outbound guard on channel traffic: result mirroring re-checks every redirect hop,
//! and a channel reaches private addresses only through its own `allow_private_cidrs`.

use super::*;
use crate::simulators::seedance::Ark;
use crate::simulators::{Fault, Op, start};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn spec() -> Spec {
    Spec {
        kind: "seedance",
        base_path: "/api/v3",
        key: "ark-key-1",
        secret: "",
        settings: json!({}),
        upstream_model: "doubao-seedance-2-0-260128",
        request: json!({"type": "text-to-video", "prompt": "a red fox runs", "resolution": "720p", "duration": 5, "aspect_ratio": "16:9"}),
        failed_code: "OutputVideoSensitiveContentDetected",
        blocked_code: "InputTextSensitiveContentDetected",
        idempotent: false,
    }
}

/// A server on 127.0.0.2 (loopback, but outside the channel's 127.0.0.1/32) that counts
/// the requests it gets: a stand-in for an internal service.
async fn internal_service() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/secret.mp4", listener.local_addr().unwrap());
    let acceptor = poem::listener::TcpAcceptor::from_std(listener).unwrap();
    let h = hits.clone();
    let app = poem::endpoint::make(move |_| {
        let h = h.clone();
        async move {
            h.fetch_add(1, Ordering::SeqCst);
            "internal secret"
        }
    });
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mirroring_refuses_a_redirect_to_a_private_address_and_refunds() {
    let (internal, hits) = internal_service().await;
    let sim = start(Ark::new("ark-key-1")).await;
    let spec = spec();
    let (app, key) = single(&spec, &sim.url).await;
    for to in [
        internal.clone(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        internal.replace("127.0.0.2", "2130706434"),
    ] {
        sim.inject(Op::Download, Fault::Redirect(to.clone()));
        let id = create(&app, &key, request(&spec, "m", "")).await;
        let v = expect_failed(&app, &key, &id, "result_unavailable", &sim).await;
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("non-public"),
            "{to}: {v}"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the internal service was reached"
    );
    assert_eq!(app.balance(&key).await, START_CREDITS);
    // Without a redirect the same channel mirrors normally.
    let id = create(&app, &key, request(&spec, "m", "")).await;
    expect_completed(&app, &key, &id, &sim).await;
    assert_ledger(&app);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_on_loopback_needs_its_allow_list() {
    let sim = start(Ark::new("ark-key-1")).await;
    let (app, key) = gateway().await;
    let mut bare = spec();
    // Overrides the helper's loopback allow-list with an empty one.
    bare.settings = json!({"allow_private_cidrs": []});
    channel(&app, "chan-a", &bare, &format!("{}/api/v3", sim.url)).await;
    let cfg = app.state().catalog.provider("chan-a").unwrap();
    let err = app.state().registry.test_channel(&cfg).await.unwrap_err();
    assert!(err.to_string().contains("allow_private_cidrs"), "{err}");
    assert!(sim.received(Op::List).is_empty() && sim.count(Op::Create) == 0);
    let _ = key;

    // Bad allow-lists are a 422 on the setting, never a broken channel.
    for bad in [json!("127.0.0.1/32"), json!(["127.0.0.1/33"]), json!([7])] {
        let mut cfg = app.state().catalog.provider("chan-a").unwrap();
        cfg.settings = json!({"allow_private_cidrs": bad});
        let err = app.state().catalog.put_provider(cfg).await.unwrap_err();
        assert_eq!(
            err.param().as_deref(),
            Some("settings.allow_private_cidrs"),
            "{err}"
        );
    }
    app.stop().await;
}

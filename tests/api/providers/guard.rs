//! The outbound guard on channel traffic: result mirroring re-checks every redirect hop,
//! and a channel reaches private addresses only through its own `allow_private_cidrs`.

use super::*;
use crate::console::Console;
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
async fn a_channel_on_loopback_needs_its_allow_list_edited_in_the_console() {
    let sim = start(Ark::new("ark-key-1")).await;
    let (app, _key) = gateway().await;
    let mut bare = spec();
    // Overrides the helper's loopback allow-list with an empty one.
    bare.settings = json!({"allow_private_cidrs": []});
    let base = format!("{}/api/v3", sim.url);
    channel(&app, "chan-a", &bare, &base).await;
    let mut ops = Console::login(&app, "admin", "admin-password").await;

    // The console's test call goes through the registry's guarded client: refused.
    let (s, v) = ops
        .post("/console/api/admin/providers/chan-a/test", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("allow_private_cidrs"),
        "{v}"
    );
    assert_eq!(sim.count(Op::List) + sim.count(Op::Create), 0);

    // Bad allow-lists are a 422 on the setting, never a broken channel.
    for bad in [json!("127.0.0.1/32"), json!(["127.0.0.1/33"]), json!([7])] {
        let (s, v) = ops
            .put(
                "/console/api/admin/providers/chan-a",
                json!({"kind": "seedance", "base_url": base, "settings": {"allow_private_cidrs": bad}}),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        assert_eq!(v["error"]["param"], "settings.allow_private_cidrs", "{v}");
    }
    // Admitting exactly the simulator's address makes the same test pass.
    let (s, v) = ops
        .put(
            "/console/api/admin/providers/chan-a",
            json!({"kind": "seedance", "base_url": base, "settings": {"allow_private_cidrs": ["127.0.0.1/32"]}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["settings"]["allow_private_cidrs"],
        json!(["127.0.0.1/32"])
    );
    let (_, v) = ops
        .post("/console/api/admin/providers/chan-a/test", json!({}))
        .await;
    assert_eq!(v["ok"], true, "{v}");
    app.stop().await;
}

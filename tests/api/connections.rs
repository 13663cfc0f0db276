//! Connection hygiene over real sockets: slowloris heads, stalled bodies and idle
//! keep-alives are closed by the server; the connection cap holds clients back.

use crate::common::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn app_with(f: impl FnOnce(&mut videoapi::config::Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.header_read_timeout_secs = 1;
    config.body_read_timeout_secs = 1;
    config.keep_alive_timeout_secs = 1;
    f(&mut config);
    TestApp::with_config(dir, config).await
}

/// Wait (bounded) for the server to close `s`; returns how long that took.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A 408/400 or similar before the close is fine; keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

async fn healthz_ms(app: &TestApp) -> u128 {
    let t = Instant::now();
    let resp = app
        .http
        .get(app.path("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("healthz answers during the attack");
    assert_eq!(resp.status(), 200);
    t.elapsed().as_millis()
}

#[tokio::test]
async fn slowloris_connections_are_closed_while_healthz_answers() {
    let app = app_with(|_| {}).await;
    let addr = app.running.as_ref().unwrap().addr;
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-a: ")
            .await
            .unwrap();
        conns.push(s);
    }
    let opened = Instant::now();
    // Normal requests keep being served while the half-open heads wait.
    let mut worst = 0;
    while opened.elapsed() < Duration::from_millis(1500) {
        worst = worst.max(healthz_ms(&app).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(worst < 1000, "healthz took {worst} ms during the attack");
    let waits = futures_util::future::join_all(
        conns
            .iter_mut()
            .map(|s| closed_within(s, Duration::from_secs(5))),
    )
    .await;
    let open = waits.iter().filter(|w| w.is_none()).count();
    assert_eq!(open, 0, "{open} of 200 slow connections still open");
    assert!(
        opened.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        opened.elapsed()
    );
    healthz_ms(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn trickled_header_bytes_do_not_extend_the_deadline() {
    let app = app_with(|_| {}).await;
    let addr = app.running.as_ref().unwrap().addr;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let mut closed = false;
    for _ in 0..40 {
        if s.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a head trickled for 4 s was not cut off");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn stalled_body_and_idle_keep_alive_are_closed() {
    let app = app_with(|_| {}).await;
    let addr = app.running.as_ref().unwrap().addr;

    // An authenticated body that promises 100 bytes and sends 10.
    let key = app.user_with_key("slowbody", 0).await;
    let mut body = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/video/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    body.write_all(head.as_bytes()).await.unwrap();
    let waited = closed_within(&mut body, Duration::from_secs(4)).await;
    assert!(waited.is_some(), "stalled body still open");

    // A complete request, answered, then nothing: closed after the keep-alive time.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    let waited = closed_within(&mut idle, Duration::from_secs(4)).await;
    let waited = waited.expect("idle keep-alive connection still open");
    assert!(
        waited >= Duration::from_millis(700),
        "closed too early: {waited:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn connection_cap_holds_new_clients_until_a_slot_frees() {
    let app = app_with(|c| {
        c.max_connections = 4;
        c.header_read_timeout_secs = 2;
    })
    .await;
    let addr = app.running.as_ref().unwrap().addr;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    let t = Instant::now();
    // The fifth client is accepted only when a held one times out.
    let ms = healthz_ms(&app).await;
    assert!(
        ms >= 1000,
        "served in {ms} ms although the cap of 4 was taken"
    );
    assert!(t.elapsed() < Duration::from_secs(4));
    app.stop().await;
}

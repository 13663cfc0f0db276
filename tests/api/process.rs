//! The real binary: CLI admin commands, the lock message, SIGTERM, and `kill -9`.

use crate::common::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_videoapi");

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    async fn start(data: &std::path::Path, port: u16) -> Server {
        videoapi::tls::ensure_crypto_provider();
        let child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("VIDEOAPI_ADMIN_PASSWORD", "admin-password")
            .env("VIDEOAPI_DEMO_DELAY_MS", "300")
            .env("VIDEOAPI_POLL_INTERVAL_MS", "50")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server { child, url }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let out = self.child.wait_with_output().unwrap();
                let text = String::from_utf8_lossy(&out.stderr).to_string()
                    + &String::from_utf8_lossy(&out.stdout);
                return (status.code(), text);
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

async fn setup_user(data: &std::path::Path, credits: i64) -> String {
    let port = free_port();
    let first = Server::start(data, port).await;
    // While the server runs, the CLI refuses clearly.
    let out = cli(
        data,
        &[
            "admin",
            "create-user",
            "cliuser",
            "--password",
            "password-123",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked by a running server"));
    first.signal("-TERM");
    let (code, log) = first.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("stopped cleanly"), "{log}");
    assert!(
        log.contains("password: admin-password") || !log.contains("password:"),
        "{log}"
    );

    let out = cli(
        data,
        &[
            "admin",
            "create-user",
            "cliuser",
            "--password",
            "password-123",
            "--credits",
            "100",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        data,
        &[
            "admin",
            "add-credits",
            "cliuser",
            &(credits - 100).to_string(),
            "--note",
            "test top-up",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(data, &["admin", "create-key", "cliuser", "--name", "ci"]);
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        key.starts_with("vga_") && !key.contains(' '),
        "only the key is printed: {key}"
    );
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_users_and_sigterm_stops_cleanly_mid_flight() {
    let data = tempfile::tempdir().unwrap();
    let key = setup_user(data.path(), 1000).await;
    let server = Server::start(data.path(), free_port()).await;
    videoapi::tls::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let resp = http
        .get(format!("{}/v1/account", server.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let (_, v) = status_json(resp).await;
    assert_eq!(v["credits"], 1000);
    let resp = http
        .post(format!("{}/v1/video/generations", server.url))
        .bearer_auth(&key)
        .json(&seed_request())
        .send()
        .await
        .unwrap();
    let (s, created) = status_json(resp).await;
    assert_eq!(s, 200);
    server.signal("-TERM");
    let (code, log) = server.wait();
    assert_eq!(code, Some(0), "{log}");

    // The task resumes and completes on the next start.
    let server = Server::start(data.path(), free_port()).await;
    let id = created["task_id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = http
            .get(format!("{}/v1/video/generations/{id}", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let (_, v) = status_json(resp).await;
        if v["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.signal("-TERM");
    server.wait();
    let out = cli(data.path(), &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_create_survives_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let key = setup_user(data.path(), 1_000_000).await;
    let server = Server::start(data.path(), free_port()).await;
    videoapi::tls::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let body = json!({"model": "video-2.0-mini-text-to-video", "prompt": "durable"});
    // Fire creates from 16 workers; kill -9 the server while they are in flight.
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (http, url, key, body) = (
            http.clone(),
            format!("{}/v1/video/generations", server.url),
            key.clone(),
            body.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for _ in 0..200 {
                match http.post(&url).bearer_auth(&key).json(&body).send().await {
                    Ok(r) if r.status() == 200 => {
                        let v: Value = r.json().await.unwrap_or_default();
                        if let Some(id) = v["task_id"].as_str() {
                            acked.push(id.to_string());
                        }
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.signal("-KILL");
    let _ = server.wait();
    let mut acked = Vec::new();
    for w in workers {
        acked.extend(w.await.unwrap());
    }
    assert!(
        acked.len() > 10,
        "too few creates before the kill: {}",
        acked.len()
    );

    let out = cli(data.path(), &["check"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let server = Server::start(data.path(), free_port()).await;
    for id in &acked {
        let resp = http
            .get(format!("{}/v1/video/generations/{id}", server.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "acknowledged task {id} lost");
    }
    server.signal("-TERM");
    server.wait();
}

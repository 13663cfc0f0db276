//! TestApp: a real server on an ephemeral loopback port over a temporary data dir.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use videoapi::app::{Running, start};
use videoapi::config::Config;

pub struct TestApp {
    pub running: Option<Running>,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub config: Config,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        demo_delay_ms: 150,
        poll_interval_ms: Some(40),
        admin_password: Some("admin-password".into()),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config(dir.path());
        Self::with_config(dir, config).await
    }

    pub async fn with_config(dir: tempfile::TempDir, mut config: Config) -> TestApp {
        videoapi::tls::ensure_crypto_provider();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        config.listen = addr;
        config.public_url = format!("http://{addr}");
        let running = start(config.clone(), listener).await.expect("start");
        TestApp {
            url: running.url(),
            running: Some(running),
            dir,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            config,
        }
    }

    pub fn state(&self) -> &videoapi::app::AppState {
        &self.running.as_ref().expect("running").state
    }

    /// Stop gracefully and start again on the same data dir and port.
    pub async fn restart(&mut self) {
        self.running
            .take()
            .expect("running")
            .stop()
            .await
            .expect("stop");
        self.start_again().await;
    }

    /// Stop without the graceful steps, then start again.
    pub async fn crash_and_restart(&mut self) {
        self.running.take().expect("running").abort().await;
        self.start_again().await;
    }

    /// Start again after the caller stopped the server itself (to time the stop).
    pub async fn start_after_stop(&mut self) {
        assert!(self.running.is_none(), "stop it first");
        self.start_again().await;
    }

    async fn start_again(&mut self) {
        // Drop pooled connections: their server-side tasks hold the old state (and the
        // database file) until they close.
        self.http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let addr: std::net::SocketAddr = self.url.trim_start_matches("http://").parse().unwrap();
        let listener = bind_retry(addr).await;
        let mut last = None;
        for _ in 0..50 {
            match start(self.config.clone(), listener.try_clone().unwrap()).await {
                Ok(r) => {
                    self.running = Some(r);
                    return;
                }
                Err(e) => {
                    // The old instance's last read handles may still hold the file.
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("restart failed: {last:?}");
    }

    /// Stop gracefully; the data dir lives on in the returned guard.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("stop");
        }
        self.dir
    }

    /// A user with `credits` and one API key; returns the key.
    pub async fn user_with_key(&self, name: &str, credits: i64) -> String {
        let st = self.state();
        let (user, _) = st
            .accounts
            .create_user(
                name,
                Some("password-123".into()),
                credits,
                false,
                None,
                "test",
            )
            .await
            .expect("create user");
        let (_, key) = st.accounts.create_key(user.id, "test").await.expect("key");
        key
    }

    pub fn path(&self, p: &str) -> String {
        format!("{}{p}", self.url)
    }

    pub async fn get(&self, key: &str, p: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.path(p))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        status_json(resp).await
    }

    pub async fn post(&self, key: &str, p: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.path(p))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(resp).await
    }

    /// `POST /api/upload` with a multipart form.
    pub async fn upload(&self, key: &str, form: reqwest::multipart::Form) -> (u16, Value) {
        let resp = self
            .http
            .post(self.path("/api/upload"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
            .unwrap();
        status_json(resp).await
    }

    pub async fn create(&self, key: &str, body: Value) -> (u16, Value) {
        self.post(key, "/v1/video/generations", body).await
    }

    pub async fn balance(&self, key: &str) -> i64 {
        let (s, v) = self.get(key, "/v1/account").await;
        assert_eq!(s, 200, "{v}");
        v["credits"].as_i64().unwrap()
    }

    /// Poll the public API until the task reaches `status` (bounded: 20 s).
    pub async fn wait_for(&self, key: &str, task_id: &str, status: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (code, v) = self
                .get(key, &format!("/v1/video/generations/{task_id}"))
                .await;
            assert_eq!(code, 200, "{v}");
            if v["status"] == status {
                return v;
            }
            if v["status"] == "completed" || v["status"] == "failed" {
                panic!(
                    "task ended as {} while waiting for {status}: {v}",
                    v["status"]
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {status}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Violations of the ledger invariants, read from the live database.
    pub fn audit(&self) -> Vec<String> {
        self.state()
            .store
            .read_now(videoapi::store::audit::check)
            .unwrap()
            .violations
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

async fn bind_retry(addr: std::net::SocketAddr) -> std::net::TcpListener {
    for _ in 0..50 {
        if let Ok(l) = std::net::TcpListener::bind(addr) {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot rebind {addr}");
}

pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    (status, v)
}

/// The source document's example request.
pub fn seed_request() -> Value {
    json!({
        "model": "video-2.0-mini-reference-to-video",
        "type": "image-to-video",
        "prompt": "让 @Image1 中的人物自然转身,镜头缓慢推进,光影真实",
        "image_urls": ["https://your-domain.com/uploads/reference.png"],
        "video_urls": [],
        "audio_urls": [],
        "resolution": "720p",
        "duration": "auto",
        "aspect_ratio": "9:16",
        "generate_audio": true,
        "end_user_id": "customer_001"
    })
}

/// Assert the documented error shape and return its code.
pub fn error_code(v: &Value) -> String {
    let e = &v["error"];
    assert!(e["message"].is_string(), "no error.message in {v}");
    assert!(e["type"].is_string(), "no error.type in {v}");
    assert!(e.get("param").is_some(), "no error.param in {v}");
    e["code"].as_str().expect("error.code").to_string()
}

/// A tiny valid PNG.
pub fn png_bytes() -> Vec<u8> {
    vec![
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xDE, 0, 0, 0, 0x0C, 0x49, 0x44,
        0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xCF, 0xC0, 0, 0, 0x03, 0x01, 0x01, 0, 0x18, 0xDD,
        0x8D, 0xB0, 0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ]
}

//! Recovery from the command line, on the real binary: `admin reset-password`,
//! `admin list-users`, and the hints when there is no admin or the admin password
//! environment variable is no longer read.

use serde_json::json;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_videoapi");
const HINT: &str = "videoapi admin create-user NAME --admin";

fn cli(data: &std::path::Path, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("VIDEOAPI_ADMIN_PASSWORD")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// The server binary on a free loopback port; `stop` sends SIGTERM and returns its output.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    async fn start(data: &std::path::Path, admin_password: Option<&str>) -> Serve {
        videoapi::tls::ensure_crypto_provider();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_remove("VIDEOAPI_ADMIN_PASSWORD")
            .env("VIDEOAPI_LOG_FORMAT", "plain")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(pw) = admin_password {
            cmd.env("VIDEOAPI_ADMIN_PASSWORD", pw);
        }
        let child = cmd.spawn().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Serve { child, url }
    }

    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
        text(&self.child.wait_with_output().unwrap())
    }

    /// Log in to the console; the session cookie on success.
    async fn login(&self, user: &str, password: &str) -> Option<String> {
        let resp = reqwest::Client::new()
            .post(format!("{}/console/api/login", self.url))
            .header("X-Requested-With", "videoapi")
            .header("Origin", &self.url)
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap();
        if resp.status() != 200 {
            return None;
        }
        let cookie = resp.headers().get("set-cookie")?.to_str().ok()?;
        Some(cookie.split(';').next()?.to_string())
    }

    async fn overview_status(&self, cookie: &str) -> u16 {
        reqwest::Client::new()
            .get(format!("{}/console/api/overview", self.url))
            .header("Cookie", cookie)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reset_password_recovers_a_lost_admin_and_ends_its_sessions() {
    let data = tempfile::tempdir().unwrap();
    let server = Serve::start(data.path(), Some("first-password")).await;
    let cookie = server
        .login("admin", "first-password")
        .await
        .expect("login");
    assert_eq!(server.overview_status(&cookie).await, 200);
    server.stop();

    // The password is lost: a generated one is printed, sessions end.
    let out = cli(data.path(), &["admin", "reset-password", "admin"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(stdout.contains("1 console session(s) ended"), "{stdout}");
    let generated = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_string();
    assert!(generated.len() >= 16, "{stdout}");

    // A later start with the old environment variable says it was ignored and how to reset.
    let server = Serve::start(data.path(), Some("first-password")).await;
    assert_eq!(
        server.overview_status(&cookie).await,
        401,
        "old session ended"
    );
    assert!(server.login("admin", "first-password").await.is_none());
    assert!(server.login("admin", &generated).await.is_some());
    let log = server.stop();
    assert!(
        log.contains("ignored") && log.contains("videoapi admin reset-password NAME"),
        "{log}"
    );
    assert!(!log.contains(HINT), "an admin exists: {log}");

    // A chosen password works too; nothing is printed in its place.
    let out = cli(
        data.path(),
        &[
            "admin",
            "reset-password",
            "admin",
            "--password",
            "chosen-password-1",
        ],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password: "));
    let server = Serve::start(data.path(), None).await;
    assert!(server.login("admin", "chosen-password-1").await.is_some());
    let log = server.stop();
    assert!(!log.contains("ignored"), "nothing was set: {log}");

    // An unknown user is a clear error.
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["admin", "reset-password", "nobody"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("nobody"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_before_the_first_start_get_the_make_an_admin_hint() {
    let data = tempfile::tempdir().unwrap();
    let out = cli(
        data.path(),
        &[
            "admin",
            "create-user",
            "alice",
            "--password",
            "alice-password",
            "--credits",
            "250",
        ],
    );
    assert!(text(&out).contains(HINT), "{}", text(&out));

    // The server makes no admin on a database with users, and says so.
    let server = Serve::start(data.path(), None).await;
    let log = server.stop();
    assert!(log.contains(HINT), "{log}");

    let out = cli(data.path(), &["admin", "list-users"]);
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    let header = listing.lines().next().unwrap();
    for col in ["name", "admin", "disabled", "credits", "created"] {
        assert!(header.contains(col), "{listing}");
    }
    let alice: Vec<&str> = listing
        .lines()
        .find(|l| l.starts_with("alice "))
        .expect("alice listed")
        .split_whitespace()
        .collect();
    assert_eq!(&alice[..4], ["alice", "no", "no", "250"], "{listing}");
    assert!(alice[4].starts_with("20"), "created date: {listing}");
    assert!(text(&out).contains(HINT), "still no admin: {}", text(&out));

    // Promote the existing user; the hint is gone everywhere.
    cli(
        data.path(),
        &[
            "admin",
            "reset-password",
            "alice",
            "--password",
            "alice-password-2",
            "--admin",
        ],
    );
    let out = cli(data.path(), &["admin", "list-users"]);
    assert!(!text(&out).contains(HINT), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["alice", "yes"])),
        "{}",
        text(&out)
    );
    let out = cli(
        data.path(),
        &[
            "admin",
            "create-user",
            "bob",
            "--password",
            "bob-password-1",
        ],
    );
    assert!(!text(&out).contains(HINT), "{}", text(&out));
    let server = Serve::start(data.path(), None).await;
    assert!(server.login("alice", "alice-password-2").await.is_some());
    let log = server.stop();
    assert!(!log.contains(HINT), "{log}");
}

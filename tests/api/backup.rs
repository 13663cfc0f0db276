//! `videoapi backup` on a running server under a create load, `restore`, then `check`.

use crate::common::*;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_videoapi");

fn cli(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("VIDEOAPI_ADMIN_PASSWORD")
        .output()
        .unwrap()
}

/// The CLI while this process's server runs: off the runtime, which must keep serving
/// the control socket the command talks to.
async fn cli_bg(data: std::path::PathBuf, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&data, &refs)
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[tokio::test]
async fn a_backup_taken_during_a_create_load_restores_and_checks_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    // Makes the server keep a callback signing key, which the backup must carry.
    config.allow_private_callbacks = true;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("loaded", 1_000_000).await;
    // Uploads so the manifest has media to list.
    let form = reqwest::multipart::Form::new().part(
        "files",
        reqwest::multipart::Part::bytes(png_bytes())
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 200, "{v}");

    // A create load on 4 connections, bounded in count and time, while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (http, url, key, stop) = (
            app.http.clone(),
            app.path("/v1/video/generations"),
            key.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut made = 0;
            let until = Instant::now() + Duration::from_secs(10);
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && made < 300
                && Instant::now() < until
            {
                let r = http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&seed_request())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                made += 1;
            }
            made
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backup = tempfile::tempdir().unwrap();
    let dest = backup.path().join("nightly");
    let data = app.data_dir();
    let d = dest.clone();
    let out = tokio::task::spawn_blocking(move || {
        cli(&data, &["backup", d.to_str().unwrap(), "--media"])
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut made = 0;
    for l in load {
        made += l.await.unwrap();
    }
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(", media copied"), "{}", text(&out));
    assert!(!text(&out).contains("MISSING"), "{}", text(&out));
    assert!(made > 0);
    // Into a non-empty directory: refused, nothing overwritten.
    let again = cli_bg(app.data_dir(), &["backup", dest.to_str().unwrap()]).await;
    assert!(!again.status.success(), "{}", text(&again));
    // Restore refuses a database a server holds.
    let busy = cli_bg(app.data_dir(), &["restore", dest.to_str().unwrap()]).await;
    assert!(!busy.status.success(), "{}", text(&busy));
    assert!(text(&busy).contains("stop it first"), "{}", text(&busy));

    let restored = tempfile::tempdir().unwrap();
    let out = cli(restored.path(), &["restore", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("media files copied back") && !text(&out).contains("MISSING"),
        "{}",
        text(&out)
    );
    // Tasks' callback URLs were signed with this key: it travels with the database.
    assert_eq!(
        std::fs::read(restored.path().join("callback.key")).unwrap(),
        std::fs::read(app.data_dir().join("callback.key")).unwrap()
    );
    let out = cli(restored.path(), &["check"]);
    assert!(out.status.success(), "{}", text(&out));
    let report = text(&out);
    assert!(report.contains("ledger OK"), "{report}");
    // The snapshot holds some of the load's tasks (taken mid-load: not necessarily all).
    let tasks: u64 = report
        .split(" tasks")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(tasks > 0 && tasks <= made, "{report} (made {made})");
    assert_eq!(app.audit(), Vec::<String>::new());
}

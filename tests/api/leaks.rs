//! Nothing on disk is exposed: no filesystem path in any answer, and every data file
//! and directory is owner-only.

use crate::common::*;
use reqwest::multipart::{Form, Part};

#[tokio::test]
async fn static_file_errors_never_show_a_filesystem_path() {
    let app = TestApp::new().await;
    let dir = app.data_dir().canonicalize().unwrap();
    let dir = dir.to_string_lossy().to_string();
    for p in [
        "/uploads/..%2Fvideoapi.redb",
        "/uploads/%2e%2e/%2e%2e/etc/passwd",
        "/videos/..%2F..%2F..%2Fetc%2Fpasswd",
        "/uploads/",
        "/videos/nothing-here.mp4",
    ] {
        let resp = app.http.get(app.path(p)).send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        assert!(
            !body.contains(&dir) && !body.contains("/tmp") && !body.contains("videoapi.redb"),
            "{p}: {body}"
        );
        assert!((400..500).contains(&status), "{p}: {status} {body}");
        if status == 404 {
            let v: serde_json::Value = serde_json::from_str(&body).expect("JSON error shape");
            assert_eq!(v["error"]["code"], "not_found", "{p}: {body}");
        }
    }
    app.stop().await;
}

#[cfg(unix)]
#[tokio::test]
async fn data_files_are_0600_and_directories_0700() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::new().await;
    let key = app.user_with_key("modes", 1000).await;
    let form = Form::new().part(
        "files",
        Part::bytes(png_bytes())
            .file_name("image.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = app.create(&key, seed_request()).await;
    app.wait_for(&key, v["task_id"].as_str().unwrap(), "completed")
        .await;

    let mut seen = (0, 0);
    let mut stack = vec![app.data_dir()];
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        seen.0 += 1;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", e.path().display());
                seen.1 += 1;
            }
        }
    }
    // data, uploads, videos, tmp, the upload's folder; the database and the upload.
    assert!(seen.0 >= 5 && seen.1 >= 2, "{seen:?}");
    app.stop().await;
}

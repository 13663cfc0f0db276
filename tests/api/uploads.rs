use crate::common::*;
use reqwest::multipart::{Form, Part};

fn part(bytes: Vec<u8>, name: &str, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap()
}

#[tokio::test]
async fn upload_stores_files_and_serves_them_safely() {
    let app = TestApp::new().await;
    let key = app.user_with_key("uploader", 0).await;
    let form = Form::new()
        .part("files", part(png_bytes(), "image.png", "image/png"))
        .part(
            "files",
            part(
                vec![0xFF, 0xFB, 0x90, 0x00, 1, 2, 3],
                "audio.mp3",
                "audio/mpeg",
            ),
        );
    let (s, v) = app.upload(&key, form).await;
    assert_eq!(s, 200, "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["filename"], "image.png");
    assert_eq!(data[0]["content_type"], "image/png");
    assert_eq!(data[0]["size"], png_bytes().len());
    let key0 = data[0]["key"].as_str().unwrap();
    assert!(
        key0.starts_with("uploads/") && key0.ends_with(".png"),
        "{key0}"
    );
    assert_eq!(data[0]["url"], format!("{}/{key0}", app.url));
    assert_eq!(data[1]["content_type"], "audio/mpeg");

    let resp = app
        .http
        .get(data[0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), png_bytes());
    app.stop().await;
}

#[tokio::test]
async fn non_media_uploads_are_415_and_leave_nothing() {
    let app = TestApp::new().await;
    let key = app.user_with_key("up415", 0).await;
    for (bytes, name, mime) in [
        (
            b"<html><script>alert(1)</script></html>".to_vec(),
            "x.html",
            "text/html",
        ),
        (b"<svg onload=alert(1)>".to_vec(), "x.svg", "image/svg+xml"),
        (b"%PDF-1.4".to_vec(), "x.pdf", "application/pdf"),
        (b"<!doctype html><p>hi".to_vec(), "sneaky.png", "image/png"),
    ] {
        let form = Form::new()
            .part("files", part(png_bytes(), "ok.png", "image/png"))
            .part("files", part(bytes, name, mime));
        let (s, v) = app.upload(&key, form).await;
        assert_eq!(
            (s, error_code(&v).as_str()),
            (415, "unsupported_media_type"),
            "{name}"
        );
    }
    let resp = app
        .http
        .post(app.path("/api/upload"))
        .bearer_auth(&key)
        .body("plain")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_no_stored_uploads(&app);
    app.stop().await;
}

fn assert_no_stored_uploads(app: &TestApp) {
    let uploads = app.data_dir().join("uploads");
    let n = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "uploads left behind");
    let tmp = std::fs::read_dir(app.data_dir().join("tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "partial files left behind");
}

#[tokio::test]
async fn oversized_upload_is_413_and_keeps_no_partial_file_even_chunked() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.max_upload_bytes = 64 * 1024;
    let app = TestApp::with_config(dir, config).await;
    let key = app.user_with_key("big", 0).await;
    let mut big = png_bytes();
    big.resize(200 * 1024, 0);
    let form = Form::new()
        .part("files", part(png_bytes(), "small.png", "image/png"))
        .part("files", part(big.clone(), "big.png", "image/png"));
    let (s, v) = app.upload(&key, form).await;
    assert_eq!((s, error_code(&v).as_str()), (413, "payload_too_large"));
    // Same body as a chunked stream with no Content-Length.
    let boundary = "XBOUNDARYX";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    body.extend_from_slice(&big);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let resp = app
        .http
        .post(app.path("/api/upload"))
        .bearer_auth(&key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    let (s, v) = status_json(resp).await;
    assert_eq!((s, error_code(&v).as_str()), (413, "payload_too_large"));
    assert_no_stored_uploads(&app);
    app.stop().await;
}

#[tokio::test]
async fn upload_needs_a_key_and_a_file() {
    let app = TestApp::new().await;
    let form = Form::new().part("files", part(png_bytes(), "a.png", "image/png"));
    let resp = app
        .http
        .post(app.path("/api/upload"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let key = app.user_with_key("nofile", 0).await;
    let form = Form::new().text("other", "x");
    let (s, v) = app.upload(&key, form).await;
    assert_eq!((s, error_code(&v).as_str()), (422, "invalid_field"));
    app.stop().await;
}

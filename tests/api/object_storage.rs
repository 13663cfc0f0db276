//! `[storage] backend = "s3"` against a real S3-compatible server on loopback (moto's
//! server, `pip install "moto[server]"`): upload, mirror, serve (redirect and proxy),
//! expire, a crash mid-upload, and `storage migrate --to s3`.

use crate::common::*;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use videoapi::clock::{ManualClock, SharedClock};
use videoapi::storage::s3::{BackendChoice, S3Files, S3Settings, Serve};

const BIN: &str = env!("CARGO_BIN_EXE_videoapi");
const DAY_MS: i64 = 86_400_000;
const MIB: usize = 1024 * 1024;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One moto server for one test (nextest runs each test in its own process), killed by
/// its PID when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub async fn start() -> Moto {
        videoapi::tls::ensure_crypto_provider();
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): the S3 tests need it; install it with \
                     `pip install \"moto[server]==5.2.1\"` (bash .ci/run does)"
                )
            });
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(&moto.endpoint).await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// A new bucket and the settings that use it.
    pub async fn bucket(&self, name: &str, serve: Serve) -> S3Settings {
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "create bucket: {}",
            resp.status()
        );
        S3Settings {
            bucket: name.into(),
            region: "us-east-1".into(),
            endpoint: Some(self.endpoint.clone()),
            path_style: true,
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            prefix: "media/".into(),
            serve,
            presign_seconds: 300,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct S3App {
    app: TestApp,
    clock: ManualClock,
    bucket: S3Files,
    _moto: Moto,
}

async fn s3_app(serve: Serve) -> S3App {
    let moto = Moto::start().await;
    let settings = moto.bucket("videoapi-media", serve).await;
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let mut config = test_config(dir.path());
    config.clock = SharedClock::new(clock.clone());
    config.storage_backend = BackendChoice {
        use_s3: true,
        s3: Some(settings.clone()),
    };
    S3App {
        app: TestApp::with_config(dir, config).await,
        clock,
        bucket: S3Files::open(&settings).unwrap(),
        _moto: moto,
    }
}

/// An MP4 head (an `ftyp` box) and `len` bytes in all.
fn mp4_of(len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    v.resize(len, 7);
    v
}

async fn upload(app: &TestApp, key: &str, files: Vec<(&str, &str, Vec<u8>)>) -> (u16, Value) {
    let mut form = Form::new();
    for (name, mime, bytes) in files {
        let p = Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str(mime)
            .unwrap();
        form = form.part("files", p);
    }
    app.upload(key, form).await
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GET `url` expecting a 302 to a presigned URL of the bucket; the bytes behind it.
async fn follow(url: &str, endpoint: &str) -> Vec<u8> {
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302, "{url}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(endpoint), "{location}");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert!(location.contains("X-Amz-Expires=300"), "{location}");
    let obj = reqwest::get(&location).await.unwrap();
    assert_eq!(obj.status(), 200);
    obj.bytes().await.unwrap().to_vec()
}

fn local_media(dir: &std::path::Path) -> usize {
    ["uploads", "videos"]
        .iter()
        .map(|d| {
            walk(&dir.join(d))
                .into_iter()
                .filter(|p| p.is_file())
                .count()
        })
        .sum()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn s3_uploads_stream_to_the_bucket_and_redirect_to_a_presigned_url() {
    let s = s3_app(Serve::Redirect).await;
    let app = &s.app;
    let key = app.user_with_key("s3user", 1000).await;
    // One small file (a single PUT) and one past a part (a multipart upload).
    let big = mp4_of(20 * MIB + 123);
    let (st, v) = upload(
        app,
        &key,
        vec![
            ("a.png", "image/png", png_bytes()),
            ("clip.mp4", "video/mp4", big.clone()),
        ],
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (png, mp4) = (&v["data"][0], &v["data"][1]);
    assert_eq!(mp4["size"], big.len(), "{v}");
    let mut objects = s.bucket.list("uploads").await.unwrap();
    objects.sort();
    let listed: Vec<(String, u64)> = objects.iter().map(|o| (o.0.clone(), o.1)).collect();
    let mut expected = vec![
        (
            png["key"].as_str().unwrap().to_string(),
            png_bytes().len() as u64,
        ),
        (mp4["key"].as_str().unwrap().to_string(), big.len() as u64),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(local_media(&app.data_dir()), 0, "nothing on the local disk");
    assert!(s.bucket.pending_uploads().await.unwrap().is_empty());

    let url = mp4["url"].as_str().unwrap();
    let endpoint = s.bucket.settings().endpoint.clone().unwrap();
    assert_eq!(follow(url, &endpoint).await, big);
    assert_eq!(
        follow(png["url"].as_str().unwrap(), &endpoint).await,
        png_bytes()
    );
    // A file whose key is known only at its end (an `input_reference` is named by its
    // hash) goes through `tmp/` and is copied into place: nothing is left in `tmp/`.
    let storage = &app.state().storage;
    let mut part = storage.create(u64::MAX).await.unwrap();
    part.write(&mp4_of(9 * MIB)).await.unwrap();
    storage.finish(part, "uploads/late/x.mp4").await.unwrap();
    assert_eq!(
        s.bucket.size_of("uploads/late/x.mp4").await.unwrap(),
        Some(9 * MIB as u64)
    );
    assert!(s.bucket.list("tmp").await.unwrap().is_empty());
    assert!(s.bucket.pending_uploads().await.unwrap().is_empty());
    s.bucket.remove("uploads/late/x.mp4").await;
    // A file that was never stored is a 404 in the JSON shape, without asking the bucket.
    let (st, v) = status_json(
        no_redirects()
            .get(format!("{}/uploads/nope/x.png", app.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 404, "{v}");
    // The upload is usable in a create (ownership checks read the bucket).
    let mut body = seed_request();
    body["image_urls"] = serde_json::json!([png["url"]]);
    let rich = app.user_with_key("s3rich", 1000).await;
    let (st, v) = app.create(&rich, body.clone()).await;
    assert_eq!(st, 422, "another account's upload: {v}");
    let (st, v) = app.create(&key, body).await;
    assert_eq!(st, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_proxy_streams_objects_with_ranges_like_local_files() {
    let s = s3_app(Serve::Proxy).await;
    let app = &s.app;
    let key = app.user_with_key("proxied", 0).await;
    let body = mp4_of(3 * MIB);
    let (st, v) = upload(app, &key, vec![("p.mp4", "video/mp4", body.clone())]).await;
    assert_eq!(st, 200, "{v}");
    let url = v["data"][0]["url"].as_str().unwrap().to_string();
    let resp = no_redirects().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(resp.bytes().await.unwrap().to_vec(), body);

    let ranged = |r: &'static str| {
        let url = url.clone();
        async move {
            no_redirects()
                .get(&url)
                .header("range", r)
                .send()
                .await
                .unwrap()
        }
    };
    let resp = ranged("bytes=4-11").await;
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 4-11/{}", body.len()).as_str()
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), body[4..12].to_vec());
    let resp = ranged("bytes=-5").await;
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.bytes().await.unwrap().to_vec(),
        body[body.len() - 5..].to_vec()
    );
    // The MP4 reader (settlement measures a mirrored video) seeks through ranged GETs.
    let clip = crate::simulators::video_lasting_bytes(7);
    let (st, v) = upload(app, &key, vec![("c.mp4", "video/mp4", clip)]).await;
    assert_eq!(st, 200, "{v}");
    let stored = v["data"][0]["key"].as_str().unwrap().to_string();
    let mut reader = app.state().storage.reader(&stored).await.expect("reader");
    let seconds =
        tokio::task::spawn_blocking(move || videoapi::domain::mp4::read_seconds(&mut reader))
            .await
            .unwrap();
    assert_eq!(seconds, Some(7.0));
    let resp = ranged("bytes=99999999-").await;
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{}", body.len()).as_str()
    );
}

#[tokio::test]
async fn s3_mirrored_videos_land_in_the_bucket_and_expire_from_it_with_410() {
    let s = s3_app(Serve::Redirect).await;
    let app = &s.app;
    let key = app.user_with_key("mirror", 1000).await;
    let (st, v) = app.create(&key, seed_request()).await;
    assert_eq!(st, 200, "{v}");
    let id = v["task_id"].as_str().unwrap().to_string();
    let done = app.wait_for(&key, &id, "completed").await;
    let url = done["url"].as_str().unwrap().to_string();
    let videos = s.bucket.list("videos").await.unwrap();
    assert_eq!(videos.len(), 1, "{videos:?}");
    assert!(url.ends_with(&videos[0].0), "{url} vs {videos:?}");
    let endpoint = s.bucket.settings().endpoint.clone().unwrap();
    let bytes = follow(&url, &endpoint).await;
    assert_eq!(bytes.len() as u64, videos[0].1);
    // The OpenAI-style download answers the same way (with the key's auth).
    let resp = no_redirects()
        .get(app.path(&format!("/v1/videos/{id}/content")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(local_media(&app.data_dir()), 0);

    // An upload too, then both expire: the janitor deletes the objects; URLs answer 410.
    let (st, up) = upload(app, &key, vec![("x.png", "image/png", png_bytes())]).await;
    assert_eq!(st, 200, "{up}");
    s.clock.advance_ms(31 * DAY_MS);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!(pass.removed, 2, "{pass:?}");
    assert!(s.bucket.list("videos").await.unwrap().is_empty());
    assert!(s.bucket.list("uploads").await.unwrap().is_empty());
    for u in [url.as_str(), up["data"][0]["url"].as_str().unwrap()] {
        let (st, v) = status_json(no_redirects().get(u).send().await.unwrap()).await;
        assert_eq!(st, 410, "{v}");
        assert_eq!(error_code(&v), "file_expired");
    }
    let (st, v) = app.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(st, 410, "{v}");
}

#[tokio::test]
async fn s3_purge_by_owner_deletes_the_objects() {
    let s = s3_app(Serve::Redirect).await;
    let app = &s.app;
    let key = app.user_with_key("purged", 0).await;
    let (st, v) = upload(
        app,
        &key,
        vec![
            ("a.png", "image/png", png_bytes()),
            ("b.png", "image/png", png_bytes()),
        ],
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.bucket.list("uploads").await.unwrap().len(), 2);
    let mut admin = crate::console::Console::login(app, "admin", "admin-password").await;
    let (_, list) = admin.get("/console/api/admin/storage").await;
    let id = list["users"][0]["user_id"].as_u64().unwrap();
    let (st, p) = admin
        .post(
            &format!("/console/api/admin/users/{id}/storage/purge"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["files"], 2);
    assert!(s.bucket.list("uploads").await.unwrap().is_empty());
    let (st, _) = status_json(
        no_redirects()
            .get(v["data"][0]["url"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 410);
}

/// A multipart body whose first `sent` bytes of one MP4 file go out at once; the rest
/// waits for `release` (never, if the sender is dropped: the body then fails).
fn stalled_body(boundary: &str, sent: usize) -> (reqwest::Body, tokio::sync::oneshot::Sender<()>) {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    );
    let mut first = head.into_bytes();
    first.extend_from_slice(&mp4_of(sent));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(bytes::Bytes::from(
        first,
    ))])
    .chain(futures_util::stream::once(async move {
        let _ = rx.await;
        Err(std::io::Error::other("client went away"))
    }));
    (reqwest::Body::wrap_stream(stream), tx)
}

use futures_util::StreamExt;

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn s3_client_gone_mid_upload_leaves_no_object_and_aborts_the_multipart_upload() {
    let s = s3_app(Serve::Redirect).await;
    let app = &s.app;
    let key = app.user_with_key("quitter", 0).await;
    let boundary = "XyZboundary";
    let (body, release) = stalled_body(boundary, 12 * MIB);
    let req = app
        .http
        .post(app.path("/api/upload"))
        .bearer_auth(&key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send();
    let call = tokio::spawn(req);
    // The server has started a multipart upload with the first part...
    wait_until("a multipart upload in the bucket", || async {
        !s.bucket.pending_uploads().await.unwrap().is_empty()
    })
    .await;
    // ...then the client goes away mid-body.
    drop(release);
    let _ = call.await;
    wait_until("the multipart upload aborted", || async {
        s.bucket.pending_uploads().await.unwrap().is_empty()
    })
    .await;
    assert!(s.bucket.list("uploads").await.unwrap().is_empty());
    assert!(s.bucket.list("tmp").await.unwrap().is_empty());
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["files"], 0, "{acct}");
}

fn s3_env(cmd: &mut Command, s: &S3Settings) {
    cmd.env("VIDEOAPI_STORAGE_BUCKET", &s.bucket)
        .env("VIDEOAPI_STORAGE_ENDPOINT", s.endpoint.as_deref().unwrap())
        .env("VIDEOAPI_STORAGE_PATH_STYLE", "true")
        .env("VIDEOAPI_STORAGE_PREFIX", &s.prefix)
        .env("VIDEOAPI_STORAGE_ACCESS_KEY_ID", &s.access_key_id)
        .env("VIDEOAPI_STORAGE_SECRET_ACCESS_KEY", &s.secret_access_key);
}

#[tokio::test]
async fn s3_server_killed_mid_upload_leaves_no_object_and_the_sweep_aborts_the_upload() {
    videoapi::tls::ensure_crypto_provider();
    let moto = Moto::start().await;
    let settings = moto.bucket("crash-media", Serve::Redirect).await;
    let bucket = S3Files::open(&settings).unwrap();
    let data = tempfile::tempdir().unwrap();
    // A user and key made with the CLI before the server holds the database.
    let cli = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&[
        "admin",
        "create-user",
        "crash",
        "--password",
        "password-123",
    ]);
    let user_key = cli(&["admin", "create-key", "crash"]).trim().to_string();
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("VIDEOAPI_ADMIN_PASSWORD", "admin-password")
        .env("VIDEOAPI_STORAGE_BACKEND", "s3")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    s3_env(&mut cmd, &settings);
    let mut child = cmd.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    wait_until("the server up", || async {
        reqwest::get(format!("{url}/healthz")).await.is_ok()
    })
    .await;
    let boundary = "CrashBoundary";
    let (body, _release) = stalled_body(boundary, 12 * MIB);
    let call = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{url}/api/upload"))
            .bearer_auth(&user_key)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send(),
    );
    wait_until("a multipart upload in the bucket", || async {
        !bucket.pending_uploads().await.unwrap().is_empty()
    })
    .await;
    // kill -9: no Drop, no abort.
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = call.await;
    assert!(
        bucket.list("uploads").await.unwrap().is_empty(),
        "an incomplete multipart upload is no object"
    );
    let pending = bucket.pending_uploads().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");

    // The next start's sweep (a day later by the server clock) aborts it.
    let clock = ManualClock::starting_now();
    clock.advance_ms(DAY_MS + 60_000);
    let mut config = test_config(data.path());
    config.clock = SharedClock::new(clock);
    config.storage_backend = BackendChoice {
        use_s3: true,
        s3: Some(settings.clone()),
    };
    let app = TestApp::with_config(tempfile::tempdir().unwrap(), config).await;
    assert_eq!(app.state().storage.sweep_abandoned().await.unwrap(), 1);
    assert!(bucket.pending_uploads().await.unwrap().is_empty());
    assert!(bucket.list("").await.unwrap().is_empty());
    drop(data);
}

#[tokio::test]
async fn storage_migrate_moves_local_files_and_the_same_urls_serve_them_after_the_switch() {
    let moto = Moto::start().await;
    let settings = moto.bucket("migrated", Serve::Redirect).await;
    let bucket = S3Files::open(&settings).unwrap();
    // A local server with two uploads and a mirrored video.
    let mut app = TestApp::new().await;
    let key = app.user_with_key("mover", 1000).await;
    let (st, up) = upload(
        &app,
        &key,
        vec![
            ("a.png", "image/png", png_bytes()),
            ("m.mp4", "video/mp4", mp4_of(9 * MIB)),
        ],
    )
    .await;
    assert_eq!(st, 200, "{up}");
    let (_, v) = app.create(&key, seed_request()).await;
    let id = v["task_id"].as_str().unwrap().to_string();
    let done = app.wait_for(&key, &id, "completed").await;
    let urls: Vec<String> = vec![
        up["data"][0]["url"].as_str().unwrap().into(),
        up["data"][1]["url"].as_str().unwrap().into(),
        done["url"].as_str().unwrap().into(),
    ];
    let mut originals = Vec::new();
    for u in &urls {
        originals.push(
            reqwest::get(u)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec(),
        );
    }
    let dir = app.dir.path().to_path_buf();
    let config = app.config.clone();
    // Pooled connections hold the server's state (and the database) until they close.
    app.http = reqwest::Client::new();
    app.running.take().unwrap().stop().await.unwrap();

    let migrate = async |extra: &[&str]| {
        let mut last = String::new();
        // The stopped server's last handles may hold the database for a moment.
        for _ in 0..50 {
            let mut cmd = Command::new(BIN);
            cmd.arg("--data-dir")
                .arg(&dir)
                .args(["storage", "migrate", "--to", "s3"])
                .args(extra);
            s3_env(&mut cmd, &settings);
            let out = cmd.output().unwrap();
            last = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return last;
            }
            assert!(last.contains("locked"), "{last}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("migrate kept failing: {last}");
    };
    // Interrupted after one file: simulate by putting one object there first, with the
    // right size; the run skips it and copies the rest, keeping local copies.
    let first = up["data"][0]["key"].as_str().unwrap();
    bucket.put_file(first, &dir.join(first)).await.unwrap();
    let out = migrate(&["--keep-local"]).await;
    assert!(out.contains("2 copied"), "{out}");
    assert!(out.contains("1 already there, 0 failed"), "{out}");
    assert_eq!(local_media(&dir), 3);
    // Again, moving: everything is there already; local copies go.
    let out = migrate(&[]).await;
    assert!(
        out.contains("0 copied (0 bytes), 3 already there, 0 failed"),
        "{out}"
    );
    assert_eq!(local_media(&dir), 0);
    let out = migrate(&[]).await;
    assert!(out.contains("0 copied (0 bytes), 0 already there"), "{out}");

    // The same URLs, now from the bucket.
    let mut config = config;
    config.storage_backend = BackendChoice {
        use_s3: true,
        s3: Some(settings.clone()),
    };
    let mut app = app;
    app.config = config;
    app.start_after_stop().await;
    let endpoint = settings.endpoint.clone().unwrap();
    for (u, want) in urls.iter().zip(&originals) {
        assert_eq!(&follow(u, &endpoint).await, want, "{u}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uploads_reach_upstreams_inline_and_their_videos_are_mirrored_to_the_bucket() {
    use crate::providers::{Spec, channel, create, expect_completed, model, upload_png};
    use serde_json::json;
    let s = s3_app(Serve::Redirect).await;
    let app = &s.app;
    let sim = crate::simulators::start(crate::simulators::openai::OpenAiSim::new("sk-oai")).await;
    let spec = Spec {
        kind: "openai-videos",
        base_path: "/v1",
        key: "sk-oai",
        secret: "",
        settings: json!({}),
        upstream_model: "sora-2",
        request: json!({}),
        failed_code: "",
        blocked_code: "",
        idempotent: false,
    };
    channel(app, "chan-a", &spec, &format!("{}/v1", sim.url)).await;
    model(app, "m", &[("chan-a", "sora-2", 0)]).await;
    let key = app.user_with_key("upstream", 100_000).await;
    let image = upload_png(app, &key).await;
    // The channel sends the image as a file: read from the bucket, not the local disk.
    let body = json!({"model": "m", "type": "image-to-video", "prompt": "@Image1 waves", "image_urls": [image], "aspect_ratio": "9:16", "duration": 12, "generate_audio": true});
    let id = create(app, &key, body).await;
    // Completed, and the gateway's URL (a redirect to the bucket) gives upstream's bytes.
    expect_completed(app, &key, &id, &sim).await;
    let sent = sim.upstream.creates()[0].clone();
    assert_eq!(sent["input_reference"]["content_type"], "image/png");
    assert_eq!(sent["input_reference"]["size"], png_bytes().len());
    assert_eq!(s.bucket.list("videos").await.unwrap().len(), 1);
    assert_eq!(local_media(&app.data_dir()), 0);
}

#[test]
fn an_incomplete_s3_config_stops_the_start_naming_the_key() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("VIDEOAPI_STORAGE_BACKEND", "s3")
        .env("VIDEOAPI_STORAGE_BUCKET", "media")
        .env_remove("VIDEOAPI_STORAGE_ACCESS_KEY_ID")
        .env_remove("VIDEOAPI_STORAGE_ACCESS_KEY_ID_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("storage.access_key_id"), "{err}");
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["storage", "migrate", "--to", "s3"])
        .env_remove("VIDEOAPI_STORAGE_BUCKET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("storage.bucket"), "{err}");
}

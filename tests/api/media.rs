//! Stored media: ownership, retention with the janitor, quotas and the free-space guard.

use crate::common::*;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use videoapi::clock::{Clock, ManualClock, SharedClock};
use videoapi::storage::guard::{FixedFreeSpace, SharedProbe};

const DAY_MS: i64 = 86_400_000;
const GIB: u64 = 1024 * 1024 * 1024;

struct Media {
    app: TestApp,
    clock: ManualClock,
    disk: FixedFreeSpace,
}

async fn media_app(tweak: impl FnOnce(&mut videoapi::config::Config)) -> Media {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let disk = FixedFreeSpace::new(100 * GIB);
    let mut config = test_config(dir.path());
    config.clock = SharedClock::new(clock.clone());
    config.free_space_probe = SharedProbe::new(disk.clone());
    tweak(&mut config);
    Media {
        app: TestApp::with_config(dir, config).await,
        clock,
        disk,
    }
}

async fn upload(app: &TestApp, key: &str, files: usize) -> (u16, Value) {
    let mut form = Form::new();
    for i in 0..files {
        let p = Part::bytes(png_bytes())
            .file_name(format!("f{i}.png"))
            .mime_str("image/png")
            .unwrap();
        form = form.part("files", p);
    }
    app.upload(key, form).await
}

async fn fetch(app: &TestApp, url: &str) -> (u16, Value) {
    status_json(app.http.get(url).send().await.unwrap()).await
}

fn request_with_image(url: &str) -> Value {
    let mut body = seed_request();
    body["image_urls"] = json!([url]);
    body
}

#[tokio::test]
async fn expired_upload_is_removed_by_the_janitor_and_answers_410() {
    let m = media_app(|_| {}).await;
    let app = &m.app;
    let key = app.user_with_key("keeper", 0).await;
    let (s, v) = upload(app, &key, 1).await;
    assert_eq!(s, 200, "{v}");
    let f = &v["data"][0];
    let url = f["url"].as_str().unwrap().to_string();
    let expires = f["expires_at"].as_i64().expect("expires_at");
    let now_s = m.clock.now_ms() / 1000;
    assert!(
        (expires - (now_s + 7 * 86_400)).abs() <= 1,
        "{expires} vs {now_s}"
    );
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["upload_files"], 1, "{acct}");
    assert_eq!(acct["storage"]["bytes"], png_bytes().len(), "{acct}");

    // A day early: nothing goes.
    m.clock.advance_ms(6 * DAY_MS);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!(pass.removed, 0);
    assert_eq!(fetch(app, &url).await.0, 200);

    m.clock.advance_ms(DAY_MS + 1000);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!(pass.removed, 1, "{pass:?}");
    let (s, v) = fetch(app, &url).await;
    assert_eq!(s, 410, "{v}");
    assert_eq!(error_code(&v), "file_expired");
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["files"], 0, "{acct}");
    // A create naming it is refused before anything is charged.
    let (s, v) = app.create(&key, request_with_image(&url)).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_code(&v), "upload_not_found");
}

#[tokio::test]
async fn an_unfinished_task_keeps_its_uploads_until_it_ends() {
    // The demo takes a minute: the task stays unfinished for the whole test.
    let m = media_app(|c| c.demo_delay_ms = 60_000).await;
    let app = &m.app;
    let key = app.user_with_key("busy", 1000).await;
    let (_, v) = upload(app, &key, 1).await;
    let url = v["data"][0]["url"].as_str().unwrap().to_string();
    let (s, v) = app.create(&key, request_with_image(&url)).await;
    assert_eq!(s, 200, "{v}");

    m.clock.advance_ms(8 * DAY_MS);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!((pass.removed, pass.held), (0, 1), "{pass:?}");
    assert_eq!(fetch(app, &url).await.0, 200);
}

#[tokio::test]
async fn another_accounts_upload_cannot_be_referenced() {
    let m = media_app(|_| {}).await;
    let app = &m.app;
    let alice = app.user_with_key("alice", 1000).await;
    let bob = app.user_with_key("bob", 1000).await;
    let (_, v) = upload(app, &alice, 1).await;
    let url = v["data"][0]["url"].as_str().unwrap().to_string();
    let (s, v) = app.create(&bob, request_with_image(&url)).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(error_code(&v), "upload_not_found");
    assert_eq!(v["error"]["param"], "image_urls[0]");
    assert_eq!(app.balance(&bob).await, 1000);
    let (s, v) = app.create(&alice, request_with_image(&url)).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn expired_video_answers_410_and_the_task_keeps_its_record() {
    let m = media_app(|c| {
        c.retention
            .models
            .insert("video-2.0-mini-reference-to-video".into(), Some(2 * DAY_MS));
    })
    .await;
    let app = &m.app;
    let key = app.user_with_key("viewer", 1000).await;
    let (s, v) = app.create(&key, seed_request()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["task_id"].as_str().unwrap().to_string();
    let done = app.wait_for(&key, &id, "completed").await;
    let url = done["url"].as_str().unwrap().to_string();
    let expires = done["expires_at"].as_i64().expect("expires_at");
    let now_s = m.clock.now_ms() / 1000;
    assert!((expires - (now_s + 2 * 86_400)).abs() <= 2, "{done}");
    assert_eq!(fetch(app, &url).await.0, 200);
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["video_files"], 1, "{acct}");

    m.clock.advance_ms(2 * DAY_MS + 5000);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!(pass.removed, 1, "{pass:?}");
    let (s, v) = fetch(app, &url).await;
    assert_eq!(s, 410, "{v}");
    assert_eq!(error_code(&v), "file_expired");
    let (s, again) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(again["status"], "completed");
    assert_eq!(again["url"], url.as_str());
    let (s, v) = app.get(&key, &format!("/v1/videos/{id}/content")).await;
    assert_eq!(s, 410, "{v}");
}

#[tokio::test]
async fn the_janitor_works_in_bounded_passes_and_resumes_after_a_restart() {
    let mut m = media_app(|_| {}).await;
    let key = m.app.user_with_key("many", 0).await;
    let (s, v) = upload(&m.app, &key, 5).await;
    assert_eq!(s, 200, "{v}");
    m.clock.advance_ms(8 * DAY_MS);
    let pass = m.app.state().janitor.run_once(2).await.unwrap();
    assert_eq!((pass.removed, pass.more), (2, true), "{pass:?}");
    m.app.crash_and_restart().await;
    let pass = m.app.state().janitor.run_once(100).await.unwrap();
    assert_eq!((pass.removed, pass.more), (3, false), "{pass:?}");
    for f in v["data"].as_array().unwrap() {
        assert_eq!(fetch(&m.app, f["url"].as_str().unwrap()).await.0, 410);
    }
    let (_, acct) = m.app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["files"], 0, "{acct}");
}

#[tokio::test]
async fn over_the_storage_quota_is_413_with_the_usage() {
    let m = media_app(|c| c.quotas.default.files = Some(2)).await;
    let app = &m.app;
    let key = app.user_with_key("full", 0).await;
    assert_eq!(upload(app, &key, 2).await.0, 200);
    let (s, v) = upload(app, &key, 1).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(error_code(&v), "storage_quota_exceeded");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("in 2 file(s)"), "{msg}");
    // A batch that would cross the quota keeps nothing.
    let other = app.user_with_key("other", 0).await;
    let (s, v) = upload(app, &other, 3).await;
    assert_eq!(s, 413, "{v}");
    let (_, acct) = app.get(&other, "/v1/account").await;
    assert_eq!(acct["storage"]["files"], 0, "{acct}");
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["quota_files"], 2, "{acct}");
    assert_eq!(acct["storage"]["upload_files"], 2, "{acct}");
}

#[tokio::test]
async fn low_disk_refuses_uploads_with_507_and_pauses_mirroring() {
    let m = media_app(|_| {}).await;
    let app = &m.app;
    let key = app.user_with_key("lowdisk", 1000).await;
    m.disk.set(100 * 1024 * 1024);
    let (s, v) = upload(app, &key, 1).await;
    assert_eq!(s, 507, "{v}");
    assert_eq!(error_code(&v), "insufficient_storage");
    let metrics = app
        .http
        .get(app.path("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("videoapi_storage_low 1"), "{metrics}");
    assert!(metrics.contains("videoapi_storage_free_bytes"), "{metrics}");

    let (s, v) = app.create(&key, seed_request()).await;
    assert_eq!(s, 200, "{v}");
    let id = v["task_id"].as_str().unwrap().to_string();
    // Well past the demo's delay, the task is still waiting to be mirrored, not failed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut last = Value::Null;
    while std::time::Instant::now() < deadline {
        let (_, t) = app.get(&key, &format!("/v1/video/generations/{id}")).await;
        assert!(
            t["status"] == "pending" || t["status"] == "processing",
            "{t}"
        );
        last = t;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["status"], "processing", "{last}");
    m.disk.set(100 * GIB);
    app.wait_for(&key, &id, "completed").await;
    assert_eq!(upload(app, &key, 1).await.0, 200);
}

#[tokio::test]
async fn below_the_critical_watermark_the_soonest_to_expire_go_first() {
    let m = media_app(|c| {
        c.retention
            .models
            .insert("video-2.0-mini-reference-to-video".into(), None);
    })
    .await;
    let app = &m.app;
    let key = app.user_with_key("crit", 0).await;
    let (_, first) = upload(app, &key, 1).await;
    m.clock.advance_ms(DAY_MS);
    let (_, second) = upload(app, &key, 1).await;
    m.disk.set(10 * 1024 * 1024);
    // Nothing is due, but the disk is critical: the soonest to expire goes; then the
    // guard sees room again (the probe is raised as if the deletion freed it).
    let pass = app.state().janitor.run_once(1).await.unwrap();
    assert_eq!(pass.removed, 1, "{pass:?}");
    assert_eq!(
        fetch(app, first["data"][0]["url"].as_str().unwrap())
            .await
            .0,
        410
    );
    m.disk.set(100 * GIB);
    let pass = app.state().janitor.run_once(10).await.unwrap();
    assert_eq!(pass.removed, 0, "{pass:?}");
    assert_eq!(
        fetch(app, second["data"][0]["url"].as_str().unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn the_operator_sees_storage_by_user_sets_a_quota_and_purges() {
    let m = media_app(|_| {}).await;
    let app = &m.app;
    let key = app.user_with_key("hoarder", 0).await;
    let (_, up) = upload(app, &key, 2).await;
    let mut admin = crate::console::Console::login(app, "admin", "admin-password").await;
    let (s, v) = admin.get("/console/api/admin/storage").await;
    assert_eq!(s, 200, "{v}");
    let row = v["users"][0].clone();
    assert_eq!(row["username"], "hoarder", "{v}");
    assert_eq!(row["storage"]["upload_files"], 2, "{v}");
    assert_eq!(v["settings"]["upload_retention_secs"], 7 * 86_400, "{v}");
    let id = row["user_id"].as_u64().unwrap();

    let (s, q) = admin
        .put(
            &format!("/console/api/admin/users/{id}/storage-quota"),
            json!({"quota_files": 2, "quota_bytes": null}),
        )
        .await;
    assert_eq!(s, 200, "{q}");
    assert_eq!(q["own_quota"], true);
    let (s, v) = upload(app, &key, 1).await;
    assert_eq!((s, error_code(&v)), (413, "storage_quota_exceeded".into()));

    let (s, p) = admin
        .post(
            &format!("/console/api/admin/users/{id}/storage/purge"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["files"], 2);
    assert_eq!(
        fetch(app, up["data"][0]["url"].as_str().unwrap()).await.0,
        410
    );
    assert_eq!(upload(app, &key, 1).await.0, 200);
    // Not for customers.
    app.user_with_key("customer", 0).await;
    let mut customer = crate::console::Console::login(app, "customer", "password-123").await;
    assert_eq!(customer.get("/console/api/admin/storage").await.0, 403);
}

#[tokio::test]
async fn files_stored_before_records_existed_are_adopted_once() {
    let dir = tempfile::tempdir().unwrap();
    // As an older version left them: files on disk, no records.
    let old = dir.path().join("uploads/legacy01");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("a.png"), png_bytes()).unwrap();
    let mut config = test_config(dir.path());
    let clock = ManualClock::starting_now();
    config.clock = SharedClock::new(clock.clone());
    let app = TestApp::with_config(dir, config).await;
    let adopted = app.state().storage.adopt_unrecorded().await.unwrap();
    // The janitor's start may have done it already; either way it is recorded once.
    assert!(adopted <= 1);
    assert_eq!(app.state().storage.adopt_unrecorded().await.unwrap(), 0);
    let rec = app
        .state()
        .storage
        .record("uploads/legacy01/a.png")
        .await
        .unwrap()
        .expect("adopted");
    assert_eq!(rec.owner, 0);
    // Anyone may still reference it; it expires one period after the upgrade.
    let key = app.user_with_key("old", 1000).await;
    let url = format!("{}/uploads/legacy01/a.png", app.url);
    assert_eq!(app.create(&key, request_with_image(&url)).await.0, 200);
    let expires = rec.expires_at_ms.unwrap();
    assert!(
        (expires - (clock.now_ms() + 7 * DAY_MS)).abs() < 60_000,
        "{rec:?}"
    );
}

/// Latency percentiles (ms) of the probe's samples.
fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p) as usize];
    (at(0.5), at(0.99), *ms.last().unwrap())
}

/// Fetch one file over and over for `dur` (or until `stop`), returning each request's
/// latency in ms.
async fn probe(
    http: reqwest::Client,
    url: String,
    dur: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<f64> {
    let until = std::time::Instant::now() + dur;
    let mut out = Vec::new();
    while std::time::Instant::now() < until
        && out.len() < 1_000_000
        && !stop.load(std::sync::atomic::Ordering::Relaxed)
    {
        let t = std::time::Instant::now();
        let r = http
            .get(&url)
            .send()
            .await
            .expect("the probe's request failed");
        assert_eq!(r.status(), 200);
        r.bytes().await.expect("the probe's body failed");
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

/// The janitor draining a backlog of expired files while a file is served: the figures
/// for `scripts/janitor-bench.sh` (JANITOR_FILES=100000); the suite runs 2 000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn janitor_drains_a_backlog_while_serving_stays_flat() {
    let n: usize = std::env::var("JANITOR_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let m = media_app(|c| {
        c.quotas.default = Default::default();
        // Only the passes below drain the backlog, so the figures are theirs alone.
        c.janitor_timer = false;
    })
    .await;
    let app = &m.app;
    let key = app.user_with_key("backlog", 0).await;
    let owner = app
        .state()
        .accounts
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "backlog")
        .unwrap()
        .id;
    // Files as uploads leave them: one folder each, recorded in batches.
    let t = std::time::Instant::now();
    let root = app.data_dir();
    let st = &app.state().storage;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let keys: Vec<String> = chunk
            .iter()
            .map(|i| format!("uploads/bl{i:07}/f.png"))
            .collect();
        for k in &keys {
            let p = root.join(k);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, png_bytes()).unwrap();
        }
        let new: Vec<videoapi::storage::NewUpload> = keys
            .iter()
            .map(|k| videoapi::storage::NewUpload {
                key: k,
                size: png_bytes().len() as u64,
            })
            .collect();
        st.record_uploads(owner, &new).await.unwrap();
    }
    println!("setup: {n} files in {:.1} s", t.elapsed().as_secs_f64());
    m.clock.advance_ms(8 * DAY_MS);
    // A live file to serve throughout (uploaded after the jump: not expired).
    let (_, v) = upload(app, &key, 1).await;
    let url = v["data"][0]["url"].as_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let before = probe(
        app.http.clone(),
        url.clone(),
        std::time::Duration::from_secs(2),
        stop.clone(),
    )
    .await;
    let during = tokio::spawn(probe(
        app.http.clone(),
        url.clone(),
        std::time::Duration::from_secs(600),
        stop.clone(),
    ));
    let t = std::time::Instant::now();
    let (mut removed, mut passes) = (0, 0);
    loop {
        let p = app
            .state()
            .janitor
            .run_once(videoapi::storage::janitor::BATCH)
            .await
            .unwrap();
        removed += p.removed;
        passes += 1;
        if !p.more {
            break;
        }
        assert!(passes <= n / 100 + 10, "no progress after {removed} files");
    }
    let drain = t.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let during = during.await.unwrap();
    let (b50, b99, bmax) = percentiles(before);
    let samples = during.len();
    let (d50, d99, dmax) = percentiles(during);
    println!(
        "janitor: {removed} files in {passes} passes, {:.2} s ({:.0} files/s)",
        drain.as_secs_f64(),
        removed as f64 / drain.as_secs_f64()
    );
    println!("serving before: p50 {b50:.2} ms, p99 {b99:.2} ms, max {bmax:.2} ms");
    println!(
        "serving during: p50 {d50:.2} ms, p99 {d99:.2} ms, max {dmax:.2} ms ({samples} requests)"
    );
    assert_eq!(removed, n);
    // Flat: the median stays within a few times the idle one (a generous bound for a
    // shared 2-core machine); nothing stalls for a whole second.
    assert!(d50 <= (b50 * 5.0).max(5.0), "p50 {b50:.2} -> {d50:.2} ms");
    assert!(
        dmax < 1000.0,
        "a request took {dmax:.0} ms during the drain"
    );
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["upload_files"], 1, "{acct}");
}

#[tokio::test]
async fn saved_retention_applies_to_new_uploads_and_keeps_old_expiries() {
    let m = media_app(|_| {}).await;
    let app = &m.app;
    let key = app.user_with_key("retained", 0).await;
    let (_, before) = upload(app, &key, 1).await;
    let old_expiry = before["data"][0]["expires_at"].as_i64().unwrap();
    let mut admin = crate::console::Console::login(app, "admin", "admin-password").await;

    // Bad periods are 422 naming the field; nothing is saved.
    let (s, v) = admin
        .put(
            "/console/api/admin/storage/retention",
            json!({"uploads": "7 days", "videos": "30d"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (422, Some("uploads")),
        "{v}"
    );
    let (s, v) = admin
        .put(
            "/console/api/admin/storage/retention",
            json!({"uploads": "1d", "videos": "30d", "model_retention": {"m1": "soon"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["param"].as_str()),
        (422, Some("model_retention.m1")),
        "{v}"
    );

    let (s, v) = admin
        .put(
            "/console/api/admin/storage/retention",
            json!({"uploads": "12h", "videos": "0"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["upload_retention_secs"], 12 * 3600, "{v}");
    assert_eq!(v["video_retention_secs"], Value::Null, "{v}");
    assert_eq!(v["retention_saved"], true, "{v}");
    let (_, page) = admin.get("/console/api/admin/storage").await;
    assert_eq!(
        page["settings"]["upload_retention_secs"],
        12 * 3600,
        "{page}"
    );

    // A new upload expires 12 h from now; the old one keeps its recorded expiry.
    m.clock.advance_ms(1000);
    let now_s = m.clock.now_ms() / 1000;
    let (_, after) = upload(app, &key, 1).await;
    let new_expiry = after["data"][0]["expires_at"].as_i64().unwrap();
    assert!((new_expiry - (now_s + 12 * 3600)).abs() <= 1, "{after}");
    m.clock.advance_ms(DAY_MS);
    let pass = app.state().janitor.run_once(100).await.unwrap();
    assert_eq!(pass.removed, 1, "{pass:?}");
    assert_eq!(
        fetch(app, after["data"][0]["url"].as_str().unwrap())
            .await
            .0,
        410
    );
    assert_eq!(
        fetch(app, before["data"][0]["url"].as_str().unwrap())
            .await
            .0,
        200,
        "expires at {old_expiry}"
    );

    // Not for customers.
    let mut customer = crate::console::Console::login(app, "retained", "password-123").await;
    let (s, _) = customer
        .put(
            "/console/api/admin/storage/retention",
            json!({"uploads": "1d", "videos": "1d"}),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn a_group_quota_saved_in_the_console_applies_under_an_own_quota() {
    let m = media_app(|c| c.quotas.default.files = Some(10)).await;
    let app = &m.app;
    let key = app.user_with_key("grouped", 0).await;
    let mut admin = crate::console::Console::login(app, "admin", "admin-password").await;
    let (s, v) = admin
        .put(
            "/console/api/admin/pricing-groups/team",
            json!({"percent": 100}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, users) = admin.get("/console/api/admin/users?q=grouped").await;
    let id = users[0]["id"].as_u64().unwrap();
    let (s, v) = admin
        .patch(
            &format!("/console/api/admin/users/{id}"),
            json!({"pricing_group": "team"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = admin
        .put(
            "/console/api/admin/storage/group-quotas/team",
            json!({"quota_files": 1, "quota_bytes": null}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["quota_files"].as_u64(), v["source"].as_str()),
        (Some(1), Some("console"))
    );
    let (_, page) = admin.get("/console/api/admin/storage").await;
    let row = page["group_quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "team")
        .cloned()
        .unwrap();
    assert_eq!(row["quota_files"], 1, "{page}");
    assert_eq!(page["default_quota"]["quota_files"], 10, "{page}");

    assert_eq!(upload(app, &key, 1).await.0, 200);
    let (s, v) = upload(app, &key, 1).await;
    assert_eq!((s, error_code(&v)), (413, "storage_quota_exceeded".into()));
    // Own > group: an own quota lets the account past its group's.
    admin
        .put(
            &format!("/console/api/admin/users/{id}/storage-quota"),
            json!({"quota_files": 5}),
        )
        .await;
    assert_eq!(upload(app, &key, 1).await.0, 200);
    // Back to the default once both are removed.
    admin
        .put(
            &format!("/console/api/admin/users/{id}/storage-quota"),
            json!({"inherit": true}),
        )
        .await;
    let (s, v) = admin
        .put(
            "/console/api/admin/storage/group-quotas/team",
            json!({"inherit": true}),
        )
        .await;
    assert_eq!((s, v["source"].as_str()), (200, Some("default")), "{v}");
    let (_, acct) = app.get(&key, "/v1/account").await;
    assert_eq!(acct["storage"]["quota_files"], 10, "{acct}");

    // Unknown groups are 404, customers 403.
    let (s, _) = admin
        .put(
            "/console/api/admin/storage/group-quotas/nope",
            json!({"quota_files": 1}),
        )
        .await;
    assert_eq!(s, 404);
    let mut customer = crate::console::Console::login(app, "grouped", "password-123").await;
    let (s, _) = customer
        .put(
            "/console/api/admin/storage/group-quotas/team",
            json!({"quota_files": 1}),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn the_customer_overview_shows_storage_used_against_the_quota() {
    let m = media_app(|c| c.quotas.default.files = Some(10)).await;
    let app = &m.app;
    let key = app.user_with_key("viewer", 0).await;
    assert_eq!(upload(app, &key, 2).await.0, 200);
    let mut customer = crate::console::Console::login(app, "viewer", "password-123").await;
    let (s, v) = customer.get("/console/api/overview").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["storage"]["upload_files"], 2, "{v}");
    assert_eq!(v["storage"]["bytes"], 2 * png_bytes().len(), "{v}");
    assert_eq!(v["storage"]["quota_files"], 10, "{v}");
}

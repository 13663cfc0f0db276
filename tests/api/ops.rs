//! Operations endpoints: health and Prometheus metrics.

use crate::common::*;

#[tokio::test]
async fn metrics_count_requests_and_tasks() {
    let app = TestApp::new().await;
    let key = app.user_with_key("metrics", 1000).await;
    let (_, v) = app.create(&key, seed_request()).await;
    app.wait_for(&key, v["task_id"].as_str().unwrap(), "completed")
        .await;
    let resp = app.http.get(app.path("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for needle in [
        "videoapi_http_requests_total{",
        "videoapi_tasks_created_total{model=\"video-2.0-mini-reference-to-video\"}",
        "videoapi_tasks_finished_total{",
        "videoapi_credits_reserved_total",
        "videoapi_http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let (s, v) = app.get(&key, "/healthz").await;
    assert_eq!((s, v["status"].as_str()), (200, Some("ok")));
    app.stop().await;
}

//! The README's "Adding a provider" example (`src/providers/example.rs`) is a working
//! adapter: submit, poll to the end, download with the key, test the connection, all
//! against the OpenAI simulator over loopback.

use super::*;
use crate::simulators::openai::OpenAiSim;
use crate::simulators::start;
use futures_util::StreamExt;
use videoapi::providers::{PollJob, PollOutcome, Registry, SubmitJob, example::Example, generic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_provider_runs_a_task_end_to_end() {
    let sim = start(OpenAiSim::new("sk-example")).await;
    let cfg = ProviderConfig {
        name: "ex".into(),
        kind: "example".into(),
        base_url: format!("{}/v1", sim.url),
        api_key: "sk-example".into(),
        api_secret: String::new(),
        enabled: true,
        priority: 0,
        weight: 1,
        settings: json!({"allow_private_cidrs": LOOPBACK}),
    };
    let adapter = generic::build::<Example>(&Registry::new(Duration::ZERO), &cfg).unwrap();
    assert!(adapter.test_connection().await.is_ok());

    let req: videoapi::domain::request::UnifiedRequest = serde_json::from_value(json!({
        "type": "text-to-video", "prompt": "a fox", "image_urls": [], "video_urls": [],
        "audio_urls": [], "resolution": "720p", "duration": 8, "seconds": 8,
        "aspect_ratio": "9:16", "generate_audio": false}))
    .unwrap();
    let settings = json!({});
    let credential = adapter.credentials().first().cloned();
    let id = adapter
        .submit(SubmitJob {
            task_id: "vidgen_ex",
            upstream_model: "sora-2",
            request: &req,
            route_settings: &settings,
            credential: credential.as_deref(),
            callback_url: None,
        })
        .await
        .unwrap();
    let sent = sim.upstream.creates()[0].clone();
    assert_eq!(
        (
            sent["_format"].as_str(),
            sent["size"].as_str(),
            sent["seconds"].as_str()
        ),
        (Some("json"), Some("720x1280"), Some("8"))
    );

    let mut outcome = PollOutcome::Queued;
    for _ in 0..10 {
        let job = PollJob {
            task_id: "vidgen_ex",
            upstream_id: &id,
            upstream_model: "sora-2",
            route_settings: &settings,
            credential: credential.as_deref(),
        };
        outcome = adapter.poll(job).await.unwrap();
        if !matches!(outcome, PollOutcome::Queued | PollOutcome::Running) {
            break;
        }
    }
    let PollOutcome::Succeeded(results) = outcome else {
        panic!("{outcome:?}")
    };
    let mut stream = adapter.download(&results[0]).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, VIDEO);
}

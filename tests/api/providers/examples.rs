//! The README's provider examples are real configuration: loaded by the config loader,
//! their channels built, and every model saved through the operator path (which checks
//! each route's input mapping).

use super::*;
use videoapi::config::{Config, Overrides};

/// Every ```toml block of the README's provider section, joined into one file.
fn provider_examples() -> String {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("### Runway, Vidu, Luma, fal, Replicate")
        .expect("provider section");
    let section = &readme[start..];
    let section = &section[..section.find("\n## Command line").unwrap_or(section.len())];
    let mut out = String::new();
    for block in section.split("```toml\n").skip(1) {
        out.push_str(block.split("```").next().unwrap());
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_provider_examples_load_and_their_mappings_validate() {
    let text = provider_examples();
    assert!(
        text.contains("fal-ai/veo3/image-to-video") && text.contains("bytedance/seedance-1-lite")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("videoapi.toml");
    std::fs::write(&path, &text).unwrap();
    let file = Config::load(&Overrides {
        config: Some(path),
        ..Default::default()
    })
    .unwrap();
    assert!(file.models.len() >= 5, "{:?}", file.models.len());

    let data = tempfile::tempdir().unwrap();
    let mut config = test_config(data.path());
    config.providers = file.providers.clone();
    let app = TestApp::with_config(data, config).await;
    for p in &file.providers {
        assert!(
            app.state().registry.get(&p.name).is_some(),
            "{} not built",
            p.name
        );
    }
    for m in file.models {
        let id = m.id.clone();
        app.state()
            .catalog
            .put_model(m)
            .await
            .unwrap_or_else(|e| panic!("README model {id}: {e}"));
    }
    app.stop().await;
}

/// The README's provider tables and the one kinds table agree: every kind but the built-in
/// demo has a row, and every row names a kind this build has.
#[test]
fn readme_provider_tables_match_the_kinds_table() {
    let readme = include_str!("../../../README.md");
    let section = |title: &str| {
        let start = readme.find(title).unwrap_or_else(|| panic!("{title}"));
        let rest = &readme[start + title.len()..];
        &rest[..rest.find("\n### ").unwrap_or(rest.len())]
    };
    let mut rows: Vec<&str> = Vec::new();
    for title in [
        "### What each provider can do",
        "### Runway, Vidu, Luma, fal, Replicate",
    ] {
        for line in section(title).lines().filter(|l| l.starts_with("| `")) {
            let first = line[1..].split('|').next().unwrap();
            rows.extend(first.split('`').skip(1).step_by(2));
        }
    }
    let kinds = videoapi::providers::Registry::kinds();
    for k in kinds.iter().filter(|k| **k != "demo") {
        assert!(rows.contains(k), "the README has no row for `{k}`");
    }
    for r in &rows {
        assert!(kinds.contains(r), "the README's row `{r}` is not a kind");
    }
}

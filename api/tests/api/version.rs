use crate::helpers::{spawn_app, Backend};

#[tokio::test]
async fn version_reports_crate_version_commit_and_build() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let r = app.get("/version").await;
    assert_eq!(r.status, 200);
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["build", "commit", "version"], "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    // Baked in by build.rs (the same values the binary serves).
    assert_eq!(body["commit"], srp_api::build_info::BUILD.commit);
    let commit = body["commit"].as_str().unwrap();
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "commit {commit:?}"
    );
    match srp_api::build_info::BUILD.build {
        Some(b) => assert_eq!(body["build"], b),
        None => assert!(body["build"].is_null(), "{body}"),
    }
}

use crate::helpers::{both_stores, spawn_app, Backend};

async fn health_is_ok_and_names_the_database_check(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let r = app.get("/health").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"]["ok"], true);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body.get("failed").is_none(), "{body}");
}

both_stores!(health_is_ok_and_names_the_database_check);

//! Graceful shutdown: a request in flight when shutdown starts completes;
//! new connections are refused.

use crate::helpers::{eventually, finish_request, sample, spawn_app, start_request, Backend};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_request_completes_during_shutdown() {
    let mut app = spawn_app(Backend::Sqlite).await.unwrap();
    let body = br#"{"name": "survivor"}"#;
    let s = start_request(
        app.addr,
        "POST",
        "/projects",
        &format!(
            "{}Content-Type: application/json\r\nContent-Length: {}\r\n",
            app.auth_head(),
            body.len()
        ),
        &body[..5],
    )
    .await;
    let in_flight = eventually(Duration::from_secs(10), || async {
        sample(&app.metrics().await, "http_requests_in_flight") == Some(2.0)
    })
    .await;
    assert!(in_flight);

    app.shutdown.trigger();
    // The listener closes: new connections are refused.
    let closed = eventually(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(app.addr).await.is_err()
    })
    .await;
    assert!(closed, "still accepting after shutdown");

    let (status, text) = finish_request(s, &body[5..]).await;
    assert_eq!(status, 201, "{text}");
    assert!(text.contains("survivor"));
    app.server.take().unwrap().await.unwrap().unwrap();

    // It was committed.
    let store = srp_api::store::SqliteStore::open(&app.db.sqlite_path()).unwrap();
    use srp_api::store::ProjectStore;
    let all = store.list(10, 0).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "survivor");
}

//! The probe's finding: with a valid token, a body that never arrives (a
//! declared length never sent, or a chunked body with no end) held the
//! connection for good. The relay's listener now answers 408 and closes once
//! `--request-body-timeout` passes, and stores nothing for such a request.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Send `head` (headers and part of a body) with a valid token; the relay
/// must answer and close well inside `bound`.
async fn held_for(relay: &Relay, head: &str, bound: Duration) -> String {
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(bound, stream.read_to_end(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("connection still open after {bound:?}"))
        .unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn unfinished_bodies_with_a_valid_token_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let token = write_file(dir.path(), "token", "s3cret\n");
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--auth-token-file",
            token.to_str().unwrap(),
            "--request-body-timeout",
            "1s",
        ],
    );
    let auth = "Authorization: Bearer s3cret\r\nContent-Type: application/json\r\n";
    for (what, head) in [
        (
            "declared length never sent",
            format!("POST /alertmanager HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5000\r\n\r\n{{\"version\":"),
        ),
        (
            "chunked body with no end",
            format!("POST /jenkins HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n2\r\n{{\"\r\n"),
        ),
    ] {
        let said = held_for(&relay, &head, Duration::from_secs(15)).await;
        assert!(said.starts_with("HTTP/1.1 408"), "{what}: {said}");
        assert!(said.contains("request_timeout"), "{what}: {said}");
    }
    assert_eq!(
        stored_rows(&relay.data_dir),
        (0, 0),
        "nothing may be stored"
    );
    // The relay still serves.
    let health = reqwest::get(relay.url("/health")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[test]
fn the_flag_takes_the_shared_duration_grammar() {
    let (ok, _out, err) = run_cli(&["--request-body-timeout", "10", "--help"]);
    assert!(!ok);
    assert!(err.contains("needs a unit"), "{err}");
}

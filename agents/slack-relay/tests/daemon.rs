//! What the relay shares with every SRP daemon (issue 13): RED metrics of
//! its own routes, runtime metrics and srp_build_info on /metrics (promtool
//! silent), the one error body, the one duration grammar, and a SIGTERM
//! that ends inside the drain bound without losing a delivery on the wire
//! or a request being received.

mod common;

use common::*;
use rusqlite::Connection;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// The shipped unit's TimeoutStopSec: past it systemd sends SIGKILL.
const UNIT_STOP_TIMEOUT: Duration = Duration::from_secs(20);

async fn post(relay: &Relay, path: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(relay.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn own_routes_runtime_and_build_info_are_on_metrics_and_promtool_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("data"), &[]);
    let good = am_payload("red/1", "firing", "A", "s").to_string();
    assert_eq!(post(&relay, "/alertmanager", &good).await.status(), 200);
    assert_eq!(post(&relay, "/alertmanager", "nope").await.status(), 400);
    assert_eq!(post(&relay, "/jenkins", "{}").await.status(), 400);
    let missing = reqwest::get(relay.url("/no/such/path")).await.unwrap();
    assert_eq!(missing.status(), 404);
    let text = relay.metrics().await;
    for series in [
        r#"http_requests_total{method="POST",route="/alertmanager",status="200"} 1"#,
        r#"http_requests_total{method="POST",route="/alertmanager",status="400"} 1"#,
        r#"http_requests_total{method="POST",route="/jenkins",status="400"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_request_duration_seconds_bucket{method="POST",route="/alertmanager""#,
        "http_requests_in_flight ",
        r#"srp_build_info{binary="srp-slack-relay""#,
        "srp_tokio_workers ",
        "srp_tokio_alive_tasks ",
        "srp_tokio_global_queue_depth ",
        "srp_tokio_worker_busy_seconds_total{",
        "process_resident_memory_bytes ",
        "srp_relay_received_total{",
    ] {
        assert!(text.contains(series), "missing {series}\n{text}");
    }
    srp_testkit::promtool::assert_clean(&text);
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_default(),
        body["error"]["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn every_refusal_has_the_shared_error_body() {
    let dir = tempfile::tempdir().unwrap();
    let token = write_file(dir.path(), "token", "s3cret\n");
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--auth-token-file",
            token.to_str().unwrap(),
            "--max-body-bytes",
            "1024",
        ],
    );
    let c = reqwest::Client::new();
    let send = |path: &str, token: Option<&str>, body: String| {
        let mut r = c
            .post(relay.url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let good = am_payload("err/1", "firing", "A", "s").to_string();

    let r = send("/alertmanager", None, good.clone()).await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("Bearer"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(error_of(&b).0, "unauthorized", "{b}");

    let cases = [
        ("/alertmanager", "{not json".to_string(), 400),
        ("/alertmanager", r#"{"version":"3"}"#.to_string(), 400),
        (
            "/jenkins",
            r#"{"job":"srp","build":1,"result":"MAYBE"}"#.to_string(),
            400,
        ),
        ("/jenkins", "x".repeat(4096), 413),
    ];
    for (path, body, status) in cases {
        let r = send(path, Some("s3cret"), body).await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let b: Value = r.json().await.unwrap();
        let (code, message) = error_of(&b);
        let want: &[&str] = if status == 413 {
            &["body_too_large"]
        } else {
            &["invalid_json", "invalid_payload"]
        };
        assert!(want.contains(&code), "{path}: {b}");
        assert!(!message.is_empty(), "{b}");
    }

    let r = c.get(relay.url("/alertmanager")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let b: Value = r.json().await.unwrap();
    assert_eq!(error_of(&b).0, "method_not_allowed", "{b}");
    let r = c.get(relay.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(error_of(&b).0, "not_found", "{b}");
}

#[test]
fn durations_take_the_shared_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let d = d.to_str().unwrap();
    // `w` is new; every duration flag takes the same units.
    let (ok, _, err) = run_cli(&[
        "--max-age",
        "2w",
        "--keep-delivered",
        "1.5d",
        "--retry-base",
        "250ms",
        "--request-timeout",
        "90s",
        "--help",
    ]);
    assert!(ok, "{err}");
    for flag in [
        "--per-destination-interval",
        "--max-age",
        "--retry-base",
        "--retry-max",
        "--slack-timeout",
        "--dedupe-window",
        "--keep-delivered",
        "--request-timeout",
    ] {
        let (ok, _, err) = run_cli(&["--data-dir", d, flag, "10"]);
        assert!(!ok && err.contains("needs a unit"), "{flag}: {err}");
    }
    // A request timeout the body timeout could outlast is refused up front.
    let (ok, _, err) = run_cli(&["--data-dir", d, "--request-timeout", "5s"]);
    assert!(!ok, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("--request-body-timeout (30s)"),
        "{err}"
    );
}

/// SIGTERM, then wait for the exit; panics past the unit's stop timeout.
fn terminate(relay: &mut Relay) -> (ExitStatus, Duration) {
    let started = Instant::now();
    relay.daemon.terminate();
    loop {
        if let Some(status) = relay.daemon.child.try_wait().unwrap() {
            return (status, started.elapsed());
        }
        assert!(
            started.elapsed() < UNIT_STOP_TIMEOUT,
            "still running {UNIT_STOP_TIMEOUT:?} after SIGTERM; log:\n{}",
            relay.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn states(data: &Path) -> Vec<String> {
    let c = Connection::open(data.join("relay.db")).unwrap();
    let mut q = c.prepare("SELECT state FROM outbox ORDER BY id").unwrap();
    q.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A relay stopped by SIGTERM while its one delivery was on the wire, Slack
/// answering that delivery with `answer`; it exited 0 inside the unit's
/// stop timeout.
struct Stopped {
    slack: MockSlack,
    relay: Relay,
    data: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn stop_with_a_delivery_on_the_wire(answer: Behaviour) -> Stopped {
    let slack = MockSlack::start().await;
    slack.script(&[answer]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut relay = Relay::start(&data, &["--slack-webhook-url", &slack.webhook_url()]);
    let body = am_payload("stop/1", "firing", "StopTest", "on the wire").to_string();
    assert_eq!(post(&relay, "/alertmanager", &body).await.status(), 200);
    let end = Instant::now() + Duration::from_secs(20);
    while slack.requests().is_empty() {
        assert!(Instant::now() < end, "the relay never called Slack");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, _) = tokio::task::block_in_place(|| terminate(&mut relay));
    assert!(status.success(), "{status:?}; log:\n{}", relay.logs());
    Stopped {
        slack,
        relay,
        data,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_delivery_on_the_wire_finish_and_records_it() {
    let s = stop_with_a_delivery_on_the_wire(Behaviour::Delay(1500)).await;
    assert_eq!(states(&s.data), ["delivered"], "its outcome was recorded");
    assert_eq!(s.slack.delivered().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_slack_hanging_stops_in_the_bound_and_keeps_the_message_pending() {
    let Stopped {
        slack,
        mut relay,
        data,
        _dir,
    } = stop_with_a_delivery_on_the_wire(Behaviour::Hang).await;
    assert_eq!(states(&data), ["pending"], "abandoned, not lost");
    // After the restart it is sent (Slack answers now).
    tokio::task::block_in_place(|| relay.crash_and_restart());
    slack
        .wait_for(
            "the message after the restart",
            Duration::from_secs(20),
            |d| d.len() == 1,
        )
        .await;
}

#[test]
fn sigterm_while_a_body_is_arriving_still_stores_and_answers_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut relay = Relay::start(&data, &[]);
    let body = am_payload("stop/body", "firing", "StopBody", "late body").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = std::net::TcpStream::connect(relay.addr).unwrap();
    write!(
        stream,
        "POST /alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    relay.daemon.terminate();
    // Long enough for an idle writer to have stopped, were it not waiting.
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("accepted"), "{answer}");
    let (status, _) = terminate(&mut relay);
    assert!(status.success(), "{status:?}");
    assert_eq!(states(&data), ["pending"], "stored before it was answered");
}

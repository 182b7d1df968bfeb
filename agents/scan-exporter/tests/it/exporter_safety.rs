//! The adversarial probes of issue 12 against the real exporter process: a
//! hostile writer in the reports directory (symlinks out of it, FIFOs,
//! names with newlines) and a hostile HTTP client (huge declared bodies,
//! many uploads at once, slow bodies, oversized /latest answers, report
//! strings that would forge log lines). Every wait is bounded, so a
//! regression fails instead of hanging the suite.

use crate::exporter::{put_atomically, read, App, Metrics};
use serde_json::Value;
use srp_testkit::Daemon;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// SIGTERM, and the process must have exited successfully within `limit`
/// (a watcher blocked on a FIFO used to keep it running forever).
fn stop_within(mut app: App, limit: Duration) {
    app.daemon.terminate();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = app.daemon.child.try_wait().unwrap() {
            assert!(status.success(), "exporter exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still running {limit:?} after SIGTERM; its log:\n{}",
            app.daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn gate(m: &Metrics, pipeline: &str, target: &str) -> Option<f64> {
    m.get(
        "srp_scan_gate_passed",
        &[("pipeline", pipeline), ("target", target)],
    )
}

/// A clean report dropped last: once its gate shows, every earlier event
/// has been handled (the watcher handles due files in order).
fn sentinel(reports: &Path, name: &str) {
    put_atomically(
        &reports.join(format!("ci/{name}/gitleaks.json")),
        &read("gitleaks/empty.json"),
    );
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_to_a_file_outside_is_refused_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(reports.join("ci/leak")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // A readable report outside: if the link were followed it would be
    // ingested and show as a blocked gate.
    std::fs::write(outside.join("secret.json"), read("gitleaks/baseline.json")).unwrap();
    std::fs::write(outside.join("shadow"), "root:$6$fake:19000:0:99999:7:::\n").unwrap();
    symlink(
        outside.join("secret.json"),
        reports.join("ci/leak/gitleaks.json"),
    )
    .unwrap();

    let app = App::spawn(&tmp.path().join("data"), Some(&reports), &[]);
    // Into a directory watched since the start, so the event is seen:
    // target "late" from the file name.
    symlink(outside.join("secret.json"), reports.join("ci/late.json")).unwrap();
    symlink(outside.join("shadow"), reports.join("shadow.json")).unwrap();
    sentinel(&reports, "sentinel");

    let m = app
        .wait_for("the sentinel", |m| gate(m, "ci", "sentinel") == Some(1.0))
        .await;
    assert_eq!(gate(&m, "ci", "leak"), None, "a link was followed");
    assert_eq!(gate(&m, "ci", "late"), None, "a link was followed");
    assert_eq!(gate(&m, "default", "shadow"), None, "a link was followed");
    app.wait_for("three refused links", |m| m.errors("symlink") == 3.0)
        .await;
    let log = app.daemon.log();
    assert!(
        log.lines()
            .any(|l| l.contains("report refused") && l.contains("symlink")),
        "{log}"
    );
    // Counted once per link, not again after a restart.
    app.stop();
    let app = App::spawn(&tmp.path().join("data"), Some(&reports), &[]);
    sentinel(&reports, "sentinel2");
    let m = app
        .wait_for("second sentinel", |m| {
            gate(m, "ci", "sentinel2") == Some(1.0)
        })
        .await;
    assert_eq!(
        m.errors("symlink"),
        0.0,
        "links counted again after restart"
    );
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlinked_directory_is_neither_walked_nor_watched() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(outside.join("p/t")).unwrap();
    std::fs::create_dir_all(&reports).unwrap();
    std::fs::write(
        outside.join("p/t/gitleaks.json"),
        read("gitleaks/baseline.json"),
    )
    .unwrap();
    // Before the start (the start-up scan) and after it (an event).
    symlink(&outside, reports.join("evil")).unwrap();
    let app = App::spawn(&tmp.path().join("data"), Some(&reports), &[]);
    std::fs::create_dir_all(reports.join("ci")).unwrap();
    symlink(outside.join("p"), reports.join("ci/evil2")).unwrap();
    sentinel(&reports, "sentinel");
    app.wait_for("the sentinel", |m| gate(m, "ci", "sentinel") == Some(1.0))
        .await;
    // A file written outside later: a watch that followed the link would
    // see it appear under reports/evil/p/t.
    put_atomically(
        &outside.join("p/t/trivy.json"),
        &read("trivy/alpine-39.json.golden"),
    );
    sentinel(&reports, "sentinel2");
    let m = app
        .wait_for("second sentinel", |m| {
            gate(m, "ci", "sentinel2") == Some(1.0)
        })
        .await;
    for series in m
        .text
        .lines()
        .filter(|l| l.starts_with("srp_scan_gate_passed"))
    {
        assert!(
            !series.contains("evil") && !series.contains("target=\"t\""),
            "a report from outside was ingested: {series}"
        );
    }
    app.wait_for("two refused links", |m| m.errors("symlink") == 2.0)
        .await;
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_is_refused_the_watcher_goes_on_and_sigterm_stops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    mkfifo(&reports.join("ci/app/trivy.json"));
    let app = App::spawn(&tmp.path().join("data"), Some(&reports), &[]);
    mkfifo(&reports.join("ci/app2/trivy.json"));
    sentinel(&reports, "sentinel");
    let m = app
        .wait_for("the sentinel and two refused FIFOs", |m| {
            gate(m, "ci", "sentinel") == Some(1.0) && m.errors("not_regular_file") == 2.0
        })
        .await;
    assert_eq!(gate(&m, "ci", "app"), None);
    // The watcher's liveness is part of /health.
    let (code, h) = app.get("/health").await;
    assert_eq!(code, 200, "{h}");
    assert_eq!(h["checks"]["watcher"]["ok"], true, "{h}");
    assert!(
        h["checks"]["watcher"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("last loop")),
        "{h}"
    );
    stop_within(app, Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_would_forge_log_lines_or_labels_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    // Text logs: a raw newline in a field would start a line of its own.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_srp-scan-exporter"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "text",
        "--debounce",
        "300ms",
    ])
    .arg("--data-dir")
    .arg(tmp.path().join("data"))
    .arg("--reports-dir")
    .arg(&reports)
    .env_remove("SRP_LISTEN");
    let daemon = Daemon::spawn_echoing(&mut cmd, "[exporter]");
    let app = App {
        base: daemon.url(""),
        daemon,
    };
    let forged = "FORGED level=ERROR";
    put_atomically(
        &reports.join(format!("ci\n{forged}/gitleaks.json")),
        &read("gitleaks/empty.json"),
    );

    // ArtifactName: 100 kB, and one with a newline.
    let trivy: Value = serde_json::from_slice(&read("trivy/alpine-39.json.golden")).unwrap();
    for (name, artifact) in [
        ("long", "a".repeat(100_000)),
        ("newline", format!("app\n{forged}")),
    ] {
        let mut r = trivy.clone();
        r["ArtifactName"] = artifact.into();
        let (code, v) = app
            .push("pipeline=srp&build=1", serde_json::to_vec(&r).unwrap())
            .await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (422, Some("invalid_field")),
            "{name}: {v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("ArtifactName"),
            "{name}: the error names the field: {v}"
        );
        assert_eq!(v["error"]["field"], "ArtifactName", "{name}: {v}");
    }
    sentinel(&reports, "sentinel");
    let m = app
        .wait_for("the sentinel and three refusals", |m| {
            gate(m, "ci", "sentinel") == Some(1.0) && m.errors("invalid_field") == 3.0
        })
        .await;
    assert!(
        !m.text.contains(forged) && !m.text.contains(&"a".repeat(300)),
        "{}",
        m.text
    );
    let log = app.daemon.log();
    assert!(
        !log.lines().any(|l| l.starts_with(forged)),
        "a log line was forged:\n{log}"
    );
    assert!(log.contains("\\n"), "the newline is logged escaped:\n{log}");
    app.stop();
}

/// Write raw bytes to the exporter and read what it answers within
/// `limit` (the connection may stay open: read until the head is in).
fn raw_exchange(app: &App, request: &[u8], limit: Duration) -> (TcpStream, String) {
    let mut s = TcpStream::connect(app.daemon.addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "no answer within {limit:?} ({e}); got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    (s, String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_length_over_the_limit_is_refused_before_the_body() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &["--max-report-bytes", "100000"]);
    // 300 MB announced, not one byte sent: the answer must not wait for it.
    let (_s, head) = raw_exchange(
        &app,
        b"POST /reports?pipeline=p HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n\r\n",
        Duration::from_secs(10),
    );
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(m.errors("too_large"), 1.0);
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_beyond_the_bound_get_503_with_retry_after() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &["--max-concurrent-ingests", "1"]);
    // Upload A: a clean report padded to 2000 bytes, of which only the
    // first 10 are sent, so it holds the one slot.
    let mut body = read("gitleaks/empty.json");
    body.resize(2000, b' ');
    let head = format!(
        "POST /reports?pipeline=p&target=a HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut a = TcpStream::connect(app.daemon.addr).unwrap();
    a.write_all(head.as_bytes()).unwrap();
    a.write_all(&body[..10]).unwrap();
    // Upload B, until A's handler holds the slot (B may get in first).
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let r = reqwest::Client::new()
            .post(format!("{}/reports?pipeline=p&target=b", app.base))
            .body(read("gitleaks/empty.json"))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200);
        assert!(Instant::now() < deadline, "never refused for capacity");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let retry_after = refused.headers().get("retry-after").cloned();
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "busy", "{v}");
    assert!(retry_after.is_some(), "no Retry-After");
    // A finishes and is accepted; then the slot is free again.
    a.write_all(&body[10..]).unwrap();
    a.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = [0u8; 64];
    let n = a.read(&mut answer).unwrap();
    assert!(
        String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer[..n])
    );
    let (code, v) = app
        .push("pipeline=p&target=b", read("gitleaks/empty.json"))
        .await;
    assert_eq!(code, 200, "{v}");
    let m = Metrics::parse(&app.metrics().await);
    assert!(m.errors("busy") >= 1.0, "{}", m.text);
    app.stop();
}

/// alpine-39 with its vulnerabilities replaced by `n` copies of one, each
/// under a new id, at `severity`.
fn alpine_with(n: usize, severity: &str) -> Value {
    let mut r: Value = serde_json::from_slice(&read("trivy/alpine-39.json.golden")).unwrap();
    let vulns = r["Results"][0]["Vulnerabilities"].as_array().unwrap();
    let one = vulns
        .iter()
        .find(|v| v["Severity"] == "CRITICAL")
        .unwrap()
        .clone();
    let many: Vec<Value> = (0..n)
        .map(|i| {
            let mut v = one.clone();
            v["VulnerabilityID"] = format!("CVE-2099-{i:05}").into();
            v["Severity"] = severity.into();
            v
        })
        .collect();
    r["Results"][0]["Vulnerabilities"] = many.into();
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn latest_answers_one_page_of_blocking_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &[]);
    let r = alpine_with(250, "CRITICAL");
    let (code, v) = app
        .push(
            "pipeline=srp&build=1&target=api",
            serde_json::to_vec(&r).unwrap(),
        )
        .await;
    assert_eq!((code, v["verdict"].as_str()), (200, Some("block")), "{v}");

    let (code, v) = app.get("/reports/srp/api/latest").await;
    assert_eq!(code, 200);
    assert_eq!(v["blocking"].as_array().unwrap().len(), 100, "default page");
    assert_eq!(
        (&v["blocking_total"], &v["truncated"], &v["next_offset"]),
        (&Value::from(250), &Value::from(true), &Value::from(100)),
    );
    assert_eq!(
        (v["verdict"].as_str(), v["build"].as_str()),
        (Some("block"), Some("1"))
    );
    let (_, v) = app
        .get("/reports/srp/api/latest?offset=200&limit=100")
        .await;
    assert_eq!(v["blocking"].as_array().unwrap().len(), 50);
    assert!(v.get("next_offset").is_none(), "{}", v["next_offset"]);
    // A page larger than the cap is cut to it.
    let (_, v) = app.get("/reports/srp/api/latest?limit=1000000").await;
    assert_eq!(v["blocking_limit"], 1000);
    assert_eq!(v["blocking"].as_array().unwrap().len(), 250);
    assert_eq!(v["truncated"], false);
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_unauthenticated_body_is_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &["--request-body-timeout", "1s"]);
    // 1000 bytes declared, 10 sent, then nothing: answered 408, not held.
    let (mut s, head) = raw_exchange(
        &app,
        b"POST /reports?pipeline=p HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[         ",
        Duration::from_secs(15),
    );
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    // And the connection is closed, not kept for the rest of the body.
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    assert!(s.read_to_end(&mut rest).is_ok(), "connection still open");
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn diff_lists_are_capped_with_totals() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &[]);
    for (build, n) in [(1, 0), (2, 1500)] {
        let r = alpine_with(n, "MEDIUM");
        let (code, v) = app
            .push(
                &format!("pipeline=srp&build={build}&target=api"),
                serde_json::to_vec(&r).unwrap(),
            )
            .await;
        assert_eq!(code, 200, "{v}");
    }
    let (code, d) = app.get("/reports/srp/api/diff").await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["new"].as_array().unwrap().len(), 1000, "capped");
    assert_eq!(
        (&d["new_total"], &d["fixed_total"], &d["truncated"]),
        (&Value::from(1500), &Value::from(0), &Value::from(true))
    );
    app.stop();
}

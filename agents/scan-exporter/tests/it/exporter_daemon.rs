//! What srp-scan-exporter shares with every SRP daemon (issue 13): RED
//! metrics of its own routes, srp_build_info and the tokio runtime metrics
//! on /metrics, srp-daemon's one error body for every 4xx/5xx, the duration
//! grammar on its flags, and a stop that waits for the watcher's step in
//! progress within the drain bound. And srp-gate's side: the commit in
//! `--version`, `error: …` lines, exit 2.

use crate::exporter::{put_atomically, read, App, Metrics};
use serde_json::Value;
use srp_testkit::promtool;
use std::process::Command;
use std::time::{Duration, Instant};

fn exporter_bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_srp-scan-exporter"));
    cmd.env_remove("SRP_LISTEN")
        .env_remove("SRP_REQUEST_TIMEOUT");
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn own_routes_build_info_and_runtime_metrics_are_on_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &[]);
    let (code, v) = app
        .push(
            "pipeline=srp&build=1&target=api",
            read("gitleaks/empty.json"),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = app.get("/reports/srp/api/latest").await;
    assert_eq!(code, 200);
    let (code, _) = app.get("/reports/srp/api/diff").await;
    assert_eq!(code, 200);
    let (code, _) = app.get("/no/such/route").await;
    assert_eq!(code, 404);

    let m = Metrics::parse(&app.metrics().await);
    for (method, route, status) in [
        ("POST", "/reports", "200"),
        ("GET", "/reports/{pipeline}/{target}/latest", "200"),
        ("GET", "/reports/{pipeline}/{target}/diff", "200"),
        // Raw paths would let any client create series.
        ("GET", "unmatched", "404"),
    ] {
        assert_eq!(
            m.get(
                "http_requests_total",
                &[("method", method), ("route", route), ("status", status)]
            ),
            Some(1.0),
            "{method} {route} {status}:\n{}",
            m.text
        );
    }
    assert!(
        m.text
            .contains(r#"http_request_duration_seconds_count{method="POST",route="/reports"} 1"#),
        "{}",
        m.text
    );
    assert!(m.text.contains("http_requests_in_flight"), "{}", m.text);
    let build = m
        .text
        .lines()
        .find(|l| l.starts_with(r#"srp_build_info{binary="srp-scan-exporter","#))
        .unwrap_or_else(|| panic!("no srp_build_info:\n{}", m.text));
    assert!(build.ends_with(" 1"), "{build}");
    assert!(
        build.contains(&format!(r#"version="{}""#, env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    for name in [
        "srp_tokio_workers",
        "srp_tokio_alive_tasks",
        "srp_tokio_global_queue_depth",
        "srp_tokio_worker_busy_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            m.text.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{}",
            m.text
        );
    }
    promtool::assert_clean(&m.text);
    app.stop();
}

/// Status, content type and JSON body of a request.
async fn answer(req: reqwest::RequestBuilder) -> (u16, String, Value) {
    let r = req.send().await.unwrap();
    let code = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (code, ctype, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_answer_has_the_shared_body() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &[]);
    let c = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", app.base);
    let cases = [
        (c.get(url("/nope")), 404, "not_found", None),
        (c.get(url("/reports")), 405, "method_not_allowed", None),
        // axum's own rejections used to answer plain text.
        (
            c.get(url("/reports/srp/api/latest?limit=many")),
            400,
            "invalid_query",
            None,
        ),
        (
            c.post(url("/reports?pipeline=a&pipeline=b")),
            400,
            "invalid_query",
            None,
        ),
        (
            c.post(url("/reports")).body(read("gitleaks/empty.json")),
            422,
            "bad_request",
            Some("pipeline"),
        ),
        (
            c.post(url("/reports?pipeline=srp&target=a%0Ab"))
                .body(read("gitleaks/empty.json")),
            422,
            "bad_request",
            Some("target"),
        ),
        (
            c.post(url("/reports?pipeline=srp"))
                .body(r#"{"SchemaVersion": 2, "Results": ["#),
            422,
            "truncated",
            None,
        ),
        (
            c.get(url("/reports/srp/none/latest")),
            404,
            "not_found",
            None,
        ),
    ];
    for (req, status, code, field) in cases {
        let (got, ctype, body) = answer(req).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(ctype.starts_with("application/json"), "{code}: {ctype}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(body["error"]["field"].as_str(), field, "{body}");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(1),
            "only `error` at the top: {body}"
        );
    }
    app.stop();
}

#[test]
fn duration_flags_take_the_shared_grammar_and_refuse_bare_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    for flag in ["--debounce", "--request-timeout", "--request-body-timeout"] {
        let out = exporter_bin()
            .args(["--listen", "127.0.0.1:0", flag, "500"])
            .arg("--data-dir")
            .arg(tmp.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains("needs a unit"), "{flag}: {err}");
    }
    let help = exporter_bin().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--debounce", "--request-timeout", "--request-body-timeout"] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// The watcher is a tracked task of the stop: a report whose step is in
/// progress when SIGTERM arrives (here, waiting for the database, which the
/// test holds locked) is stored and recorded in the ledger before the
/// server says it stopped, and the process still exits within the drain
/// bound. The old untracked watcher let the server stop first and left the
/// step to the runtime's exit grace.
#[tokio::test(flavor = "multi_thread")]
async fn a_report_being_stored_at_sigterm_is_finished_before_the_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(reports.join("ci")).unwrap();
    let app = App::spawn(
        &data,
        Some(&reports),
        &["--log-level", "info,srp_scan=debug"],
    );
    app.daemon
        .expect_line("the watcher", Duration::from_secs(30), |l| {
            l.contains("watching reports directory")
        });
    // Every writer waits for this transaction: the step will be busy in its
    // ingest until the test lets go.
    let lock = rusqlite::Connection::open(data.join("scan-exporter.db")).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    put_atomically(
        &reports.join("ci/app/gitleaks.json"),
        &read("gitleaks/baseline.json"),
    );
    app.daemon
        .expect_line("the step starting", Duration::from_secs(30), |l| {
            l.contains("reading report") && l.contains("gitleaks.json")
        });
    let asked = Instant::now();
    app.daemon.terminate();
    std::thread::sleep(Duration::from_millis(800));
    lock.execute_batch("ROLLBACK").unwrap();

    let mut app = app;
    let status = loop {
        if let Some(s) = app.daemon.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM\n{}",
            app.daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", app.daemon.log());
    let log = app.daemon.log();
    let at = |what: &str| {
        log.lines()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} line:\n{log}"))
    };
    assert!(
        at("report ingested") < at(r#""stopped""#),
        "the server stopped before the step in progress ended:\n{log}"
    );

    // Recorded as handled: not ingested again after a restart.
    let app = App::spawn(&data, Some(&reports), &[]);
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "ci"), ("target", "app")]
        ),
        Some(0.0),
        "{}",
        m.text
    );
    put_atomically(
        &reports.join("ci/sentinel/gitleaks.json"),
        &read("gitleaks/empty.json"),
    );
    app.wait_for("the sentinel", |m| {
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "ci"), ("target", "sentinel")],
        ) == Some(1.0)
    })
    .await;
    let again = app.daemon.log();
    assert_eq!(
        again
            .lines()
            .filter(|l| l.contains("report ingested"))
            .count(),
        1,
        "only the sentinel is ingested after the restart:\n{again}"
    );
    app.stop();
}

#[test]
fn srp_gate_names_its_commit_and_prints_errors_as_error_lines() {
    let out = Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.starts_with(&format!("srp-gate {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let exporter = exporter_bin().arg("--version").output().unwrap();
    let exporter = String::from_utf8_lossy(&exporter.stdout);
    assert_eq!(
        exporter.trim().strip_prefix("srp-scan-exporter"),
        version.trim().strip_prefix("srp-gate"),
        "both binaries name the same build"
    );

    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let run = crate::gate(&[&empty]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains("empty.json")),
        "{}",
        run.debug()
    );
    assert!(!run.stderr.contains("srp-gate: error"), "{}", run.debug());
}

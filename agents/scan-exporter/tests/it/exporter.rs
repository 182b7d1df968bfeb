//! srp-scan-exporter as a real process on 127.0.0.1:0: files dropped in its
//! reports directory and reports pushed over HTTP, read back from /metrics,
//! checked with the real promtool, across a restart.

use crate::fixture;
use serde_json::Value;
use srp_testkit::{promtool, Daemon};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) struct App {
    pub(crate) daemon: Daemon,
    pub(crate) base: String,
}

impl App {
    pub(crate) fn spawn(data: &Path, reports: Option<&Path>, extra: &[&str]) -> App {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_srp-scan-exporter"));
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--debounce",
            "300ms",
        ])
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env_remove("SRP_LISTEN");
        if let Some(r) = reports {
            cmd.arg("--reports-dir").arg(r);
        }
        // The log is echoed for failing tests.
        let daemon = Daemon::spawn_echoing(&mut cmd, "[exporter]");
        let base = daemon.url("");
        App { daemon, base }
    }

    /// SIGTERM, and the exit status must be success (graceful stop).
    pub(crate) fn stop(mut self) {
        self.daemon.terminate();
        let status = self.daemon.wait();
        assert!(status.success(), "exporter exited with {status}");
    }

    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub(crate) async fn push(&self, query: &str, body: Vec<u8>) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/reports?{query}", self.base))
            .body(body)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let r = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    /// Poll /metrics until `f` holds (generous limit: shared CI machines).
    pub(crate) async fn wait_for(&self, what: &str, f: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let m = Metrics::parse(&self.metrics().await);
            if f(&m) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                m.text
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Parsed exposition: series name → list of (labels, value).
pub(crate) struct Metrics {
    pub(crate) text: String,
    series: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Metrics {
    pub(crate) fn parse(text: &str) -> Metrics {
        let mut series = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (head, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match head.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (head, ""),
            };
            let mut map = BTreeMap::new();
            for kv in labels.split("\",").filter(|s| !s.is_empty()) {
                let (k, v) = kv.split_once("=\"").unwrap();
                map.insert(k.to_string(), v.trim_end_matches('"').to_string());
            }
            series.push((name.to_string(), map, value.parse().unwrap()));
        }
        Metrics {
            text: text.to_string(),
            series,
        }
    }

    /// The value of the one series of `name` whose labels include `labels`.
    pub(crate) fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let hits: Vec<f64> = self
            .series
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(v))
            })
            .map(|s| s.2)
            .collect();
        assert!(hits.len() <= 1, "{name} {labels:?} is ambiguous");
        hits.first().copied()
    }

    pub(crate) fn errors(&self, reason: &str) -> f64 {
        self.get("srp_scan_ingest_errors_total", &[("reason", reason)])
            .unwrap_or(-1.0)
    }

    /// srp_scan_* lines that must survive a restart (not the counters).
    fn durable(&self) -> Vec<String> {
        self.text
            .lines()
            .filter(|l| l.starts_with("srp_scan_") && !l.starts_with("srp_scan_ingest_errors"))
            .map(str::to_string)
            .collect()
    }
}

pub(crate) fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap()
}

pub(crate) fn put_atomically(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

const ALPINE: &str = "testdata/fixtures/images/alpine-39.tar.gz";

#[tokio::test(flavor = "multi_thread")]
async fn drop_files_read_metrics_restart_read_again() {
    let tmp = tempfile::tempdir().unwrap();
    let reports: PathBuf = tmp.path().join("reports");
    let data = tmp.path().join("data");
    // Already there before the exporter starts.
    put_atomically(
        &reports.join("pre/gitleaks.json"),
        &read("gitleaks/baseline.json"),
    );

    let app = App::spawn(&data, Some(&reports), &[]);
    // Atomic rename into a pipeline directory created after the start.
    put_atomically(
        &reports.join("ci/alpine.json"),
        &read("trivy/alpine-39.json.golden"),
    );
    // <pipeline>/<target>/<file>: the SBOM and a Trivy report written in
    // two pieces (a reader may catch it half-written).
    put_atomically(
        &reports.join("ci/app/sbom.json"),
        &read("sbom/fluentd-multiple-lockfiles.cdx.json.golden"),
    );
    let photon = read("trivy/photon-30.json.golden");
    let slow = reports.join("ci/app/trivy.json");
    {
        let mut f = std::fs::File::create(&slow).unwrap();
        f.write_all(&photon[..photon.len() / 2]).unwrap();
        f.flush().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        f.write_all(&photon[photon.len() / 2..]).unwrap();
    }
    // Bad files: each is an ingest error, none stops the exporter.
    let bad = reports.join("ci/bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("empty.json"), b"").unwrap();
    std::fs::write(bad.join("garbage.json"), [0u8, 159, 146, 150, 0xff]).unwrap();
    let alpine = read("trivy/alpine-39.json.golden");
    std::fs::write(bad.join("truncated.json"), &alpine[..alpine.len() / 3]).unwrap();
    std::fs::write(bad.join("types.json"), br#"{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"VulnerabilityID":"C","Severity":4}]}]}"#).unwrap();
    std::fs::File::create(bad.join("huge.json"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();

    let m = app
        .wait_for("every file handled", |m| {
            m.get(
                "srp_scan_findings",
                &[
                    ("scanner", "gitleaks"),
                    ("target", "gitleaks"),
                    ("class", "secret"),
                    ("severity", "CRITICAL"),
                ],
            ) == Some(2.0)
                && m.get(
                    "srp_scan_findings",
                    &[
                        ("scanner", "trivy"),
                        ("target", ALPINE),
                        ("class", "vulnerability"),
                        ("severity", "MEDIUM"),
                    ],
                ) == Some(4.0)
                && m.get(
                    "srp_scan_findings",
                    &[
                        ("scanner", "trivy"),
                        ("target", "app"),
                        ("class", "vulnerability"),
                        ("severity", "CRITICAL"),
                    ],
                ) == Some(2.0)
                && m.get(
                    "srp_scan_sbom_components",
                    &[("target", "app"), ("type", "deb")],
                ) == Some(105.0)
                && ["empty", "binary", "truncated", "malformed", "too_large"]
                    .iter()
                    .all(|r| m.errors(r) == 1.0)
        })
        .await;
    // photon-30: CRITICAL 2, HIGH 1, and the rest of its cells are 0.
    let f = |sev| {
        m.get(
            "srp_scan_findings",
            &[
                ("scanner", "trivy"),
                ("target", "app"),
                ("class", "vulnerability"),
                ("severity", sev),
            ],
        )
    };
    assert_eq!(
        (f("HIGH"), f("MEDIUM"), f("UNKNOWN")),
        (Some(1.0), Some(0.0), Some(0.0))
    );
    assert_eq!(
        m.get(
            "srp_scan_sbom_components",
            &[("target", "app"), ("type", "gem")]
        ),
        Some(55.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_sbom_components",
            &[("target", "app"), ("type", "operating-system")]
        ),
        Some(1.0)
    );
    // The half-written file was not counted as an error.
    assert_eq!(m.errors("truncated"), 1.0);
    // Gates: trivy blocked in ci/app; the later passing SBOM does not hide it.
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "ci"), ("target", "app")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "ci"), ("target", ALPINE)]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "pre"), ("target", "gitleaks")]
        ),
        Some(0.0)
    );
    // The report's CreatedAt (2021-08-25T12:20:30Z) is the scan time.
    assert_eq!(
        m.get(
            "srp_scan_last_timestamp_seconds",
            &[("scanner", "trivy"), ("target", ALPINE)]
        ),
        Some(1_629_894_030.0)
    );
    promtool::assert_clean(&m.text);
    let before = m.durable();
    let (code, latest) = app.get("/reports/ci/app/latest").await;
    assert_eq!(code, 200);

    // Restart on the same data directory: same figures, nothing ingested or
    // counted twice.
    app.stop();
    let app = App::spawn(&data, Some(&reports), &[]);
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(m.durable(), before, "figures changed across the restart");
    // A file dropped now is handled after the ones already there were
    // looked at again (the startup scan enqueues them first).
    put_atomically(
        &reports.join("ci/sentinel/gitleaks.json"),
        &read("gitleaks/empty.json"),
    );
    let m = app
        .wait_for("sentinel", |m| {
            m.get(
                "srp_scan_gate_passed",
                &[("pipeline", "ci"), ("target", "sentinel")],
            ) == Some(1.0)
        })
        .await;
    for r in ["empty", "binary", "truncated", "malformed", "too_large"] {
        assert_eq!(m.errors(r), 0.0, "{r} counted again after restart");
    }
    let after: Vec<String> = m
        .durable()
        .into_iter()
        .filter(|l| !l.contains("sentinel"))
        .collect();
    assert_eq!(after, before);
    let (_, again) = app.get("/reports/ci/app/latest").await;
    assert_eq!(again["received_at"], latest["received_at"], "re-ingested");
    promtool::assert_clean(&m.text);

    // A good report overwritten with a broken one: counted, and the last
    // good figures stay.
    std::fs::write(&slow, &photon[..photon.len() / 2]).unwrap();
    let m = app
        .wait_for("truncated overwrite", |m| m.errors("truncated") == 1.0)
        .await;
    let after: Vec<String> = m
        .durable()
        .into_iter()
        .filter(|l| !l.contains("sentinel"))
        .collect();
    assert_eq!(after, before);
    app.stop();
}

#[test]
fn a_bad_policy_or_data_dir_stops_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("p.toml");
    std::fs::write(&policy, "[[waivers]]\nid = \"CVE-1\"\nreason = \"r\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_srp-scan-exporter"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .arg("--policy")
        .arg(&policy)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expires"));
    // A data directory that is a file.
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_srp-scan-exporter"))
        .args(["--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("data"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_push_verdicts_diff_and_bad_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::spawn(tmp.path(), None, &["--max-report-bytes", "200000"]);
    let (code, h) = app.get("/health").await;
    assert_eq!((code, h["status"].as_str()), (200, Some("ok")));

    // Build 1: 2 MEDIUM → pass.
    let (code, v) = app
        .push(
            "pipeline=srp&build=1&target=api",
            read("trivy/alpine-39-ignore-cveids.json.golden"),
        )
        .await;
    assert_eq!((code, v["verdict"].as_str()), (200, Some("pass")), "{v}");
    let m = app
        .wait_for("gate passed", |m| {
            m.get(
                "srp_scan_gate_passed",
                &[("pipeline", "srp"), ("target", "api")],
            ) == Some(1.0)
        })
        .await;
    assert_eq!(
        m.get(
            "srp_scan_findings",
            &[
                ("scanner", "trivy"),
                ("target", "api"),
                ("class", "vulnerability"),
                ("severity", "MEDIUM")
            ]
        ),
        Some(2.0)
    );

    // Build 2: the full alpine-39 (2 CRITICAL) → block, and a passing SBOM
    // for the same build does not turn the gate green.
    let (code, v) = app
        .push(
            "pipeline=srp&build=2&target=api",
            read("trivy/alpine-39.json.golden"),
        )
        .await;
    assert_eq!((code, v["verdict"].as_str()), (200, Some("block")), "{v}");
    assert_eq!(v["blocking"].as_array().unwrap().len(), 2);
    assert!(v.get("finding_keys").is_none());
    let (_, v) = app
        .push(
            "pipeline=srp&build=2&target=api",
            read("sbom/npm-cyclonedx.json.golden"),
        )
        .await;
    assert_eq!(v["verdict"], "pass");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "srp"), ("target", "api")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_sbom_components",
            &[("target", "api"), ("type", "npm")]
        ),
        Some(12.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_findings",
            &[
                ("scanner", "sbom"),
                ("target", "api"),
                ("class", "vulnerability"),
                ("severity", "MEDIUM")
            ]
        ),
        Some(1.0)
    );
    // What changed since build 1: the 4 alpine-39 findings not in the
    // ignore-cveids report, plus the SBOM's jquery CVE.
    let (code, d) = app.get("/reports/srp/api/diff").await;
    assert_eq!(code, 200);
    assert_eq!(
        (d["build"].as_str(), d["previous_build"].as_str()),
        (Some("2"), Some("1")),
        "{d}"
    );
    assert_eq!(d["new"].as_array().unwrap().len(), 5, "{d}");
    assert_eq!(d["fixed"].as_array().unwrap().len(), 0, "{d}");
    assert_eq!(d["unchanged"], 2);

    // Build 3: only the 2 CRITICAL are left.
    let (_, v) = app
        .push(
            "pipeline=srp&build=3&target=api",
            read("trivy/alpine-39-high-critical.json.golden"),
        )
        .await;
    assert_eq!(v["verdict"], "block");
    let (_, d) = app.get("/reports/srp/api/diff").await;
    assert_eq!(
        (
            d["new"].as_array().unwrap().len(),
            d["fixed"].as_array().unwrap().len()
        ),
        (0, 5),
        "{d}"
    );

    // An srp-gate summary keeps the gate's verdict and waivers.
    let dir = tempfile::tempdir().unwrap();
    let soon = (chrono::Utc::now().date_naive() + chrono::Duration::days(3)).to_string();
    let policy = dir.path().join("p.toml");
    std::fs::write(
        &policy,
        format!("[[waivers]]\npath = \"detect/*\"\nreason = \"test data\"\nexpires = \"{soon}\"\n"),
    )
    .unwrap();
    let summary = dir.path().join("s.json");
    let st = Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg("--quiet")
        .arg("--policy")
        .arg(&policy)
        .arg("--summary-json")
        .arg(&summary)
        .arg(fixture("gitleaks/baseline.json"))
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(0));
    let (code, v) = app
        .push(
            "pipeline=srp&build=3&target=repo",
            std::fs::read(&summary).unwrap(),
        )
        .await;
    assert_eq!((code, v["verdict"].as_str()), (200, Some("pass")), "{v}");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "srp"), ("target", "repo")]
        ),
        Some(1.0)
    );
    assert_eq!(
        m.get("srp_scan_waivers_expiring", &[("target", "repo")]),
        Some(1.0)
    );
    assert_eq!(
        m.get(
            "srp_scan_findings",
            &[
                ("scanner", "gitleaks"),
                ("target", "repo"),
                ("class", "secret"),
                ("severity", "CRITICAL")
            ]
        ),
        Some(2.0)
    );

    // Without a target parameter an image report names its repository,
    // without the tag (alpine:3.10 → alpine), so builds share one target.
    let (_, v) = app
        .push(
            "pipeline=img&build=1",
            read("trivy/trivy-action/with-trivy-yaml-cfg/report.json"),
        )
        .await;
    assert_eq!(v["verdict"], "block", "{v}");
    let m = Metrics::parse(&app.metrics().await);
    assert_eq!(
        m.get(
            "srp_scan_gate_passed",
            &[("pipeline", "img"), ("target", "alpine")]
        ),
        Some(0.0),
        "{}",
        m.text
    );

    // Bad bodies: refused with a reason, counted, and the last good figures
    // for srp/api stay as they were.
    let good = Metrics::parse(&app.metrics().await).durable();
    let alpine = read("trivy/alpine-39.json.golden");
    for (query, body, status, reason) in [
        (
            "pipeline=srp&build=4&target=api",
            vec![0u8, 1, 2, 0xff],
            422,
            "binary",
        ),
        (
            "pipeline=srp&build=4&target=api",
            alpine[..alpine.len() / 2].to_vec(),
            422,
            "truncated",
        ),
        ("pipeline=srp&build=4&target=api", Vec::new(), 422, "empty"),
        (
            "pipeline=srp&build=4&target=api",
            br#"{"SchemaVersion":2,"Results":{}}"#.to_vec(),
            422,
            "malformed",
        ),
        (
            "pipeline=srp&build=4&target=api",
            br#"{"what":"ever"}"#.to_vec(),
            422,
            "unknown_format",
        ),
        (
            "build=4&target=api",
            read("gitleaks/empty.json"),
            422,
            "bad_request",
        ),
        (
            "pipeline=srp&build=4&target=api",
            read("sbom/fluentd-multiple-lockfiles.cdx.json.golden"),
            413,
            "too_large",
        ),
    ] {
        let (code, v) = app.push(query, body).await;
        assert_eq!(code, status, "{reason}: {v}");
        // srp-daemon's error body; the code is the counted reason.
        assert_eq!(v["error"]["code"], reason, "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let m = Metrics::parse(&app.metrics().await);
    for r in [
        "binary",
        "truncated",
        "empty",
        "malformed",
        "unknown_format",
        "bad_request",
        "too_large",
    ] {
        assert_eq!(m.errors(r), 1.0, "{r}");
    }
    assert_eq!(m.durable(), good, "a refused report changed the figures");
    promtool::assert_clean(&m.text);

    let (code, v) = app.get("/reports/srp/api/latest").await;
    assert_eq!(
        (code, v["build"].as_str(), v["verdict"].as_str()),
        (200, Some("3"), Some("block")),
        "{v}"
    );
    let (code, v) = app.get("/reports/srp/nothing/diff").await;
    assert_eq!(
        (code, &v["error"]["code"]),
        (404, &Value::from("not_found"))
    );
    app.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_files_and_atomic_replacements() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let app = App::spawn(&tmp.path().join("data"), Some(&reports), &[]);
    let leaks = read("gitleaks/baseline.json");
    let clean = read("gitleaks/empty.json");
    for i in 0..40 {
        put_atomically(&reports.join(format!("burst/t{i}/gitleaks.json")), &leaks);
    }
    let gates = |m: &Metrics, v: f64| {
        (0..40)
            .filter(|i| {
                m.get(
                    "srp_scan_gate_passed",
                    &[("pipeline", "burst"), ("target", &format!("t{i}"))],
                ) == Some(v)
            })
            .count()
    };
    app.wait_for("40 blocked gates", |m| gates(m, 0.0) == 40)
        .await;
    // The leaks are fixed: each report is replaced by rename over it.
    for i in 0..40 {
        put_atomically(&reports.join(format!("burst/t{i}/gitleaks.json")), &clean);
    }
    let m = app
        .wait_for("40 passed gates", |m| gates(m, 1.0) == 40)
        .await;
    assert_eq!(
        m.get(
            "srp_scan_findings",
            &[
                ("scanner", "gitleaks"),
                ("target", "t7"),
                ("class", "secret"),
                ("severity", "CRITICAL")
            ]
        ),
        Some(0.0)
    );
    for r in ["empty", "binary", "truncated", "malformed"] {
        assert_eq!(m.errors(r), 0.0, "{r}");
    }
    promtool::assert_clean(&m.text);
    app.stop();
}

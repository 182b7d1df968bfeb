//! What every SRP daemon exports and answers, on the node exporter too:
//! srp_build_info, the tokio runtime metrics, RED metrics of its own routes,
//! and errors in the one JSON shape. `--web.disable-exporter-metrics` leaves
//! them out, as it leaves out node_exporter's own process_* family.

mod common;

use common::{get, start_ours};
use std::process::Command;

fn status_and_body(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}", url])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.to_string(), body.to_string())
}

#[test]
fn exports_the_shared_families_and_error_shape() {
    let ours = start_ours(&["--collector.disable-defaults", "--collector.loadavg"]);
    let base = format!("http://{}", ours.addr);
    let _ = get(&format!("{base}/metrics")).unwrap();
    let (code, body) = status_and_body(&format!("{base}/no-such-page"));
    assert_eq!(code, "404");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "not_found", "{body}");

    let text = get(&format!("{base}/metrics")).unwrap();
    for want in [
        "srp_build_info{binary=\"srp-node-exporter\"",
        "srp_tokio_workers 1",
        "srp_tokio_alive_tasks",
        "srp_tokio_worker_busy_seconds_total{worker=\"0\"}",
        "http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}",
        "http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "node_load1",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    // node_* families keep node_exporter's names (and its promtool findings,
    // which the parity suite checks); the shared families must be clean.
    let ours: Vec<String> = srp_testkit::promtool::findings(&text)
        .into_iter()
        .filter(|f| !f.starts_with("node_"))
        .collect();
    assert!(ours.is_empty(), "promtool findings: {ours:?}");
}

#[test]
fn disable_exporter_metrics_leaves_them_out() {
    let ours = start_ours(&[
        "--collector.disable-defaults",
        "--collector.loadavg",
        "--web.disable-exporter-metrics",
    ]);
    let text = get(&format!("http://{}/metrics", ours.addr)).unwrap();
    assert!(text.contains("node_load1"));
    for absent in [
        "srp_build_info",
        "srp_tokio_",
        "http_requests_total",
        "process_",
    ] {
        assert!(!text.contains(absent), "{absent} present:\n{text}");
    }
}

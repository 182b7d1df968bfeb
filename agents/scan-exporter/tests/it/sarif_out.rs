//! `--sarif-out`: every finding of every input in one SARIF 2.1.0 log, with
//! waived and VEX-suppressed findings kept and carrying `suppressions`.

use crate::{fixture, gate};
use serde_json::Value;
use std::path::Path;

const POLICY: &str = r#"
[[waivers]]
id = "CVE-2019-18276"
reason = "bash is never run with untrusted input in this image"
justification = "vulnerable_code_not_in_execute_path"
expires = 2099-01-01
"#;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn results(log: &Value) -> Vec<&Value> {
    log["runs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["results"].as_array().unwrap())
        .collect()
}

#[test]
fn every_finding_with_waived_and_vex_suppressed_ones_marked() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.toml");
    std::fs::write(&policy, POLICY).unwrap();
    // curl-libs is suppressed by VEX, curl and the secrets block.
    let vex = dir.path().join("vex.json");
    std::fs::write(
        &vex,
        serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0", "@id": "urn:x:1", "author": "vendor",
            "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-2019-5481"}, "status": "not_affected",
                "justification": "vulnerable_code_not_present",
                "products": [{"@id": "pkg:rpm/photon/curl-libs"}]}]
        })
        .to_string(),
    )
    .unwrap();
    let out = dir.path().join("gate.sarif");
    let inputs = [
        fixture("trivy/photon-30.json.golden"),
        fixture("gitleaks/baseline.json"),
    ];
    let run = gate(&[
        "--policy".to_string(),
        s(&policy),
        "--vex".into(),
        s(&vex),
        "--sarif-out".into(),
        s(&out),
        s(&inputs[0]),
        s(&inputs[1]),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    let log: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(
        log["runs"].as_array().unwrap().len(),
        2,
        "one run per report"
    );
    let all = results(&log);
    assert_eq!(all.len() as u64, run.total(), "every finding is in the log");
    let suppressed: Vec<&&Value> = all
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(
        suppressed.len(),
        2,
        "the waived bash and the VEX'd curl-libs"
    );
    let bash = suppressed
        .iter()
        .find(|r| r["ruleId"] == "CVE-2019-18276")
        .unwrap();
    let sup = &bash["suppressions"][0];
    assert_eq!(sup["kind"], "external");
    assert_eq!(sup["status"], "accepted");
    assert_eq!(
        sup["justification"],
        "bash is never run with untrusted input in this image"
    );
    assert_eq!(sup["properties"]["expires"], "2099-01-01");
    let curl_libs = suppressed
        .iter()
        .find(|r| r["properties"]["pkg"] == "curl-libs")
        .unwrap();
    assert_eq!(curl_libs["suppressions"][0]["kind"], "external");
    assert!(curl_libs["suppressions"][0]["properties"]["vexStatement"]
        .as_str()
        .unwrap()
        .contains("vex.json"));
    let blocking = all
        .iter()
        .filter(|r| r["properties"]["blocking"] == true)
        .count();
    assert_eq!(blocking, run.blocking());
    for r in &all {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(!uri.contains(' '), "a URI reference: {uri}");
    }

    // The log is SARIF the gate itself reads back (its strict reader),
    // with the same findings.
    let back = gate(&[s(&out)]);
    assert_eq!(back.code, 1, "{}", back.debug());
    assert_eq!(back.total(), run.total());
}

/// An unreadable report is a failed run in the log (never a clean one), and
/// the gate still exits 2.
#[test]
fn an_unreadable_report_is_a_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let out = dir.path().join("gate.sarif");
    let run = gate(&["--sarif-out".to_string(), s(&out), s(&bad)]);
    assert_eq!(run.code, 2, "{}", run.debug());
    let log: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    let back = gate(&[s(&out)]);
    assert_eq!(back.code, 2, "{}", back.debug());
}

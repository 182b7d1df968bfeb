//! VEX out and in: srp-gate's waivers written as OpenVEX (validated against
//! the OpenVEX schema in tests/data) and as CycloneDX VEX, both read back by
//! srp-gate itself with the same effect; findings a statement suppresses are
//! listed, statements matching nothing too; broken VEX is exit 2.

use crate::{fixture, gate};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const PHOTON: &str = "trivy/photon-30.json.golden";

/// Two waivers of photon-30's three blocking findings: one not affected
/// (with a justification), one an accepted risk (reason only).
const POLICY: &str = r#"
[[waivers]]
id = "CVE-2019-18276"
reason = "bash is never run with untrusted input in this image"
justification = "vulnerable_code_not_in_execute_path"
expires = 2099-01-01

[[waivers]]
id = "CVE-2019-5481"
reason = "curl upgrade scheduled with the base image bump"
expires = 2099-02-01
"#;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openvex/openvex_json_schema.json")
}

/// check-jsonschema from the project's venv (the README's test command
/// installs it); missing is a failure, not a skip.
fn check_jsonschema() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/venv/bin/check-jsonschema");
    assert!(p.exists(), "check-jsonschema missing at {}", p.display());
    p
}

fn validate_openvex(doc: &Path) -> (bool, String) {
    let out = Command::new(check_jsonschema())
        .arg("--schemafile")
        .arg(schema())
        .arg(doc)
        .output()
        .expect("check-jsonschema runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Run the gate with the waiver policy and write VEX in `format`.
fn write_vex(dir: &Path, format: &str) -> PathBuf {
    let policy = write(dir, "policy.toml", POLICY);
    let out = dir.join(format!("vex.{format}.json"));
    let run = gate(&[
        "--policy".to_string(),
        s(&policy),
        "--vex-out".into(),
        s(&out),
        "--vex-format".into(),
        format.into(),
        "--vex-author".into(),
        "platform-security@example.org".into(),
        s(&fixture(PHOTON)),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["waived"], 3, "{}", run.debug());
    out
}

fn suppressed_ids(summary: &Value) -> Vec<String> {
    let mut v: Vec<String> = summary["vex"]["suppressed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["pkg"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn vex_out_is_valid_openvex_with_status_justification_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let out = write_vex(dir.path(), "openvex");
    let (ok, why) = validate_openvex(&out);
    assert!(ok, "{why}");
    let doc: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["author"], "platform-security@example.org");
    let statements = doc["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3, "bash, curl and curl-libs");
    let bash = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2019-18276")
        .unwrap();
    assert_eq!(bash["status"], "not_affected");
    assert_eq!(bash["justification"], "vulnerable_code_not_in_execute_path");
    assert!(bash["status_notes"]
        .as_str()
        .unwrap()
        .contains("expires: 2099-01-01"));
    let sub = bash["products"][0]["subcomponents"][0]["@id"]
        .as_str()
        .unwrap();
    assert!(sub.starts_with("pkg:rpm/photon/bash@"), "{sub}");
    let curl = statements
        .iter()
        .find(|s| s["vulnerability"]["name"] == "CVE-2019-5481")
        .unwrap();
    assert_eq!(curl["status"], "affected");
    assert_eq!(
        curl["action_statement"],
        "curl upgrade scheduled with the base image bump"
    );
}

/// The schema really is checked: a statement srp-gate would never write
/// (not_affected without a justification) fails it.
#[test]
fn the_schema_refuses_a_broken_statement() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.json",
        &json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "urn:x:1", "author": "a", "timestamp": "2026-01-01T00:00:00Z",
            "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}]
        })
        .to_string(),
    );
    let (ok, _) = validate_openvex(&bad);
    assert!(!ok);
}

fn round_trip(format: &str) {
    let dir = tempfile::tempdir().unwrap();
    let vex = write_vex(dir.path(), format);
    // Without the policy, photon blocks on its three findings ...
    let run = gate(&[s(&fixture(PHOTON))]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 3);
    // ... and with the VEX alone, it passes, each finding listed as suppressed.
    let run = gate(&["--vex".to_string(), s(&vex), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(
        suppressed_ids(&run.summary),
        [
            "CVE-2019-18276 bash",
            "CVE-2019-5481 curl",
            "CVE-2019-5481 curl-libs"
        ]
    );
    assert_eq!(run.summary["vex"]["unused"], json!([]));
    assert!(
        run.stdout.contains("suppressed: CVE-2019-18276 bash"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("3 suppressed by VEX"), "{}", run.stdout);
}

#[test]
fn openvex_out_read_back_suppresses_the_waived_findings() {
    round_trip("openvex");
}

#[test]
fn cyclonedx_vex_out_read_back_suppresses_the_same() {
    round_trip("cyclonedx");
}

fn openvex(statements: Value) -> String {
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.org/vex/1",
        "author": "vendor",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": statements,
    })
    .to_string()
}

/// A vendor's `affected` and an `under_investigation` never suppress; an
/// expired srp-gate statement stops suppressing; a statement matching
/// nothing is listed as unused.
#[test]
fn only_not_affected_fixed_or_accepted_risk_suppress() {
    let dir = tempfile::tempdir().unwrap();
    let vex = write(
        dir.path(),
        "vendor.json",
        &openvex(json!([
            {"vulnerability": {"name": "CVE-2019-18276"}, "status": "affected",
             "action_statement": "upgrade bash"},
            {"vulnerability": {"name": "CVE-2019-5481"}, "status": "under_investigation",
             "products": [{"@id": "pkg:rpm/photon/curl"}]},
            {"vulnerability": {"name": "CVE-2019-5481"}, "status": "affected",
             "action_statement": "accepted", "status_notes": "srp-gate waiver; expires: 2020-01-01; p: old",
             "products": [{"@id": "pkg:rpm/photon/curl-libs"}]},
            {"vulnerability": {"name": "CVE-2000-0001"}, "status": "not_affected",
             "justification": "component_not_present"},
        ])),
    );
    let run = gate(&["--vex".to_string(), s(&vex), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 3, "{}", run.debug());
    assert_eq!(run.summary["vex"]["suppressed"], json!([]));
    let unused = run.summary["vex"]["unused"].as_array().unwrap();
    assert_eq!(unused.len(), 1, "{unused:?}");
    assert_eq!(unused[0]["vulnerability"], "CVE-2000-0001");
    assert!(run.stdout.contains("unused:"), "{}", run.stdout);
}

/// A not_affected statement scoped to one package leaves the other
/// package's finding of the same CVE blocking.
#[test]
fn a_statement_covers_only_its_products() {
    let dir = tempfile::tempdir().unwrap();
    let vex = write(
        dir.path(),
        "scoped.json",
        &openvex(json!([
            {"vulnerability": {"name": "CVE-2019-5481"}, "status": "not_affected",
             "justification": "vulnerable_code_not_present",
             "products": [{"@id": "pkg:rpm/photon/curl-libs"}]},
        ])),
    );
    let run = gate(&["--vex".to_string(), s(&vex), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(suppressed_ids(&run.summary), ["CVE-2019-5481 curl-libs"]);
    assert_eq!(run.blocking_ids(), ["CVE-2019-18276", "CVE-2019-5481"]);
}

/// Every broken VEX is exit 2 naming the file and the JSON path, never a
/// pass with fewer suppressions.
#[test]
fn broken_vex_is_exit_2_naming_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let ok_statement = json!({"vulnerability": {"name": "CVE-1"}, "status": "fixed"});
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-key.json",
            openvex(
                json!([{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "severity": "low"}]),
            ),
            "$.statements[0]",
        ),
        (
            "bad-status.json",
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "status": "fine"}])),
            "$.statements[0].status",
        ),
        (
            "no-justification.json",
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "status": "not_affected"}])),
            "$.statements[0]",
        ),
        (
            "bad-justification.json",
            openvex(
                json!([{"vulnerability": {"name": "CVE-1"}, "status": "not_affected", "justification": "trust me"}]),
            ),
            "$.statements[0].justification",
        ),
        (
            "affected-no-action.json",
            openvex(json!([{"vulnerability": {"name": "CVE-1"}, "status": "affected"}])),
            "$.statements[0]",
        ),
        (
            "bad-expiry.json",
            openvex(
                json!([{"vulnerability": {"name": "CVE-1"}, "status": "fixed",
                "status_notes": "srp-gate waiver; expires: 2030-13-01; x"}]),
            ),
            "$.statements[0].status_notes",
        ),
        (
            "null-name.json",
            openvex(json!([{"vulnerability": {"name": null}, "status": "fixed"}])),
            "$.statements[0].vulnerability.name",
        ),
        ("no-statements.json", openvex(json!([])), "$.statements"),
        (
            "truncated.json",
            openvex(json!([ok_statement]))[..60].to_string(),
            "",
        ),
        (
            "bad-timestamp.json",
            openvex(json!([ok_statement])).replace("2026-01-01T00:00:00Z", "yesterday"),
            "$.timestamp",
        ),
        (
            "product-without-id.json",
            openvex(
                json!([{"vulnerability": {"name": "CVE-1"}, "status": "fixed", "products": [{}]}]),
            ),
            "$.statements[0].products[0]",
        ),
        (
            "cdx-bad-state.json",
            json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                {"id": "CVE-1", "analysis": {"state": "meh"}}]})
            .to_string(),
            "$.vulnerabilities[0].analysis.state",
        ),
        (
            "cdx-no-analysis.json",
            json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                {"id": "CVE-1"}]})
            .to_string(),
            "$.vulnerabilities[0].analysis",
        ),
        (
            "cdx-bad-expiry.json",
            json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [
                {"id": "CVE-1", "analysis": {"state": "not_affected"},
                 "properties": [{"name": "srp-gate:expires", "value": "soon"}]}]})
            .to_string(),
            "$.vulnerabilities[0].properties[0].value",
        ),
        ("empty.json", String::new(), ""),
        ("blank.json", " \n\t\n".into(), ""),
        (
            "binary.json",
            "{\"@context\": \"https://openvex.dev/ns/v0.2.0\", \"x\": \"\u{0}\"}".into(),
            "binary data",
        ),
        ("neither.json", json!({"statements": []}).to_string(), ""),
    ];
    for (name, body, path) in cases {
        let vex = write(dir.path(), name, &body);
        let run = gate(&["--vex".to_string(), s(&vex), s(&fixture(PHOTON))]);
        assert_eq!(run.code, 2, "{name}: {}", run.debug());
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: VEX "))
            .unwrap_or_else(|| panic!("{name}: {}", run.debug()));
        assert!(line.contains(name), "{name}: {line}");
        assert!(line.contains(path), "{name}: {line}");
    }
    // Only a regular file is read (a directory given as --vex), and one that
    // is not there is an error too.
    let run = gate(&["--vex".to_string(), s(dir.path()), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(run.stderr.contains("regular file"), "{}", run.stderr);
    let absent = dir.path().join("absent.json");
    let run = gate(&["--vex".to_string(), s(&absent), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(
        run.stderr.contains("error: VEX ") && run.stderr.contains("absent.json"),
        "{}",
        run.stderr
    );
}

/// No waiver applied to a vulnerability: no OpenVEX statement exists, so no
/// file is written and a stale one is removed, rather than an invalid one.
#[test]
fn nothing_waived_writes_no_openvex() {
    let dir = tempfile::tempdir().unwrap();
    let out = write(dir.path(), "vex.json", "stale");
    let run = gate(&["--vex-out".to_string(), s(&out), s(&fixture(PHOTON))]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert!(!out.exists());
    assert!(run.stderr.contains("not written"), "{}", run.stderr);
}

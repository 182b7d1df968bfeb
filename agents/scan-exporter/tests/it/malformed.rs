//! The gate fails closed: anything it cannot read or understand is exit 2,
//! never a pass and never a crash, also when a good report comes with it.

use crate::{fixture, gate};
use std::path::PathBuf;

/// Bad inputs, each with a word the error must contain.
pub fn bad_inputs(dir: &std::path::Path) -> Vec<(PathBuf, &'static str)> {
    let good = std::fs::read(fixture("trivy/alpine-39.json.golden")).unwrap();
    let mut v = Vec::new();
    let mut put = |name: &str, bytes: &[u8], why: &'static str| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        v.push((p, why));
    };
    put("truncated.json", &good[..good.len() / 2], "EOF");
    put("empty.json", b"", "empty");
    put("blank.json", b"  \n\n", "empty");
    put(
        "garbage.bin",
        &[0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff, 0xfe],
        "binary",
    );
    put("latin1.json", b"{\"a\": \"caf\xe9\"}", "binary");
    put(
        "severity-int.json",
        br#"{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1","Severity":4}]}]}"#,
        "invalid type",
    );
    put(
        "severity-word.json",
        br#"{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p","Severity":"SEVERE"}]}]}"#,
        "severity",
    );
    put(
        "no-severity.json",
        br#"{"SchemaVersion":2,"Results":[{"Target":"x","Vulnerabilities":[{"VulnerabilityID":"CVE-1","PkgName":"p"}]}]}"#,
        "Severity",
    );
    put(
        "results-string.json",
        br#"{"SchemaVersion":2,"Results":"none"}"#,
        "invalid type",
    );
    put(
        "schema-3.json",
        br#"{"SchemaVersion":3,"Results":[]}"#,
        "version",
    );
    put("gitleaks-numbers.json", b"[1, 2, 3]", "invalid type");
    put(
        "gitleaks-missing-file.json",
        br#"[{"RuleID":"r","StartLine":1}]"#,
        "File",
    );
    put(
        "unknown-object.json",
        br#"{"hello":"world"}"#,
        "unrecognised",
    );
    put("scalar.json", b"42", "unrecognised");
    put(
        "sarif-2.0.json",
        br#"{"version":"2.0.0","runs":[]}"#,
        "SARIF",
    );
    put(
        "cdx-no-type.json",
        br#"{"bomFormat":"CycloneDX","components":[{"name":"x"}]}"#,
        "type",
    );
    put("xml.xml", b"<testsuites/>", "XML");
    v
}

#[test]
fn every_bad_input_is_exit_2_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (path, why) in bad_inputs(dir.path()) {
        let run = gate(&[&path]);
        if run.code != 2 || !run.stderr.contains(why) || run.summary["verdict"] != "error" {
            failures.push(format!(
                "{} (want {why:?}): {}",
                path.display(),
                run.debug()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_bad_report_beside_a_blocking_one_is_still_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let run = gate(&[
        fixture("trivy/alpine-39.json.golden").as_path(),
        empty.as_path(),
    ]);
    assert_eq!(run.code, 2, "{}", run.debug());
    let run = gate(&[fixture("gitleaks/empty.json").as_path(), empty.as_path()]);
    assert_eq!(run.code, 2, "{}", run.debug());
    // The JUnit report names the unreadable file as an error.
    assert!(run.junit.contains("<error"), "{}", run.junit);
}

#[test]
fn missing_file_and_directory_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = gate(&[dir.path().join("nope.json")]);
    assert_eq!(run.code, 2, "{}", run.debug());
    let run = gate(&[dir.path()]);
    assert_eq!(run.code, 2, "{}", run.debug());
}

#[test]
fn a_one_gigabyte_sparse_file_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    drop(f);
    let run = gate(&[&big]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(run.stderr.contains("too large"), "{}", run.stderr);
    // A lower cap refuses a real report too.
    let run = gate(&[
        fixture("trivy/alpine-39.json.golden").into_os_string(),
        "--max-report-bytes".into(),
        "1000".into(),
    ]);
    assert_eq!(run.code, 2, "{}", run.debug());
}

#[test]
fn a_summary_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg(fixture("gitleaks/empty.json"))
        .arg("--summary-json")
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let run = gate(&[&s]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(run.stderr.contains("--baseline"), "{}", run.stderr);
}

#[test]
fn usage_errors_are_exit_2() {
    for args in [vec![], vec!["--no-such-flag", "x.json"]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_srp-gate"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

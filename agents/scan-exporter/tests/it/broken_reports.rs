//! Issue 12: reports the gate used to pass (or judge by a guess) although it
//! could not fully read them. Each is exit 2 now, with a message naming the
//! file and the JSON path at fault.

use crate::gate;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Run the gate on one broken file and check exit 2, the error verdict, and
/// that stderr names the file and every `words` (the JSON path among them).
fn assert_refused(file: &Path, extra: &[&str], words: &[&str]) {
    let mut args: Vec<std::ffi::OsString> = extra.iter().map(Into::into).collect();
    args.push(file.into());
    let run = gate(&args);
    assert_eq!(run.code, 2, "{}: {}", file.display(), run.debug());
    assert_eq!(run.summary["verdict"], "error", "{}", run.debug());
    let msg = format!("{}: ", file.display());
    assert!(run.stderr.contains(&msg), "file not named: {}", run.debug());
    for w in words {
        assert!(run.stderr.contains(w), "want {w:?}: {}", run.debug());
    }
}

fn two_criticals(severity: &str) -> String {
    format!(
        r#"{{"SchemaVersion":2,"ArtifactName":"app","Results":[{{"Target":"app (alpine 3.9)","Class":"os-pkgs","Vulnerabilities":[
  {{"VulnerabilityID":"CVE-2019-14697","PkgName":"musl","InstalledVersion":"1.1.20-r4","FixedVersion":"1.1.20-r5","Severity":{severity}}},
  {{"VulnerabilityID":"CVE-2019-14698","PkgName":"musl-utils","InstalledVersion":"1.1.20-r4","FixedVersion":"1.1.20-r5","Severity":{severity}}}]}}]}}"#
    )
}

#[test]
fn trivy_severity_null_or_empty_is_an_error_not_unknown() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sev) in [("null.json", "null"), ("empty.json", r#""""#)] {
        let f = write(dir.path(), name, &two_criticals(sev));
        assert_refused(&f, &[], &["$.Results[0].Vulnerabilities[0].Severity"]);
    }
}

#[test]
fn misconfiguration_status_outside_pass_fail_exception_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(
        dir.path(),
        "policy.toml",
        "[defaults]\nmisconfiguration = \"high\"\n",
    );
    for status in ["fail", "FAILED", ""] {
        let report = format!(
            r#"{{"SchemaVersion":2,"Results":[{{"Target":"Dockerfile","Class":"config","Misconfigurations":[
  {{"ID":"DS-0002","Severity":"HIGH","Status":"{status}","Title":"root user"}}]}}]}}"#
        );
        let f = write(dir.path(), "misconf.json", &report);
        assert_refused(
            &f,
            &["--policy", policy.to_str().unwrap()],
            &[
                "$.Results[0].Misconfigurations[0].Status",
                "unknown variant",
            ],
        );
    }
    // A missing Status is not a PASS either.
    let f = write(
        dir.path(),
        "no-status.json",
        r#"{"SchemaVersion":2,"Results":[{"Target":"Dockerfile","Misconfigurations":[{"ID":"DS-0002","Severity":"HIGH"}]}]}"#,
    );
    assert_refused(
        &f,
        &["--policy", policy.to_str().unwrap()],
        &["$.Results[0].Misconfigurations[0]", "Status"],
    );
}

/// A Gitleaks run, left open for the keys each test adds.
const GITLEAKS_RUN: &str =
    r#"{"tool":{"driver":{"name":"gitleaks","rules":[{"id":"aws-access-key"}]}}"#;
const GITLEAKS_RESULT: &str = r#"{"ruleId":"aws-access-key","message":{"text":"leak"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"config.py"},"region":{"startLine":3}}}]}"#;

#[test]
fn sarif_run_without_results_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "no-results.sarif",
        &format!(r#"{{"version":"2.1.0","runs":[{GITLEAKS_RUN}}}]}}"#),
    );
    assert_refused(&f, &[], &["$.runs[0].results", "missing"]);
}

#[test]
fn sarif_run_that_did_not_complete_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "failed.sarif",
        &format!(
            r#"{{"version":"2.1.0","runs":[{},"invocations":[{{"executionSuccessful":false}}],"results":[]}}]}}"#,
            GITLEAKS_RUN
        ),
    );
    assert_refused(
        &f,
        &[],
        &[
            "$.runs[0].invocations[0].executionSuccessful",
            "did not complete",
        ],
    );
}

#[test]
fn a_document_that_is_trivy_and_sarif_is_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let run = format!(r#"{},"results":[{GITLEAKS_RESULT}]}}"#, GITLEAKS_RUN);
    let f = write(
        dir.path(),
        "both.json",
        &format!(r#"{{"SchemaVersion":2,"version":"2.1.0","runs":[{run}]}}"#),
    );
    assert_refused(&f, &[], &["ambiguous", "$.SchemaVersion", "$.runs"]);
}

/// Every pair of object formats (the Gitleaks array cannot share a document
/// with an object format): the keys of both make the document ambiguous,
/// whichever of them comes first.
#[test]
fn every_pair_of_formats_in_one_document_is_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let parts = [
        (
            "trivy",
            r#""SchemaVersion":2,"Results":[]"#,
            "$.SchemaVersion",
        ),
        (
            "cyclonedx",
            r#""bomFormat":"CycloneDX","specVersion":"1.5","components":[]"#,
            "$.bomFormat",
        ),
        (
            "sarif",
            r#""version":"2.1.0","runs":[{"tool":{"driver":{"name":"gitleaks"}},"results":[]}]"#,
            "$.runs",
        ),
        ("summary", r#""kind":"srp-gate-summary""#, "$.kind"),
    ];
    for (i, (a, ja, ka)) in parts.iter().enumerate() {
        for (b, jb, kb) in &parts[i + 1..] {
            for (order, doc) in [
                ("ab", format!("{{{ja},{jb}}}")),
                ("ba", format!("{{{jb},{ja}}}")),
            ] {
                let f = write(dir.path(), &format!("{a}-{b}-{order}.json"), &doc);
                assert_refused(&f, &[], &["ambiguous", ka, kb]);
            }
        }
    }
    // One stray key of another format is enough.
    let f = write(
        dir.path(),
        "trivy-with-components.json",
        r#"{"SchemaVersion":2,"components":[]}"#,
    );
    assert_refused(&f, &[], &["ambiguous", "$.components"]);
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Run srp-gate with a deadline, killed by pid if it overruns, so a
/// regression that blocks fails the test instead of hanging the suite.
/// Returns the exit code and stderr.
fn gate_bounded<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let stderr_path = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg("--quiet")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("srp-gate hung and was killed: {stderr}"));
    (status.code().expect("exit code, not a signal"), stderr)
}

/// A FIFO used to block srp-gate in open() for ever.
#[test]
fn a_fifo_as_report_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("report.json");
    mkfifo(&fifo);
    let (code, stderr) = gate_bounded(&[&fifo]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&fifo.display().to_string()), "{stderr}");
    assert!(stderr.contains("FIFO"), "{stderr}");
    assert!(stderr.contains("regular file"), "{stderr}");
}

/// The other files the gate reads are refused the same way.
#[test]
fn a_fifo_as_policy_ignore_file_or_baseline_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let report = crate::fixture("gitleaks/empty.json");
    for flag in [
        "--policy",
        "--trivyignore",
        "--gitleaksignore",
        "--baseline",
    ] {
        let (code, stderr) = gate_bounded(&[flag.as_ref(), fifo.as_os_str(), report.as_os_str()]);
        assert_eq!(code, 2, "{flag}: {stderr}");
        assert!(stderr.contains("FIFO"), "{flag}: {stderr}");
    }
}

/// A symlink or FIFO planted at an output's temporary name neither receives
/// the output nor blocks the gate.
#[test]
fn outputs_are_written_to_a_new_file_not_through_a_planted_name() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let out = dir.path().join("summary.json");
    std::os::unix::fs::symlink(&victim, dir.path().join(".summary.json.tmp")).unwrap();
    mkfifo(&dir.path().join(".junit.xml.tmp"));
    let junit = dir.path().join("junit.xml");
    let report = crate::fixture("gitleaks/empty.json");
    let (code, stderr) = gate_bounded(&[
        "--summary-json".as_ref(),
        out.as_os_str(),
        "--junit".as_ref(),
        junit.as_os_str(),
        report.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(summary["verdict"], "pass");
    assert!(std::fs::symlink_metadata(&out).unwrap().is_file());
    assert!(std::fs::read_to_string(&junit)
        .unwrap()
        .contains("<testsuites"));
}

/// The same class of problem, found by auditing all four parsers: each
/// document was passed, or judged with a guessed value, by the old parser.
#[test]
fn every_field_the_gate_reads_is_typed_and_closed() {
    let dir = tempfile::tempdir().unwrap();
    let trivy_vuln = |fields: &str| {
        format!(
            r#"{{"SchemaVersion":2,"Results":[{{"Target":"t","Class":"lang-pkgs","Vulnerabilities":[{{"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1",{fields}}}]}}]}}"#
        )
    };
    let sarif = |run: &str| format!(r#"{{"version":"2.1.0","runs":[{run}]}}"#);
    let trivy_rule = |props: &str| {
        format!(
            r#"{{"tool":{{"driver":{{"name":"Trivy","rules":[{{"id":"CVE-1","properties":{props}}}]}}}},"results":[{{"ruleId":"CVE-1","level":"error","message":{{"text":"Package: p"}}}}]}}"#
        )
    };
    let cdx = |vulns: &str| {
        format!(
            r#"{{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{{"type":"library","purl":"pkg:npm/a@1"}}],"vulnerabilities":[{vulns}]}}"#
        )
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        // Trivy
        (
            "trivy-sev-lower.json",
            trivy_vuln(r#""Severity":"critical""#),
            vec!["$.Results[0].Vulnerabilities[0].Severity", "unknown severity"],
        ),
        (
            "trivy-status-word.json",
            trivy_vuln(r#""Severity":"HIGH","Status":"FIXED""#),
            vec!["$.Results[0].Vulnerabilities[0].Status", "unknown variant"],
        ),
        (
            "trivy-status-null.json",
            trivy_vuln(r#""Severity":"HIGH","Status":null"#),
            vec!["$.Results[0].Vulnerabilities[0].Status", "null"],
        ),
        (
            "trivy-id-empty.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"","PkgName":"p","Severity":"HIGH"}]}]}"#.into(),
            vec!["$.Results[0].Vulnerabilities[0].VulnerabilityID", "empty"],
        ),
        (
            "trivy-vulns-null.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":null}]}"#.into(),
            vec!["$.Results[0].Vulnerabilities", "null"],
        ),
        (
            "trivy-results-null.json",
            r#"{"SchemaVersion":2,"Results":null}"#.into(),
            vec!["$.Results", "null"],
        ),
        (
            "trivy-no-target.json",
            r#"{"SchemaVersion":2,"Results":[{"Vulnerabilities":[]}]}"#.into(),
            vec!["$.Results[0]", "Target"],
        ),
        (
            "trivy-class-word.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Class":"os_pkgs"}]}"#.into(),
            vec!["$.Results[0].Class", "unknown variant"],
        ),
        (
            "trivy-secret-no-severity.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Class":"secret","Secrets":[{"RuleID":"aws-access-key-id","Title":"AWS"}]}]}"#.into(),
            vec!["$.Results[0].Secrets[0]", "Severity"],
        ),
        (
            "trivy-license-no-severity.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Class":"license","Licenses":[{"Name":"GPL-3.0","Severity":""}]}]}"#.into(),
            vec!["$.Results[0].Licenses[0].Severity", "empty severity"],
        ),
        (
            "trivy-misconf-no-id.json",
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Misconfigurations":[{"Severity":"HIGH","Status":"FAIL"}]}]}"#.into(),
            vec!["$.Results[0].Misconfigurations[0].ID"],
        ),
        (
            "trivy-keys-without-schema.json",
            r#"{"ArtifactName":"app","Results":[]}"#.into(),
            vec!["$.SchemaVersion", "missing"],
        ),
        // SARIF
        (
            "sarif-no-runs.sarif",
            r#"{"version":"2.1.0","runs":[]}"#.into(),
            vec!["$.runs", "no runs"],
        ),
        (
            "sarif-score-word.sarif",
            sarif(&trivy_rule(r#"{"security-severity":"high"}"#)),
            vec![
                "$.runs[0].tool.driver.rules[0].properties.security-severity",
                "score",
            ],
        ),
        (
            "sarif-score-nan.sarif",
            sarif(&trivy_rule(r#"{"security-severity":"NaN"}"#)),
            vec!["$.runs[0].tool.driver.rules[0].properties.security-severity"],
        ),
        (
            "sarif-two-severity-tags.sarif",
            sarif(&trivy_rule(r#"{"tags":["vulnerability","LOW","CRITICAL"]}"#)),
            vec!["$.runs[0].tool.driver.rules[0].properties.tags", "two different"],
        ),
        (
            "sarif-kind-word.sarif",
            sarif(r#"{"tool":{"driver":{"name":"Trivy"}},"results":[{"ruleId":"CVE-1","kind":"failed"}]}"#),
            vec!["$.runs[0].results[0].kind", "unknown variant"],
        ),
        (
            "sarif-level-null.sarif",
            sarif(r#"{"tool":{"driver":{"name":"Trivy"}},"results":[{"ruleId":"CVE-1","level":null}]}"#),
            vec!["$.runs[0].results[0].level", "null"],
        ),
        (
            "sarif-tool-empty.sarif",
            sarif(r#"{"tool":{"driver":{"name":""}},"results":[]}"#),
            vec!["$.runs[0].tool.driver.name", "empty"],
        ),
        (
            "sarif-invocation-unsaid.sarif",
            sarif(r#"{"tool":{"driver":{"name":"Trivy"}},"invocations":[{}],"results":[]}"#),
            vec!["$.runs[0].invocations[0]", "executionSuccessful"],
        ),
        // Gitleaks
        (
            "gitleaks-rule-empty.json",
            r#"[{"RuleID":"","File":"a.py","StartLine":1}]"#.into(),
            vec!["$[0].RuleID", "empty"],
        ),
        (
            "gitleaks-commit-null.json",
            r#"[{"RuleID":"aws","File":"a.py","StartLine":1,"Commit":null}]"#.into(),
            vec!["$[0].Commit", "null"],
        ),
        // CycloneDX
        (
            "cdx-no-ratings.json",
            cdx(r#"{"id":"CVE-1","affects":[{"ref":"pkg:npm/a@1"}]}"#),
            vec!["$.vulnerabilities[0].ratings", "no rating"],
        ),
        (
            "cdx-rating-null.json",
            cdx(r#"{"id":"CVE-1","ratings":[{"severity":null}]}"#),
            vec!["$.vulnerabilities[0].ratings[0].severity", "null"],
        ),
        (
            "cdx-rating-empty.json",
            cdx(r#"{"id":"CVE-1","ratings":[{"severity":""}]}"#),
            vec!["$.vulnerabilities[0].ratings[0].severity", "unknown rating"],
        ),
        (
            "cdx-later-rating-bad.json",
            cdx(r#"{"id":"CVE-1","source":{"name":"nvd"},"ratings":[{"source":{"name":"nvd"},"severity":"low"},{"severity":"severe"}]}"#),
            vec!["$.vulnerabilities[0].ratings[1].severity"],
        ),
        (
            "cdx-id-empty.json",
            cdx(r#"{"id":"","ratings":[{"severity":"high"}]}"#),
            vec!["$.vulnerabilities[0].id", "empty"],
        ),
        (
            "cdx-component-type.json",
            r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"libary"}]}"#.into(),
            vec!["$.components[0].type", "unknown variant"],
        ),
        (
            "cdx-no-spec-version.json",
            r#"{"bomFormat":"CycloneDX","components":[]}"#.into(),
            vec!["$.specVersion", "missing"],
        ),
        (
            "cdx-spec-version.json",
            r#"{"bomFormat":"CycloneDX","specVersion":"9.9","components":[]}"#.into(),
            vec!["version 9.9"],
        ),
        (
            "cdx-keys-without-bomformat.json",
            r#"{"specVersion":"1.5","components":[]}"#.into(),
            vec!["$.bomFormat", "missing"],
        ),
    ];
    for (name, doc, words) in &cases {
        let f = write(dir.path(), name, doc);
        assert_refused(&f, &[], words);
    }
}

/// What the stricter reading still accepts: SARIF results that are not
/// problems, scores with spaces, an own-source rating among others.
#[test]
fn valid_edge_cases_still_parse() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "pass-kind.sarif",
        &format!(
            r#"{{"version":"2.1.0","runs":[{},"invocations":[{{"executionSuccessful":true}}],"results":[{{"ruleId":"aws-access-key","kind":"pass"}}]}}]}}"#,
            GITLEAKS_RUN
        ),
    );
    let run = gate(&[&f]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.total(), 0);
    let f = write(
        dir.path(),
        "cdx.json",
        r#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[],"vulnerabilities":[
  {"id":"CVE-1","source":{"name":"ghsa"},"ratings":[{"source":{"name":"nvd"},"severity":"critical"},{"source":{"name":"ghsa"},"severity":"medium"},{"score":5.0}]}]}"#,
    );
    let run = gate(&[&f]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.count("vulnerability", "MEDIUM"), 1, "{}", run.debug());
}

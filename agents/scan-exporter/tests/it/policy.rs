//! Policy files, waivers (expiry, unused, expiring soon), baselines and the
//! scanners' own ignore files.

use crate::{fixture, gate};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn thresholds_per_scanner_and_class() {
    let dir = tempfile::tempdir().unwrap();
    // Misconfigurations block at HIGH: helm has 3 HIGH failures.
    let p = write(
        dir.path(),
        "p.toml",
        "[defaults]\nmisconfiguration = \"high\"\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/helm.json.golden")),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 3);
    // Only CRITICAL vulnerabilities for trivy: photon's HIGH no longer blocks.
    let p = write(
        dir.path(),
        "c.toml",
        "[scanners.trivy]\nvulnerability = \"critical\"\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/photon-30.json.golden")),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 2);
    // MEDIUM threshold: centos' MEDIUM blocks now.
    let p = write(
        dir.path(),
        "m.toml",
        "[defaults]\nvulnerability = \"medium\"\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/centos-7.json.golden")),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 1);
    // Secrets can be relaxed per scanner (here: gitleaks off).
    let p = write(
        dir.path(),
        "g.toml",
        "[scanners.gitleaks]\nsecret = \"none\"\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("gitleaks/baseline.json")),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.count("secret", "CRITICAL"), 2, "still reported");
}

#[test]
fn ignore_unfixed() {
    let dir = tempfile::tempdir().unwrap();
    // debian-buster: the LOW bash CVE is `affected` (no fix). With LOW as
    // the threshold it blocks, unless unfixed vulnerabilities are ignored.
    let p = write(
        dir.path(),
        "p.toml",
        "[defaults]\nvulnerability = \"low\"\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/debian-buster.json.golden")),
    ]);
    assert_eq!(
        run.blocking_ids(),
        vec!["CVE-2019-18224", "CVE-2019-18276"],
        "{}",
        run.debug()
    );
    let p = write(
        dir.path(),
        "q.toml",
        "[defaults]\nvulnerability = \"low\"\nignore_unfixed = true\n",
    );
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/debian-buster.json.golden")),
    ]);
    assert_eq!(
        run.blocking_ids(),
        vec!["CVE-2019-18224"],
        "{}",
        run.debug()
    );
    assert_eq!(run.summary["unfixed_ignored"], 1);
    // centos-7: one will_not_fix LOW.
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        s(&fixture("trivy/centos-7.json.golden")),
    ]);
    assert_eq!(run.summary["unfixed_ignored"], 1, "{}", run.debug());
    assert_eq!(run.blocking(), 2);
}

const WAIVERS: &str = r#"
[[waivers]]
id = "CVE-2019-14697"
reason = "musl: not reachable"
expires = 2026-06-30

[[waivers]]
id = "CVE-2019-1549"
purl = "pkg:apk/alpine/libssl1.1"
reason = "libssl only: fixed upstream"
expires = "2026-06-10"

[[waivers]]
id = "CVE-2000-0001"
reason = "never matches"
expires = 2026-12-31

[[waivers]]
path = "detect/*_test.go"
reason = "test data"
expires = 2026-06-08
"#;

#[test]
fn waivers_apply_expire_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "w.toml", WAIVERS);
    // alpine-39: CVE-2019-14697 is CRITICAL (musl, musl-utils), CVE-2019-1549
    // MEDIUM (libcrypto1.1, libssl1.1) and others; gitleaks baseline: two
    // findings in detect/detect_test.go.
    let args = |today: &str| {
        vec![
            "--policy".to_string(),
            s(&p),
            "--today".into(),
            today.into(),
            s(&fixture("trivy/alpine-39.json.golden")),
            s(&fixture("gitleaks/baseline.json")),
        ]
    };
    let run = gate(&args("2026-06-01"));
    assert_eq!(run.code, 0, "{}", run.debug());
    // musl + musl-utils, libssl1.1 (not libcrypto1.1), two secrets.
    assert_eq!(run.summary["waived"], 2 + 1 + 2, "{}", run.summary);
    let w = &run.summary["waivers"];
    assert_eq!(w["used"].as_array().unwrap().len(), 3, "{w}");
    assert_eq!(w["unused"].as_array().unwrap().len(), 1, "{w}");
    assert_eq!(w["unused"][0]["selector"], "id=CVE-2000-0001");
    // 2026-06-08 is within 7 days of 2026-06-01; the others are not.
    assert_eq!(
        w["expiring_within_7_days"].as_array().unwrap().len(),
        1,
        "{w}"
    );
    assert!(run.stdout.contains("unused"), "{}", run.stdout);

    // A week later the test-data waiver has expired: the secrets block again
    // and the expired waiver is reported.
    let run = gate(&args("2026-06-09"));
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(
        run.blocking_ids(),
        vec!["pypi-upload-token", "pypi-upload-token"]
    );
    let w = &run.summary["waivers"];
    assert_eq!(w["expired"].as_array().unwrap().len(), 1, "{w}");
    assert_eq!(w["expired"][0]["matches"], 2);
    assert!(run.summary["blocking"][0]["why"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // The expiry day itself still counts; the day after does not.
    let run = gate(&args("2026-06-30"));
    assert!(
        !run.blocking_ids().contains(&"CVE-2019-14697".to_string()),
        "{}",
        run.debug()
    );
    let run = gate(&args("2026-07-01"));
    assert!(
        run.blocking_ids().contains(&"CVE-2019-14697".to_string()),
        "{}",
        run.debug()
    );
}

#[test]
fn bad_policies_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, why) in [
        (
            "noexp.toml",
            "[[waivers]]\nid = \"CVE-1\"\nreason = \"r\"\n",
            "expires",
        ),
        (
            "noreason.toml",
            "[[waivers]]\nid = \"CVE-1\"\nexpires = 2030-01-01\n",
            "reason",
        ),
        (
            "nothing.toml",
            "[[waivers]]\nreason = \"r\"\nexpires = 2030-01-01\n",
            "selects nothing",
        ),
        (
            "baddate.toml",
            "[[waivers]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = \"next year\"\n",
            "YYYY-MM-DD",
        ),
        (
            "typo.toml",
            "[defaults]\nvulnerabilities = \"high\"\n",
            "unknown field",
        ),
        ("notoml.toml", "this is not toml", "invalid policy"),
    ] {
        let p = write(dir.path(), name, text);
        let run = gate(&[
            "--policy".to_string(),
            s(&p),
            s(&fixture("gitleaks/empty.json")),
        ]);
        assert_eq!(run.code, 2, "{name}: {}", run.debug());
        assert!(run.stderr.contains(why), "{name}: {}", run.stderr);
        assert!(run.junit.contains("<error"), "{name}: {}", run.junit);
        assert_eq!(run.summary["verdict"], "error");
    }
    let run = gate(&[
        "--policy".to_string(),
        s(&dir.path().join("missing.toml")),
        s(&fixture("gitleaks/empty.json")),
    ]);
    assert_eq!(run.code, 2, "{}", run.debug());
}

/// A Trivy report holding the ids the upstream .trivyignore fixture lists.
const IGNORE_REPORT: &str = r#"{"SchemaVersion":2,"ArtifactName":"app","Results":[
 {"Target":"package-lock.json","Class":"lang-pkgs","Type":"npm","Vulnerabilities":[
  {"VulnerabilityID":"CVE-2019-0001","PkgName":"a","InstalledVersion":"1","FixedVersion":"2","Severity":"CRITICAL"},
  {"VulnerabilityID":"CVE-2019-0004","PkgName":"b","InstalledVersion":"1","FixedVersion":"2","Severity":"HIGH"},
  {"VulnerabilityID":"CVE-2019-0005","PkgName":"c","InstalledVersion":"1","FixedVersion":"2","Severity":"CRITICAL"},
  {"VulnerabilityID":"CVE-2019-9999","PkgName":"d","InstalledVersion":"1","FixedVersion":"2","Severity":"HIGH"}]},
 {"Target":"Dockerfile","Class":"config","Type":"dockerfile","Misconfigurations":[
  {"ID":"ID400","AVDID":"AVD-ID400","Severity":"HIGH","Status":"FAIL","Title":"t"}]},
 {"Target":"config.yaml","Class":"secret","Secrets":[
  {"RuleID":"generic-unwanted-rule","Severity":"LOW","Title":"t","StartLine":1}]}]}"#;

#[test]
fn trivyignore_with_expiry_and_alias() {
    let dir = tempfile::tempdir().unwrap();
    let report = write(dir.path(), "r.json", IGNORE_REPORT);
    // Fixture entries: CVE-2019-0001, -0002, -0004 exp:2020-01-01 (expired),
    // -0005 exp:9999-01-01, -0006 exp:9999-01-01 key2:value2, ID300,
    // AVD-ID400 (alias), generic-unwanted-rule, GPL-3.0.
    let run = gate(&[
        "--trivyignore".to_string(),
        s(&fixture("trivy/ignore/.trivyignore")),
        s(&report),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    // 0004's entry expired, 9999 was never listed.
    assert_eq!(
        run.blocking_ids(),
        vec!["CVE-2019-0004", "CVE-2019-9999"],
        "{}",
        run.debug()
    );
    // Waived: 0001, 0005, ID400 via its AVD alias, the secret.
    assert_eq!(run.summary["waived"], 4, "{}", run.summary);
    let w = &run.summary["waivers"];
    assert_eq!(w["expired"].as_array().unwrap().len(), 1, "{w}");
    assert_eq!(w["expired"][0]["selector"], "id=CVE-2019-0004");
    let unused: Vec<&str> = w["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["selector"].as_str().unwrap())
        .collect();
    assert_eq!(
        unused,
        vec![
            "id=CVE-2019-0002",
            "id=CVE-2019-0006",
            "id=ID300",
            "id=GPL-3.0"
        ],
        "{w}"
    );
}

#[test]
fn trivyignore_yaml_is_refused_not_ignored() {
    let run = gate(&[
        "--trivyignore".to_string(),
        s(&fixture("trivy/ignore/.trivyignore.yaml")),
        s(&fixture("gitleaks/empty.json")),
    ]);
    assert_eq!(run.code, 2, "{}", run.debug());
    assert!(run.stderr.contains("YAML"), "{}", run.stderr);
}

#[test]
fn gitleaksignore_global_and_commit_forms() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture: global `api/ignoreGlobal.go:aws-access-key:20` and commit
    // `53cd7a3c6eb4937f413e3c25e4a9f39289afa69e:api/ignoreCommit.go:aws-access-key:20`.
    let f = |file: &str, commit: &str| {
        format!(
            r#"{{"RuleID":"aws-access-key","File":"{file}","StartLine":20,"Commit":"{commit}","Fingerprint":"{commit}:{file}:aws-access-key:20"}}"#
        )
    };
    let report = format!(
        "[{},{},{},{}]",
        f(
            "api/ignoreGlobal.go",
            "1111111111111111111111111111111111111111"
        ),
        f(
            "api/ignoreCommit.go",
            "53cd7a3c6eb4937f413e3c25e4a9f39289afa69e"
        ),
        f(
            "api/ignoreCommit.go",
            "2222222222222222222222222222222222222222"
        ),
        f("api/other.go", "53cd7a3c6eb4937f413e3c25e4a9f39289afa69e"),
    );
    let report = write(dir.path(), "gl.json", &report);
    let run = gate(&[
        "--gitleaksignore".to_string(),
        s(&fixture("gitleaks/ignore/.gitleaksignore")),
        s(&report),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.summary["waived"], 2, "{}", run.summary);
    let paths: Vec<&str> = run.summary["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["api/ignoreCommit.go", "api/other.go"]);
    // A waiver by fingerprint in the policy works the same way.
    let p = write(
        dir.path(),
        "p.toml",
        "[[waivers]]\nfingerprint = \"api/other.go:aws-access-key:20\"\nreason = \"rotated\"\nexpires = 2999-01-01\n",
    );
    let run = gate(&["--policy".to_string(), s(&p), s(&report)]);
    assert_eq!(run.summary["waived"], 1, "{}", run.summary);
}

#[test]
fn baseline_from_a_report_or_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    // Previous build: alpine-39-ignore-cveids (2 MEDIUM). Now: alpine-39
    // (2 CRITICAL + 4 MEDIUM): 4 new, 2 known.
    let run = gate(&[
        "--baseline".to_string(),
        s(&fixture("trivy/alpine-39-ignore-cveids.json.golden")),
        s(&fixture("trivy/alpine-39.json.golden")),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.summary["baseline"]["new"], 4, "{}", run.summary);
    assert_eq!(run.summary["baseline"]["known"], 2);
    // Same report as its own baseline: nothing new; with --block-new-only
    // the known CRITICALs no longer block.
    let run = gate(&[
        "--baseline".to_string(),
        s(&fixture("trivy/alpine-39.json.golden")),
        "--block-new-only".into(),
        s(&fixture("trivy/alpine-39.json.golden")),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["baseline"]["new"], 0);
    // A summary works as a baseline too: gitleaks baseline.json's summary,
    // then a report with one more finding.
    let summary = dir.path().join("prev.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg(fixture("gitleaks/baseline.json"))
        .arg("--summary-json")
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut findings: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture("gitleaks/baseline.json")).unwrap()).unwrap();
    let mut extra = findings[0].clone();
    extra["File"] = "cmd/new.go".into();
    findings.push(extra);
    let now = write(
        dir.path(),
        "now.json",
        &serde_json::to_string(&findings).unwrap(),
    );
    let run = gate(&[
        "--baseline".to_string(),
        s(&summary),
        "--block-new-only".into(),
        s(&now),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 1);
    assert_eq!(run.summary["blocking"][0]["path"], "cmd/new.go");
    assert_eq!(run.summary["blocking"][0]["new"], true);
    // An unreadable baseline fails closed.
    let bad = write(dir.path(), "bad.json", "{");
    let run = gate(&[
        "--baseline".to_string(),
        s(&bad),
        s(&fixture("gitleaks/empty.json")),
    ]);
    assert_eq!(run.code, 2, "{}", run.debug());
}

#[test]
fn the_readme_policy_example_is_valid() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let len = readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "readme.toml", &readme[start..start + len]);
    let run = gate(&[
        "--policy".to_string(),
        s(&p),
        "--today".into(),
        "2026-06-01".into(),
        s(&fixture("trivy/alpine-39.json.golden")),
    ]);
    // trivy: critical only, and the musl waiver covers CVE-2019-14697 for
    // musl (musl-utils is another package, so it still blocks).
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking(), 1);
    assert_eq!(run.summary["blocking"][0]["pkg"], "musl-utils");
}

#[test]
fn a_summary_with_reordered_keys_is_still_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("prev.json");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_srp-gate"))
        .arg("-q")
        .arg(fixture("trivy/alpine-39.json.golden"))
        .arg("--summary-json")
        .arg(&summary)
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(1));
    // serde_json's Value sorts keys: "kind" is no longer first.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    let sorted = write(dir.path(), "sorted.json", &v.to_string());
    assert!(!v.to_string().starts_with("{\"kind\""));
    let run = gate(&[
        "--baseline".to_string(),
        s(&sorted),
        s(&fixture("trivy/alpine-39.json.golden")),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.summary["baseline"]["known"], 6, "{}", run.summary);
    assert_eq!(run.summary["baseline"]["new"], 0);
}

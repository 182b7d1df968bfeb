//! Every fixture gives the counts and verdict written down here by reading
//! the files (jq/python over the JSON, and SOURCES.md), not by running our
//! parser.

use crate::{fixture, gate};

struct Expect {
    file: &'static str,
    exit: i32,
    /// (class, severity, count); every other cell must be 0.
    counts: &'static [(&'static str, &'static str, u64)],
    blocking: usize,
}

const V: &str = "vulnerability";
const S: &str = "secret";
const M: &str = "misconfiguration";

const CASES: &[Expect] = &[
    // alpine 3.9.4: 6 vulns, CRITICAL 2 + MEDIUM 4, all fixed.
    Expect {
        file: "trivy/alpine-39.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 2), (V, "MEDIUM", 4)],
        blocking: 2,
    },
    Expect {
        file: "trivy/alpine-39-high-critical.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 2)],
        blocking: 2,
    },
    Expect {
        file: "trivy/alpine-39-ignore-cveids.json.golden",
        exit: 0,
        counts: &[(V, "MEDIUM", 2)],
        blocking: 0,
    },
    // No Results key at all: an empty but valid report.
    Expect {
        file: "trivy/alpine-39-skip.json.golden",
        exit: 0,
        counts: &[],
        blocking: 0,
    },
    // CRITICAL fixed + LOW affected (no FixedVersion).
    Expect {
        file: "trivy/debian-buster.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 1), (V, "LOW", 1)],
        blocking: 1,
    },
    Expect {
        file: "trivy/debian-buster-ignore-unfixed.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 1)],
        blocking: 1,
    },
    Expect {
        file: "trivy/centos-7.json.golden",
        exit: 0,
        counts: &[(V, "MEDIUM", 1), (V, "LOW", 2)],
        blocking: 0,
    },
    Expect {
        file: "trivy/photon-30.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 2), (V, "HIGH", 1)],
        blocking: 3,
    },
    // os-pkgs CRITICAL 1 + gemspec HIGH 1.
    Expect {
        file: "trivy/fluentd-gems.json.golden",
        exit: 1,
        counts: &[(V, "CRITICAL", 1), (V, "HIGH", 1)],
        blocking: 2,
    },
    // 3 go.mod results: UNKNOWN 2 + MEDIUM 1, UNKNOWN 1, UNKNOWN 1.
    Expect {
        file: "trivy/gomod.json.golden",
        exit: 0,
        counts: &[(V, "UNKNOWN", 4), (V, "MEDIUM", 1)],
        blocking: 0,
    },
    Expect {
        file: "trivy/cargo.lock.json.golden",
        exit: 0,
        counts: &[],
        blocking: 0,
    },
    // Secrets block at any severity.
    Expect {
        file: "trivy/secrets.json.golden",
        exit: 1,
        counts: &[(S, "CRITICAL", 1), (S, "HIGH", 1)],
        blocking: 2,
    },
    // 18 FAIL (3 HIGH, 4 MEDIUM, 11 LOW); 81 PASS are not findings.
    // Misconfigurations are reported, not blocked, by the default policy.
    Expect {
        file: "trivy/helm.json.golden",
        exit: 0,
        counts: &[(M, "HIGH", 3), (M, "MEDIUM", 4), (M, "LOW", 11)],
        blocking: 0,
    },
    // HIGH 1; the VEX not_affected LOW is suppressed, not counted.
    Expect {
        file: "trivy/npm-with-suppressed.json.golden",
        exit: 1,
        counts: &[(V, "HIGH", 1)],
        blocking: 1,
    },
    // SARIF: 4 results, rules tagged MEDIUM.
    Expect {
        file: "trivy/alpine-310.sarif.golden",
        exit: 0,
        counts: &[(V, "MEDIUM", 4)],
        blocking: 0,
    },
    Expect {
        file: "trivy/trivy-action/config-scan/report.json",
        exit: 0,
        counts: &[(M, "HIGH", 5), (M, "MEDIUM", 1), (M, "LOW", 2)],
        blocking: 0,
    },
    Expect {
        file: "trivy/trivy-action/secret-scan/report.json",
        exit: 1,
        counts: &[(S, "CRITICAL", 1)],
        blocking: 1,
    },
    Expect {
        file: "trivy/trivy-action/with-trivy-yaml-cfg/report.json",
        exit: 1,
        counts: &[(V, "CRITICAL", 1)],
        blocking: 1,
    },
    // SBOMs: no vulnerabilities / one (ghsa rating: medium).
    Expect {
        file: "sbom/fluentd-multiple-lockfiles.cdx.json.golden",
        exit: 0,
        counts: &[],
        blocking: 0,
    },
    Expect {
        file: "sbom/npm-cyclonedx.json.golden",
        exit: 0,
        counts: &[(V, "MEDIUM", 1)],
        blocking: 0,
    },
    // Gitleaks: every finding is a leak (reported as CRITICAL).
    Expect {
        file: "gitleaks/json_simple.json",
        exit: 1,
        counts: &[(S, "CRITICAL", 1)],
        blocking: 1,
    },
    Expect {
        file: "gitleaks/empty.json",
        exit: 0,
        counts: &[],
        blocking: 0,
    },
    Expect {
        file: "gitleaks/baseline.json",
        exit: 1,
        counts: &[(S, "CRITICAL", 2)],
        blocking: 2,
    },
    Expect {
        file: "gitleaks/sarif_simple.sarif",
        exit: 1,
        counts: &[(S, "CRITICAL", 1)],
        blocking: 1,
    },
];

#[test]
fn every_report_fixture_gives_its_counts_and_verdict() {
    let mut failures = Vec::new();
    for case in CASES {
        let run = gate(&[fixture(case.file)]);
        let expected_total: u64 = case.counts.iter().map(|c| c.2).sum();
        let mut ok = run.code == case.exit
            && run.total() == expected_total
            && run.blocking() == case.blocking;
        for (class, sev, n) in case.counts {
            ok &= run.count(class, sev) == *n;
        }
        let verdict = ["pass", "block"][case.exit as usize];
        ok &= run.summary["verdict"] == verdict;
        if !ok {
            failures.push(format!("{}: {}", case.file, run.debug()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn junit_outputs_are_not_reports() {
    // Jenkins-facing JUnit XML is an output; given to the gate it is an
    // unknown input, so it fails closed.
    for f in ["trivy/alpine-310.junit.golden", "gitleaks/junit_simple.xml"] {
        let run = gate(&[fixture(f)]);
        assert_eq!(run.code, 2, "{f}: {}", run.debug());
        assert!(run.stderr.contains("XML"), "{}", run.stderr);
        assert_eq!(run.summary["verdict"], "error");
    }
}

#[test]
fn sbom_component_counts() {
    // fluentd: 161 components = 1 operating-system (no purl), 105 pkg:deb, 55 pkg:gem.
    let run = gate(&[fixture("sbom/fluentd-multiple-lockfiles.cdx.json.golden")]);
    let sbom = &run.summary["sbom"][0];
    assert_eq!(sbom["components"], 161, "{sbom}");
    assert_eq!(sbom["by_type"]["deb"], 105);
    assert_eq!(sbom["by_type"]["gem"], 55);
    assert_eq!(sbom["by_type"]["operating-system"], 1);
    // npm: 13 = 1 application + 12 pkg:npm; the metadata component is not counted.
    let run = gate(&[fixture("sbom/npm-cyclonedx.json.golden")]);
    let sbom = &run.summary["sbom"][0];
    assert_eq!(sbom["components"], 13, "{sbom}");
    assert_eq!(sbom["by_type"]["npm"], 12);
    assert_eq!(sbom["by_type"]["application"], 1);
    assert_eq!(run.summary["blocking"].as_array().unwrap().len(), 0);
    assert_eq!(run.summary["counts"][0]["severity"], "MEDIUM");
}

#[test]
fn blocking_findings_explain_themselves() {
    let run = gate(&[fixture("trivy/debian-buster.json.golden")]);
    let b = &run.summary["blocking"][0];
    // Read from the file: CVE-2019-18224 in libidn2-0 2.0.5-1, fixed in 2.0.5-1+deb10u1.
    assert_eq!(b["id"], "CVE-2019-18224", "{b}");
    assert_eq!(b["pkg"], "libidn2-0");
    assert_eq!(b["installed"], "2.0.5-1");
    assert_eq!(b["fixed"], "2.0.5-1+deb10u1");
    assert!(b["why"].as_str().unwrap().contains("HIGH or above"), "{b}");
    assert!(run.stdout.contains("CVE-2019-18224"), "{}", run.stdout);
    assert!(run.stdout.contains("BLOCK"), "{}", run.stdout);
    // JUnit: one failing test case per blocking finding, policy checks too.
    assert!(
        run.junit.contains("[CRITICAL] CVE-2019-18224 libidn2-0"),
        "{}",
        run.junit
    );
    assert_eq!(run.junit.matches("<failure").count(), 2, "{}", run.junit);
    assert!(
        run.junit
            .contains("trivy vulnerability: nothing at or above HIGH"),
        "{}",
        run.junit
    );
}

#[test]
fn several_reports_at_once() {
    let run = gate(&[
        fixture("trivy/centos-7.json.golden"),
        fixture("gitleaks/empty.json"),
        fixture("sbom/npm-cyclonedx.json.golden"),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.total(), 3 + 1);
    let run = gate(&[
        fixture("trivy/centos-7.json.golden"),
        fixture("gitleaks/json_simple.json"),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.blocking_ids(), vec!["test-rule"]);
}

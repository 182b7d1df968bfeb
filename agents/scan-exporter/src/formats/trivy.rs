//! Trivy JSON (`--format json`, SchemaVersion 2), pkg/types/report.go.
//! Only the fields the gate uses are typed; the rest (descriptions, CVSS,
//! references) are skipped without being allocated.

use super::de_severity;
use crate::model::{Class, Finding, Format, Report, Severity};
use serde::de::IgnoredAny;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TrivyResult {
    #[serde(default)]
    target: String,
    class: Option<String>,
    vulnerabilities: Option<Vec<Vuln>>,
    secrets: Option<Vec<Secret>>,
    misconfigurations: Option<Vec<Misconf>>,
    licenses: Option<Vec<License>>,
    experimental_modified_findings: Option<Vec<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vuln {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    #[serde(default)]
    pkg_name: String,
    pkg_path: Option<String>,
    pkg_identifier: Option<PkgIdentifier>,
    installed_version: Option<String>,
    fixed_version: Option<String>,
    status: Option<String>,
    #[serde(deserialize_with = "de_severity")]
    severity: Option<Severity>,
    title: Option<String>,
}

#[derive(Deserialize)]
struct PkgIdentifier {
    #[serde(rename = "PURL")]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(default, deserialize_with = "de_severity")]
    severity: Option<Severity>,
    title: Option<String>,
    start_line: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Misconf {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "AVDID")]
    avd_id: Option<String>,
    title: Option<String>,
    message: Option<String>,
    #[serde(default, deserialize_with = "de_severity")]
    severity: Option<Severity>,
    #[serde(default)]
    status: String,
    cause_metadata: Option<Cause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Cause {
    start_line: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct License {
    name: String,
    #[serde(default, deserialize_with = "de_severity")]
    severity: Option<Severity>,
    pkg_name: Option<String>,
    file_path: Option<String>,
}

pub(crate) fn to_report(
    artifact: Option<String>,
    image: bool,
    created_at: Option<String>,
    results: Vec<TrivyResult>,
) -> Report {
    let mut findings = Vec::new();
    let mut suppressed = 0u64;
    for r in results {
        let target_is_image = r.class.as_deref() == Some("os-pkgs");
        let base = |class: Class| Finding {
            scanner: "trivy".into(),
            class: Some(class),
            target: r.target.clone(),
            target_is_image,
            ..Finding::default()
        };
        for v in r.vulnerabilities.unwrap_or_default() {
            let status = v.status;
            if status.as_deref() == Some("not_affected") {
                suppressed += 1;
                continue;
            }
            findings.push(Finding {
                id: v.vulnerability_id,
                severity: v.severity,
                pkg: Some(v.pkg_name),
                purl: v.pkg_identifier.and_then(|p| p.purl),
                installed: v.installed_version,
                fixed: v.fixed_version.filter(|f| !f.is_empty()),
                status,
                path: v.pkg_path,
                title: v.title,
                ..base(Class::Vulnerability)
            });
        }
        for s in r.secrets.unwrap_or_default() {
            findings.push(Finding {
                id: s.rule_id,
                severity: s.severity,
                path: Some(r.target.clone()),
                line: s.start_line,
                title: s.title,
                ..base(Class::Secret)
            });
        }
        for m in r.misconfigurations.unwrap_or_default() {
            match m.status.as_str() {
                "FAIL" => {}
                "EXCEPTION" => {
                    suppressed += 1;
                    continue;
                }
                _ => continue, // PASS: a check that succeeded
            }
            findings.push(Finding {
                id: m.id,
                aliases: m.avd_id.into_iter().collect(),
                severity: m.severity,
                path: Some(r.target.clone()),
                line: m.cause_metadata.and_then(|c| c.start_line),
                title: m.message.or(m.title),
                ..base(Class::Misconfiguration)
            });
        }
        for l in r.licenses.unwrap_or_default() {
            findings.push(Finding {
                id: l.name,
                severity: l.severity,
                pkg: l.pkg_name,
                path: l.file_path,
                ..base(Class::License)
            });
        }
        suppressed += r
            .experimental_modified_findings
            .map(|v| v.len() as u64)
            .unwrap_or(0);
    }
    Report {
        format: Format::Trivy,
        scanner: "trivy".into(),
        artifact,
        image,
        created_at,
        findings,
        suppressed,
        sbom: None,
    }
}

//! Trivy JSON (`--format json`, SchemaVersion 2), pkg/types/report.go.
//! Only the fields the gate uses are typed; the rest (descriptions, CVSS,
//! references) are skipped without being allocated.

use super::fields::{non_empty, non_null, objects, trivy_severity};
use super::ParseError;
use crate::model::{Class, Finding, Format, Report, Severity};
use serde::de::IgnoredAny;
use serde::Deserialize;

const FORMAT: &str = "Trivy JSON";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TrivyResult {
    /// Trivy always writes it (no omitempty), so it is required.
    target: String,
    #[serde(default, deserialize_with = "non_null")]
    class: Option<ResultClass>,
    #[serde(default, deserialize_with = "objects")]
    vulnerabilities: Option<Vec<Vuln>>,
    #[serde(default, deserialize_with = "objects")]
    secrets: Option<Vec<Secret>>,
    #[serde(default, deserialize_with = "objects")]
    misconfigurations: Option<Vec<Misconf>>,
    #[serde(default, deserialize_with = "objects")]
    licenses: Option<Vec<License>>,
    #[serde(default, deserialize_with = "non_null")]
    experimental_modified_findings: Option<Vec<IgnoredAny>>,
}

/// Result.Class (pkg/types/report.go). It decides whether the target names
/// the image (and so is left out of baseline keys), so it is closed too.
#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum ResultClass {
    OsPkgs,
    LangPkgs,
    Config,
    Secret,
    License,
    LicenseFile,
    Custom,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Vuln {
    #[serde(rename = "VulnerabilityID", deserialize_with = "non_empty")]
    vulnerability_id: String,
    #[serde(default, deserialize_with = "non_null")]
    pkg_name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pkg_path: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pkg_identifier: Option<PkgIdentifier>,
    #[serde(default, deserialize_with = "non_null")]
    installed_version: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    fixed_version: Option<String>,
    /// Absent in older Trivy output; when present, one of Trivy's words.
    #[serde(default, deserialize_with = "non_null")]
    status: Option<VulnStatus>,
    #[serde(deserialize_with = "trivy_severity")]
    severity: Severity,
    #[serde(default, deserialize_with = "non_null")]
    title: Option<String>,
}

/// trivy-db's vulnerability statuses, as Trivy writes them.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum VulnStatus {
    Unknown,
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
    WillNotFix,
    FixDeferred,
    EndOfLife,
}

impl VulnStatus {
    fn as_str(self) -> &'static str {
        match self {
            VulnStatus::Unknown => "unknown",
            VulnStatus::NotAffected => "not_affected",
            VulnStatus::Affected => "affected",
            VulnStatus::Fixed => "fixed",
            VulnStatus::UnderInvestigation => "under_investigation",
            VulnStatus::WillNotFix => "will_not_fix",
            VulnStatus::FixDeferred => "fix_deferred",
            VulnStatus::EndOfLife => "end_of_life",
        }
    }
}

#[derive(Deserialize)]
struct PkgIdentifier {
    #[serde(rename = "PURL", default, deserialize_with = "non_null")]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID", deserialize_with = "non_empty")]
    rule_id: String,
    #[serde(deserialize_with = "trivy_severity")]
    severity: Severity,
    #[serde(default, deserialize_with = "non_null")]
    title: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    start_line: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Misconf {
    #[serde(rename = "ID", default, deserialize_with = "non_null")]
    id: Option<String>,
    #[serde(rename = "AVDID", default, deserialize_with = "non_null")]
    avd_id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    title: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    message: Option<String>,
    #[serde(deserialize_with = "trivy_severity")]
    severity: Severity,
    status: MisconfStatus,
    #[serde(default, deserialize_with = "non_null")]
    cause_metadata: Option<Cause>,
}

/// A misconfiguration check's outcome: exactly Trivy's three words. "fail"
/// or "FAILED" is a broken report, not a check that passed.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "UPPERCASE")]
enum MisconfStatus {
    Pass,
    Fail,
    Exception,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Cause {
    #[serde(default, deserialize_with = "non_null")]
    start_line: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct License {
    #[serde(deserialize_with = "non_empty")]
    name: String,
    #[serde(deserialize_with = "trivy_severity")]
    severity: Severity,
    #[serde(default, deserialize_with = "non_null")]
    pkg_name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    file_path: Option<String>,
}

pub(crate) fn to_report(
    artifact: Option<String>,
    image: bool,
    created_at: Option<String>,
    results: Vec<TrivyResult>,
) -> Result<Report, ParseError> {
    let mut findings = Vec::new();
    let mut suppressed = 0u64;
    for (ri, r) in results.into_iter().enumerate() {
        let target_is_image = r.class == Some(ResultClass::OsPkgs);
        let base = |class: Class| Finding {
            scanner: "trivy".into(),
            class: Some(class),
            target: r.target.clone(),
            target_is_image,
            ..Finding::default()
        };
        for v in r.vulnerabilities.unwrap_or_default() {
            let status = v.status;
            if status == Some(VulnStatus::NotAffected) {
                suppressed += 1;
                continue;
            }
            findings.push(Finding {
                id: v.vulnerability_id,
                severity: Some(v.severity),
                pkg: Some(v.pkg_name.unwrap_or_default()),
                purl: v.pkg_identifier.and_then(|p| p.purl),
                installed: v.installed_version,
                fixed: v.fixed_version.filter(|f| !f.is_empty()),
                status: status.map(|s| s.as_str().to_string()),
                path: v.pkg_path,
                title: v.title,
                ..base(Class::Vulnerability)
            });
        }
        for s in r.secrets.unwrap_or_default() {
            findings.push(Finding {
                id: s.rule_id,
                severity: Some(s.severity),
                path: Some(r.target.clone()),
                line: s.start_line,
                title: s.title,
                ..base(Class::Secret)
            });
        }
        for (mi, m) in r
            .misconfigurations
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match m.status {
                MisconfStatus::Fail => {}
                MisconfStatus::Exception => {
                    suppressed += 1;
                    continue;
                }
                MisconfStatus::Pass => continue, // a check that succeeded
            }
            // Older Trivy wrote only AVDID, newer only ID; one is needed to
            // name (and waive) the finding.
            let id = match (m.id.filter(|i| !i.is_empty()), &m.avd_id) {
                (Some(id), _) => id,
                (None, Some(avd)) if !avd.is_empty() => avd.clone(),
                _ => {
                    return Err(ParseError::invalid(
                        FORMAT,
                        format!("$.Results[{ri}].Misconfigurations[{mi}].ID"),
                        "a failed check without ID or AVDID",
                    ))
                }
            };
            findings.push(Finding {
                id,
                aliases: m.avd_id.into_iter().collect(),
                severity: Some(m.severity),
                path: Some(r.target.clone()),
                line: m.cause_metadata.and_then(|c| c.start_line),
                title: m.message.or(m.title),
                ..base(Class::Misconfiguration)
            });
        }
        for l in r.licenses.unwrap_or_default() {
            findings.push(Finding {
                id: l.name,
                severity: Some(l.severity),
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
    Ok(Report {
        format: Format::Trivy,
        scanner: "trivy".into(),
        artifact,
        image,
        created_at,
        findings,
        suppressed,
        sbom: None,
    })
}

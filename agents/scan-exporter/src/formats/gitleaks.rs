//! Gitleaks JSON (`-f json`): a top-level array of findings (report/finding.go).
//! Gitleaks has no severity: every finding is a leak, reported as CRITICAL.

use super::fields::non_empty;
use super::ParseError;
use crate::model::{Class, Finding, Format, Report, Severity};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GitleaksFinding {
    /// Names the leak and is part of its fingerprint, so it cannot be empty.
    #[serde(rename = "RuleID", deserialize_with = "non_empty")]
    rule_id: String,
    file: String,
    start_line: u64,
    #[serde(default)]
    commit: String,
    #[serde(default)]
    fingerprint: String,
    #[serde(default)]
    description: String,
    /// What matched (`REDACTED` under `--redact`); hashed, never kept.
    #[serde(default)]
    secret: String,
}

/// `file:rule:line` (the global form) and `commit:file:rule:line`, as
/// detect/detect.go builds them; `.gitleaksignore` and waivers match either.
pub(crate) fn fingerprints(commit: &str, file: &str, rule: &str, line: u64) -> Vec<String> {
    let global = format!("{file}:{rule}:{line}");
    if commit.is_empty() {
        vec![global]
    } else {
        vec![format!("{commit}:{global}"), global]
    }
}

pub(crate) fn to_report(list: Vec<GitleaksFinding>) -> Result<Report, ParseError> {
    let findings = list
        .into_iter()
        .map(|g| {
            let mut fps = fingerprints(&g.commit, &g.file, &g.rule_id, g.start_line);
            if !g.fingerprint.is_empty() && !fps.contains(&g.fingerprint) {
                fps.push(g.fingerprint);
            }
            Finding {
                scanner: "gitleaks".into(),
                class: Some(Class::Secret),
                target: g.file.clone(),
                id: g.rule_id,
                severity: Some(Severity::Critical),
                path: Some(g.file),
                line: Some(g.start_line),
                fingerprints: fps,
                title: Some(g.description).filter(|d| !d.is_empty()),
                secret: Some(g.secret)
                    .filter(|s| !s.is_empty() && s != "REDACTED")
                    .map(crate::model::SecretValue),
                ..Finding::default()
            }
        })
        .collect();
    Ok(Report {
        format: Format::Gitleaks,
        scanner: "gitleaks".into(),
        artifact: None,
        image: false,
        created_at: None,
        findings,
        suppressed: 0,
        sbom: None,
    })
}

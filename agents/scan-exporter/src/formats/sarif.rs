//! SARIF 2.1.0 as Trivy and Gitleaks write it. Severity comes from the rule's
//! tags (Trivy puts CRITICAL/HIGH/… there), else its `security-severity`
//! score, else the result level (missing level = SARIF's default, warning).

use super::ParseError;
use crate::model::{Class, Finding, Format, Report, Severity};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub(crate) struct Run {
    tool: Tool,
    #[serde(default)]
    results: Vec<SarifResult>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    name: String,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    id: String,
    #[serde(rename = "shortDescription")]
    short_description: Option<Text>,
    #[serde(rename = "defaultConfiguration")]
    default_configuration: Option<RuleConfig>,
    properties: Option<RuleProperties>,
}

#[derive(Deserialize)]
struct RuleConfig {
    level: Option<String>,
}

#[derive(Deserialize)]
struct RuleProperties {
    #[serde(default)]
    tags: Vec<String>,
    #[serde(rename = "security-severity")]
    security_severity: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    text: Option<String>,
}

#[derive(Deserialize)]
struct SarifResult {
    #[serde(rename = "ruleId")]
    rule_id: Option<String>,
    level: Option<String>,
    message: Option<Text>,
    #[serde(default)]
    locations: Vec<Location>,
    #[serde(rename = "partialFingerprints")]
    partial_fingerprints: Option<HashMap<String, String>>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(rename = "physicalLocation")]
    physical_location: Option<Physical>,
}

#[derive(Deserialize)]
struct Physical {
    #[serde(rename = "artifactLocation")]
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Region {
    #[serde(rename = "startLine")]
    start_line: Option<u64>,
}

fn level_severity(level: &str) -> Result<Severity, ParseError> {
    Ok(match level {
        "error" => Severity::High,
        "warning" => Severity::Medium,
        "note" => Severity::Low,
        "none" => Severity::Unknown,
        other => {
            return Err(ParseError::Invalid {
                format: "SARIF",
                detail: format!("result level {other:?}"),
            })
        }
    })
}

fn score_severity(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Unknown,
    }
}

/// "Package: x\nInstalled Version: y\n…\nFixed Version: z", Trivy's message.
fn message_field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn to_report(runs: Vec<Run>) -> Result<Report, ParseError> {
    let mut findings = Vec::new();
    let mut scanner = String::new();
    for run in runs {
        let tool = run.tool.driver.name.to_ascii_lowercase();
        let is_gitleaks = tool == "gitleaks";
        let rules: HashMap<&str, &Rule> = run
            .tool
            .driver
            .rules
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect();
        for res in &run.results {
            let id = res.rule_id.clone().unwrap_or_default();
            if id.is_empty() {
                return Err(ParseError::Invalid {
                    format: "SARIF",
                    detail: "a result without ruleId".into(),
                });
            }
            let rule = rules.get(id.as_str());
            let tags: &[String] = rule
                .and_then(|r| r.properties.as_ref())
                .map(|p| p.tags.as_slice())
                .unwrap_or(&[]);
            let class = if is_gitleaks || tags.iter().any(|t| t == "secret") {
                Class::Secret
            } else if tags.iter().any(|t| t == "misconfiguration") {
                Class::Misconfiguration
            } else if tags.iter().any(|t| t == "license") {
                Class::License
            } else {
                Class::Vulnerability
            };
            let severity = if is_gitleaks {
                Severity::Critical
            } else if let Some(s) = tags.iter().find_map(|t| t.parse::<Severity>().ok()) {
                s
            } else if let Some(score) = rule
                .and_then(|r| r.properties.as_ref())
                .and_then(|p| p.security_severity.as_deref())
                .and_then(|s| s.parse::<f64>().ok())
            {
                score_severity(score)
            } else {
                let level = res
                    .level
                    .as_deref()
                    .or_else(|| {
                        rule.and_then(|r| r.default_configuration.as_ref())
                            .and_then(|c| c.level.as_deref())
                    })
                    .unwrap_or("warning");
                level_severity(level)?
            };
            let phys = res
                .locations
                .first()
                .and_then(|l| l.physical_location.as_ref());
            let uri = phys
                .and_then(|p| p.artifact_location.as_ref())
                .and_then(|a| a.uri.clone())
                .unwrap_or_default();
            let line = phys
                .and_then(|p| p.region.as_ref())
                .and_then(|r| r.start_line);
            let text = res
                .message
                .as_ref()
                .and_then(|m| m.text.as_deref())
                .unwrap_or("");
            let mut f = Finding {
                scanner: tool.clone(),
                class: Some(class),
                target: uri.clone(),
                id: id.clone(),
                severity: Some(severity),
                line,
                title: rule
                    .and_then(|r| r.short_description.as_ref())
                    .and_then(|t| t.text.clone()),
                ..Finding::default()
            };
            if class == Class::Vulnerability {
                f.pkg = message_field(text, "Package:");
                f.installed = message_field(text, "Installed Version:");
                f.fixed = message_field(text, "Fixed Version:");
            } else {
                f.path = Some(uri.clone());
            }
            if is_gitleaks {
                let commit = res
                    .partial_fingerprints
                    .as_ref()
                    .and_then(|p| p.get("commitSha"))
                    .map(String::as_str)
                    .unwrap_or("");
                f.fingerprints =
                    super::gitleaks::fingerprints(commit, &uri, &id, line.unwrap_or(0));
            }
            findings.push(f);
        }
        if scanner.is_empty() {
            scanner = tool;
        }
    }
    Ok(Report {
        format: Format::Sarif,
        scanner: if scanner.is_empty() {
            "sarif".into()
        } else {
            scanner
        },
        artifact: None,
        image: false,
        created_at: None,
        findings,
        suppressed: 0,
        sbom: None,
    })
}

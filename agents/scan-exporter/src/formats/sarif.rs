//! SARIF 2.1.0 as Trivy and Gitleaks write it. Severity comes from the rule's
//! tags (Trivy puts CRITICAL/HIGH/… there), else its `security-severity`
//! score, else the result level (missing level = SARIF's default, warning).

use super::fields::{non_empty, non_null, objects};
use super::ParseError;
use crate::model::{Class, Finding, Format, Report, Severity};
use serde::Deserialize;
use std::collections::HashMap;

const FORMAT: &str = "SARIF";

#[derive(Deserialize)]
pub(crate) struct Run {
    tool: Tool,
    /// Absent means the tool did not report results (SARIF 3.14.23: it
    /// failed or was not asked to); an empty array is a clean run.
    #[serde(default, deserialize_with = "objects")]
    results: Option<Vec<SarifResult>>,
    #[serde(default, deserialize_with = "objects")]
    invocations: Option<Vec<Invocation>>,
}

#[derive(Deserialize)]
struct Invocation {
    /// Required by SARIF 3.20.14.
    #[serde(rename = "executionSuccessful")]
    execution_successful: bool,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    /// The scanner name of every finding, and whether it is Gitleaks.
    #[serde(deserialize_with = "non_empty")]
    name: String,
    #[serde(default, deserialize_with = "objects")]
    rules: Option<Vec<Rule>>,
}

#[derive(Deserialize)]
struct Rule {
    #[serde(deserialize_with = "non_empty")]
    id: String,
    #[serde(rename = "shortDescription", default, deserialize_with = "non_null")]
    short_description: Option<Text>,
    #[serde(
        rename = "defaultConfiguration",
        default,
        deserialize_with = "non_null"
    )]
    default_configuration: Option<RuleConfig>,
    #[serde(default, deserialize_with = "non_null")]
    properties: Option<RuleProperties>,
}

#[derive(Deserialize)]
struct RuleConfig {
    #[serde(default, deserialize_with = "non_null")]
    level: Option<Level>,
}

#[derive(Deserialize)]
struct RuleProperties {
    #[serde(default, deserialize_with = "non_null")]
    tags: Option<Vec<String>>,
    #[serde(rename = "security-severity", default, deserialize_with = "non_null")]
    security_severity: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    #[serde(default, deserialize_with = "non_null")]
    text: Option<String>,
}

#[derive(Deserialize)]
struct SarifResult {
    #[serde(rename = "ruleId", default, deserialize_with = "non_null")]
    rule_id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    kind: Option<Kind>,
    #[serde(default, deserialize_with = "non_null")]
    level: Option<Level>,
    #[serde(default, deserialize_with = "non_null")]
    message: Option<Text>,
    #[serde(default, deserialize_with = "objects")]
    locations: Option<Vec<Location>>,
    #[serde(rename = "partialFingerprints", default, deserialize_with = "non_null")]
    partial_fingerprints: Option<HashMap<String, String>>,
}

/// SARIF 3.27.9 result kinds. `pass`, `notApplicable` and `informational`
/// are not problems (like a Trivy PASS); the rest are findings.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "camelCase")]
enum Kind {
    Fail,
    Open,
    Review,
    Pass,
    NotApplicable,
    Informational,
}

impl Kind {
    fn is_finding(self) -> bool {
        matches!(self, Kind::Fail | Kind::Open | Kind::Review)
    }
}

/// SARIF 3.27.10 levels.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Level {
    Error,
    Warning,
    Note,
    None,
}

#[derive(Deserialize)]
struct Location {
    #[serde(rename = "physicalLocation", default, deserialize_with = "non_null")]
    physical_location: Option<Physical>,
}

#[derive(Deserialize)]
struct Physical {
    #[serde(rename = "artifactLocation", default, deserialize_with = "non_null")]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default, deserialize_with = "non_null")]
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    #[serde(default, deserialize_with = "non_null")]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Region {
    #[serde(rename = "startLine", default, deserialize_with = "non_null")]
    start_line: Option<u64>,
}

fn level_severity(level: Level) -> Severity {
    match level {
        Level::Error => Severity::High,
        Level::Warning => Severity::Medium,
        Level::Note => Severity::Low,
        Level::None => Severity::Unknown,
    }
}

/// What a rule says about severity, checked once per rule: its severity tag
/// (Trivy writes one) and its `security-severity` score.
struct RuleSeverity {
    tag: Option<Severity>,
    score: Option<Severity>,
}

fn rule_severity(rule: &Rule, path: &str) -> Result<RuleSeverity, ParseError> {
    let props = rule.properties.as_ref();
    let mut tag = None;
    for t in props.and_then(|p| p.tags.as_deref()).unwrap_or(&[]) {
        if let Ok(s) = t.parse::<Severity>() {
            if tag.is_some_and(|prev| prev != s) {
                return Err(ParseError::invalid(
                    FORMAT,
                    format!("{path}.properties.tags"),
                    "two different severity tags on one rule",
                ));
            }
            tag = Some(s);
        }
    }
    let score = match props.and_then(|p| p.security_severity.as_deref()) {
        None => None,
        Some(text) => match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=10.0).contains(&v) => Some(score_severity(v)),
            _ => {
                return Err(ParseError::invalid(
                    FORMAT,
                    format!("{path}.properties.security-severity"),
                    format!("{text:?} is not a score from 0 to 10"),
                ))
            }
        },
    };
    Ok(RuleSeverity { tag, score })
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
    if runs.is_empty() {
        return Err(ParseError::invalid(
            FORMAT,
            "$.runs".into(),
            "no runs: the log holds no scan result",
        ));
    }
    let mut findings = Vec::new();
    let mut scanner = String::new();
    for (ri, run) in runs.iter().enumerate() {
        check_complete(run, ri)?;
        let results = run.results.as_deref().unwrap_or_default();
        let tool = run.tool.driver.name.to_ascii_lowercase();
        let is_gitleaks = tool == "gitleaks";
        let mut rules: HashMap<&str, (&Rule, RuleSeverity)> = HashMap::new();
        for (k, r) in run.tool.driver.rules.iter().flatten().enumerate() {
            let sev = rule_severity(r, &format!("$.runs[{ri}].tool.driver.rules[{k}]"))?;
            rules.insert(r.id.as_str(), (r, sev));
        }
        for (j, res) in results.iter().enumerate() {
            let at = |field: &str| format!("$.runs[{ri}].results[{j}]{field}");
            if !res.kind.unwrap_or(Kind::Fail).is_finding() {
                continue;
            }
            let id = res.rule_id.clone().unwrap_or_default();
            if id.is_empty() {
                return Err(ParseError::invalid(
                    FORMAT,
                    at(".ruleId"),
                    "a result without ruleId",
                ));
            }
            let entry = rules.get(id.as_str());
            let rule = entry.map(|(r, _)| *r);
            let tags: &[String] = rule
                .and_then(|r| r.properties.as_ref())
                .and_then(|p| p.tags.as_deref())
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
            } else if let Some(s) = entry.and_then(|(_, s)| s.tag.or(s.score)) {
                s
            } else {
                let level = res
                    .level
                    .or_else(|| {
                        rule.and_then(|r| r.default_configuration.as_ref())
                            .and_then(|c| c.level)
                    })
                    .unwrap_or(Level::Warning);
                level_severity(level)
            };
            let phys = res
                .locations
                .as_deref()
                .and_then(|l| l.first())
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

/// A run that did not finish is not a clean result, whatever it holds.
fn check_complete(run: &Run, ri: usize) -> Result<(), ParseError> {
    for (k, inv) in run.invocations.iter().flatten().enumerate() {
        if !inv.execution_successful {
            return Err(ParseError::invalid(
                FORMAT,
                format!("$.runs[{ri}].invocations[{k}].executionSuccessful"),
                "false: the scan did not complete, so its results are not a clean report",
            ));
        }
    }
    if run.results.is_none() {
        return Err(ParseError::invalid(
            FORMAT,
            format!("$.runs[{ri}].results"),
            "missing: the run reported no results array (the scan failed or was not run); a clean run has \"results\": []",
        ));
    }
    Ok(())
}

//! CycloneDX JSON SBOMs (Trivy `--format cyclonedx`): component counts, and
//! the vulnerabilities if the SBOM carries any.

use super::ParseError;
use crate::model::{Class, Finding, Format, Report, SbomCounts, Severity};
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct Metadata {
    timestamp: Option<String>,
    component: Option<MetaComponent>,
}

#[derive(Deserialize)]
struct MetaComponent {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Component {
    #[serde(rename = "type")]
    kind: String,
    purl: Option<String>,
    /// CycloneDX allows nesting; Trivy's output is flat.
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
pub(crate) struct Vulnerability {
    id: String,
    source: Option<Source>,
    #[serde(default)]
    ratings: Vec<Rating>,
    #[serde(default)]
    affects: Vec<Affects>,
}

#[derive(Deserialize)]
struct Source {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Rating {
    source: Option<Source>,
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
}

fn rating_severity(s: &str) -> Result<Severity, ParseError> {
    Ok(match s {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" | "info" => Severity::Low,
        "none" | "unknown" => Severity::Unknown,
        other => {
            return Err(ParseError::Invalid {
                format: "CycloneDX",
                detail: format!("rating severity {other:?}"),
            })
        }
    })
}

/// The rating from the vulnerability's own source (what Trivy reports),
/// else the most severe rating.
fn severity(v: &Vulnerability) -> Result<Severity, ParseError> {
    let own = v.source.as_ref().and_then(|s| s.name.as_deref());
    let mut max = None;
    for r in &v.ratings {
        let Some(s) = r.severity.as_deref() else {
            continue;
        };
        let sev = rating_severity(s)?;
        if own.is_some() && r.source.as_ref().and_then(|s| s.name.as_deref()) == own {
            return Ok(sev);
        }
        max = max.max(Some(sev));
    }
    Ok(max.unwrap_or(Severity::Unknown))
}

fn count(components: &[Component], counts: &mut SbomCounts) {
    for c in components {
        counts.components += 1;
        let kind = c
            .purl
            .as_deref()
            .and_then(|p| p.strip_prefix("pkg:"))
            .and_then(|p| p.split('/').next())
            .filter(|t| !t.is_empty())
            .unwrap_or(&c.kind);
        *counts.by_type.entry(kind.to_string()).or_default() += 1;
        count(&c.components, counts);
    }
}

pub(crate) fn to_report(
    metadata: Option<Metadata>,
    components: Vec<Component>,
    vulnerabilities: Vec<Vulnerability>,
) -> Result<Report, ParseError> {
    let mut counts = SbomCounts::default();
    count(&components, &mut counts);
    let (artifact, image, created_at) = match metadata {
        Some(m) => {
            let image = m
                .component
                .as_ref()
                .is_some_and(|c| c.kind.as_deref() == Some("container"));
            (m.component.and_then(|c| c.name), image, m.timestamp)
        }
        None => (None, false, None),
    };
    let target = artifact.clone().unwrap_or_default();
    let mut findings = Vec::with_capacity(vulnerabilities.len());
    for v in &vulnerabilities {
        let sev = severity(v)?;
        // One finding per affected component, as Trivy reports them.
        let refs: Vec<Option<&str>> = if v.affects.is_empty() {
            vec![None]
        } else {
            v.affects
                .iter()
                .map(|a| Some(a.reference.as_str()))
                .collect()
        };
        for r in refs {
            let purl = r.filter(|r| r.starts_with("pkg:")).map(str::to_string);
            let pkg = purl.as_deref().map(|p| {
                let name = p.split('@').next().unwrap_or(p);
                name.rsplit('/').next().unwrap_or(name).to_string()
            });
            let installed = purl
                .as_deref()
                .and_then(|p| p.split('@').nth(1))
                .map(|v| v.split(['?', '#']).next().unwrap_or(v).to_string());
            findings.push(Finding {
                scanner: "sbom".into(),
                class: Some(Class::Vulnerability),
                target: target.clone(),
                id: v.id.clone(),
                severity: Some(sev),
                pkg,
                purl,
                installed,
                ..Finding::default()
            });
        }
    }
    Ok(Report {
        format: Format::Cyclonedx,
        scanner: "sbom".into(),
        artifact,
        image,
        created_at,
        findings,
        suppressed: 0,
        sbom: Some(counts),
    })
}

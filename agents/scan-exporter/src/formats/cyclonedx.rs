//! CycloneDX JSON SBOMs (Trivy `--format cyclonedx`): component counts, and
//! the vulnerabilities if the SBOM carries any.

use super::fields::{non_empty, non_null, objects};
use super::ParseError;
use crate::model::{Class, Finding, Format, Report, SbomCounts, Severity};
use serde::Deserialize;

const FORMAT: &str = "CycloneDX";

/// The JSON specs (1.2 is the first with a JSON schema; Trivy writes 1.4
/// to 1.7).
const SPEC_VERSIONS: &[&str] = &["1.2", "1.3", "1.4", "1.5", "1.6", "1.7"];

pub(crate) fn check_spec_version(v: Option<&str>) -> Result<(), ParseError> {
    match v {
        Some(v) if SPEC_VERSIONS.contains(&v) => Ok(()),
        Some(v) => Err(ParseError::Version {
            format: FORMAT,
            version: v.to_string(),
        }),
        None => Err(ParseError::invalid(
            FORMAT,
            "$.specVersion".into(),
            "missing (required by CycloneDX)",
        )),
    }
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    #[serde(default, deserialize_with = "non_null")]
    timestamp: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    component: Option<MetaComponent>,
}

#[derive(Deserialize)]
struct MetaComponent {
    #[serde(default, deserialize_with = "non_null")]
    name: Option<String>,
    #[serde(rename = "type", default, deserialize_with = "non_null")]
    kind: Option<ComponentType>,
}

#[derive(Deserialize)]
pub(crate) struct Component {
    #[serde(rename = "type")]
    kind: ComponentType,
    #[serde(default, deserialize_with = "non_null")]
    purl: Option<String>,
    /// CycloneDX allows nesting; Trivy's output is flat.
    #[serde(default, deserialize_with = "objects")]
    components: Option<Vec<Component>>,
}

/// CycloneDX 1.6 component types: the label of the SBOM metrics for
/// components without a purl, so closed like every field the gate reads.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum ComponentType {
    Application,
    Framework,
    Library,
    Container,
    Platform,
    OperatingSystem,
    Device,
    DeviceDriver,
    Firmware,
    File,
    MachineLearningModel,
    Data,
    CryptographicAsset,
}

impl ComponentType {
    fn as_str(self) -> &'static str {
        match self {
            ComponentType::Application => "application",
            ComponentType::Framework => "framework",
            ComponentType::Library => "library",
            ComponentType::Container => "container",
            ComponentType::Platform => "platform",
            ComponentType::OperatingSystem => "operating-system",
            ComponentType::Device => "device",
            ComponentType::DeviceDriver => "device-driver",
            ComponentType::Firmware => "firmware",
            ComponentType::File => "file",
            ComponentType::MachineLearningModel => "machine-learning-model",
            ComponentType::Data => "data",
            ComponentType::CryptographicAsset => "cryptographic-asset",
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct Vulnerability {
    #[serde(deserialize_with = "non_empty")]
    id: String,
    #[serde(default, deserialize_with = "non_null")]
    source: Option<Source>,
    #[serde(default, deserialize_with = "objects")]
    ratings: Option<Vec<Rating>>,
    #[serde(default, deserialize_with = "objects")]
    affects: Option<Vec<Affects>>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(default, deserialize_with = "non_null")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Rating {
    #[serde(default, deserialize_with = "non_null")]
    source: Option<Source>,
    /// A rating may carry only a score; `null` or `""` is broken.
    #[serde(default, deserialize_with = "non_null")]
    severity: Option<String>,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
}

fn rating_severity(s: &str) -> Result<Severity, String> {
    Ok(match s {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        "low" | "info" => Severity::Low,
        "none" | "unknown" => Severity::Unknown,
        other => return Err(format!("unknown rating severity {other:?}")),
    })
}

/// The rating from the vulnerability's own source (what Trivy reports),
/// else the most severe rating. A vulnerability no rating gives a severity
/// is an error, not UNKNOWN: UNKNOWN would pass a HIGH threshold unjudged.
fn severity(v: &Vulnerability, vi: usize) -> Result<Severity, ParseError> {
    let own = v.source.as_ref().and_then(|s| s.name.as_deref());
    let mut max = None;
    let mut own_rating = None;
    for (k, r) in v.ratings.iter().flatten().enumerate() {
        let Some(s) = r.severity.as_deref() else {
            continue;
        };
        let sev = rating_severity(s).map_err(|detail| {
            ParseError::invalid(
                FORMAT,
                format!("$.vulnerabilities[{vi}].ratings[{k}].severity"),
                detail,
            )
        })?;
        if own_rating.is_none()
            && own.is_some()
            && r.source.as_ref().and_then(|s| s.name.as_deref()) == own
        {
            own_rating = Some(sev);
        }
        max = max.max(Some(sev));
    }
    own_rating.or(max).ok_or_else(|| {
        ParseError::invalid(
            FORMAT,
            format!("$.vulnerabilities[{vi}].ratings"),
            "no rating with a severity",
        )
    })
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
            .unwrap_or(c.kind.as_str());
        *counts.by_type.entry(kind.to_string()).or_default() += 1;
        count(c.components.as_deref().unwrap_or_default(), counts);
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
                .is_some_and(|c| c.kind == Some(ComponentType::Container));
            (m.component.and_then(|c| c.name), image, m.timestamp)
        }
        None => (None, false, None),
    };
    let target = artifact.clone().unwrap_or_default();
    let mut findings = Vec::with_capacity(vulnerabilities.len());
    for (vi, v) in vulnerabilities.iter().enumerate() {
        let sev = severity(v, vi)?;
        let affects = v.affects.as_deref().unwrap_or_default();
        // One finding per affected component, as Trivy reports them.
        let refs: Vec<Option<&str>> = if affects.is_empty() {
            vec![None]
        } else {
            affects.iter().map(|a| Some(a.reference.as_str())).collect()
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

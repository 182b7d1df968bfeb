//! Recognising a report by its content and parsing it into [`Report`].
//!
//! One pass: the top level is deserialised into a struct holding the
//! distinguishing keys of every JSON format at once (their names do not
//! collide: Trivy's are PascalCase), and each format's body is typed, so a
//! wrong type anywhere is a parse error, never a silently empty report.

mod cyclonedx;
mod gitleaks;
mod sarif;
mod trivy;

use crate::model::{Report, Severity};
use serde::{Deserialize, Deserializer};

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("malformed or truncated JSON report: {0}")]
    Json(#[from] serde_json::Error),
    #[error("XML is not a report srp-gate reads (JUnit output is for Jenkins, not for the gate); pass the scanner's JSON or SARIF")]
    Xml,
    #[error("unrecognised report: {0}")]
    Unknown(String),
    #[error("unsupported {format} version {version}")]
    Version {
        format: &'static str,
        version: String,
    },
    #[error("invalid {format} report: {detail}")]
    Invalid {
        format: &'static str,
        detail: String,
    },
}

impl ParseError {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Json(e) if e.is_eof() => "truncated",
            ParseError::Json(_) => "malformed",
            ParseError::Xml | ParseError::Unknown(_) | ParseError::Version { .. } => {
                "unknown_format"
            }
            ParseError::Invalid { .. } => "malformed",
        }
    }
}

/// What a JSON document turned out to be.
pub enum Parsed {
    Report(Report),
    /// An srp-gate JSON summary (accepted as a baseline and by the exporter).
    Summary(Box<crate::summary::Summary>),
}

/// The distinguishing top-level keys of every supported format.
#[derive(Deserialize)]
struct TopLevel {
    // Trivy
    #[serde(rename = "SchemaVersion")]
    schema_version: Option<u64>,
    #[serde(rename = "ArtifactName")]
    artifact_name: Option<String>,
    #[serde(rename = "ArtifactType")]
    artifact_type: Option<String>,
    #[serde(rename = "CreatedAt")]
    created_at: Option<String>,
    #[serde(rename = "Results")]
    results: Option<Vec<trivy::TrivyResult>>,
    // CycloneDX
    #[serde(rename = "bomFormat")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion")]
    spec_version: Option<String>,
    metadata: Option<cyclonedx::Metadata>,
    components: Option<Vec<cyclonedx::Component>>,
    vulnerabilities: Option<Vec<cyclonedx::Vulnerability>>,
    // SARIF (CycloneDX also has a `version`, an integer)
    version: Option<serde_json::Value>,
    runs: Option<Vec<sarif::Run>>,
    // srp-gate summary
    kind: Option<String>,
}

/// Parse a report whose bytes have passed [`crate::input::check_bytes`].
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'[') => {
            let findings: Vec<gitleaks::GitleaksFinding> = serde_json::from_slice(bytes)?;
            Ok(Parsed::Report(gitleaks::to_report(findings)))
        }
        Some(b'{') => parse_object(bytes),
        Some(b'<') => Err(ParseError::Xml),
        _ => Err(ParseError::Unknown(
            "neither a JSON object nor a JSON array".into(),
        )),
    }
}

fn parse_object(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if looks_like_summary(bytes) {
        let summary: crate::summary::Summary = serde_json::from_slice(bytes)?;
        return Ok(Parsed::Summary(Box::new(summary)));
    }
    let top: TopLevel = serde_json::from_slice(bytes)?;
    match top.kind.as_deref() {
        // A summary whose keys were reordered (e.g. by `jq -S`).
        Some(crate::summary::KIND) => {
            let summary: crate::summary::Summary = serde_json::from_slice(bytes)?;
            return Ok(Parsed::Summary(Box::new(summary)));
        }
        Some(other) => {
            return Err(ParseError::Unknown(format!("object of kind {other:?}")));
        }
        None => {}
    }
    if let Some(v) = top.schema_version {
        if v != 2 {
            return Err(ParseError::Version {
                format: "Trivy JSON",
                version: v.to_string(),
            });
        }
        return Ok(Parsed::Report(trivy::to_report(
            top.artifact_name,
            top.artifact_type.as_deref() == Some("container_image"),
            top.created_at,
            top.results.unwrap_or_default(),
        )));
    }
    if let Some(bf) = top.bom_format {
        if bf != "CycloneDX" {
            return Err(ParseError::Unknown(format!("bomFormat {bf:?}")));
        }
        let _ = top.spec_version;
        return cyclonedx::to_report(
            top.metadata,
            top.components.unwrap_or_default(),
            top.vulnerabilities.unwrap_or_default(),
        )
        .map(Parsed::Report);
    }
    if let Some(runs) = top.runs {
        let version = top.version.as_ref().and_then(|v| v.as_str()).unwrap_or("");
        if version != "2.1.0" {
            return Err(ParseError::Version {
                format: "SARIF",
                version: format!("{:?}", top.version),
            });
        }
        return sarif::to_report(runs).map(Parsed::Report);
    }
    Err(ParseError::Unknown(
        "a JSON object without Trivy's SchemaVersion, CycloneDX's bomFormat or SARIF's runs".into(),
    ))
}

/// Cheap check on the first bytes: summaries are written by us with `kind`
/// first, so they skip the probe parse.
fn looks_like_summary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    let head = String::from_utf8_lossy(head);
    let compact: String = head.chars().filter(|c| !c.is_whitespace()).collect();
    compact.starts_with("{\"kind\":\"srp-gate-summary\"")
}

/// Severity strings in any case; anything else is a parse error.
pub(crate) fn de_severity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Severity>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

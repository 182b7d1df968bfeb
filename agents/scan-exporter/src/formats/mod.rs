//! Recognising a report by its content and parsing it into [`Report`].
//!
//! One pass: the top level is deserialised into a struct holding the keys of
//! every JSON format at once (their names do not collide: Trivy's are
//! PascalCase); keys of two formats make the document ambiguous, an error.
//! Each format's body is typed and every field the gate decides on is closed
//! (see `fields`), so a wrong type, `null`, an empty or unknown word anywhere
//! is a parse error naming its JSON path, never a silently empty report or a
//! guessed severity.

mod cyclonedx;
pub(crate) mod fields;
mod gitleaks;
mod sarif;
mod trivy;

use crate::model::Report;
use fields::{non_null, objects};
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{} at {path}: {source}", json_problem(.source))]
    Json {
        /// Where the parser stopped, e.g. `$.Results[0].Vulnerabilities[2].Severity`.
        path: String,
        source: serde_json::Error,
    },
    #[error("XML is not a report srp-gate reads (JUnit output is for Jenkins, not for the gate); pass the scanner's JSON or SARIF")]
    Xml,
    #[error("unrecognised report: {0}")]
    Unknown(String),
    #[error("unsupported {format} version {version}")]
    Version {
        format: &'static str,
        version: String,
    },
    #[error("invalid {format} report at {path}: {detail}")]
    Invalid {
        format: &'static str,
        path: String,
        detail: String,
    },
    #[error("ambiguous report: it has the keys of {formats} ({keys}); one file must be one format, so it is not judged by either reading")]
    Ambiguous { formats: String, keys: String },
}

impl ParseError {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Json { source, .. } if source.is_eof() => "truncated",
            ParseError::Json { .. } => "malformed",
            ParseError::Xml
            | ParseError::Unknown(_)
            | ParseError::Version { .. }
            | ParseError::Ambiguous { .. } => "unknown_format",
            ParseError::Invalid { .. } => "malformed",
        }
    }

    pub(crate) fn invalid(format: &'static str, path: String, detail: impl Into<String>) -> Self {
        ParseError::Invalid {
            format,
            path,
            detail: detail.into(),
        }
    }
}

/// What kind of JSON problem, in the operator's words: a field the gate
/// reads is wrong, or the text is not (whole) JSON.
fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Data => "invalid field in the report",
        serde_json::error::Category::Eof => "truncated JSON report",
        _ => "malformed JSON report",
    }
}

/// Deserialise `bytes` as `T`; on failure, parse again tracking the path so
/// the error names the JSON path at fault. The second pass only runs for a
/// document already refused, so a good report costs one pass.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ParseError> {
    serde_json::from_slice(bytes).map_err(|source| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let path = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => fields::json_path(e.path()),
            // Only trailing characters after a complete value are left.
            Ok(_) => "$".to_string(),
        };
        ParseError::Json { path, source }
    })
}

/// What a JSON document turned out to be.
pub enum Parsed {
    Report(Report),
    /// An srp-gate JSON summary (accepted as a baseline and by the exporter).
    Summary(Box<crate::summary::Summary>),
}

/// Every top-level key the gate reads, of every object format at once (their
/// names do not collide: Trivy's are PascalCase). Which of them are present
/// decides the format, and keys of two formats make the document ambiguous.
#[derive(Deserialize)]
struct TopLevel {
    // Trivy
    #[serde(rename = "SchemaVersion", default, deserialize_with = "non_null")]
    schema_version: Option<u64>,
    #[serde(rename = "ArtifactName", default, deserialize_with = "non_null")]
    artifact_name: Option<String>,
    #[serde(rename = "ArtifactType", default, deserialize_with = "non_null")]
    artifact_type: Option<String>,
    #[serde(rename = "CreatedAt", default, deserialize_with = "non_null")]
    created_at: Option<String>,
    #[serde(rename = "Results", default, deserialize_with = "objects")]
    results: Option<Vec<trivy::TrivyResult>>,
    // CycloneDX
    #[serde(rename = "bomFormat", default, deserialize_with = "non_null")]
    bom_format: Option<String>,
    #[serde(rename = "specVersion", default, deserialize_with = "non_null")]
    spec_version: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    metadata: Option<cyclonedx::Metadata>,
    #[serde(default, deserialize_with = "objects")]
    components: Option<Vec<cyclonedx::Component>>,
    #[serde(default, deserialize_with = "objects")]
    vulnerabilities: Option<Vec<cyclonedx::Vulnerability>>,
    // SARIF (CycloneDX and the summary also have a `version`, an integer, so
    // it tells no format apart)
    version: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "objects")]
    runs: Option<Vec<sarif::Run>>,
    // srp-gate summary
    #[serde(default, deserialize_with = "non_null")]
    kind: Option<String>,
}

impl TopLevel {
    /// The formats whose keys are present, each with those keys.
    fn formats_present(&self) -> Vec<(&'static str, Vec<&'static str>)> {
        let groups: [(&'static str, Vec<(&'static str, bool)>); 4] = [
            (
                "Trivy JSON",
                vec![
                    ("SchemaVersion", self.schema_version.is_some()),
                    ("ArtifactName", self.artifact_name.is_some()),
                    ("ArtifactType", self.artifact_type.is_some()),
                    ("CreatedAt", self.created_at.is_some()),
                    ("Results", self.results.is_some()),
                ],
            ),
            (
                "CycloneDX",
                vec![
                    ("bomFormat", self.bom_format.is_some()),
                    ("specVersion", self.spec_version.is_some()),
                    ("metadata", self.metadata.is_some()),
                    ("components", self.components.is_some()),
                    ("vulnerabilities", self.vulnerabilities.is_some()),
                ],
            ),
            ("SARIF", vec![("runs", self.runs.is_some())]),
            ("srp-gate summary", vec![("kind", self.kind.is_some())]),
        ];
        groups
            .into_iter()
            .filter_map(|(format, keys)| {
                let present: Vec<&'static str> = keys
                    .into_iter()
                    .filter(|(_, there)| *there)
                    .map(|(k, _)| k)
                    .collect();
                (!present.is_empty()).then_some((format, present))
            })
            .collect()
    }
}

/// Parse a report whose bytes have passed [`crate::input::check_bytes`].
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'[') => {
            // Each finding an object: a derived struct would take an array too.
            let findings: Vec<fields::ObjectOnly<gitleaks::GitleaksFinding>> = from_slice(bytes)?;
            gitleaks::to_report(findings.into_iter().map(|f| f.0).collect()).map(Parsed::Report)
        }
        Some(b'{') => parse_object(bytes),
        Some(b'<') => Err(ParseError::Xml),
        _ => Err(ParseError::Unknown(
            "neither a JSON object nor a JSON array".into(),
        )),
    }
}

fn parse_object(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let top: TopLevel = from_slice(bytes)?;
    let present = top.formats_present();
    if present.len() > 1 {
        return Err(ParseError::Ambiguous {
            formats: present
                .iter()
                .map(|(f, _)| *f)
                .collect::<Vec<_>>()
                .join(" and "),
            keys: present
                .iter()
                .flat_map(|(_, keys)| keys.iter().map(|k| format!("$.{k}")))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    match present.first().map(|(f, _)| *f) {
        Some("srp-gate summary") => parse_summary(bytes, top.kind.as_deref()),
        Some("Trivy JSON") => parse_trivy(top),
        Some("CycloneDX") => parse_cyclonedx(top),
        Some(_) => parse_sarif(top),
        None => Err(ParseError::Unknown(
            "a JSON object without Trivy's SchemaVersion, CycloneDX's bomFormat or SARIF's runs"
                .into(),
        )),
    }
}

fn parse_summary(bytes: &[u8], kind: Option<&str>) -> Result<Parsed, ParseError> {
    match kind {
        Some(crate::summary::KIND) => {
            let summary: crate::summary::Summary = from_slice(bytes)?;
            Ok(Parsed::Summary(Box::new(summary)))
        }
        other => Err(ParseError::Unknown(format!("object of kind {other:?}"))),
    }
}

fn parse_trivy(top: TopLevel) -> Result<Parsed, ParseError> {
    let Some(v) = top.schema_version else {
        return Err(ParseError::invalid(
            "Trivy JSON",
            "$.SchemaVersion".into(),
            "missing: Trivy keys without SchemaVersion",
        ));
    };
    if v != 2 {
        return Err(ParseError::Version {
            format: "Trivy JSON",
            version: v.to_string(),
        });
    }
    trivy::to_report(
        top.artifact_name,
        top.artifact_type.as_deref() == Some("container_image"),
        top.created_at,
        top.results.unwrap_or_default(),
    )
    .map(Parsed::Report)
}

fn parse_cyclonedx(top: TopLevel) -> Result<Parsed, ParseError> {
    match top.bom_format.as_deref() {
        Some("CycloneDX") => {}
        Some(other) => return Err(ParseError::Unknown(format!("bomFormat {other:?}"))),
        None => {
            return Err(ParseError::invalid(
                "CycloneDX",
                "$.bomFormat".into(),
                "missing: CycloneDX keys without bomFormat",
            ))
        }
    }
    cyclonedx::check_spec_version(top.spec_version.as_deref())?;
    cyclonedx::to_report(
        top.metadata,
        top.components.unwrap_or_default(),
        top.vulnerabilities.unwrap_or_default(),
    )
    .map(Parsed::Report)
}

fn parse_sarif(top: TopLevel) -> Result<Parsed, ParseError> {
    let version = top.version.as_ref().and_then(|v| v.as_str()).unwrap_or("");
    if version != "2.1.0" {
        return Err(ParseError::Version {
            format: "SARIF",
            version: format!("{:?}", top.version),
        });
    }
    sarif::to_report(top.runs.unwrap_or_default()).map(Parsed::Report)
}

#[cfg(test)]
mod records_are_objects {
    use super::*;

    /// Found by the SARIF property test: a result given as an array read as
    /// a result of kind `pass`, so one finding vanished from the count.
    #[test]
    fn a_record_given_as_an_array_is_a_broken_report() {
        let sarif = br#"{"runs":[{"tool":{"driver":{"name":"x"}},
            "invocations":[{"executionSuccessful":true}],
            "results":[{"ruleId":"r1"},["", "pass"]]}]}"#;
        let e = parse(sarif)
            .err()
            .expect("an array in place of a result is refused");
        assert!(e.to_string().contains("results[1]"), "{e}");
        let gitleaks = br#"[["aws", "AKIA"]]"#;
        assert!(parse(gitleaks).is_err());
        let trivy = br#"{"SchemaVersion":2,"ArtifactName":"a","Results":[["t", "pass"]]}"#;
        assert!(parse(trivy).is_err());
    }
}

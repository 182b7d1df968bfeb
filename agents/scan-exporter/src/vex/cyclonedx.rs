//! CycloneDX VEX: a BOM whose `vulnerabilities[]` carry an `analysis`
//! (state, justification, response, detail) and `affects[].ref`. Read with
//! the states and justifications closed; written with srp-gate's waiver
//! notes and expiry as properties so the round trip keeps them.

use super::{Exception, Product, Statement, Status};
use crate::formats::fields::{non_empty, non_null};
use crate::formats::{from_slice, ParseError};
use serde::Deserialize;
use serde_json::{json, Value};

const FORMAT: &str = "CycloneDX VEX";
const WAIVER_PROPERTY: &str = "srp-gate:waiver";
const EXPIRES_PROPERTY: &str = "srp-gate:expires";

#[derive(Deserialize)]
struct Bom {
    #[serde(rename = "bomFormat")]
    bom_format: String,
    #[serde(rename = "specVersion")]
    spec_version: String,
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(deserialize_with = "non_empty")]
    id: String,
    #[serde(default, deserialize_with = "non_null")]
    references: Option<Vec<Reference>>,
    #[serde(default, deserialize_with = "non_null")]
    analysis: Option<Analysis>,
    #[serde(default, deserialize_with = "non_null")]
    affects: Option<Vec<Affects>>,
    #[serde(default, deserialize_with = "non_null")]
    properties: Option<Vec<Property>>,
}

#[derive(Deserialize)]
struct Reference {
    #[serde(deserialize_with = "non_empty")]
    id: String,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref", deserialize_with = "non_empty")]
    reference: String,
}

#[derive(Deserialize)]
struct Property {
    #[serde(deserialize_with = "non_empty")]
    name: String,
    #[serde(default, deserialize_with = "non_null")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct Analysis {
    #[serde(default, deserialize_with = "non_null")]
    state: Option<State>,
    #[serde(default, deserialize_with = "non_null")]
    justification: Option<CdxJustification>,
    #[serde(default, deserialize_with = "non_null")]
    response: Option<Vec<Response>>,
    #[serde(default, deserialize_with = "non_null")]
    detail: Option<String>,
}

/// CycloneDX 1.4–1.6 impact analysis states.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum State {
    Resolved,
    ResolvedWithPedigree,
    Exploitable,
    InTriage,
    FalsePositive,
    NotAffected,
}

impl State {
    fn status(self) -> Status {
        match self {
            State::Resolved | State::ResolvedWithPedigree => Status::Fixed,
            State::Exploitable => Status::Affected,
            State::InTriage => Status::UnderInvestigation,
            State::FalsePositive | State::NotAffected => Status::NotAffected,
        }
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum CdxJustification {
    CodeNotPresent,
    CodeNotReachable,
    RequiresConfiguration,
    RequiresDependency,
    RequiresEnvironment,
    ProtectedByCompiler,
    ProtectedAtRuntime,
    ProtectedAtPerimeter,
    ProtectedByMitigatingControl,
}

impl CdxJustification {
    fn as_str(self) -> &'static str {
        match self {
            CdxJustification::CodeNotPresent => "code_not_present",
            CdxJustification::CodeNotReachable => "code_not_reachable",
            CdxJustification::RequiresConfiguration => "requires_configuration",
            CdxJustification::RequiresDependency => "requires_dependency",
            CdxJustification::RequiresEnvironment => "requires_environment",
            CdxJustification::ProtectedByCompiler => "protected_by_compiler",
            CdxJustification::ProtectedAtRuntime => "protected_at_runtime",
            CdxJustification::ProtectedAtPerimeter => "protected_at_perimeter",
            CdxJustification::ProtectedByMitigatingControl => "protected_by_mitigating_control",
        }
    }
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Response {
    CanNotFix,
    WillNotFix,
    Update,
    Rollback,
    WorkaroundAvailable,
}

/// The CycloneDX word for an OpenVEX justification (CISA's mapping).
fn cdx_justification(openvex: &str) -> &'static str {
    match openvex {
        "component_not_present" | "vulnerable_code_not_present" => "code_not_present",
        "vulnerable_code_not_in_execute_path" => "code_not_reachable",
        "vulnerable_code_cannot_be_controlled_by_adversary" => "requires_environment",
        _ => "protected_by_mitigating_control",
    }
}

fn invalid(path: String, detail: impl Into<String>) -> ParseError {
    ParseError::invalid(FORMAT, path, detail)
}

pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Statement>, ParseError> {
    let bom: Bom = from_slice(bytes)?;
    if bom.bom_format != "CycloneDX" {
        return Err(ParseError::Unknown(format!(
            "bomFormat {:?}",
            bom.bom_format
        )));
    }
    // analysis arrived in 1.4.
    if !["1.4", "1.5", "1.6", "1.7"].contains(&bom.spec_version.as_str()) {
        return Err(ParseError::Version {
            format: FORMAT,
            version: bom.spec_version,
        });
    }
    let mut out = Vec::with_capacity(bom.vulnerabilities.len());
    for (i, v) in bom.vulnerabilities.into_iter().enumerate() {
        let at = |k: &str| format!("$.vulnerabilities[{i}]{k}");
        let Some(analysis) = v.analysis else {
            return Err(invalid(
                at(".analysis"),
                "missing: a VEX entry states an analysis",
            ));
        };
        let Some(state) = analysis.state else {
            return Err(invalid(
                at(".analysis.state"),
                "missing: a VEX entry states a state",
            ));
        };
        let (mut srp_waiver, mut expires) = (false, None);
        for (k, p) in v.properties.unwrap_or_default().into_iter().enumerate() {
            match p.name.as_str() {
                WAIVER_PROPERTY => srp_waiver = true,
                EXPIRES_PROPERTY => {
                    let d = p.value.unwrap_or_default();
                    expires = Some(chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(
                        |_| {
                            invalid(
                                at(&format!(".properties[{k}].value")),
                                format!("{d:?} is not YYYY-MM-DD"),
                            )
                        },
                    )?);
                }
                _ => {}
            }
        }
        let accepted = analysis
            .response
            .iter()
            .flatten()
            .any(|r| matches!(r, Response::WillNotFix | Response::CanNotFix));
        out.push(Statement {
            source: format!("{name} $.vulnerabilities[{i}]"),
            vulnerability: v.id,
            aliases: v
                .references
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.id)
                .collect(),
            products: v
                .affects
                .unwrap_or_default()
                .into_iter()
                .map(|a| Product {
                    id: a.reference,
                    subcomponents: Vec::new(),
                })
                .collect(),
            status: state.status(),
            justification: analysis.justification.map(|j| j.as_str().to_string()),
            note: analysis.detail.unwrap_or_default(),
            // An exploitable finding suppresses only as a risk srp-gate's
            // waiver accepted (its property and a will-not-fix response).
            srp_waiver: srp_waiver && accepted,
            expires,
        });
    }
    Ok(out)
}

fn entry(e: &Exception) -> Value {
    let analysis = match &e.justification {
        Some(j) => json!({
            "state": "not_affected",
            "justification": cdx_justification(j),
            "detail": e.reason,
        }),
        None => json!({
            "state": "exploitable",
            "response": ["will_not_fix"],
            "detail": e.reason,
        }),
    };
    let mut v = json!({ "id": e.vulnerability, "analysis": analysis });
    let mut aliases: Vec<&String> = e
        .aliases
        .iter()
        .filter(|a| **a != e.vulnerability)
        .collect();
    aliases.sort();
    aliases.dedup();
    if !aliases.is_empty() {
        v["references"] = aliases
            .iter()
            .map(|a| json!({ "id": a, "source": { "name": "alias" } }))
            .collect();
    }
    // The package when known, else the product: one ref, the most precise.
    if let Some(r) = e.purl.as_ref().or(e.product.as_ref()) {
        v["affects"] = json!([{ "ref": r }]);
    }
    let mut props = vec![json!({ "name": WAIVER_PROPERTY, "value": super::waiver_notes(e) })];
    if let Some(d) = e.expires {
        props.push(json!({ "name": EXPIRES_PROPERTY, "value": d.to_string() }));
    }
    v["properties"] = Value::Array(props);
    v
}

/// A CycloneDX 1.5 VEX BOM for `exceptions` (empty `vulnerabilities` is a
/// valid BOM, so this always renders).
pub fn render(exceptions: &[Exception], timestamp: &str) -> Vec<u8> {
    let mut list: Vec<&Exception> = exceptions.iter().collect();
    list.sort();
    list.dedup();
    let doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": { "components": [{
                "type": "application",
                "name": "srp-gate",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
        },
        "vulnerabilities": list.iter().map(|e| entry(e)).collect::<Vec<_>>(),
    });
    serde_json::to_vec_pretty(&doc).expect("VEX serializes")
}

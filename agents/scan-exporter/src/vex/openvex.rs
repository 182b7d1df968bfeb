//! OpenVEX 0.2.0 (openvex/spec, `openvex_json_schema.json`): read strictly
//! (the schema is closed, so an unknown key is an error here too) and
//! written so that the document validates against that schema.

use super::{Exception, Justification, Product, Statement, Status};
use crate::formats::fields::{non_empty, non_null};
use crate::formats::{from_slice, ParseError};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const FORMAT: &str = "OpenVEX";
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "@context", deserialize_with = "non_empty")]
    context: String,
    #[serde(rename = "@id", deserialize_with = "non_empty")]
    id: String,
    #[serde(deserialize_with = "non_empty")]
    author: String,
    #[serde(default, deserialize_with = "non_null")]
    role: Option<String>,
    timestamp: String,
    #[serde(default, deserialize_with = "non_null")]
    last_updated: Option<String>,
    version: u64,
    #[serde(default, deserialize_with = "non_null")]
    tooling: Option<String>,
    statements: Vec<StatementJson>,
}

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementJson {
    #[serde(rename = "@id", default, deserialize_with = "non_null")]
    id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    version: Option<u64>,
    vulnerability: Vulnerability,
    #[serde(default, deserialize_with = "non_null")]
    timestamp: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    last_updated: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    products: Option<Vec<Component>>,
    status: Status,
    #[serde(default, deserialize_with = "non_null")]
    supplier: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    status_notes: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    justification: Option<Justification>,
    #[serde(default, deserialize_with = "non_null")]
    impact_statement: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    action_statement: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    action_statement_timestamp: Option<String>,
}

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vulnerability {
    #[serde(rename = "@id", default, deserialize_with = "non_null")]
    id: Option<String>,
    #[serde(deserialize_with = "non_empty")]
    name: String,
    #[serde(default, deserialize_with = "non_null")]
    description: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    aliases: Option<Vec<String>>,
}

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identifiers {
    #[serde(default, deserialize_with = "non_null")]
    purl: Option<String>,
    #[serde(rename = "@cpe22", default, deserialize_with = "non_null")]
    cpe22: Option<String>,
    #[serde(rename = "@cpe23", default, deserialize_with = "non_null")]
    cpe23: Option<String>,
}

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subcomponent {
    #[serde(rename = "@id", default, deserialize_with = "non_null")]
    id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    identifiers: Option<Identifiers>,
    #[serde(default, deserialize_with = "non_null")]
    hashes: Option<BTreeMap<String, String>>,
}

// Fields the gate does not use are still declared: the schema is closed,
// so each known key is typed and any other key is refused.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Component {
    #[serde(rename = "@id", default, deserialize_with = "non_null")]
    id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    identifiers: Option<Identifiers>,
    #[serde(default, deserialize_with = "non_null")]
    hashes: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "non_null")]
    subcomponents: Option<Vec<Subcomponent>>,
}

fn invalid(path: String, detail: impl Into<String>) -> ParseError {
    ParseError::invalid(FORMAT, path, detail)
}

fn check_time(v: Option<&str>, path: impl Fn() -> String) -> Result<(), ParseError> {
    match v {
        Some(t) if chrono::DateTime::parse_from_rfc3339(t).is_err() => Err(invalid(
            path(),
            format!("{t:?} is not an RFC 3339 date-time"),
        )),
        _ => Ok(()),
    }
}

/// The component's id: `@id`, else its purl; one without either cannot be
/// matched to a finding, so it is refused rather than read as "any".
fn id_of(
    id: Option<String>,
    identifiers: Option<Identifiers>,
    path: String,
) -> Result<String, ParseError> {
    id.or_else(|| identifiers.and_then(|i| i.purl))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(
                path,
                "neither @id nor identifiers.purl: srp-gate cannot tell what it names",
            )
        })
}

pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Statement>, ParseError> {
    let doc: Document = from_slice(bytes)?;
    if !doc.context.starts_with("https://openvex.dev/ns") {
        return Err(invalid(
            "$.@context".into(),
            format!("{:?} is not an OpenVEX context", doc.context),
        ));
    }
    check_time(Some(&doc.timestamp), || "$.timestamp".into())?;
    check_time(doc.last_updated.as_deref(), || "$.last_updated".into())?;
    if doc.statements.is_empty() {
        return Err(invalid(
            "$.statements".into(),
            "empty (the schema asks for one at least)",
        ));
    }
    let mut out = Vec::with_capacity(doc.statements.len());
    for (i, s) in doc.statements.into_iter().enumerate() {
        let at = |k: &str| format!("$.statements[{i}]{k}");
        check_time(s.timestamp.as_deref(), || at(".timestamp"))?;
        check_time(s.last_updated.as_deref(), || at(".last_updated"))?;
        check_time(s.action_statement_timestamp.as_deref(), || {
            at(".action_statement_timestamp")
        })?;
        match s.status {
            Status::NotAffected if s.justification.is_some() == s.impact_statement.is_some() => {
                return Err(invalid(
                    at(""),
                    "not_affected needs exactly one of justification and impact_statement",
                ))
            }
            Status::Affected if s.action_statement.is_none() => {
                return Err(invalid(at(""), "affected needs an action_statement"))
            }
            _ => {}
        }
        let notes = s.status_notes.unwrap_or_default();
        let expires = super::parse_expiry(&notes).map_err(|d| invalid(at(".status_notes"), d))?;
        let mut products = Vec::new();
        for (k, p) in s.products.unwrap_or_default().into_iter().enumerate() {
            let id = id_of(p.id, p.identifiers, at(&format!(".products[{k}]")))?;
            let mut subcomponents = Vec::new();
            for (j, sc) in p.subcomponents.unwrap_or_default().into_iter().enumerate() {
                subcomponents.push(id_of(
                    sc.id,
                    sc.identifiers,
                    at(&format!(".products[{k}].subcomponents[{j}]")),
                )?);
            }
            products.push(Product { id, subcomponents });
        }
        out.push(Statement {
            source: format!("{name} $.statements[{i}]"),
            vulnerability: s.vulnerability.name,
            aliases: s.vulnerability.aliases.unwrap_or_default(),
            products,
            status: s.status,
            justification: s.justification.map(|j| j.as_str().to_string()),
            note: s
                .impact_statement
                .or(s.action_statement)
                .unwrap_or_default(),
            srp_waiver: notes.starts_with(super::WAIVER_MARKER),
            expires,
        });
    }
    Ok(out)
}

fn statement(e: &Exception, timestamp: &str) -> Value {
    let mut vulnerability = json!({ "name": e.vulnerability });
    let mut aliases: Vec<&String> = e
        .aliases
        .iter()
        .filter(|a| **a != e.vulnerability)
        .collect();
    aliases.sort();
    aliases.dedup();
    if !aliases.is_empty() {
        vulnerability["aliases"] = json!(aliases);
    }
    let mut s = json!({
        "vulnerability": vulnerability,
        "timestamp": timestamp,
    });
    let products = match (&e.product, &e.purl) {
        (Some(p), Some(sub)) => json!([{ "@id": p, "subcomponents": [{ "@id": sub }] }]),
        (Some(p), None) => json!([{ "@id": p }]),
        (None, Some(sub)) => json!([{ "@id": sub }]),
        (None, None) => Value::Null,
    };
    if !products.is_null() {
        s["products"] = products;
    }
    let notes = super::waiver_notes(e);
    match &e.justification {
        Some(j) => {
            s["status"] = json!(Status::NotAffected.as_str());
            s["justification"] = json!(j);
            s["status_notes"] = json!(notes);
        }
        None => {
            s["status"] = json!(Status::Affected.as_str());
            s["action_statement"] = json!(e.reason);
            s["action_statement_timestamp"] = json!(timestamp);
            s["status_notes"] = json!(notes);
        }
    }
    s
}

/// The OpenVEX document for `exceptions` (sorted and deduplicated: the
/// schema wants unique statements), or `None` when there are none, since
/// the schema wants one statement at least.
pub fn render(exceptions: &[Exception], author: &str, timestamp: &str) -> Option<Vec<u8>> {
    let mut list: Vec<&Exception> = exceptions.iter().collect();
    list.sort();
    list.dedup();
    if list.is_empty() {
        return None;
    }
    let doc = json!({
        "@context": CONTEXT,
        "@id": format!("urn:srp-gate:vex:{timestamp}"),
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "tooling": format!("srp-gate {}", crate::VERSION),
        "statements": list.iter().map(|e| statement(e, timestamp)).collect::<Vec<_>>(),
    });
    Some(serde_json::to_vec_pretty(&doc).expect("VEX serializes"))
}

//! VEX: exceptions exchanged with other tools. srp-gate writes its active
//! waivers as VEX (`--vex-out`, OpenVEX or CycloneDX VEX) and reads VEX
//! statements (`--vex`) to suppress findings, each one reported as
//! suppressed, never passed silently.
//!
//! Both forms are read into [`Statement`]; [`Exception`] is what the writers
//! take. Reading is as strict as the report parsers: typed, closed
//! vocabularies, an unknown key in OpenVEX (its schema is closed) or a bad
//! date is an error naming the file and the JSON path (exit 2).

pub mod cyclonedx;
pub mod openvex;
pub mod product;

use crate::formats::ParseError;
use crate::model::Finding;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// OpenVEX's `not_affected` justifications (the VEX minimum elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

impl Justification {
    pub fn as_str(self) -> &'static str {
        match self {
            Justification::ComponentNotPresent => "component_not_present",
            Justification::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Justification::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Justification::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Justification::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }
}

/// OpenVEX statuses; CycloneDX analysis states are mapped onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
        }
    }
}

/// A product a statement applies to: its id (a purl or IRI) and, if any,
/// the subcomponents (package purls) within it.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: String,
    pub subcomponents: Vec<String>,
}

/// One VEX statement as the gate uses it.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `vex.json $.statements[2]`, for the summary.
    pub source: String,
    pub vulnerability: String,
    pub aliases: Vec<String>,
    /// Empty: the statement names no product and applies to every finding
    /// of the vulnerability.
    pub products: Vec<Product>,
    pub status: Status,
    pub justification: Option<String>,
    /// Impact or action statement (OpenVEX), analysis detail (CycloneDX).
    pub note: String,
    /// srp-gate wrote it from a waiver: an `affected` statement is then an
    /// accepted risk and suppresses; a vendor's `affected` never does.
    pub srp_waiver: bool,
    /// The waiver's last day, kept through the VEX round trip.
    pub expires: Option<NaiveDate>,
}

impl Statement {
    /// Whether a matching finding is suppressed: not affected or fixed, or
    /// a risk srp-gate's own waiver accepted; never under investigation,
    /// never once the carried expiry has passed.
    pub fn suppresses(&self, today: NaiveDate) -> bool {
        if self.expires.is_some_and(|e| e < today) {
            return false;
        }
        match self.status {
            Status::NotAffected | Status::Fixed => true,
            Status::Affected => self.srp_waiver,
            Status::UnderInvestigation => false,
        }
    }

    pub fn matches(&self, f: &Finding, report_product: Option<&str>) -> bool {
        let id_hit = f.id == self.vulnerability
            || self.aliases.contains(&f.id)
            || f.aliases.contains(&self.vulnerability);
        if !id_hit {
            return false;
        }
        if self.products.is_empty() {
            return true;
        }
        self.products.iter().any(|p| {
            let product_hit = report_product.is_some_and(|rp| product::same(&p.id, rp))
                || f.purl.as_deref().is_some_and(|fp| product::same(&p.id, fp));
            let sub_hit = p.subcomponents.is_empty()
                || f.purl
                    .as_deref()
                    .is_some_and(|fp| p.subcomponents.iter().any(|s| product::same(s, fp)));
            product_hit && sub_hit
        })
    }
}

/// An active waiver applied to a vulnerability, as the writers take it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Exception {
    pub vulnerability: String,
    pub aliases: Vec<String>,
    /// The report's artifact as a product id (see [`product::product_id`]).
    pub product: Option<String>,
    /// The package within the product.
    pub purl: Option<String>,
    pub justification: Option<String>,
    pub reason: String,
    /// Where the waiver was written (`policy.toml waiver #1`, `.trivyignore:3`).
    pub waiver: String,
    pub expires: Option<NaiveDate>,
}

#[derive(Debug, thiserror::Error)]
pub enum VexError {
    #[error("VEX {path}: {source}")]
    Read {
        path: String,
        source: crate::input::InputError,
    },
    #[error("VEX {path}: {source}")]
    Parse { path: String, source: ParseError },
}

/// Read a VEX file (OpenVEX or CycloneDX VEX, told apart by content).
pub fn load(path: &Path, max_bytes: u64) -> Result<Vec<Statement>, VexError> {
    let name = path.display().to_string();
    let bytes =
        crate::input::read_report_file(path, max_bytes).map_err(|source| VexError::Read {
            path: name.clone(),
            source,
        })?;
    parse(&bytes, &name).map_err(|source| VexError::Parse { path: name, source })
}

pub fn parse(bytes: &[u8], name: &str) -> Result<Vec<Statement>, ParseError> {
    #[derive(Deserialize)]
    struct Sniff {
        #[serde(rename = "@context")]
        context: Option<serde_json::Value>,
        #[serde(rename = "bomFormat")]
        bom_format: Option<serde_json::Value>,
    }
    let sniff: Sniff = crate::formats::from_slice(bytes)?;
    match (sniff.context, sniff.bom_format) {
        (Some(_), None) => openvex::parse(bytes, name),
        (None, Some(_)) => cyclonedx::parse(bytes, name),
        (Some(_), Some(_)) => Err(ParseError::Ambiguous {
            formats: "OpenVEX and CycloneDX".into(),
            keys: "$.@context, $.bomFormat".into(),
        }),
        (None, None) => Err(ParseError::Unknown(
            "a VEX document is OpenVEX (with @context) or CycloneDX VEX (with bomFormat)".into(),
        )),
    }
}

/// The date in an `expires: YYYY-MM-DD` marker, strictly: a marker with a
/// bad date is an error, not "no expiry".
pub(crate) fn parse_expiry(text: &str) -> Result<Option<NaiveDate>, String> {
    let Some(i) = text.find(EXPIRES_MARKER) else {
        return Ok(None);
    };
    let rest = &text[i + EXPIRES_MARKER.len()..];
    let date = rest.get(..10).unwrap_or(rest);
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("{EXPIRES_MARKER}{date:?} is not YYYY-MM-DD"))
}

pub(crate) const EXPIRES_MARKER: &str = "expires: ";
/// Starts the status notes of every statement srp-gate writes from a waiver.
pub(crate) const WAIVER_MARKER: &str = "srp-gate waiver";

/// The status notes srp-gate writes: the marker, the expiry (first, so a
/// reason quoting "expires: " cannot be read as the date), where the waiver
/// is written and its reason.
pub(crate) fn waiver_notes(e: &Exception) -> String {
    let expiry = match e.expires {
        Some(d) => format!("{EXPIRES_MARKER}{d}"),
        None => "no expiry".to_string(),
    };
    format!("{WAIVER_MARKER}; {expiry}; {}: {}", e.waiver, e.reason)
}

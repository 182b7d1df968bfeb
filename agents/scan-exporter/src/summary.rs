//! The machine-readable result of a gate run (`--summary-json`). The exporter
//! stores it as is, accepts it over HTTP, and a later run can use it as a
//! baseline, so every field a consumer needs is here.

use crate::model::SbomCounts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const KIND: &str = "srp-gate-summary";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Block,
    Error,
}

impl Verdict {
    /// srp-gate's exit status.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Block => 1,
            Verdict::Error => 2,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Block => "block",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// Always "srp-gate-summary"; written first so readers can sniff it.
    pub kind: String,
    pub version: u32,
    pub verdict: Verdict,
    pub generated_at: String,
    pub policy: String,
    pub reports: Vec<ReportInfo>,
    /// Findings per scanner/target/class/severity (waived ones included;
    /// scanner-suppressed ones not).
    pub counts: Vec<CountRow>,
    pub totals: BTreeMap<String, u64>,
    pub blocking: Vec<BlockingFinding>,
    pub waived: u64,
    pub suppressed: u64,
    pub unfixed_ignored: u64,
    pub waivers: WaiverReport,
    pub sbom: Vec<SbomRow>,
    pub baseline: Option<BaselineInfo>,
    pub checks: Vec<CheckResult>,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    /// Stable keys of every finding (see `Finding::key`), for baselines and
    /// the exporter's build-to-build diff. Left out when empty (as in the
    /// exporter's answers, whose keys went to its database).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finding_keys: Vec<String>,
    /// What the `--vex` statements did (absent in summaries of older gates).
    #[serde(default)]
    pub vex: VexSummary,
    /// `--sbom-diff OLD NEW`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_diff: Option<crate::sbom_diff::SbomDiff>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VexSummary {
    pub statements: u64,
    /// Every finding a statement suppressed, so none passes silently.
    pub suppressed: Vec<VexSuppressed>,
    /// Statements that matched no finding.
    pub unused: Vec<VexUnused>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VexSuppressed {
    pub scanner: String,
    pub target: String,
    pub id: String,
    pub pkg: Option<String>,
    pub statement: String,
    pub status: String,
    pub justification: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VexUnused {
    pub statement: String,
    pub vulnerability: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportInfo {
    pub path: String,
    pub format: Option<String>,
    pub scanner: Option<String>,
    pub artifact: Option<String>,
    /// The artifact is a container image.
    #[serde(default)]
    pub image: bool,
    pub created_at: Option<String>,
    pub findings: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CountRow {
    pub scanner: String,
    pub target: String,
    pub class: String,
    pub severity: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BlockingFinding {
    pub scanner: String,
    pub target: String,
    pub class: String,
    pub severity: String,
    pub id: String,
    pub pkg: Option<String>,
    pub installed: Option<String>,
    pub fixed: Option<String>,
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<u64>,
    pub title: Option<String>,
    pub new: Option<bool>,
    pub why: String,
    /// A secret's fingerprint for `.gitleaksignore` or a waiver: the stable
    /// form when a fingerprint key is set, else Gitleaks' commit form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The rules that block it: `severity` (the class threshold), `kev`
    /// (block_kev), `epss` (epss_threshold).
    #[serde(default)]
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WaiverReport {
    pub used: Vec<WaiverEntry>,
    pub expired: Vec<WaiverEntry>,
    pub unused: Vec<WaiverEntry>,
    pub expiring_within_7_days: Vec<WaiverEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaiverEntry {
    pub source: String,
    pub selector: String,
    pub reason: String,
    pub expires: Option<String>,
    /// Findings it waived (or, for an expired one, would have waived).
    pub matches: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SbomRow {
    pub target: String,
    #[serde(flatten)]
    pub counts: SbomCounts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselineInfo {
    pub source: String,
    pub known: u64,
    pub new: u64,
    pub block_new_only: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

//! srp-gate and srp-scan-exporter: one policy gate for Trivy, Gitleaks, SARIF
//! and CycloneDX reports, and their results as Prometheus metrics.
//!
//! Flow: `input` (bounded, sane bytes) → `formats` (recognise and parse into
//! `model`) → `evaluate` (policy, waivers, baseline) → `summary` → `output`
//! (table, JUnit) or `exporter` (SQLite history and metrics).

pub mod evaluate;
pub mod exploit;
pub mod exporter;
pub mod fingerprint;
pub mod formats;
pub mod gate;
pub mod glob;
pub mod ignorefile;
pub mod input;
pub mod model;
pub mod output;
pub mod policy;
pub mod sbom_diff;
pub mod summary;
pub mod vex;

/// `--version` of both binaries: the crate version and the commit the build
/// script baked in (the exporter also exports both in `srp_build_info`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SRP_BUILD_COMMIT"),
    ")"
);

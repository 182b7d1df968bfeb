//! The exporter's gauges (names fixed in DESIGN.md), set from a
//! [`Snapshot`] of the database so they are the same before and after a
//! restart.

use super::store::Snapshot;
use crate::model::{Class, Severity};
use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// A gauge vector replaced wholesale without a moment where a series is
/// missing: new values are set first, then series that are gone removed.
#[derive(Clone)]
struct Tracked {
    vec: GaugeVec,
    labels: Arc<Mutex<HashSet<Vec<String>>>>,
}

impl Tracked {
    fn replace(&self, values: Vec<(Vec<String>, f64)>) {
        let mut known = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        let mut now = HashSet::with_capacity(values.len());
        for (labels, v) in values {
            let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
            self.vec.with_label_values(&refs).set(v);
            now.insert(labels);
        }
        for old in known.difference(&now) {
            let refs: Vec<&str> = old.iter().map(String::as_str).collect();
            let _ = self.vec.remove_label_values(&refs);
        }
        *known = now;
    }
}

/// Reasons an ingest can fail; each starts at 0 so rate() works from the
/// first scrape.
pub const INGEST_ERROR_REASONS: &[&str] = &[
    "io",
    "too_large",
    "empty",
    "binary",
    "truncated",
    "malformed",
    "unknown_format",
    "bad_request",
    "storage",
    "symlink",
    "not_regular_file",
    "invalid_field",
    "busy",
];

/// Days ahead that srp_scan_waivers_expiring looks.
pub const EXPIRING_DAYS: i64 = 7;

#[derive(Clone)]
pub struct ScanMetrics {
    findings: Tracked,
    gate_passed: Tracked,
    last_timestamp: Tracked,
    sbom_components: Tracked,
    waivers_expiring: Tracked,
    sbom_changes: Tracked,
    pub ingest_errors: IntCounterVec,
}

impl ScanMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<ScanMetrics> {
        let gauge = |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<Tracked> {
            let g = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(Tracked {
                vec: g,
                labels: Arc::default(),
            })
        };
        let m = ScanMetrics {
            findings: gauge(
                "srp_scan_findings",
                "Findings in the latest report per target and scanner, by class and severity (waived findings included, scanner-suppressed ones not).",
                &["scanner", "target", "class", "severity"],
            )?,
            gate_passed: gauge(
                "srp_scan_gate_passed",
                "Latest gate result per pipeline and target: 1 passed, 0 blocked or unreadable.",
                &["pipeline", "target"],
            )?,
            last_timestamp: gauge(
                "srp_scan_last_timestamp_seconds",
                "When the latest scan per scanner and target ran (the report's own time, else when it was received), Unix seconds.",
                &["scanner", "target"],
            )?,
            sbom_components: gauge(
                "srp_scan_sbom_components",
                "Components in the latest SBOM per target, by purl type (or CycloneDX type for components without a purl).",
                &["target", "type"],
            )?,
            waivers_expiring: gauge(
                "srp_scan_waivers_expiring",
                "Waivers in force for the target's latest reports that expire within 7 days.",
                &["target"],
            )?,
            sbom_changes: gauge(
                "srp_scan_sbom_changes",
                "Components added, removed, upgraded or downgraded between the target's latest two CycloneDX SBOMs.",
                &["target", "change"],
            )?,
            ingest_errors: {
                let c = IntCounterVec::new(
                    Opts::new(
                        "srp_scan_ingest_errors_total",
                        "Reports refused because they could not be read or understood, by reason.",
                    ),
                    &["reason"],
                )?;
                registry.register(Box::new(c.clone()))?;
                for r in INGEST_ERROR_REASONS {
                    c.with_label_values(&[r]);
                }
                c
            },
        };
        Ok(m)
    }

    /// Replace every gauge with the snapshot's figures.
    pub fn apply(&self, snap: &Snapshot, today: chrono::NaiveDate) {
        let mut findings = Vec::new();
        let mut stamps = Vec::new();
        for ((scanner, target), (at, counts)) in &snap.findings {
            stamps.push((vec![scanner.clone(), target.clone()], *at));
            // Every class and severity, zeros included, so a fixed finding
            // shows as a drop to 0 rather than a vanished series.
            for class in Class::ALL {
                for sev in Severity::ALL {
                    let n = counts
                        .get(&(class.as_str().to_string(), sev.as_str().to_string()))
                        .copied()
                        .unwrap_or(0);
                    findings.push((
                        vec![
                            scanner.clone(),
                            target.clone(),
                            class.as_str().to_string(),
                            sev.as_str().to_string(),
                        ],
                        n as f64,
                    ));
                }
            }
        }
        self.findings.replace(findings);
        self.last_timestamp.replace(stamps);
        self.gate_passed.replace(
            snap.gates
                .iter()
                .map(|((p, t), ok)| (vec![p.clone(), t.clone()], if *ok { 1.0 } else { 0.0 }))
                .collect(),
        );
        self.sbom_components.replace(
            snap.sbom
                .iter()
                .map(|((t, ty), n)| (vec![t.clone(), ty.clone()], *n as f64))
                .collect(),
        );
        self.sbom_changes.replace(
            snap.sbom_changes
                .iter()
                .map(|((t, c), n)| (vec![t.clone(), c.clone()], *n as f64))
                .collect(),
        );
        self.waivers_expiring.replace(
            snap.waivers
                .iter()
                .map(|(t, dates)| {
                    let n = dates
                        .iter()
                        .filter(|d| **d >= today && (**d - today).num_days() <= EXPIRING_DAYS)
                        .count();
                    (vec![t.clone()], n as f64)
                })
                .collect(),
        );
    }
}

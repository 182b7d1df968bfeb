//! Applying a policy to parsed reports: which findings block, which are
//! waived, which waivers were used, expired or unused, and what is new since
//! a baseline. Produces the [`Summary`] every output is rendered from.

use crate::model::{Class, Finding, Report, Severity};
use crate::policy::{Policy, Waiver};
use crate::summary::*;
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashSet};

/// Keys of the findings in a previous report or summary.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub source: String,
    pub keys: HashSet<String>,
}

impl Baseline {
    pub fn from_report(source: &str, report: &Report) -> Baseline {
        Baseline {
            source: source.to_string(),
            keys: report.findings.iter().map(Finding::key).collect(),
        }
    }
    pub fn from_summary(source: &str, summary: &Summary) -> Baseline {
        Baseline {
            source: source.to_string(),
            keys: summary.finding_keys.iter().cloned().collect(),
        }
    }
}

pub struct Options {
    pub policy: Policy,
    /// Entries of `.trivyignore` / `.gitleaksignore`.
    pub ignore_waivers: Vec<Waiver>,
    pub baseline: Option<Baseline>,
    pub block_new_only: bool,
    pub today: NaiveDate,
    /// Warnings gathered while loading (bad ignore-file lines).
    pub warnings: Vec<String>,
}

impl Options {
    pub fn new(policy: Policy, today: NaiveDate) -> Options {
        Options {
            policy,
            ignore_waivers: Vec::new(),
            baseline: None,
            block_new_only: false,
            today,
            warnings: Vec::new(),
        }
    }
}

/// One input: its name and either the parsed report or why it failed.
pub struct Input {
    pub path: String,
    pub report: Result<Report, String>,
}

pub const EXPIRY_WARNING_DAYS: i64 = 7;

pub fn evaluate(inputs: &[Input], opts: &Options) -> Summary {
    let waivers: Vec<&Waiver> = opts
        .policy
        .waivers
        .iter()
        .chain(opts.ignore_waivers.iter())
        .collect();
    let mut waiver_hits = vec![0u64; waivers.len()];
    let mut counts: BTreeMap<(String, String, &'static str, &'static str), u64> = BTreeMap::new();
    let mut totals: BTreeMap<String, u64> = Severity::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut blocking = Vec::new();
    let mut keys = Vec::new();
    let (mut waived, mut suppressed, mut unfixed_ignored) = (0u64, 0u64, 0u64);
    let (mut known, mut new) = (0u64, 0u64);
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    let mut checks = Vec::new();
    let mut sbom = Vec::new();
    // (scanner, class) pairs seen, for one policy check each.
    let mut seen: BTreeMap<(String, Class), u64> = BTreeMap::new();

    for input in inputs {
        let report = match &input.report {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{}: {e}", input.path));
                reports.push(ReportInfo {
                    path: input.path.clone(),
                    format: None,
                    scanner: None,
                    artifact: None,
                    image: false,
                    created_at: None,
                    findings: 0,
                    error: Some(e.clone()),
                });
                checks.push(CheckResult {
                    name: format!("read {}", input.path),
                    passed: false,
                    detail: e.clone(),
                });
                continue;
            }
        };
        checks.push(CheckResult {
            name: format!("read {}", input.path),
            passed: true,
            detail: format!(
                "{} report from {}, {} findings",
                report.format.as_str(),
                report.scanner,
                report.findings.len()
            ),
        });
        reports.push(ReportInfo {
            path: input.path.clone(),
            format: Some(report.format.as_str().into()),
            scanner: Some(report.scanner.clone()),
            artifact: report.artifact.clone(),
            image: report.image,
            created_at: report.created_at.clone(),
            findings: report.findings.len() as u64,
            error: None,
        });
        suppressed += report.suppressed;
        if let Some(c) = &report.sbom {
            sbom.push(SbomRow {
                target: report
                    .artifact
                    .clone()
                    .unwrap_or_else(|| input.path.clone()),
                counts: c.clone(),
            });
        }
        for f in &report.findings {
            let (class, sev) = (f.class(), f.severity());
            *counts
                .entry((
                    f.scanner.clone(),
                    f.target.clone(),
                    class.as_str(),
                    sev.as_str(),
                ))
                .or_default() += 1;
            *totals.entry(sev.as_str().to_string()).or_default() += 1;
            *seen.entry((f.scanner.clone(), class)).or_default() += 1;
            let key = f.key();
            let is_new = opts.baseline.as_ref().map(|b| !b.keys.contains(&key));
            keys.push(key);

            let mut waiver = None;
            let mut expired_hit = None;
            for (i, w) in waivers.iter().enumerate() {
                if !w.matches(f) {
                    continue;
                }
                waiver_hits[i] += 1;
                if w.is_expired(opts.today) {
                    expired_hit.get_or_insert(i);
                } else {
                    waiver = Some(i);
                    break;
                }
            }
            if waiver.is_some() {
                waived += 1;
                continue;
            }
            match is_new {
                Some(true) => new += 1,
                Some(false) => known += 1,
                None => {}
            }
            let threshold = opts.policy.threshold(&f.scanner, class);
            if !threshold.blocks(sev) {
                continue;
            }
            if class == Class::Vulnerability
                && opts.policy.ignore_unfixed(&f.scanner)
                && f.is_unfixed()
            {
                unfixed_ignored += 1;
                continue;
            }
            if opts.block_new_only && is_new == Some(false) {
                continue;
            }
            let mut why = if class == Class::Secret && threshold.0 == Some(Severity::Unknown) {
                format!("{} finding: the policy blocks every secret", f.scanner)
            } else {
                format!(
                    "{sev} {class}: {} blocks {class} at {threshold} or above",
                    f.scanner
                )
            };
            if class == Class::Vulnerability {
                match f.fixed.as_deref() {
                    Some(fx) => why.push_str(&format!("; fixed in {fx}")),
                    None => why.push_str("; no fix yet"),
                }
            }
            if let Some(i) = expired_hit {
                let w = waivers[i];
                why.push_str(&format!(
                    "; waiver {} expired {}",
                    w.source,
                    w.expires.map(|d| d.to_string()).unwrap_or_default()
                ));
            }
            if is_new == Some(true) {
                why.push_str("; new since baseline");
            }
            blocking.push(BlockingFinding {
                scanner: f.scanner.clone(),
                target: f.target.clone(),
                class: class.as_str().into(),
                severity: sev.as_str().into(),
                id: f.id.clone(),
                pkg: f.pkg.clone().filter(|p| !p.is_empty()),
                installed: f.installed.clone(),
                fixed: f.fixed.clone(),
                path: f.path.clone(),
                line: f.line,
                title: f.title.clone(),
                new: is_new,
                why,
            });
        }
    }

    for ((scanner, class), n) in &seen {
        let threshold = opts.policy.threshold(scanner, *class);
        let blocked = blocking
            .iter()
            .filter(|b| &b.scanner == scanner && b.class == class.as_str())
            .count();
        let name = if threshold.0.is_none() {
            format!("{scanner} {class}: reported, never blocks")
        } else {
            format!("{scanner} {class}: nothing at or above {threshold}")
        };
        checks.push(CheckResult {
            name,
            passed: blocked == 0,
            detail: format!("{n} findings, {blocked} blocking"),
        });
    }

    let mut wr = WaiverReport::default();
    for (i, w) in waivers.iter().enumerate() {
        let entry = WaiverEntry {
            source: w.source.clone(),
            selector: w.selector(),
            reason: w.reason.clone(),
            expires: w.expires.map(|d| d.to_string()),
            matches: waiver_hits[i],
        };
        if w.is_expired(opts.today) {
            wr.expired.push(entry);
            continue;
        }
        if w.expires_within(opts.today, EXPIRY_WARNING_DAYS) {
            wr.expiring_within_7_days.push(entry.clone());
        }
        if waiver_hits[i] == 0 {
            wr.unused.push(entry);
        } else {
            wr.used.push(entry);
        }
    }

    keys.sort_unstable();
    keys.dedup();
    let verdict = if !errors.is_empty() {
        Verdict::Error
    } else if !blocking.is_empty() {
        Verdict::Block
    } else {
        Verdict::Pass
    };
    Summary {
        kind: KIND.into(),
        version: 1,
        verdict,
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        policy: opts.policy.source.clone(),
        reports,
        counts: counts
            .into_iter()
            .map(|((scanner, target, class, severity), count)| CountRow {
                scanner,
                target,
                class: class.into(),
                severity: severity.into(),
                count,
            })
            .collect(),
        totals,
        blocking,
        waived,
        suppressed,
        unfixed_ignored,
        waivers: wr,
        sbom,
        baseline: opts.baseline.as_ref().map(|b| BaselineInfo {
            source: b.source.clone(),
            known,
            new,
            block_new_only: opts.block_new_only,
        }),
        checks,
        warnings: opts.warnings.clone(),
        errors,
        finding_keys: keys,
    }
}

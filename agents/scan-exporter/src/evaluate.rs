//! Applying a policy to parsed reports: which findings block, which are
//! waived, which waivers were used, expired or unused, and what is new since
//! a baseline. Produces the [`Summary`] every output is rendered from.

use crate::model::{Class, Finding, Report, Severity};
use crate::policy::{Policy, Waiver};
use crate::summary::*;
use crate::vex::{product::product_id, Statement};
use chrono::NaiveDate;
use std::collections::{BTreeMap, HashMap, HashSet};

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
    /// Statements of the `--vex` files.
    pub vex: Vec<Statement>,
    /// The KEV and EPSS feeds the policy names, loaded.
    pub exploits: crate::exploit::Exploits,
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
            vex: Vec::new(),
            exploits: Default::default(),
        }
    }

    /// Policy waivers then ignore-file entries: the order waivers are tried
    /// in, and the index space of [`Outcome::Waived`].
    pub fn waivers(&self) -> Vec<&Waiver> {
        self.policy
            .waivers
            .iter()
            .chain(self.ignore_waivers.iter())
            .collect()
    }
}

/// What the gate decided for one finding (`inputs[input].findings[finding]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub input: usize,
    pub finding: usize,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Below the thresholds (or not new, with --block-new-only).
    Reported,
    /// Index into `Summary::blocking`.
    Blocked(usize),
    /// Index into [`Options::waivers`].
    Waived(usize),
    /// Index into [`Options::vex`].
    Suppressed(usize),
    /// Over a threshold but unfixed, with ignore_unfixed.
    UnfixedIgnored,
}

/// VEX statements by vulnerability id and alias, so matching stays linear
/// in the findings however many statements there are.
fn vex_index(statements: &[Statement]) -> HashMap<&str, Vec<usize>> {
    let mut idx: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in statements.iter().enumerate() {
        for name in std::iter::once(&s.vulnerability).chain(s.aliases.iter()) {
            let list = idx.entry(name.as_str()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    idx
}

/// One input: its name and either the parsed report or why it failed.
pub struct Input {
    pub path: String,
    pub report: Result<Report, String>,
}

pub const EXPIRY_WARNING_DAYS: i64 = 7;

pub fn evaluate(inputs: &[Input], opts: &Options) -> Summary {
    evaluate_detailed(inputs, opts).0
}

/// The summary and, in input order, the decision on every finding (for the
/// VEX and SARIF outputs).
pub fn evaluate_detailed(inputs: &[Input], opts: &Options) -> (Summary, Vec<Decision>) {
    let waivers = opts.waivers();
    let vex_by_id = vex_index(&opts.vex);
    let mut vex_hits = vec![0u64; opts.vex.len()];
    let mut vex = VexSummary::default();
    let mut decisions = Vec::new();
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

    for (input_index, input) in inputs.iter().enumerate() {
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
        let product = product_id(report);
        for (finding_index, f) in report.findings.iter().enumerate() {
            let mut decide = |outcome| {
                decisions.push(Decision {
                    input: input_index,
                    finding: finding_index,
                    outcome,
                })
            };
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
            if let Some(i) = waiver {
                waived += 1;
                decide(Outcome::Waived(i));
                continue;
            }
            let statement = statement_for(f, product.as_deref(), &vex_by_id, opts, &mut vex_hits);
            if let Some(i) = statement {
                let s = &opts.vex[i];
                vex.suppressed.push(VexSuppressed {
                    scanner: f.scanner.clone(),
                    target: f.target.clone(),
                    id: f.id.clone(),
                    pkg: f.pkg.clone().filter(|p| !p.is_empty()),
                    statement: s.source.clone(),
                    status: s.status.as_str().into(),
                    justification: s.justification.clone(),
                    note: s.note.clone(),
                });
                decide(Outcome::Suppressed(i));
                continue;
            }
            match is_new {
                Some(true) => new += 1,
                Some(false) => known += 1,
                None => {}
            }
            let threshold = opts.policy.threshold(&f.scanner, class);
            let by_severity = threshold.blocks(sev);
            let exploit_hits = if class == Class::Vulnerability {
                opts.exploits.hits(f)
            } else {
                Vec::new()
            };
            if !by_severity && exploit_hits.is_empty() {
                decide(Outcome::Reported);
                continue;
            }
            // ignore_unfixed waives the severity rule only: a vulnerability
            // known or likely to be exploited blocks fixed or not.
            let unfixed_ignored_here = class == Class::Vulnerability
                && opts.policy.ignore_unfixed(&f.scanner)
                && f.is_unfixed();
            if exploit_hits.is_empty() && unfixed_ignored_here {
                unfixed_ignored += 1;
                decide(Outcome::UnfixedIgnored);
                continue;
            }
            let by_severity = by_severity && !unfixed_ignored_here;
            if opts.block_new_only && is_new == Some(false) {
                decide(Outcome::Reported);
                continue;
            }
            let mut rules = Vec::new();
            let mut reasons = Vec::new();
            if by_severity {
                rules.push("severity".to_string());
                reasons.push(
                    if class == Class::Secret && threshold.0 == Some(Severity::Unknown) {
                        format!("{} finding: the policy blocks every secret", f.scanner)
                    } else {
                        format!(
                            "{sev} {class}: {} blocks {class} at {threshold} or above",
                            f.scanner
                        )
                    },
                );
            }
            for hit in &exploit_hits {
                rules.push(hit.rule().to_string());
                reasons.push(hit.why());
            }
            let mut why = reasons.join("; ");
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
            decide(Outcome::Blocked(blocking.len()));
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
                fingerprint: f.fingerprints.first().cloned(),
                rules,
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

    for (i, s) in opts.vex.iter().enumerate() {
        if vex_hits[i] == 0 {
            vex.unused.push(VexUnused {
                statement: s.source.clone(),
                vulnerability: s.vulnerability.clone(),
                status: s.status.as_str().into(),
            });
        }
    }
    vex.statements = opts.vex.len() as u64;
    if !opts.vex.is_empty() {
        checks.push(CheckResult {
            name: "VEX statements".into(),
            passed: true,
            detail: format!(
                "{} statements, {} findings suppressed, {} unused",
                opts.vex.len(),
                vex.suppressed.len(),
                vex.unused.len()
            ),
        });
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
    let summary = Summary {
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
        vex,
        sbom_diff: None,
    };
    (summary, decisions)
}

/// The first statement that matches `f` and suppresses it. Every matching
/// statement counts as used, suppressing or not (an `under_investigation`
/// statement that matches is not "unused").
fn statement_for(
    f: &Finding,
    product: Option<&str>,
    by_id: &HashMap<&str, Vec<usize>>,
    opts: &Options,
    hits: &mut [u64],
) -> Option<usize> {
    let mut candidates: Vec<usize> = std::iter::once(&f.id)
        .chain(f.aliases.iter())
        .filter_map(|id| by_id.get(id.as_str()))
        .flatten()
        .copied()
        .collect();
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_unstable();
    candidates.dedup();
    let mut found = None;
    for i in candidates {
        let s = &opts.vex[i];
        if !s.matches(f, product) {
            continue;
        }
        hits[i] += 1;
        if found.is_none() && s.suppresses(opts.today) {
            found = Some(i);
        }
    }
    found
}

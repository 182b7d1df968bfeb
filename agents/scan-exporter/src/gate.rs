//! srp-gate's command line: read reports, apply the policy, write the
//! outputs, and return the exit status (0 pass, 1 block, 2 error).

use crate::evaluate::{evaluate, Baseline, Input, Options};
use crate::formats::{self, Parsed};
use crate::ignorefile;
use crate::input::{self, DEFAULT_MAX_REPORT_BYTES};
use crate::output;
use crate::policy::Policy;
use crate::summary::{Summary, Verdict};
use chrono::NaiveDate;
use clap::Parser;
use std::path::{Path, PathBuf};

/// Policy gate for Trivy, Gitleaks, SARIF and CycloneDX reports.
///
/// Exit status: 0 the policy passes, 1 the policy blocks, 2 an input could not
/// be read or understood (a truncated, empty, binary, oversized or unknown
/// report, a bad policy file). It fails closed: an error is never a pass.
#[derive(Debug, Parser)]
#[command(name = "srp-gate", version = crate::VERSION)]
pub struct GateArgs {
    /// Reports to judge; each one's format is recognised by its content
    /// (Trivy JSON, Gitleaks JSON, SARIF 2.1.0, CycloneDX JSON).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,

    /// Policy file (TOML): thresholds per scanner and class, ignore_unfixed,
    /// waivers. Without it the platform default applies: block any secret
    /// and any HIGH or CRITICAL vulnerability, report everything else.
    #[arg(long, env = "SRP_GATE_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Write JUnit XML here (one test case per policy check and per blocking
    /// finding) for Jenkins' junit step.
    #[arg(long, value_name = "OUT")]
    pub junit: Option<PathBuf>,

    /// Write the machine-readable JSON summary here (counts, blocking
    /// findings, waivers, verdict); it can be pushed to srp-scan-exporter and
    /// used as a later --baseline.
    #[arg(long, value_name = "OUT")]
    pub summary_json: Option<PathBuf>,

    /// A previous report or srp-gate summary: findings already in it are
    /// reported as known, the rest as new.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// With --baseline, only new findings can block.
    #[arg(long, requires = "baseline")]
    pub block_new_only: bool,

    /// Trivy's .trivyignore (ids, optional exp:YYYY-MM-DD), applied as waivers.
    #[arg(long, value_name = "FILE")]
    pub trivyignore: Option<PathBuf>,

    /// Gitleaks' .gitleaksignore (fingerprints), applied as waivers.
    #[arg(long, value_name = "FILE")]
    pub gitleaksignore: Option<PathBuf>,

    /// Refuse (exit 2) any report larger than this many bytes, before
    /// reading it.
    #[arg(long, default_value_t = DEFAULT_MAX_REPORT_BYTES, value_name = "BYTES")]
    pub max_report_bytes: u64,

    /// Judge waiver expiry as of this date (YYYY-MM-DD) instead of today
    /// (UTC); for reproducing a past decision.
    #[arg(long, value_name = "DATE")]
    pub today: Option<NaiveDate>,

    /// Do not print the summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Read and parse one report file; the error text is what the operator sees.
pub fn load_report(path: &Path, max_bytes: u64) -> Result<crate::model::Report, String> {
    let bytes = input::read_report_file(path, max_bytes).map_err(|e| e.to_string())?;
    match formats::parse(&bytes) {
        Ok(Parsed::Report(r)) => Ok(r),
        Ok(Parsed::Summary(_)) => {
            Err("this is an srp-gate summary, not a scanner report (use it with --baseline)".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn load_baseline(path: &Path, max_bytes: u64) -> Result<Baseline, String> {
    let source = path.display().to_string();
    let bytes = input::read_report_file(path, max_bytes).map_err(|e| e.to_string())?;
    match formats::parse(&bytes).map_err(|e| e.to_string())? {
        Parsed::Report(r) => Ok(Baseline::from_report(&source, &r)),
        Parsed::Summary(s) => Ok(Baseline::from_summary(&source, &s)),
    }
}

/// Build the options from the flags; errors here are exit 2.
fn options(args: &GateArgs, errors: &mut Vec<String>) -> Options {
    let today = args
        .today
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let policy = match &args.policy {
        None => Policy::default(),
        Some(p) => Policy::load(p).unwrap_or_else(|e| {
            errors.push(e.to_string());
            Policy::default()
        }),
    };
    let mut opts = Options::new(policy, today);
    if let Some(p) = &args.trivyignore {
        match ignorefile::load_trivyignore(p) {
            Ok(parsed) => {
                opts.ignore_waivers.extend(parsed.waivers);
                opts.warnings.extend(parsed.warnings);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(p) = &args.gitleaksignore {
        match ignorefile::load_gitleaksignore(p) {
            Ok(parsed) => {
                opts.ignore_waivers.extend(parsed.waivers);
                opts.warnings.extend(parsed.warnings);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    if let Some(b) = &args.baseline {
        match load_baseline(b, args.max_report_bytes) {
            Ok(base) => opts.baseline = Some(base),
            Err(e) => errors.push(format!("baseline {}: {e}", b.display())),
        }
    }
    opts.block_new_only = args.block_new_only;
    opts
}

/// Write via a temporary file and a rename, so a reader never sees half a
/// file.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = match dir {
        Some(d) => d.join(format!(".{name}.tmp")),
        None => PathBuf::from(format!(".{name}.tmp")),
    };
    // Whatever sits at the temporary name (a stale file, or a symlink or FIFO
    // planted there) is removed, and the new file is created exclusively:
    // O_EXCL does not follow a symlink, so the write lands in a new regular
    // file or fails.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)?;
    std::io::Write::write_all(&mut file, content)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Run the gate; returns the summary (for tests) and the exit status.
pub fn run(args: &GateArgs) -> (Summary, i32) {
    let mut setup_errors = Vec::new();
    let opts = options(args, &mut setup_errors);
    let inputs: Vec<Input> = args
        .reports
        .iter()
        .map(|p| Input {
            path: p.display().to_string(),
            report: load_report(p, args.max_report_bytes),
        })
        .collect();
    let mut summary = evaluate(&inputs, &opts);
    if !setup_errors.is_empty() {
        for e in &setup_errors {
            summary.checks.insert(
                0,
                crate::summary::CheckResult {
                    name: "configuration (policy, ignore files, baseline)".into(),
                    passed: false,
                    detail: e.clone(),
                },
            );
        }
        summary.errors.splice(0..0, setup_errors);
        summary.verdict = Verdict::Error;
    }
    for e in &summary.errors {
        eprintln!("error: {e}");
    }
    if !args.quiet {
        print!("{}", output::table::render(&summary));
    }
    let mut code = summary.verdict.exit_code();
    if let Some(p) = &args.junit {
        if let Err(e) = write_atomic(p, output::junit::render(&summary).as_bytes()) {
            eprintln!("error: cannot write {}: {e}", p.display());
            code = 2;
        }
    }
    if let Some(p) = &args.summary_json {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serializes");
        if let Err(e) = write_atomic(p, &json) {
            eprintln!("error: cannot write {}: {e}", p.display());
            code = 2;
        }
    }
    (summary, code)
}

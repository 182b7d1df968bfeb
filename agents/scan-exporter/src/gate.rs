//! srp-gate's command line: read reports, apply the policy, write the
//! outputs, and return the exit status (0 pass, 1 block, 2 error).

use crate::evaluate::{evaluate_detailed, Baseline, Decision, Input, Options, Outcome};
use crate::fingerprint;
use crate::formats::{self, Parsed};
use crate::ignorefile;
use crate::input::{self, DEFAULT_MAX_REPORT_BYTES};
use crate::model::Class;
use crate::output;
use crate::policy::Policy;
use crate::summary::{Summary, Verdict};
use crate::vex::{product::product_id, Exception};
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
    #[arg(required_unless_present = "sbom_diff", value_name = "REPORT")]
    pub reports: Vec<PathBuf>,

    /// List the components added, removed, upgraded and downgraded between
    /// two releases' CycloneDX SBOMs (Trivy's or syft's). Alone, it only
    /// reports (exit 0, or 2 on a broken SBOM); with reports, the gate runs
    /// too and the diff goes into --summary-json as `sbom_diff`.
    #[arg(long, num_args = 2, value_names = ["OLD", "NEW"])]
    pub sbom_diff: Option<Vec<PathBuf>>,

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

    /// Key for stable secret fingerprints (`file:rule:hmac-…`, an HMAC of
    /// the matched secret): with it, baselines and .gitleaksignore entries
    /// survive squashes, rebases and moved lines. Keep it like a credential
    /// and keep it the same across builds.
    #[arg(long, env = "SRP_GATE_FINGERPRINT_KEY_FILE", value_name = "FILE")]
    pub fingerprint_key_file: Option<PathBuf>,

    /// Refuse (exit 2) any report larger than this many bytes, before
    /// reading it.
    #[arg(long, default_value_t = DEFAULT_MAX_REPORT_BYTES, value_name = "BYTES")]
    pub max_report_bytes: u64,

    /// Judge waiver expiry as of this date (YYYY-MM-DD) instead of today
    /// (UTC); for reproducing a past decision.
    #[arg(long, value_name = "DATE")]
    pub today: Option<NaiveDate>,

    /// Write every finding of every report here as one SARIF 2.1.0 log;
    /// waived and VEX-suppressed ones carry SARIF `suppressions` (kind
    /// external, justification, expiry), so they stay visible.
    #[arg(long, value_name = "OUT")]
    pub sarif_out: Option<PathBuf>,

    /// VEX statements (OpenVEX, or CycloneDX VEX) to apply: a matching
    /// finding that is not_affected or fixed (or a risk an srp-gate waiver
    /// accepted) is suppressed and listed as such; statements matching
    /// nothing are listed as unused. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,

    /// Write the active waivers (policy and ignore files) that applied to a
    /// vulnerability here as VEX, for Trivy, Grype or Dependency-Track.
    #[arg(long, value_name = "OUT")]
    pub vex_out: Option<PathBuf>,

    /// The form of --vex-out.
    #[arg(long, value_enum, default_value_t = VexFormat::Openvex, requires = "vex_out")]
    pub vex_format: VexFormat,

    /// The author named in --vex-out.
    #[arg(
        long,
        env = "SRP_GATE_VEX_AUTHOR",
        default_value = "srp-gate",
        value_name = "NAME"
    )]
    pub vex_author: String,

    /// Do not print the summary table.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VexFormat {
    Openvex,
    Cyclonedx,
}

/// Read and parse one report file; the error text is what the operator sees.
/// With a fingerprint key, secrets get their stable fingerprints.
pub fn load_report(
    path: &Path,
    max_bytes: u64,
    key: Option<&[u8]>,
) -> Result<crate::model::Report, String> {
    let bytes = input::read_report_file(path, max_bytes).map_err(|e| e.to_string())?;
    match formats::parse(&bytes) {
        Ok(Parsed::Report(mut r)) => {
            fingerprint::apply(&mut r, key);
            Ok(r)
        }
        Ok(Parsed::Summary(_)) => {
            Err("this is an srp-gate summary, not a scanner report (use it with --baseline)".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn load_baseline(path: &Path, max_bytes: u64, key: Option<&[u8]>) -> Result<Baseline, String> {
    let source = path.display().to_string();
    let bytes = input::read_report_file(path, max_bytes).map_err(|e| e.to_string())?;
    match formats::parse(&bytes).map_err(|e| e.to_string())? {
        Parsed::Report(mut r) => {
            fingerprint::apply(&mut r, key);
            Ok(Baseline::from_report(&source, &r))
        }
        Parsed::Summary(s) => Ok(Baseline::from_summary(&source, &s)),
    }
}

/// Build the options from the flags; errors here are exit 2.
/// The fingerprint key: the file's content without its final newline;
/// empty is refused (a keyless HMAC is a plain hash of the secret).
fn fingerprint_key(args: &GateArgs) -> Result<Option<Vec<u8>>, String> {
    let Some(p) = &args.fingerprint_key_file else {
        return Ok(None);
    };
    let text =
        input::read_text_file(p).map_err(|e| format!("fingerprint key {}: {e}", p.display()))?;
    let key = text.trim_end_matches(['\n', '\r']);
    if key.trim().is_empty() {
        return Err(format!("fingerprint key {}: empty", p.display()));
    }
    Ok(Some(key.as_bytes().to_vec()))
}

fn options(args: &GateArgs, key: Option<&[u8]>, errors: &mut Vec<String>) -> Options {
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
    let exploits = crate::exploit::Exploits::load(&policy.exploits, args.max_report_bytes)
        .unwrap_or_else(|e| {
            errors.push(e.to_string());
            Default::default()
        });
    let mut opts = Options::new(policy, today);
    opts.exploits = exploits;
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
        match load_baseline(b, args.max_report_bytes, key) {
            Ok(base) => opts.baseline = Some(base),
            Err(e) => errors.push(format!("baseline {}: {e}", b.display())),
        }
    }
    for v in &args.vex {
        match crate::vex::load(v, args.max_report_bytes) {
            Ok(statements) => opts.vex.extend(statements),
            Err(e) => errors.push(e.to_string()),
        }
    }
    opts.block_new_only = args.block_new_only;
    opts
}

/// The active waivers that waived a vulnerability, one exception per
/// finding (the writers deduplicate).
fn exceptions(inputs: &[Input], decisions: &[Decision], opts: &Options) -> Vec<Exception> {
    let waivers = opts.waivers();
    let mut out = Vec::new();
    for d in decisions {
        let Outcome::Waived(w) = d.outcome else {
            continue;
        };
        let Ok(report) = &inputs[d.input].report else {
            continue;
        };
        let f = &report.findings[d.finding];
        if f.class() != Class::Vulnerability {
            continue;
        }
        let w = waivers[w];
        out.push(Exception {
            vulnerability: f.id.clone(),
            aliases: f.aliases.clone(),
            product: product_id(report),
            purl: f.purl.clone(),
            justification: w.justification.map(|j| j.as_str().to_string()),
            reason: w.reason.clone(),
            waiver: w.source.clone(),
            expires: w.expires,
        });
    }
    out
}

/// Write --vex-out; OpenVEX with no statement is not a valid document, so
/// then nothing is written (and a stale file from an earlier run removed).
fn write_vex(path: &Path, args: &GateArgs, exceptions: &[Exception]) -> std::io::Result<()> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = match args.vex_format {
        VexFormat::Cyclonedx => Some(crate::vex::cyclonedx::render(exceptions, &now)),
        VexFormat::Openvex => crate::vex::openvex::render(exceptions, &args.vex_author, &now),
    };
    match body {
        Some(b) => write_atomic(path, &b),
        None => {
            eprintln!(
                "note: no waiver applied to a vulnerability, so no OpenVEX statement: {} not written",
                path.display()
            );
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
    }
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
    let key = fingerprint_key(args).unwrap_or_else(|e| {
        setup_errors.push(e);
        None
    });
    let opts = options(args, key.as_deref(), &mut setup_errors);
    let inputs: Vec<Input> = args
        .reports
        .iter()
        .map(|p| Input {
            path: p.display().to_string(),
            report: load_report(p, args.max_report_bytes, key.as_deref()),
        })
        .collect();
    let (mut summary, decisions) = evaluate_detailed(&inputs, &opts);
    if let Some([old, new]) = args.sbom_diff.as_deref() {
        match crate::sbom_diff::diff(old, new, args.max_report_bytes) {
            Ok(d) => summary.sbom_diff = Some(d),
            Err(e) => setup_errors.push(format!("--sbom-diff {e}")),
        }
    }
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
        if !inputs.is_empty() || !summary.errors.is_empty() {
            print!("{}", output::table::render(&summary));
        }
        if let Some(d) = &summary.sbom_diff {
            print!("{}", crate::sbom_diff::render(d));
        }
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
    if let Some(p) = &args.sarif_out {
        let log = output::sarif::render(&inputs, &decisions, &opts);
        if let Err(e) = write_atomic(p, &log) {
            eprintln!("error: cannot write {}: {e}", p.display());
            code = 2;
        }
    }
    if let Some(p) = &args.vex_out {
        if let Err(e) = write_vex(p, args, &exceptions(&inputs, &decisions, &opts)) {
            eprintln!("error: cannot write {}: {e}", p.display());
            code = 2;
        }
    }
    (summary, code)
}

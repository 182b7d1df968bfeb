//! srp-disk-guard: keeps build hosts from filling their disks, safely.

use anyhow::Context;
use clap::{Parser, Subcommand};
use srp_daemon::{BuildInfo, HttpArgs, LogArgs, Shutdown};
use srp_disk_guard::config::Config;
use srp_disk_guard::daemon::{self, HealthState};
use srp_disk_guard::escape::line;
use srp_disk_guard::guard::{exit, Guard, PassReport};
use srp_disk_guard::journal::Journal;
use srp_disk_guard::metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUILD: BuildInfo = srp_daemon::build_info!("srp-disk-guard");

/// Watches mount points, predicts when they fill up, reclaims space by the
/// policies in the config file (Docker images and build cache, Jenkins build
/// records and workspaces, files by glob) without ever leaving their allowed
/// roots, journals every deletion, and runs an escalation command when
/// cleaning is not enough.
#[derive(Parser, Debug)]
#[command(name = "srp-disk-guard", version)]
struct Cli {
    /// Address for /metrics and /health.
    #[arg(long, env = "SRP_LISTEN", default_value = "127.0.0.1:9741")]
    listen: SocketAddr,

    /// Configuration file (TOML). Reloaded when it changes or on SIGHUP.
    #[arg(
        long,
        env = "SRP_DISK_GUARD_CONFIG",
        default_value = "/etc/srp/disk-guard.toml",
        global = true
    )]
    config: PathBuf,

    /// Directory for the SQLite journal of deletions and escalations.
    #[arg(
        long,
        env = "SRP_DATA_DIR",
        default_value = "/var/lib/srp-disk-guard",
        global = true
    )]
    data_dir: PathBuf,

    /// Run one check-and-clean pass, print what was done, and exit:
    /// 0 fine (nothing needed or target reached), 1 error, 3 still under the
    /// act threshold after cleanup, 4 escalation command run.
    #[arg(long)]
    once: bool,

    /// Report what would be deleted, delete nothing (also `dry_run = true`
    /// in the config; the flag wins).
    #[arg(long)]
    dry_run: bool,

    /// With --once: print the report as JSON instead of text lines.
    #[arg(long, requires = "once")]
    report_json: bool,

    /// Longest a request may take before it is answered 408 (e.g. `10s`,
    /// `500ms`; a unit is required).
    #[arg(long, env = "SRP_REQUEST_TIMEOUT", default_value = "10s", value_parser = srp_daemon::duration::parse_flag)]
    request_timeout: Duration,

    #[command(flatten)]
    http: HttpArgs,

    #[command(flatten)]
    log: LogArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the deletion journal, newest first.
    Journal {
        /// How many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON array instead of tab-separated lines.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // `--once` ends with its own documented status (3 still low, 4
    // escalated); failures go through the shared edge (`error: …`, exit 1).
    let mut outcome = exit::OK;
    let failed = srp_daemon::edge::run(|| {
        let cli = Cli::parse();
        cli.log.init();
        let rt = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
        let result = rt.block_on(run(cli));
        // The stop already waited for the guard loop within the drain bound;
        // a pass that outlived it (a hung escalation command) must not hold
        // the process past the supervisor's stop timeout.
        rt.shutdown_timeout(RUNTIME_STOP_GRACE);
        outcome = result?;
        Ok(())
    });
    if outcome == exit::OK {
        failed
    } else {
        ExitCode::from(outcome)
    }
}

/// How long the runtime may wait for blocking work after the drain bound.
const RUNTIME_STOP_GRACE: Duration = Duration::from_millis(500);

async fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Some(Command::Journal { limit, json }) = cli.command {
        return list_journal(&cli.data_dir, limit, json);
    }
    let config = Config::load(&cli.config)?;
    let journal = Journal::open_in(&cli.data_dir)?;
    // Inside the runtime, so that its metrics are registered too.
    let registry = srp_daemon::metrics::registry();
    let metrics = Metrics::register(&registry).context("registering metrics")?;
    let guard = Guard::new(
        config,
        cli.dry_run,
        journal,
        metrics,
        tokio::runtime::Handle::current(),
    );

    if cli.once {
        let (_, report) = tokio::task::spawn_blocking(move || {
            let mut g = guard;
            let r = g.pass();
            (g, r)
        })
        .await
        .context("the pass crashed")?;
        print_report(&report, cli.report_json)?;
        return Ok(report.exit_code());
    }

    BUILD
        .register(&registry)
        .context("registering srp_build_info")?;
    let red = srp_daemon::RedMetrics::register(&registry).context("registering RED metrics")?;
    let mut guard = guard;
    guard.throttle_dry_run_reports = true;
    let shutdown = Shutdown::on_signals();
    let listener = srp_daemon::bind(cli.listen).await?;
    let health = Arc::new(Mutex::new(HealthState::default()));
    let router = srp_daemon::layers::finish(
        srp_daemon::standard_routes(registry, daemon::health_fn(health.clone())),
        red,
        cli.request_timeout,
    );
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    daemon::spawn_sighup(&shutdown, tx.clone()).context("installing the SIGHUP handler")?;
    let _watcher = match daemon::watch_config(&cli.config, tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} for changes ({e}); reload with SIGHUP",
                cli.config.display()
            );
            None
        }
    };
    shutdown.spawn(daemon::run_loop(
        guard,
        cli.config.clone(),
        rx,
        shutdown.clone(),
        health,
    ));
    // Returns once connections and the guard loop have stopped, or the
    // drain bound has passed.
    srp_daemon::serve_with(listener, router, shutdown, cli.http.serve_options()).await?;
    Ok(exit::OK)
}

fn list_journal(data_dir: &std::path::Path, limit: usize, json: bool) -> anyhow::Result<u8> {
    let path = data_dir.join(srp_disk_guard::journal::FILE_NAME);
    anyhow::ensure!(
        path.exists(),
        "no journal at {} (has the guard run with this --data-dir?)",
        path.display()
    );
    let journal = Journal::open(&path)?;
    let rows = journal.list(limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("time\toutcome\tpolicy\tbytes\tpath\treason");
        // Paths are stored escaped; every field still goes through `line`,
        // so no row (older ones included) can hold a raw newline or tab.
        for r in rows {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}",
                r.time,
                line(&r.outcome),
                line(&r.policy),
                r.bytes,
                line(&r.path),
                line(&r.reason)
            );
        }
    }
    Ok(exit::OK)
}

fn print_report(report: &PassReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    for m in &report.mounts {
        for a in &m.actions {
            println!(
                "{}\t{}\t{}\t{}\t{}",
                line(&a.outcome),
                line(&a.path),
                a.bytes,
                line(&a.policy),
                line(&a.reason)
            );
        }
        println!(
            "mount {}: free {:.1}% -> {:.1}%{} (act below {:.0}%, target {:.0}%, critical {:.0}%); reclaimed {} bytes; {} skipped; drain {}; grow {}; escalation {}{}",
            line(&m.mountpoint),
            m.free_ratio_before * 100.0,
            m.free_ratio_after * 100.0,
            if report.dry_run { " projected (dry-run)" } else { "" },
            m.act_below * 100.0,
            m.target * 100.0,
            m.critical * 100.0,
            m.reclaimed_bytes,
            m.skipped,
            m.drain,
            m.grow,
            m.escalation,
            if m.errors.is_empty() { String::new() } else { format!("; errors: {}", line(&m.errors.join("; "))) },
        );
    }
    if !report.undrain.is_empty() {
        println!("agent: {}", line(&report.undrain));
    }
    // Only a pass that did more than clean has phases worth a line.
    if report.phases.iter().any(|p| p.name != "clean") {
        let phases: Vec<String> = report
            .phases
            .iter()
            .map(|p| format!("{} {:.2}s", p.name, p.seconds))
            .collect();
        println!("phases: {}", line(&phases.join(", ")));
    }
    Ok(())
}

//! srp-scan-exporter: scan reports (pushed with `POST /reports` or dropped in
//! `--reports-dir`) judged by the platform policy, kept in SQLite under
//! `--data-dir`, and exported as `srp_scan_*` metrics.

use anyhow::Context;
use clap::Parser;
use srp_daemon::{BuildInfo, Check, HealthFn, HealthReport, LogArgs, RedMetrics, Shutdown};
use srp_scan::exporter::liveness::{Liveness, STALL_AFTER};
use srp_scan::exporter::{http, ingest::Exporter, metrics::ScanMetrics, store::Store, watch};
use srp_scan::input::DEFAULT_MAX_REPORT_BYTES;
use srp_scan::policy::Policy;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

const BUILD: BuildInfo = srp_daemon::build_info!("srp-scan-exporter");

/// Scan reports (Trivy, Gitleaks, SARIF, CycloneDX, srp-gate summaries) as
/// Prometheus metrics, with history in SQLite.
#[derive(Debug, Parser)]
#[command(name = "srp-scan-exporter", version = srp_scan::VERSION)]
struct Args {
    /// Address to serve /metrics, /health and the /reports API on.
    #[arg(long, env = "SRP_LISTEN", default_value = "127.0.0.1:9740")]
    listen: SocketAddr,

    /// Directory to watch for report files: <dir>/<pipeline>/[<target>/[<build>/]]<file>.
    /// Without it, reports arrive only by POST /reports.
    #[arg(long, env = "SRP_SCAN_REPORTS_DIR", value_name = "DIR")]
    reports_dir: Option<PathBuf>,

    /// Directory for the SQLite history (created if missing).
    #[arg(long, env = "SRP_SCAN_DATA_DIR", value_name = "DIR")]
    data_dir: PathBuf,

    /// Policy (srp-gate's TOML format) for judging raw reports; default: the
    /// platform policy. Pushed srp-gate summaries keep their own verdict.
    #[arg(long, env = "SRP_SCAN_POLICY", value_name = "FILE")]
    policy: Option<PathBuf>,

    /// Refuse reports larger than this many bytes (counted as too_large).
    #[arg(long, default_value_t = DEFAULT_MAX_REPORT_BYTES, value_name = "BYTES")]
    max_report_bytes: u64,

    /// How long a file in the reports directory must stay unchanged before
    /// it is read (e.g. `500ms`, `2s`; a unit is required).
    #[arg(long, default_value = "500ms", value_parser = srp_daemon::duration::parse_flag)]
    debounce: Duration,

    /// Reports kept per pipeline, target and scanner set.
    #[arg(long, default_value = "100", value_name = "N")]
    keep: u32,

    /// Uploads (POST /reports) read and ingested at the same time; more are
    /// answered 503 with Retry-After before their body is read (counted as
    /// busy). Each can hold up to --max-report-bytes, and ingesting costs
    /// about 2-3 times the report size, so this bounds the memory uploads use.
    #[arg(
        long,
        env = "SRP_SCAN_MAX_CONCURRENT_INGESTS",
        default_value = "2",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    max_concurrent_ingests: u16,

    /// Longest a request may take, reading its body included, before it is
    /// answered 408 (e.g. `60s`; a unit is required). Keep it above
    /// --request-body-timeout plus the time to ingest the largest report.
    #[arg(long, env = "SRP_REQUEST_TIMEOUT", default_value = "60s", value_parser = srp_daemon::duration::parse_flag)]
    request_timeout: Duration,

    #[command(flatten)]
    http: srp_daemon::HttpArgs,

    #[command(flatten)]
    log: LogArgs,
}

/// How long blocking work still running at exit may delay the end of the
/// process. The stop already waited for the watcher and ingests within
/// srp-daemon's drain bound; what outlived it (a step stuck on a file) must
/// not hold the process past the supervisor's stop timeout.
const EXIT_GRACE: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    srp_daemon::edge::run(|| {
        let args = Args::parse();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?;
        let r = rt.block_on(run(args));
        // Not the default drop, which waits for every blocking task.
        rt.shutdown_timeout(EXIT_GRACE);
        r
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    args.log.init();
    let policy = match &args.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default(),
    };
    let store = Store::open(&args.data_dir, args.keep)
        .with_context(|| format!("opening the history under {}", args.data_dir.display()))?;
    // Inside the runtime, so that its metrics are registered too.
    let registry = srp_daemon::metrics::registry();
    let metrics = ScanMetrics::register(&registry)?;
    BUILD
        .register(&registry)
        .context("registering srp_build_info")?;
    let red = RedMetrics::register(&registry).context("registering RED metrics")?;
    let exporter = Arc::new(Exporter {
        ledger: store.ledger(),
        store,
        metrics,
        policy,
        max_bytes: args.max_report_bytes,
    });
    exporter
        .refresh()
        .context("loading the metrics from the history")?;

    let shutdown = Shutdown::on_signals();
    let liveness = args
        .reports_dir
        .as_ref()
        .map(|_| Arc::new(Liveness::default()));
    let health_state = exporter.clone();
    let health_liveness = liveness.clone();
    let health: HealthFn = Arc::new(move || {
        let st = health_state.clone();
        let watcher = health_liveness.clone();
        Box::pin(async move {
            let check = match tokio::task::spawn_blocking(move || st.store.ping()).await {
                Ok(Ok(())) => Check::ok(),
                Ok(Err(e)) => Check::failed(e.to_string()),
                Err(e) => Check::failed(e.to_string()),
            };
            let report = HealthReport::new().check("database", check);
            match watcher {
                Some(l) => report.check(
                    "watcher",
                    match l.check(STALL_AFTER) {
                        Ok(()) => Check {
                            detail: Some(format!(
                                "last loop {} ms ago",
                                l.since_beat().as_millis()
                            )),
                            ..Check::ok()
                        },
                        Err(why) => Check::failed(why),
                    },
                ),
                None => report,
            }
        })
    });

    // Waiver expiry moves with the calendar, not with ingests.
    let ticker = exporter.clone();
    let tick_shutdown = shutdown.clone();
    shutdown.spawn(async move {
        let mut t = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick_shutdown.wait() => break,
                _ = t.tick() => {
                    let st = ticker.clone();
                    if let Ok(Err(e)) = tick_shutdown.spawn_blocking(move || st.refresh()).await {
                        tracing::error!(error = %e, "refreshing metrics");
                    }
                }
            }
        }
    });

    let watcher = args.reports_dir.clone().zip(liveness).map(|(dir, live)| {
        let st = exporter.clone();
        let sd = shutdown.clone();
        let debounce = args.debounce;
        shutdown.spawn(async move {
            let r = watch::run(st, dir.clone(), debounce, sd.clone(), live).await;
            if r.is_err() {
                // Without its directory the exporter would silently miss
                // reports: stop, and let systemd report the failure.
                sd.trigger();
            }
            r.with_context(|| format!("watching {}", dir.display()))
        })
    });

    let router = srp_daemon::layers::finish(
        http::routes(
            exporter.clone(),
            usize::from(args.max_concurrent_ingests),
            shutdown.clone(),
        )
        .merge(srp_daemon::standard_routes(registry, health)),
        red,
        args.request_timeout,
    );
    let listener = srp_daemon::bind(args.listen).await?;
    // Returns once connections, the watcher (with the step it is on), the
    // ticker and ingests have stopped, or the drain bound has passed.
    srp_daemon::serve_with(listener, router, shutdown, args.http.serve_options()).await?;
    if let Some(w) = watcher.filter(|w| w.is_finished()) {
        w.await.context("the watcher task panicked")??;
    }
    Ok(())
}

//! srp-node-exporter: see the crate docs and README.md.

use anyhow::Context;
use srp_node_exporter::{cli, collector, scrape::Scraper, server, webconfig::WebConfig};
use std::sync::Arc;
use std::time::Duration;

/// A backstop only: every statfs is bounded by the mount timeout, so a
/// scrape normally ends long before this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn main() -> std::process::ExitCode {
    srp_node_exporter::memory::tune_allocator();
    srp_daemon::edge::run(|| {
        let cli = cli::parse();
        cli.log.init();
        // One runtime thread is plenty for an exporter; scrapes run on the
        // blocking pool, which keeps its thread between scrapes.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(4)
            .thread_keep_alive(Duration::from_secs(120))
            .build()
            .context("starting the runtime")?
            .block_on(run(cli))
    })
}

async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    for flag in &cli.ignored {
        tracing::warn!(flag, "node_exporter flag not implemented here; ignored");
    }
    let settings = cli.settings()?;
    let web = match &cli.web_config_file {
        Some(p) => WebConfig::load(p)?,
        None => WebConfig::default(),
    };
    let tls = web.tls()?;
    let collectors = collector::build(&cli.enabled, &settings);
    tracing::info!(collectors = ?cli.enabled, "enabled collectors");
    // Not srp_daemon::metrics::registry(): the exporter writes node_exporter's
    // own process_* family, so only the shared SRP families come from here.
    let registry = prometheus::Registry::new();
    srp_daemon::runtime_metrics::register(&registry).context("registering runtime metrics")?;
    srp_daemon::build_info!("srp-node-exporter")
        .register(&registry)
        .context("registering srp_build_info")?;
    let red = srp_daemon::RedMetrics::register(&registry).context("registering RED metrics")?;
    let scraper = Arc::new(
        Scraper::new(collectors, !cli.disable_exporter_metrics)
            .with_deadline(cli.collector_deadline)
            .with_daemon_metrics(registry),
    );
    let warm = Arc::clone(&scraper);
    let router = srp_daemon::layers::finish(
        server::router(scraper, &cli.telemetry_path, web.basic_auth()),
        red,
        REQUEST_TIMEOUT,
    );

    let shutdown = srp_daemon::Shutdown::on_signals();
    let listener = srp_daemon::bind(cli.listen_addr()?).await?;
    // One scrape in the background fills the collectors' memoised filters;
    // the trim after it leaves resident only what steady-state scrapes touch.
    // In the background so a stuck mount cannot delay readiness.
    tokio::task::spawn_blocking(move || {
        drop(warm.scrape());
        srp_node_exporter::memory::trim_after_startup();
    });
    // TLS or not, one serving path: the same header and body deadlines,
    // nodelay and drain as every other daemon.
    let options = srp_daemon::ServeOptions {
        tls,
        ..srp_daemon::ServeOptions::default()
    };
    srp_daemon::serve_with(listener, router, shutdown, options).await?;
    Ok(())
}

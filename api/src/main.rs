//! srp-api: the SRP application server.

use clap::Parser;
use srp_api::{Application, Config};
use srp_daemon::Shutdown;
use std::process::ExitCode;

/// SRP's application API: /health, /version, /projects, /metrics, /openapi.json
/// and /docs, on embedded SQLite by default or PostgreSQL when DATABASE_URL is
/// a postgres:// URL.
#[derive(Debug, Parser)]
#[command(name = "srp-api", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

fn main() -> ExitCode {
    srp_daemon::edge::run(|| {
        let cli = Cli::parse();
        cli.config.log.init();
        tokio::runtime::Runtime::new()?.block_on(run(&cli.config))
    })
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals();
    let app = Application::build(config).await?;
    app.run(shutdown).await
}

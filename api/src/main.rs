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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    cli.config.log.init();
    match run(&cli.config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with every cause, for the terminal and for journald.
            eprintln!("srp-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals();
    let app = Application::build(config).await?;
    app.run(shutdown).await
}

//! srp-api: the SRP application server.

use clap::Parser;
use srp_api::{Application, Config};
use srp_daemon::Shutdown;

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
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    cli.config.log.init();
    let shutdown = Shutdown::on_signals();
    let app = Application::build(&cli.config).await?;
    app.run(shutdown).await
}

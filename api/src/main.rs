//! srp-api: the SRP application server, and its token administration.

use clap::{Parser, Subcommand};
use srp_api::tokens::TokenCommand;
use srp_api::{Application, Config};
use srp_daemon::Shutdown;
use std::process::ExitCode;

/// SRP's application API and release ledger: /health, /version, /projects
/// (with releases, verdicts, deployments, environments and incidents under
/// each), /metrics (DORA's four keys among them), /openapi.json and /docs,
/// on embedded SQLite by default or PostgreSQL when DATABASE_URL is a
/// postgres:// URL. Writes need `Authorization: Bearer TOKEN` from
/// `srp-api token create`.
#[derive(Debug, Parser)]
#[command(name = "srp-api", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage write tokens (works on the database directly).
    #[command(subcommand)]
    Token(TokenCommand),
}

fn main() -> ExitCode {
    srp_daemon::edge::run(|| {
        let cli = Cli::parse();
        cli.config.log.init();
        let runtime = tokio::runtime::Runtime::new()?;
        match &cli.command {
            None => runtime.block_on(run(&cli.config)),
            Some(Command::Token(command)) => {
                let database = cli.config.database()?;
                for line in runtime.block_on(srp_api::tokens::run(&database, command))? {
                    println!("{line}");
                }
                Ok(())
            }
        }
    })
}

async fn run(config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::on_signals();
    let app = Application::build(config).await?;
    app.run(shutdown).await
}

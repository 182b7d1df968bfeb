use clap::Parser;
use srp_slack_relay::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Dlq(d)) => srp_slack_relay::dlq::run(d),
        Some(Command::Serve(s)) => run_serve(*s),
        None => run_serve(cli.serve),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srp-slack-relay: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run_serve(args: srp_slack_relay::cli::ServeArgs) -> anyhow::Result<()> {
    args.log.init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(srp_slack_relay::app::serve(args))
}

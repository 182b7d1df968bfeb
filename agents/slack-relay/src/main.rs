use clap::Parser;
use srp_slack_relay::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    srp_daemon::edge::run(|| {
        let cli = Cli::parse();
        match cli.command {
            Some(Command::Dlq(d)) => srp_slack_relay::dlq::run(d),
            Some(Command::Audit(a)) => srp_slack_relay::audit::run(a),
            Some(Command::Serve(s)) => run_serve(*s),
            None => run_serve(cli.serve),
        }
    })
}

fn run_serve(args: srp_slack_relay::cli::ServeArgs) -> anyhow::Result<()> {
    args.log.init();
    // The registry (and with it the runtime metrics) is made inside this
    // runtime, in app::serve.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(srp_slack_relay::app::serve(args))
}

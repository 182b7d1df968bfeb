//! Flags shared by every daemon. Each binary declares its own `--listen`
//! (the default port differs) and flattens [`LogArgs`] into its parser.

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    #[default]
    Text,
    /// One JSON object per line, for journald/Loki pipelines.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log output format.
    #[arg(long, env = "SRP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in tracing's EnvFilter syntax (e.g. `info`, `debug,hyper=warn`).
    /// RUST_LOG, when set, wins over this flag.
    #[arg(long, env = "SRP_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

impl LogArgs {
    /// Initialise the global subscriber from these flags.
    pub fn init(&self) {
        crate::telemetry::init(self.log_format, &self.log_level);
    }
}

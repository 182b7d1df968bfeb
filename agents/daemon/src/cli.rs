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

/// Connection limits every daemon's HTTP listener takes from its command
/// line; flatten into the parser and pass [`HttpArgs::serve_options`] to
/// [`crate::serve_with`].
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// How long a client may take to send a request's whole body, from the
    /// moment its headers are in. A slower body is answered 408 and its
    /// connection closed, so a client cannot hold connections open by
    /// trickling (or never sending) a body.
    #[arg(long, env = "SRP_REQUEST_BODY_TIMEOUT", default_value = "30s", value_parser = crate::duration::parse_flag)]
    pub request_body_timeout: std::time::Duration,
}

impl HttpArgs {
    pub fn serve_options(&self) -> crate::ServeOptions {
        crate::ServeOptions {
            body_read_timeout: self.request_body_timeout,
            ..crate::ServeOptions::default()
        }
    }
}

//! Logging setup. Logs go to stderr so that stdout stays free for commands
//! that print results (`--once`, `dlq list`, the gate's summary).

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::{fmt, EnvFilter};

/// Install the global tracing subscriber. Safe to call more than once: later
/// calls are ignored, which keeps tests that start several servers simple.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a terminal: journald and log files get plain text.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    // An error only means a subscriber is already installed.
    let _ = result;
}

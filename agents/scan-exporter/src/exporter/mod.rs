//! srp-scan-exporter: reports (pushed over HTTP or dropped in a directory)
//! judged by the gate's policy, kept in SQLite, exported as metrics.

pub mod http;
pub mod ingest;
pub mod metrics;
pub mod store;
pub mod watch;

//! srp-scan-exporter: reports (pushed over HTTP or dropped in a directory)
//! judged by the gate's policy, kept in SQLite, exported as metrics.

pub mod db;
pub mod http;
pub mod ingest;
pub mod labels;
pub mod ledger;
pub mod liveness;
pub mod metrics;
pub mod open;
pub mod page;
pub mod store;
pub mod watch;

//! srp-slack-relay: Alertmanager and Jenkins notifications to Slack through
//! a durable SQLite outbox.
//!
//! Inbound (`http`) → parse and render (`payload`, `format`) → route
//! (`routes`) → commit (`store`) → acknowledge; then `dispatch` delivers
//! through `deliver` with pacing, retries and dead letters.

pub mod app;
pub mod audit;
pub mod buttons;
pub mod cli;
pub mod deliver;
pub mod dispatch;
pub mod dlq;
pub mod format;
pub mod http;
pub mod incidents;
pub mod interactions;
pub mod metrics;
pub mod payload;
pub mod routes;
pub mod signature;
pub mod silences;
pub mod store;
pub mod thread;

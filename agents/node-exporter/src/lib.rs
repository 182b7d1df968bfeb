//! srp-node-exporter: a drop-in replacement for Prometheus node_exporter.
//!
//! Same metric names, types, labels and HELP for the collectors it has; the
//! exposition text is written directly (no per-scrape registry), statfs is
//! time-bounded per mount, and a failing collector only reports
//! `node_scrape_collector_success=0`.

pub mod cli;
pub mod collector;
pub mod deadline;
pub mod exposition;
pub mod memory;
pub mod netlink;
pub mod process;
pub mod scrape;
pub mod server;
pub mod statfs;
pub mod webconfig;

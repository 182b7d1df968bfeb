//! Helpers the SRP crates' integration tests share, so each crate does not
//! carry its own copy: `promtool check metrics`, starting a daemon binary on
//! `127.0.0.1:0` and reading its address from the log, and the path of the
//! shared fixtures. Used only as a `[dev-dependency]`.

pub mod daemon;
pub mod promtool;

pub use daemon::Daemon;

use std::path::PathBuf;

/// The shared fixtures: `<repo root>/../shared/fixtures` (CI puts a copy of
/// `shared/` beside its fresh clone, so this is never a fixed path).
pub fn fixtures() -> PathBuf {
    // This crate is `<repo root>/agents/testkit`.
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

//! What this binary is: the crate version plus the commit and CI build number
//! baked in by build.rs (srp-daemon's build_support.rs, whose precedence
//! tests live there).

pub use srp_daemon::BuildInfo;

pub const BUILD: BuildInfo = srp_daemon::build_info!("srp-api");

//! What this binary is: the crate version plus the commit and CI build number
//! baked in by build.rs.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
    /// The CI build number (Jenkins BUILD_NUMBER), null for local builds.
    pub build: Option<&'static str>,
}

pub const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("SRP_BUILD_COMMIT"),
    build: match env!("SRP_BUILD_NUMBER_BAKED").as_bytes() {
        [] => None,
        _ => Some(env!("SRP_BUILD_NUMBER_BAKED")),
    },
};

//! What a binary is: its name, crate version, and the commit and CI build
//! number its build script baked in (`build_support.rs`), exported as
//! `srp_build_info{binary,version,commit,build} 1` by every SRP binary.

use prometheus::{IntGaugeVec, Opts, Registry};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    /// A metric label only: `/version` bodies keep their three keys.
    #[serde(skip)]
    pub binary: &'static str,
    pub version: &'static str,
    pub commit: &'static str,
    /// The CI build number (Jenkins BUILD_NUMBER), null for local builds.
    pub build: Option<&'static str>,
}

/// The [`BuildInfo`] of the calling crate. Its build.rs must include
/// srp-daemon's `build_support.rs` and call `emit_build_env()`.
#[macro_export]
macro_rules! build_info {
    ($binary:expr) => {
        $crate::BuildInfo {
            binary: $binary,
            version: env!("CARGO_PKG_VERSION"),
            commit: env!("SRP_BUILD_COMMIT"),
            build: $crate::build_info::non_empty(env!("SRP_BUILD_NUMBER_BAKED")),
        }
    };
}

/// An empty baked value means "none".
pub const fn non_empty(s: &'static str) -> Option<&'static str> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl BuildInfo {
    /// Register `srp_build_info` (value 1) into `registry`.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        let g = IntGaugeVec::new(
            Opts::new(
                "srp_build_info",
                "Always 1; the labels say which build of which binary is running.",
            ),
            &["binary", "version", "commit", "build"],
        )?;
        g.with_label_values(&[
            self.binary,
            self.version,
            self.commit,
            self.build.unwrap_or("none"),
        ])
        .set(1);
        registry.register(Box::new(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod support {
        include!("../build_support.rs");
    }
    use support::{resolve_build_number, resolve_commit};

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn commit_precedence() {
        let git = || Some("abc123".to_string());
        let no_git = || None;
        let e = env(&[("SRP_GIT_COMMIT", "srp"), ("GIT_COMMIT", "jenkins")]);
        assert_eq!(resolve_commit(&e, &git), "srp");
        let e = env(&[("SRP_GIT_COMMIT", " "), ("GIT_COMMIT", "jenkins")]);
        assert_eq!(resolve_commit(&e, &git), "jenkins");
        assert_eq!(resolve_commit(&env(&[]), &git), "abc123");
        assert_eq!(resolve_commit(&env(&[]), &no_git), "unknown");
    }

    #[test]
    fn build_number_precedence() {
        let e = env(&[("SRP_BUILD_NUMBER", "7"), ("BUILD_NUMBER", "42")]);
        assert_eq!(resolve_build_number(&e).as_deref(), Some("7"));
        let e = env(&[("BUILD_NUMBER", "42")]);
        assert_eq!(resolve_build_number(&e).as_deref(), Some("42"));
        assert_eq!(resolve_build_number(&env(&[("BUILD_NUMBER", "")])), None);
        assert_eq!(resolve_build_number(&env(&[])), None);
    }

    #[test]
    fn exports_one_series_with_the_binary() {
        let registry = Registry::new();
        BuildInfo {
            binary: "srp-test",
            version: "1.2.3",
            commit: "abc",
            build: None,
        }
        .register(&registry)
        .unwrap();
        let text = crate::metrics::render(&registry);
        assert!(
            text.contains(
                r#"srp_build_info{binary="srp-test",build="none",commit="abc",version="1.2.3"} 1"#
            ),
            "{text}"
        );
    }
}

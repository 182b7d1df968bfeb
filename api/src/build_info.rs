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

#[cfg(test)]
mod tests {
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
}

//! Write tokens: what a scope grants, how a token is made and how it is
//! stored (only its SHA-256: a random 256-bit secret needs no slow hash,
//! there is nothing to brute-force).

use sha2::{Digest, Sha256};
use std::io::Read;

/// What a token may do. A token holds one or more scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Create, change and delete projects.
    ProjectsWrite,
    /// Record releases, gate verdicts and deployments (the pipeline).
    ReleasesWrite,
    /// Open and close incidents (the Slack relay, from alerts).
    IncidentsWrite,
    /// Read when reads are closed (`--require-token-for-reads`).
    Read,
    /// Everything.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::ProjectsWrite,
        Scope::ReleasesWrite,
        Scope::IncidentsWrite,
        Scope::Read,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ProjectsWrite => "projects:write",
            Scope::ReleasesWrite => "releases:write",
            Scope::IncidentsWrite => "incidents:write",
            Scope::Read => "read",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// Whether a token holding `held` may do what `self` guards. Any valid
    /// token may read.
    pub fn granted_by(self, held: &[String]) -> bool {
        held.iter()
            .any(|h| h == self.as_str() || h == Scope::Admin.as_str() || self == Scope::Read)
    }
}

/// Scopes from the command line: comma-separated and/or repeated flags.
pub fn parse_scopes<S: AsRef<str>>(given: &[S]) -> Result<Vec<String>, String> {
    let mut scopes = Vec::new();
    for part in given.iter().flat_map(|g| g.as_ref().split(',')) {
        let part = part.trim();
        let scope = Scope::parse(part).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown scope {part:?}; known scopes: {}", known.join(", "))
        })?;
        if !scopes.contains(&scope.as_str().to_string()) {
            scopes.push(scope.as_str().to_string());
        }
    }
    if scopes.is_empty() {
        return Err("a token needs at least one --scope".into());
    }
    Ok(scopes)
}

/// Token names: what `token revoke NAME` takes.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// A new secret: `srp_` and 256 random bits in hex. The prefix lets secret
/// scanners (Gitleaks rules) recognise a leaked one.
pub fn generate_token() -> std::io::Result<String> {
    // The kernel's CSPRNG, read directly: no extra crate for 32 bytes.
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(format!("srp_{}", hex::encode(bytes)))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_grant() {
        assert_eq!(
            parse_scopes(&["releases:write,projects:write", "releases:write"]).unwrap(),
            vec!["releases:write", "projects:write"]
        );
        assert!(parse_scopes(&["releases:rw"])
            .unwrap_err()
            .contains("known scopes"));
        assert!(parse_scopes::<&str>(&[]).is_err());
        let jenkins = vec!["releases:write".to_string()];
        assert!(Scope::ReleasesWrite.granted_by(&jenkins));
        assert!(!Scope::ProjectsWrite.granted_by(&jenkins));
        assert!(Scope::Read.granted_by(&jenkins));
        assert!(Scope::IncidentsWrite.granted_by(&["admin".to_string()]));
        assert!(!Scope::Read.granted_by(&[]));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), a);
        assert!(valid_name("jenkins") && !valid_name("a b") && !valid_name(""));
    }
}

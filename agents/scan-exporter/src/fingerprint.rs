//! Secret fingerprints that survive history rewrites. Gitleaks'
//! `commit:file:rule:line` changes with every squash, rebase or moved line
//! (gitleaks #1355), and its `file:rule:line` form ignores whatever is on
//! that line, a new secret included (gitleaks #2239). The stable form is
//! `file:rule:hmac-HEX`: the rule, the file and an HMAC-SHA256 of the
//! matched secret under a key the pipeline keeps (so a short secret cannot
//! be recovered from the fingerprint by guessing); neither commit nor line,
//! never the secret itself.

use crate::model::Report;
use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The hash part's prefix, which tells the stable form apart in
/// `.gitleaksignore` and waivers.
pub const PREFIX: &str = "hmac-";
/// 128 bits of the MAC: plenty to tell secrets apart, short to read.
const HEX_LEN: usize = 32;

pub fn stable(key: &[u8], file: &str, rule: &str, secret: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(secret.as_bytes());
    let hex = hex::encode(mac.finalize().into_bytes());
    format!("{file}:{rule}:{PREFIX}{}", &hex[..HEX_LEN])
}

/// Whether the last part of a fingerprint is the stable hash.
pub fn is_stable_hash(part: &str) -> bool {
    part.strip_prefix(PREFIX).is_some_and(|h| {
        h.len() == HEX_LEN
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Give every secret with a matched value its stable fingerprint (first,
/// before Gitleaks' own forms) when a key is set, and drop the values.
pub fn apply(report: &mut Report, key: Option<&[u8]>) {
    for f in &mut report.findings {
        let Some(secret) = f.secret.take() else {
            continue;
        };
        let Some(key) = key else {
            continue;
        };
        let file = f.path.as_deref().unwrap_or(&f.target);
        let fp = stable(key, file, &f.id, &secret.0);
        f.fingerprints.insert(0, fp.clone());
        f.stable_fingerprint = Some(fp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_and_without_the_secret() {
        let a = stable(b"k1", "a.go", "aws-access-key", "not-a-real-secret-0");
        assert!(a.starts_with("a.go:aws-access-key:hmac-"), "{a}");
        assert!(!a.contains("not-a-real-secret"));
        assert!(is_stable_hash(a.rsplit(':').next().unwrap()));
        assert_ne!(
            a,
            stable(b"k2", "a.go", "aws-access-key", "not-a-real-secret-0")
        );
        assert_ne!(
            a,
            stable(b"k1", "a.go", "aws-access-key", "not-a-real-secret-1")
        );
        assert_eq!(
            a,
            stable(b"k1", "a.go", "aws-access-key", "not-a-real-secret-0")
        );
        assert!(!is_stable_hash("20"));
        assert!(!is_stable_hash("hmac-XYZ"));
    }
}

//! Product identifiers in VEX: the report's artifact as a purl, and purl
//! comparison that ignores qualifiers (and the version when one side has
//! none), so a statement about `pkg:deb/debian/bash` covers every build.

use crate::model::{image_repository, Report};

/// The report's artifact as a VEX product id: a purl as is; an image as
/// `pkg:oci/NAME?repository_url=REPO` without its tag, because the tag is the
/// build number and a waiver outlives builds; anything else (a path) as
/// `pkg:generic/PATH`. `None` without an artifact (Gitleaks, SARIF).
pub fn product_id(report: &Report) -> Option<String> {
    let artifact = report.artifact.as_deref()?;
    if artifact.starts_with("pkg:") {
        return Some(artifact.to_string());
    }
    if report.image {
        let repo = image_repository(artifact);
        let name = repo.rsplit('/').next().unwrap_or(repo);
        if repo.contains('/') {
            return Some(format!(
                "pkg:oci/{}?repository_url={}",
                encode(name),
                encode(repo)
            ));
        }
        return Some(format!("pkg:oci/{}", encode(name)));
    }
    Some(format!("pkg:generic/{}", encode(artifact)))
}

/// Percent-encoding of everything but RFC 3986's unreserved characters, so
/// the id is a valid IRI (the OpenVEX schema's `format: uri`).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base(p: &str) -> &str {
    p.split(['?', '#']).next().unwrap_or(p)
}

/// Same product: equal ids, or equal purls once qualifiers are dropped, a
/// version on only one side being a wildcard.
pub fn same(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if !(a.starts_with("pkg:") && b.starts_with("pkg:")) {
        return false;
    }
    let (a, b) = (base(a), base(b));
    match (a.split_once('@'), b.split_once('@')) {
        (Some(_), Some(_)) => a == b,
        (Some((an, _)), None) => an == b,
        (None, Some((bn, _))) => a == bn,
        (None, None) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Format;

    fn report(artifact: &str, image: bool) -> Report {
        Report {
            format: Format::Trivy,
            scanner: "trivy".into(),
            artifact: Some(artifact.into()),
            image,
            created_at: None,
            findings: vec![],
            suppressed: 0,
            sbom: None,
        }
    }

    #[test]
    fn product_ids() {
        assert_eq!(
            product_id(&report("registry:5000/srp/api:42", true)).unwrap(),
            "pkg:oci/api?repository_url=registry%3A5000%2Fsrp%2Fapi"
        );
        assert_eq!(
            product_id(&report("alpine:3.10", true)).unwrap(),
            "pkg:oci/alpine"
        );
        assert_eq!(
            product_id(&report("testdata/a b", false)).unwrap(),
            "pkg:generic/testdata%2Fa%20b"
        );
    }

    #[test]
    fn purl_sameness() {
        assert!(same(
            "pkg:deb/debian/bash",
            "pkg:deb/debian/bash@5.0?arch=amd64"
        ));
        assert!(same(
            "pkg:deb/debian/bash@5.0",
            "pkg:deb/debian/bash@5.0?arch=amd64"
        ));
        assert!(!same("pkg:deb/debian/bash@5.1", "pkg:deb/debian/bash@5.0"));
        assert!(!same("pkg:deb/debian/bash", "pkg:deb/debian/bashx"));
        assert!(!same("a", "b"));
    }
}

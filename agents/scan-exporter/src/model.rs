//! The scanner-neutral view of a report: what every format is parsed into and
//! what the policy, the summary and the metrics work on.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Trivy's five severities, ordered so that `>=` means "at least as severe".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    /// Case-insensitive; an unrecognised word is an error (fail closed), not UNKNOWN.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "UNKNOWN" => Ok(Severity::Unknown),
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// What kind of problem a finding is. Policy thresholds and the `class`
/// metric label use these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Vulnerability,
    Secret,
    Misconfiguration,
    License,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Vulnerability,
        Class::Secret,
        Class::Misconfiguration,
        Class::License,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Vulnerability => "vulnerability",
            Class::Secret => "secret",
            Class::Misconfiguration => "misconfiguration",
            Class::License => "license",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The input formats srp-gate recognises by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Trivy,
    Gitleaks,
    Sarif,
    Cyclonedx,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Trivy => "trivy",
            Format::Gitleaks => "gitleaks",
            Format::Sarif => "sarif",
            Format::Cyclonedx => "cyclonedx",
        }
    }
}

/// One finding, whatever scanner produced it.
#[derive(Debug, Clone, Default)]
pub struct Finding {
    /// `trivy`, `gitleaks`, `sbom`, or a SARIF tool name in lower case.
    pub scanner: String,
    pub class: Option<Class>,
    /// Trivy's Result.Target, a Gitleaks file, a SARIF location.
    pub target: String,
    /// True for Trivy `os-pkgs` results, whose Target carries the image tag
    /// and so changes every build; the baseline key leaves it out.
    pub target_is_image: bool,
    /// CVE/GHSA id, secret rule id, misconfiguration id, licence name.
    pub id: String,
    /// Other names the id is known by (a misconfiguration's AVD id).
    pub aliases: Vec<String>,
    pub severity: Option<Severity>,
    pub pkg: Option<String>,
    pub purl: Option<String>,
    pub installed: Option<String>,
    pub fixed: Option<String>,
    /// Trivy vulnerability status (fixed, affected, will_not_fix …).
    pub status: Option<String>,
    /// The file the finding is in (PkgPath, secret file, config file).
    pub path: Option<String>,
    pub line: Option<u64>,
    /// Gitleaks fingerprints: the stable form (see `fingerprint`) when a
    /// key is given, the commit form and the global form.
    pub fingerprints: Vec<String>,
    /// `file:rule:hmac-…`: rule, file and a keyed hash of the secret; the
    /// same across commits, rebases and moved lines.
    pub stable_fingerprint: Option<String>,
    /// The matched secret, held only until `fingerprint::apply` hashes it.
    pub secret: Option<SecretValue>,
    pub title: Option<String>,
}

impl Finding {
    pub fn class(&self) -> Class {
        self.class.unwrap_or(Class::Vulnerability)
    }
    pub fn severity(&self) -> Severity {
        self.severity.unwrap_or(Severity::Unknown)
    }

    /// A key that stays the same for "the same problem" across builds, used
    /// for baselines and the exporter's diff: no versions, no image tag, no
    /// commit.
    pub fn key(&self) -> String {
        let target = if self.target_is_image {
            ""
        } else {
            &self.target
        };
        // A secret is the same secret wherever its line moves: with a
        // stable fingerprint the keyed hash replaces the line.
        let line = match (self.class(), &self.stable_fingerprint, self.line) {
            (Class::Secret, Some(fp), _) => fp.rsplit(':').next().unwrap_or(fp).to_string(),
            (Class::Secret, None, Some(l)) => l.to_string(),
            _ => String::new(),
        };
        format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.scanner,
            self.class(),
            self.id,
            self.pkg.as_deref().unwrap_or(""),
            target,
            self.path.as_deref().unwrap_or(""),
            line
        )
    }

    /// True when no fixed version exists, by Trivy's `--ignore-unfixed`
    /// definition (statuses affected, will_not_fix, fix_deferred,
    /// end_of_life), or, without a status, an empty FixedVersion.
    pub fn is_unfixed(&self) -> bool {
        match self.status.as_deref() {
            Some("affected" | "will_not_fix" | "fix_deferred" | "end_of_life") => true,
            Some(_) => false,
            None => self.fixed.as_deref().unwrap_or("").is_empty(),
        }
    }
}

/// A matched secret: never printed (its Debug is redacted), dropped once
/// hashed.
#[derive(Clone, Default)]
pub struct SecretValue(pub String);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([redacted])")
    }
}

/// SBOM component counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SbomCounts {
    pub components: u64,
    /// By purl type (`deb`, `gem`, `npm` …), or by CycloneDX component type
    /// (`operating-system`, `application` …) for components without a purl,
    /// so the values add up to `components`.
    pub by_type: BTreeMap<String, u64>,
}

/// An image reference without its tag or digest (`registry:5000/app:1.2`
/// → `registry:5000/app`): a stable target across builds that tag the image
/// with the build number.
pub fn image_repository(reference: &str) -> &str {
    let reference = reference.split('@').next().unwrap_or(reference);
    let last_slash = reference.rfind('/').map(|i| i + 1).unwrap_or(0);
    match reference[last_slash..].find(':') {
        Some(i) => &reference[..last_slash + i],
        None => reference,
    }
}

/// A parsed report.
#[derive(Debug, Clone)]
pub struct Report {
    pub format: Format,
    pub scanner: String,
    /// Trivy ArtifactName, CycloneDX metadata.component.name.
    pub artifact: Option<String>,
    /// The artifact is a container image (its name carries a tag or digest).
    pub image: bool,
    /// When the scan ran, as written by the scanner (RFC 3339).
    pub created_at: Option<String>,
    pub findings: Vec<Finding>,
    /// Findings the scanner itself marked as suppressed (VEX, EXCEPTION).
    pub suppressed: u64,
    pub sbom: Option<SbomCounts>,
}

#[cfg(test)]
mod tests {
    use super::image_repository;

    #[test]
    fn image_repository_drops_tag_and_digest() {
        assert_eq!(image_repository("alpine:3.10"), "alpine");
        assert_eq!(
            image_repository("registry:5000/srp/api:42"),
            "registry:5000/srp/api"
        );
        assert_eq!(image_repository("srp/api@sha256:abcd"), "srp/api");
        assert_eq!(image_repository("srp/api:42@sha256:abcd"), "srp/api");
        assert_eq!(
            image_repository("testdata/alpine-39.tar.gz"),
            "testdata/alpine-39.tar.gz"
        );
    }
}

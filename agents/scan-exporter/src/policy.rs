//! The gate's policy: per-scanner and per-class thresholds, ignore-unfixed,
//! and waivers with a mandatory reason and expiry. Without a file, the
//! platform default applies: block any secret and any HIGH or CRITICAL
//! vulnerability; report misconfigurations and licences without blocking.

use crate::model::{Class, Finding, Severity};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid policy {path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// The lowest severity that blocks; `None` never blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold(pub Option<Severity>);

impl Threshold {
    pub fn blocks(self, s: Severity) -> bool {
        self.0.is_some_and(|min| s >= min)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("none"),
            Some(Severity::Unknown) => f.write_str("any"),
            Some(s) => write!(f, "{s}"),
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(Threshold(None)),
            "any" => Ok(Threshold(Some(Severity::Unknown))),
            other => other.parse().map(|s| Threshold(Some(s))).map_err(|_| {
                serde::de::Error::custom(format!(
                    "threshold {s:?}: expected any, low, medium, high, critical or none"
                ))
            }),
        }
    }
}

/// Thresholds for one scanner (or the defaults); unset fields fall through.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub vulnerability: Option<Threshold>,
    pub secret: Option<Threshold>,
    pub misconfiguration: Option<Threshold>,
    pub license: Option<Threshold>,
    pub ignore_unfixed: Option<bool>,
}

impl Rules {
    fn threshold(&self, class: Class) -> Option<Threshold> {
        match class {
            Class::Vulnerability => self.vulnerability,
            Class::Secret => self.secret,
            Class::Misconfiguration => self.misconfiguration,
            Class::License => self.license,
        }
    }
}

/// A waiver, from the policy file or from `.trivyignore`/`.gitleaksignore`.
/// Every selector that is set must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    /// Where it was written: `policy.toml`, `.trivyignore:4`.
    pub source: String,
    pub id: Option<String>,
    pub purl: Option<String>,
    pub path: Option<String>,
    pub fingerprint: Option<String>,
    pub reason: String,
    /// Why the product is not affected (OpenVEX's words). With one, the
    /// waiver is written to VEX as `not_affected`; without, as `affected`
    /// with the reason as the action statement (an accepted risk).
    pub justification: Option<crate::vex::Justification>,
    /// Last day the waiver applies (inclusive); `None` only for ignore-file
    /// entries, which Trivy and Gitleaks allow without a date.
    pub expires: Option<NaiveDate>,
}

fn strip_avd(s: &str) -> &str {
    s.strip_prefix("AVD-").unwrap_or(s)
}

fn purl_base(p: &str) -> &str {
    p.split(['?', '#']).next().unwrap_or(p)
}

impl Waiver {
    pub fn matches(&self, f: &Finding) -> bool {
        if let Some(id) = &self.id {
            let want = strip_avd(id);
            let hit = strip_avd(&f.id) == want || f.aliases.iter().any(|a| strip_avd(a) == want);
            if !hit {
                return false;
            }
        }
        if let Some(p) = &self.purl {
            let Some(fp) = f.purl.as_deref() else {
                return false;
            };
            let fp = purl_base(fp);
            let hit = if p.contains('@') {
                fp == purl_base(p)
            } else {
                fp.split('@').next() == Some(p.as_str())
            };
            if !hit {
                return false;
            }
        }
        if let Some(g) = &self.path {
            let hit = f
                .path
                .as_deref()
                .is_some_and(|p| crate::glob::matches(g, p))
                || crate::glob::matches(g, &f.target);
            if !hit {
                return false;
            }
        }
        if let Some(fp) = &self.fingerprint {
            if !f.fingerprints.iter().any(|x| x == fp) {
                return false;
            }
        }
        true
    }

    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|e| e < today)
    }

    /// Within `days` of expiry, and not yet expired.
    pub fn expires_within(&self, today: NaiveDate, days: i64) -> bool {
        self.expires
            .is_some_and(|e| e >= today && (e - today).num_days() <= days)
    }

    /// What it selects, for reports: `id=CVE-1 path=**/x`.
    pub fn selector(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("id", &self.id),
            ("purl", &self.purl),
            ("path", &self.path),
            ("fingerprint", &self.fingerprint),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join(" ")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaiverFile {
    id: Option<String>,
    purl: Option<String>,
    path: Option<String>,
    fingerprint: Option<String>,
    reason: Option<String>,
    justification: Option<crate::vex::Justification>,
    expires: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    kev_catalog: Option<std::path::PathBuf>,
    #[serde(default)]
    block_kev: bool,
    #[serde(default)]
    epss: Option<std::path::PathBuf>,
    #[serde(default)]
    epss_threshold: Option<f64>,
    #[serde(default)]
    defaults: Rules,
    #[serde(default)]
    scanners: BTreeMap<String, Rules>,
    #[serde(default)]
    waivers: Vec<WaiverFile>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// `platform default` or the file's path.
    pub source: String,
    defaults: Rules,
    scanners: BTreeMap<String, Rules>,
    pub waivers: Vec<Waiver>,
    pub exploits: ExploitRules,
}

/// Exploit-aware rules: block what CISA's KEV catalog lists as exploited, or
/// what FIRST's EPSS puts above a probability, whatever its severity. The
/// feeds are files the pipeline downloads; the gate never goes online.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExploitRules {
    /// `kev_catalog`, relative paths resolved against the policy's folder.
    pub kev_catalog: Option<std::path::PathBuf>,
    pub block_kev: bool,
    pub epss: Option<std::path::PathBuf>,
    /// Blocks when the EPSS probability is strictly above it.
    pub epss_threshold: Option<f64>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            exploits: ExploitRules::default(),
            source: "platform default".into(),
            defaults: Rules::default(),
            scanners: BTreeMap::new(),
            waivers: Vec::new(),
        }
    }
}

/// The platform's thresholds, used when neither the scanner's section nor
/// `[defaults]` sets one.
fn platform_threshold(class: Class) -> Threshold {
    match class {
        Class::Vulnerability => Threshold(Some(Severity::High)),
        Class::Secret => Threshold(Some(Severity::Unknown)),
        Class::Misconfiguration | Class::License => Threshold(None),
    }
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = crate::input::read_text_file(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut policy = Policy::parse(&text, &path.display().to_string())?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for feed in [&mut policy.exploits.kev_catalog, &mut policy.exploits.epss]
            .into_iter()
            .flatten()
        {
            if feed.is_relative() {
                *feed = dir.join(&*feed);
            }
        }
        Ok(policy)
    }

    pub fn parse(text: &str, source: &str) -> Result<Policy, PolicyError> {
        let invalid = |detail: String| PolicyError::Invalid {
            path: source.to_string(),
            detail,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut waivers = Vec::new();
        for (i, w) in file.waivers.into_iter().enumerate() {
            let n = i + 1;
            if w.id.is_none() && w.purl.is_none() && w.path.is_none() && w.fingerprint.is_none() {
                return Err(invalid(format!(
                    "waiver #{n} selects nothing: set id, purl, path or fingerprint"
                )));
            }
            let reason = w
                .reason
                .filter(|r| !r.trim().is_empty())
                .ok_or_else(|| invalid(format!("waiver #{n} has no reason")))?;
            let expires = match w.expires {
                None => {
                    return Err(invalid(format!(
                        "waiver #{n} has no expires date (YYYY-MM-DD); every waiver must expire"
                    )))
                }
                Some(v) => parse_date(&v).ok_or_else(|| {
                    invalid(format!("waiver #{n}: expires {v} is not YYYY-MM-DD"))
                })?,
            };
            waivers.push(Waiver {
                source: format!("{source} waiver #{n}"),
                id: w.id,
                purl: w.purl,
                path: w.path,
                fingerprint: w.fingerprint,
                reason,
                justification: w.justification,
                expires: Some(expires),
            });
        }
        if file.block_kev && file.kev_catalog.is_none() {
            return Err(invalid(
                "block_kev = true needs kev_catalog = FILE (CISA's KEV JSON feed)".into(),
            ));
        }
        match (file.epss_threshold, &file.epss) {
            (Some(t), _) if !(0.0..=1.0).contains(&t) => {
                return Err(invalid(format!(
                    "epss_threshold = {t}: a probability, from 0 to 1"
                )))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "epss_threshold needs epss = FILE (FIRST's EPSS CSV or JSON)".into(),
                ))
            }
            _ => {}
        }
        Ok(Policy {
            exploits: ExploitRules {
                kev_catalog: file.kev_catalog,
                block_kev: file.block_kev,
                epss: file.epss,
                epss_threshold: file.epss_threshold,
            },
            source: source.to_string(),
            defaults: file.defaults,
            scanners: file.scanners,
            waivers,
        })
    }

    pub fn threshold(&self, scanner: &str, class: Class) -> Threshold {
        self.scanners
            .get(scanner)
            .and_then(|r| r.threshold(class))
            .or_else(|| self.defaults.threshold(class))
            .unwrap_or_else(|| platform_threshold(class))
    }

    pub fn ignore_unfixed(&self, scanner: &str) -> bool {
        self.scanners
            .get(scanner)
            .and_then(|r| r.ignore_unfixed)
            .or(self.defaults.ignore_unfixed)
            .unwrap_or(false)
    }
}

fn parse_date(v: &toml::Value) -> Option<NaiveDate> {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => {
            if d.time.is_some() {
                return None;
            }
            d.to_string()
        }
        _ => return None,
    };
    NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_default() {
        let p = Policy::default();
        assert!(p
            .threshold("trivy", Class::Vulnerability)
            .blocks(Severity::High));
        assert!(!p
            .threshold("trivy", Class::Vulnerability)
            .blocks(Severity::Medium));
        assert!(p
            .threshold("gitleaks", Class::Secret)
            .blocks(Severity::Unknown));
        assert!(!p
            .threshold("trivy", Class::Misconfiguration)
            .blocks(Severity::Critical));
    }

    #[test]
    fn scanner_overrides_defaults() {
        let p = Policy::parse(
            "[defaults]\nvulnerability = \"medium\"\n[scanners.trivy]\nvulnerability = \"critical\"\nignore_unfixed = true\n",
            "p.toml",
        )
        .unwrap();
        assert!(!p
            .threshold("trivy", Class::Vulnerability)
            .blocks(Severity::High));
        assert!(p
            .threshold("sbom", Class::Vulnerability)
            .blocks(Severity::Medium));
        assert!(p.ignore_unfixed("trivy"));
        assert!(!p.ignore_unfixed("sbom"));
    }

    #[test]
    fn waiver_without_expiry_or_reason_is_an_error() {
        let e = Policy::parse("[[waivers]]\nid = \"CVE-1\"\nreason = \"x\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no expires"), "{e}");
        let e = Policy::parse(
            "[[waivers]]\nid = \"CVE-1\"\nexpires = 2030-01-01\n",
            "p.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no reason"), "{e}");
        let e = Policy::parse("[defaults]\nvulnerabilty = \"high\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{e}");
        let e = Policy::parse("[defaults]\nvulnerability = \"severe\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold"), "{e}");
    }

    #[test]
    fn exploit_keys_are_checked() {
        let p = Policy::parse(
            "kev_catalog = \"kev.json\"\nblock_kev = true\nepss = \"epss.csv\"\nepss_threshold = 0.2\n",
            "p.toml",
        )
        .unwrap();
        assert!(p.exploits.block_kev);
        assert_eq!(p.exploits.epss_threshold, Some(0.2));
        for (text, want) in [
            ("block_kev = true\n", "needs kev_catalog"),
            ("epss_threshold = 0.2\n", "needs epss"),
            ("epss = \"e.csv\"\nepss_threshold = 1.5\n", "from 0 to 1"),
            ("block_kev = \"yes\"\n", "invalid type"),
            ("[[waivers]]\nid = \"CVE-1\"\nreason = \"r\"\nexpires = 2030-01-01\njustification = \"trust me\"\n", "unknown variant"),
        ] {
            let e = Policy::parse(text, "p.toml").unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn purl_and_avd_alias_matching() {
        let f = Finding {
            id: "DS-0002".into(),
            aliases: vec!["AVD-DS-0002".into()],
            purl: Some("pkg:npm/jquery@3.3.9".into()),
            ..Finding::default()
        };
        let w = |id: Option<&str>, purl: Option<&str>| Waiver {
            source: "t".into(),
            id: id.map(Into::into),
            purl: purl.map(Into::into),
            path: None,
            fingerprint: None,
            reason: "r".into(),
            justification: None,
            expires: None,
        };
        assert!(w(Some("AVD-DS-0002"), None).matches(&f));
        assert!(w(Some("DS-0002"), Some("pkg:npm/jquery")).matches(&f));
        assert!(w(None, Some("pkg:npm/jquery@3.3.9")).matches(&f));
        assert!(!w(None, Some("pkg:npm/jquery@3.4.0")).matches(&f));
        assert!(!w(Some("DS-0003"), None).matches(&f));
    }
}

//! `--sbom-diff OLD NEW`: the components added, removed, upgraded and
//! downgraded between two releases' CycloneDX SBOMs (Trivy's or syft's).
//! Both files are first parsed as reports, with every check that implies,
//! so a broken SBOM is exit 2 and never an empty diff.
//!
//! A component is known by its purl without version and qualifiers
//! (`pkg:pypi/flask`), else by type, group and name; its versions are the
//! purl's or `version`.

use crate::formats::fields::non_null;
use crate::formats::{self, from_slice, ParseError, Parsed};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Deserialize)]
struct Bom {
    #[serde(default, deserialize_with = "non_null")]
    components: Option<Vec<Component>>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "non_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    group: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    version: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    purl: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    components: Option<Vec<Component>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub component: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SbomDiff {
    pub old: String,
    pub new: String,
    pub added: Vec<Change>,
    pub removed: Vec<Change>,
    pub upgraded: Vec<Change>,
    pub downgraded: Vec<Change>,
}

/// Component identity → the versions present (a package can be in an SBOM
/// in several versions).
pub type Versions = BTreeMap<String, BTreeSet<String>>;

fn identity(c: &Component) -> Option<(String, String)> {
    if let Some(p) = c.purl.as_deref() {
        let base = p.split(['?', '#']).next().unwrap_or(p);
        let (name, version) = match base.rsplit_once('@') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (base, None),
        };
        let v = version.or_else(|| c.version.clone()).unwrap_or_default();
        return Some((name.to_string(), v));
    }
    let name = c.name.as_deref()?;
    let id = match c.group.as_deref() {
        Some(g) if !g.is_empty() => format!("{}:{g}/{name}", c.kind),
        _ => format!("{}:{name}", c.kind),
    };
    Some((id, c.version.clone().unwrap_or_default()))
}

fn collect(list: &[Component], out: &mut Versions) {
    for c in list {
        if let Some((id, v)) = identity(c) {
            out.entry(id).or_default().insert(v);
        }
        collect(c.components.as_deref().unwrap_or_default(), out);
    }
}

/// The components of a CycloneDX document already recognised as an SBOM
/// (by [`formats::parse`]), by identity, with their versions.
pub fn components(bytes: &[u8]) -> Result<Versions, ParseError> {
    let bom: Bom = from_slice(bytes)?;
    let mut out = Versions::new();
    collect(bom.components.as_deref().unwrap_or_default(), &mut out);
    Ok(out)
}

fn load(path: &Path, max: u64) -> Result<Versions, String> {
    let name = path.display();
    let bytes = crate::input::read_report_file(path, max).map_err(|e| format!("{name}: {e}"))?;
    match formats::parse(&bytes).map_err(|e| format!("{name}: {e}"))? {
        Parsed::Report(r) if r.sbom.is_some() => {}
        _ => return Err(format!("{name}: not a CycloneDX SBOM")),
    }
    components(&bytes).map_err(|e| format!("{name}: {e}"))
}

/// Version order good enough for a release note: numeric runs compared as
/// numbers, the rest as text (`1.10` after `1.9`, `2.0.0` after `1.99`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<Result<u64, &str>> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<u64>().map_err(|_| p))
            .collect()
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x, y) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

fn some(v: &str) -> Option<String> {
    Some(v.to_string()).filter(|v| !v.is_empty())
}

pub fn diff(old: &Path, new: &Path, max: u64) -> Result<SbomDiff, String> {
    let (a, b) = (load(old, max)?, load(new, max)?);
    Ok(diff_versions(
        &a,
        &b,
        old.display().to_string(),
        new.display().to_string(),
    ))
}

/// The changes from `a` (the older release) to `b`.
pub fn diff_versions(a: &Versions, b: &Versions, old: String, new: String) -> SbomDiff {
    let mut d = SbomDiff {
        old,
        new,
        ..SbomDiff::default()
    };
    let empty = BTreeSet::new();
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for id in ids {
        let (va, vb) = (a.get(id).unwrap_or(&empty), b.get(id).unwrap_or(&empty));
        if va == vb {
            continue;
        }
        // One version on each side: a version change. Otherwise (a package
        // in several versions) each version gone or come is listed.
        if va.len() == 1 && vb.len() == 1 {
            let (from, to) = (va.first().unwrap(), vb.first().unwrap());
            let c = Change {
                component: id.clone(),
                from: some(from),
                to: some(to),
            };
            match compare_versions(to, from) {
                Ordering::Less => d.downgraded.push(c),
                _ => d.upgraded.push(c),
            }
            continue;
        }
        for v in va.difference(vb) {
            d.removed.push(Change {
                component: id.clone(),
                from: some(v),
                to: None,
            });
        }
        for v in vb.difference(va) {
            d.added.push(Change {
                component: id.clone(),
                from: None,
                to: some(v),
            });
        }
    }
    d
}

pub fn render(d: &SbomDiff) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "SBOM diff {} -> {}: {} added, {} removed, {} upgraded, {} downgraded",
        d.old,
        d.new,
        d.added.len(),
        d.removed.len(),
        d.upgraded.len(),
        d.downgraded.len()
    );
    let v = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    for c in &d.added {
        let _ = writeln!(out, "  added      {} {}", c.component, v(&c.to));
    }
    for c in &d.removed {
        let _ = writeln!(out, "  removed    {} {}", c.component, v(&c.from));
    }
    for c in &d.upgraded {
        let _ = writeln!(
            out,
            "  upgraded   {} {} -> {}",
            c.component,
            v(&c.from),
            v(&c.to)
        );
    }
    for c in &d.downgraded {
        let _ = writeln!(
            out,
            "  downgraded {} {} -> {}",
            c.component,
            v(&c.from),
            v(&c.to)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::compare_versions;
    use std::cmp::Ordering::*;

    #[test]
    fn version_order() {
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("2.0.0", "1.99"), Greater);
        assert_eq!(compare_versions("1.1.1b-r1", "1.1.1d-r0"), Less);
        assert_eq!(compare_versions("1.0", "1.0"), Equal);
        assert_eq!(compare_versions("1.0.1", "1.0"), Greater);
    }
}

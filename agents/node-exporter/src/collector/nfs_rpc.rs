//! The line format of /proc/net/rpc/{nfs,nfsd} (`key v1 v2 …`, and for the
//! `procN` lines a leading count), and the procedure names of each NFS
//! version in the order of the kernel's counters (upstream's procfs names).

use super::CollectError;
use std::collections::HashMap;
use std::path::Path;

/// NFSv2 procedures, in counter order.
pub const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write",
    "Create", "Remove", "Rename", "Link", "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// NFSv3 procedures, in counter order.
pub const V3: [&str; 22] = [
    "Null",
    "GetAttr",
    "SetAttr",
    "Lookup",
    "Access",
    "ReadLink",
    "Read",
    "Write",
    "Create",
    "MkDir",
    "SymLink",
    "MkNod",
    "Remove",
    "RmDir",
    "Rename",
    "Link",
    "ReadDir",
    "ReadDirPlus",
    "FsStat",
    "FsInfo",
    "PathConf",
    "Commit",
];

/// Each line's key → its numbers (floats: the `th` line has some).
pub fn parse(path: &Path, text: &str) -> Result<HashMap<String, Vec<f64>>, CollectError> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(key) = f.next() else { continue };
        let nums = f
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| CollectError::parse(path, format!("{key}: not a number: {v:?}")))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        m.insert(key.to_string(), nums);
    }
    Ok(m)
}

/// A `procN` line's counters after its count, checked against the count
/// and padded with zeros up to `min` (older kernels report fewer).
pub fn procedures(
    path: &Path,
    lines: &HashMap<String, Vec<f64>>,
    key: &str,
    min: usize,
) -> Result<Vec<f64>, CollectError> {
    let Some(v) = lines.get(key) else {
        return Ok(vec![0.0; min]);
    };
    let count = v.first().copied().unwrap_or(0.0) as usize;
    if v.len() != count + 1 {
        return Err(CollectError::parse(
            path,
            format!(
                "{key}: count {count} but {} values",
                v.len().saturating_sub(1)
            ),
        ));
    }
    let mut out = v[1..].to_vec();
    if out.len() < min {
        out.resize(min, 0.0);
    }
    Ok(out)
}

/// Field `i` of line `key`, 0 when the line or field is absent.
pub fn field(lines: &HashMap<String, Vec<f64>>, key: &str, i: usize) -> f64 {
    lines
        .get(key)
        .and_then(|v| v.get(i))
        .copied()
        .unwrap_or(0.0)
}

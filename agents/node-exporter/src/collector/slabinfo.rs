//! `node_slabinfo_*{slab}` from /proc/slabinfo: object counts and sizes per
//! kernel slab cache (off by default, as upstream; the file is root-only).

use super::{num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

/// (column, metric, help)
const COLUMNS: [(usize, &str, &str); 5] = [
    (1, "node_slabinfo_active_objects", "The number of objects that are currently active (i.e., in use)."),
    (2, "node_slabinfo_objects", "The total number of allocated objects (i.e., objects that are both in use and not in use)."),
    (3, "node_slabinfo_object_size_bytes", "The size of objects in this slab, in bytes."),
    (4, "node_slabinfo_objects_per_slab", "The number of objects stored in each slab."),
    (5, "node_slabinfo_pages_per_slab", "The number of pages allocated for each slab."),
];

/// (slab name, the five values of [`COLUMNS`])
pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, [f64; 5])>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("slabinfo -") || line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            return Err(CollectError::parse(path, format!("short line {line:?}")));
        }
        let mut v = [0.0; 5];
        for (i, (col, _, _)) in COLUMNS.iter().enumerate() {
            v[i] = num(path, f[*col])?;
        }
        out.push((f[0].to_string(), v));
    }
    Ok(out)
}

pub struct Slabinfo {
    path: PathBuf,
}

impl Slabinfo {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("slabinfo"),
        }
    }
}

impl Collector for Slabinfo {
    fn name(&self) -> &'static str {
        "slabinfo"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let slabs = parse(&self.path, &read(&self.path)?)?;
        let mut fam = Families::default();
        for (slab, v) in &slabs {
            for (i, (_, name, help)) in COLUMNS.iter().enumerate() {
                fam.add(
                    name.to_string(),
                    *help,
                    Gauge,
                    vec![("slab", slab.clone())],
                    v[i],
                );
            }
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn columns_per_slab() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/slabinfo",
                "slabinfo - version: 2.1\n# name <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables\n\
                 tw_sock_TCP          704    864    256   32    2 : tunables    0    0    0 : slabdata     27     27      0\n",
            )],
        );
        let t = render(&Slabinfo::new(&p));
        for want in [
            "node_slabinfo_active_objects{slab=\"tw_sock_TCP\"} 704\n",
            "node_slabinfo_objects{slab=\"tw_sock_TCP\"} 864\n",
            "node_slabinfo_object_size_bytes{slab=\"tw_sock_TCP\"} 256\n",
            "node_slabinfo_objects_per_slab{slab=\"tw_sock_TCP\"} 32\n",
            "node_slabinfo_pages_per_slab{slab=\"tw_sock_TCP\"} 2\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(Path::new("s"), "x 1 2\n").is_err());
        assert!(parse(Path::new("s"), "x a 2 3 4 5\n").is_err());
    }
}

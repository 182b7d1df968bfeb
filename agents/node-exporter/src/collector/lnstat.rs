//! `node_lnstat_<field>_total{cpu,subsystem}` from /proc/net/stat/*: the
//! kernel's per-CPU network cache statistics (ARP/NDISC neighbour caches,
//! conntrack), hexadecimal columns under a header row (off by default, as
//! upstream).

use super::{entries, read, CollectError, Collector, Families, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

/// One file: its header fields and the values of each CPU's row.
pub fn parse(path: &Path, text: &str) -> Result<(Vec<String>, Vec<Vec<u64>>), CollectError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| CollectError::parse(path, "empty"))?
        .split_whitespace()
        .map(String::from)
        .collect();
    let mut rows = Vec::new();
    for line in lines {
        let vals = line
            .split_whitespace()
            .map(|v| {
                u64::from_str_radix(v, 16)
                    .map_err(|_| CollectError::parse(path, format!("not hexadecimal: {v:?}")))
            })
            .collect::<Result<Vec<u64>, _>>()?;
        if vals.len() != header.len() {
            return Err(CollectError::parse(
                path,
                format!("{} values under {} fields", vals.len(), header.len()),
            ));
        }
        rows.push(vals);
    }
    Ok((header, rows))
}

pub struct Lnstat {
    dir: PathBuf,
}

impl Lnstat {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.proc("net/stat"),
        }
    }
}

impl Collector for Lnstat {
    fn name(&self) -> &'static str {
        "lnstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut fam = Families::default();
        for (subsystem, path) in entries(&self.dir, "")? {
            let (header, rows) = parse(&path, &read(&path)?)?;
            for (cpu, row) in rows.iter().enumerate() {
                for (field, v) in header.iter().zip(row) {
                    fam.add(
                        format!("node_lnstat_{field}_total"),
                        "linux network cache stats",
                        Counter,
                        vec![("cpu", cpu.to_string()), ("subsystem", subsystem.clone())],
                        *v as f64,
                    );
                }
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
    fn hex_columns_per_cpu_and_subsystem() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/net/stat/arp_cache",
                "entries  allocs destroys\n00000014  00000001 0000000a\n00000014  0000000d 00000000\n",
            )],
        );
        let t = render(&Lnstat::new(&p));
        for want in [
            "# HELP node_lnstat_allocs_total linux network cache stats\n# TYPE node_lnstat_allocs_total counter\n",
            "node_lnstat_allocs_total{cpu=\"1\",subsystem=\"arp_cache\"} 13\n",
            "node_lnstat_destroys_total{cpu=\"0\",subsystem=\"arp_cache\"} 10\n",
            "node_lnstat_entries_total{cpu=\"0\",subsystem=\"arp_cache\"} 20\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }

    #[test]
    fn ragged_or_decimal_garbage_is_an_error() {
        assert!(parse(Path::new("x"), "a b\n1\n").is_err());
        assert!(parse(Path::new("x"), "a\nzz\n").is_err());
    }
}

//! `node_memory_numa_<Field>{node}` (gauges, kB → bytes) from
//! /sys/devices/system/node/nodeN/meminfo and `node_memory_numa_<stat>_total`
//! (counters) from its numastat, named as upstream (no `_bytes` suffix).

use super::{num, numbered_entries, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// metric suffix → (type, [(node, value)])
type Families = BTreeMap<String, (MetricType, Vec<(String, f64)>)>;

fn parse_meminfo(path: &Path, text: &str, fams: &mut Families) -> Result<(), CollectError> {
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let p: Vec<&str> = line.split_whitespace().collect();
        if p.len() < 4 {
            return Err(CollectError::parse(path, format!("short line {line:?}")));
        }
        let mut v: f64 = num(path, p[3])?;
        match p.len() {
            4 => {}
            5 if p[4] == "kB" => v *= 1024.0,
            _ => return Err(CollectError::parse(path, format!("invalid line {line:?}"))),
        }
        // `Active(anon):` → `Active_anon`
        let field = p[2]
            .trim_end_matches(':')
            .replace('(', "_")
            .replace(')', "");
        fams.entry(field)
            .or_insert((MetricType::Gauge, Vec::new()))
            .1
            .push((p[1].to_string(), v));
    }
    Ok(())
}

fn parse_numastat(
    path: &Path,
    text: &str,
    node: &str,
    fams: &mut Families,
) -> Result<(), CollectError> {
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let p: Vec<&str> = line.split_whitespace().collect();
        if p.len() != 2 {
            return Err(CollectError::parse(path, format!("not 2 fields: {line:?}")));
        }
        fams.entry(format!("{}_total", p[0]))
            .or_insert((MetricType::Counter, Vec::new()))
            .1
            .push((node.to_string(), num(path, p[1])?));
    }
    Ok(())
}

pub struct MeminfoNuma {
    dir: PathBuf,
}

impl MeminfoNuma {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("devices/system/node"),
        }
    }
}

impl Collector for MeminfoNuma {
    fn name(&self) -> &'static str {
        "meminfo_numa"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut fams = Families::new();
        for (node, p) in numbered_entries(&self.dir, "node")? {
            let mi = p.join("meminfo");
            parse_meminfo(&mi, &read(&mi)?, &mut fams)?;
            let ns = p.join("numastat");
            parse_numastat(&ns, &read(&ns)?, &node, &mut fams)?;
        }
        let mut name = String::new();
        for (field, (kind, samples)) in &fams {
            name.clear();
            name.push_str("node_memory_numa_");
            name.push_str(field);
            if !crate::exposition::is_valid_metric_name(&name) {
                continue;
            }
            out.family(&name, &format!("Memory information field {field}."), *kind);
            for (node, v) in samples {
                out.sample(&name, &[("node", node)], *v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn fields_per_node() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                (
                    "sys/devices/system/node/node0/meminfo",
                    "Node 0 MemTotal:       100 kB\nNode 0 Active(anon):    2 kB\nNode 0 HugePages_Total:     0\n",
                ),
                ("sys/devices/system/node/node0/numastat", "numa_hit 193460335812\nnuma_miss 12\n"),
            ],
        );
        let t = render(&MeminfoNuma::new(&p));
        for want in [
            "# HELP node_memory_numa_MemTotal Memory information field MemTotal.\n# TYPE node_memory_numa_MemTotal gauge\nnode_memory_numa_MemTotal{node=\"0\"} 102400\n",
            "node_memory_numa_Active_anon{node=\"0\"} 2048\n",
            "node_memory_numa_HugePages_Total{node=\"0\"} 0\n",
            "# TYPE node_memory_numa_numa_hit_total counter\nnode_memory_numa_numa_hit_total{node=\"0\"} 1.93460335812e+11\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }
}

//! `node_buddyinfo_blocks{node,zone,size}` from /proc/buddyinfo: free blocks
//! per NUMA node, memory zone and order (off by default, as upstream).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

/// (node, zone, free blocks per order)
pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, String, Vec<f64>)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // `Node 0, zone DMA 1 0 …`
        if f.len() < 5 || f[0] != "Node" || f[2] != "zone" {
            return Err(CollectError::parse(path, format!("invalid line {line:?}")));
        }
        let node = f[1].trim_end_matches(',').to_string();
        let blocks = f[4..]
            .iter()
            .map(|v| num(path, v))
            .collect::<Result<Vec<f64>, _>>()?;
        out.push((node, f[3].to_string(), blocks));
    }
    Ok(out)
}

pub struct Buddyinfo {
    path: PathBuf,
}

impl Buddyinfo {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("buddyinfo"),
        }
    }
}

impl Collector for Buddyinfo {
    fn name(&self) -> &'static str {
        "buddyinfo"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let zones = parse(&self.path, &read(&self.path)?)?;
        let name = "node_buddyinfo_blocks";
        out.family(name, "Count of free blocks according to size.", Gauge);
        for (node, zone, blocks) in &zones {
            for (size, v) in blocks.iter().enumerate() {
                out.sample(
                    name,
                    &[("node", node), ("size", &size.to_string()), ("zone", zone)],
                    *v,
                );
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
    fn blocks_per_node_zone_and_order() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/buddyinfo",
                "Node 0, zone      DMA      1      0      1\nNode 0, zone   Normal   4381   1093    185 \n",
            )],
        );
        let t = render(&Buddyinfo::new(&p));
        assert!(
            t.contains("node_buddyinfo_blocks{node=\"0\",size=\"0\",zone=\"Normal\"} 4381\n"),
            "{t}"
        );
        assert!(
            t.contains("node_buddyinfo_blocks{node=\"0\",size=\"2\",zone=\"DMA\"} 1\n"),
            "{t}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(Path::new("b"), "Node 0, zone DMA x\n").is_err());
        assert!(parse(Path::new("b"), "nonsense\n").is_err());
    }
}

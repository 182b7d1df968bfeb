//! `node_zoneinfo_*{node,zone}` from /proc/zoneinfo: watermarks, page counts
//! and NUMA allocation counters per memory zone (off by default, as
//! upstream). A field is reported for a zone only when its block lists it;
//! the per-node stats printed in a node's first zone belong to that zone, as
//! upstream reads them.

use super::{read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use std::path::PathBuf;

/// (zoneinfo key, metric suffix, help, type), upstream's names.
const FIELDS: [(&str, &str, &str, MetricType); 34] = [
    (
        "nr_free_pages",
        "nr_free_pages",
        "Total number of free pages in the zone",
        Gauge,
    ),
    ("min", "min_pages", "Zone watermark pages_min", Gauge),
    ("low", "low_pages", "Zone watermark pages_low", Gauge),
    ("high", "high_pages", "Zone watermark pages_high", Gauge),
    (
        "scanned",
        "scanned_pages",
        "Pages scanned since last reclaim",
        Gauge,
    ),
    (
        "spanned",
        "spanned_pages",
        "Total pages spanned by the zone, including holes",
        Gauge,
    ),
    (
        "present",
        "present_pages",
        "Physical pages existing within the zone",
        Gauge,
    ),
    (
        "managed",
        "managed_pages",
        "Present pages managed by the buddy system",
        Gauge,
    ),
    (
        "nr_active_anon",
        "nr_active_anon_pages",
        "Number of anonymous pages recently more used",
        Gauge,
    ),
    (
        "nr_inactive_anon",
        "nr_inactive_anon_pages",
        "Number of anonymous pages recently less used",
        Gauge,
    ),
    (
        "nr_isolated_anon",
        "nr_isolated_anon_pages",
        "Temporary isolated pages from anon lru",
        Gauge,
    ),
    (
        "nr_anon_pages",
        "nr_anon_pages",
        "Number of anonymous pages currently used by the system",
        Gauge,
    ),
    (
        "nr_anon_transparent_hugepages",
        "nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        Gauge,
    ),
    (
        "nr_active_file",
        "nr_active_file_pages",
        "Number of active pages with file-backing",
        Gauge,
    ),
    (
        "nr_inactive_file",
        "nr_inactive_file_pages",
        "Number of inactive pages with file-backing",
        Gauge,
    ),
    (
        "nr_isolated_file",
        "nr_isolated_file_pages",
        "Temporary isolated pages from file lru",
        Gauge,
    ),
    (
        "nr_file_pages",
        "nr_file_pages",
        "Number of file pages",
        Gauge,
    ),
    (
        "nr_slab_reclaimable",
        "nr_slab_reclaimable_pages",
        "Number of reclaimable slab pages",
        Gauge,
    ),
    (
        "nr_slab_unreclaimable",
        "nr_slab_unreclaimable_pages",
        "Number of unreclaimable slab pages",
        Gauge,
    ),
    (
        "nr_mlock_stack",
        "nr_mlock_stack_pages",
        "mlock()ed pages found and moved off LRU",
        Gauge,
    ),
    (
        "nr_kernel_stack",
        "nr_kernel_stacks",
        "Number of kernel stacks",
        Gauge,
    ),
    (
        "nr_mapped",
        "nr_mapped_pages",
        "Number of mapped pages",
        Gauge,
    ),
    ("nr_dirty", "nr_dirty_pages", "Number of dirty pages", Gauge),
    (
        "nr_writeback",
        "nr_writeback_pages",
        "Number of writeback pages",
        Gauge,
    ),
    (
        "nr_unevictable",
        "nr_unevictable_pages",
        "Number of unevictable pages",
        Gauge,
    ),
    (
        "nr_shmem",
        "nr_shmem_pages",
        "Number of shmem pages (included tmpfs/GEM pages)",
        Gauge,
    ),
    (
        "nr_dirtied",
        "nr_dirtied_total",
        "Page dirtyings since bootup",
        Counter,
    ),
    (
        "nr_written",
        "nr_written_total",
        "Page writings since bootup",
        Counter,
    ),
    (
        "numa_hit",
        "numa_hit_total",
        "Allocated in intended node",
        Counter,
    ),
    (
        "numa_miss",
        "numa_miss_total",
        "Allocated in non intended node",
        Counter,
    ),
    (
        "numa_foreign",
        "numa_foreign_total",
        "Was intended here, hit elsewhere",
        Counter,
    ),
    (
        "numa_interleave",
        "numa_interleave_total",
        "Interleaver preferred this zone",
        Counter,
    ),
    (
        "numa_local",
        "numa_local_total",
        "Allocation from local node",
        Counter,
    ),
    (
        "numa_other",
        "numa_other_total",
        "Allocation from other node",
        Counter,
    ),
];

/// One zone: node, zone name, value per [`FIELDS`] index, protection array.
#[derive(Debug)]
pub struct Zone {
    pub node: String,
    pub zone: String,
    pub values: [Option<i64>; 34],
    pub protection: Vec<i64>,
}

pub fn parse(text: &str) -> Vec<Zone> {
    let mut zones: Vec<Zone> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Node ") {
            if let Some((node, zone)) = rest.split_once(", zone") {
                zones.push(Zone {
                    node: node.trim().to_string(),
                    zone: zone.trim().to_string(),
                    values: [None; 34],
                    protection: Vec::new(),
                });
                continue;
            }
        }
        let Some(z) = zones.last_mut() else { continue };
        let mut f = t.split_whitespace();
        let (Some(key), Some(val)) = (f.next(), f.next()) else {
            continue;
        };
        if key == "protection:" {
            let inner = t["protection:".len()..]
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')');
            if let Ok(v) = inner
                .split(',')
                .map(|s| s.trim().parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
            {
                z.protection = v;
            }
        } else if let Some(i) = FIELDS.iter().position(|f| f.0 == key) {
            z.values[i] = Some(val.parse().unwrap_or(0));
        }
    }
    zones
}

pub struct Zoneinfo {
    path: PathBuf,
}

impl Zoneinfo {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("zoneinfo"),
        }
    }
}

impl Collector for Zoneinfo {
    fn name(&self) -> &'static str {
        "zoneinfo"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let zones = parse(&read(&self.path)?);
        let mut fam = Families::default();
        for z in &zones {
            let labels = || vec![("node", z.node.clone()), ("zone", z.zone.clone())];
            for (i, (_, suffix, help, kind)) in FIELDS.iter().enumerate() {
                if let Some(v) = z.values[i] {
                    fam.add(
                        format!("node_zoneinfo_{suffix}"),
                        *help,
                        *kind,
                        labels(),
                        v as f64,
                    );
                }
            }
            for (i, v) in z.protection.iter().enumerate() {
                fam.add(
                    format!("node_zoneinfo_protection_{i}"),
                    format!("Protection array {i}. field"),
                    Gauge,
                    labels(),
                    *v as f64,
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

    const ZONEINFO: &str = "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 95612\n      nr_dirtied   1189097\n\
  pages free     2949\n        min      8\n        high     14\n        protection: (0, 2039, 31932)\n      nr_free_pages 2949\n      numa_hit     1\n\
  pagesets\n    cpu: 0\n              count: 0\n              high:  0\n\
Node 0, zone   Normal\n  pages free     5\n        min      9\n        protection: (0, 0, 0)\n";

    #[test]
    fn fields_per_zone_only_where_listed() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/zoneinfo", ZONEINFO)]);
        let t = render(&Zoneinfo::new(&p));
        for want in [
            "# HELP node_zoneinfo_high_pages Zone watermark pages_high\n# TYPE node_zoneinfo_high_pages gauge\nnode_zoneinfo_high_pages{node=\"0\",zone=\"DMA\"} 14\n#",
            "node_zoneinfo_nr_inactive_anon_pages{node=\"0\",zone=\"DMA\"} 95612\n",
            "# TYPE node_zoneinfo_nr_dirtied_total counter\nnode_zoneinfo_nr_dirtied_total{node=\"0\",zone=\"DMA\"} 1.189097e+06\n",
            "node_zoneinfo_min_pages{node=\"0\",zone=\"Normal\"} 9\n",
            "node_zoneinfo_protection_2{node=\"0\",zone=\"DMA\"} 31932\n",
            "# HELP node_zoneinfo_protection_1 Protection array 1. field\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        // "pages free" is not nr_free_pages, and the pageset "high:" is not a watermark.
        assert!(
            !t.contains("nr_free_pages{node=\"0\",zone=\"Normal\"}"),
            "{t}"
        );
        assert!(!t.contains("high_pages{node=\"0\",zone=\"Normal\"}"), "{t}");
    }
}

//! `node_rapl_<zone>_joules_total{index,path}` from /sys/class/powercap
//! (Intel/AMD RAPL energy counters, µJ → J), named and indexed as upstream:
//! `package-0` is zone `package` index 0; other names are indexed by how
//! often the name was seen before.

use super::{attr, entries, num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::collections::HashMap;
use std::path::PathBuf;

pub struct Rapl {
    dir: PathBuf,
}

impl Rapl {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/powercap"),
        }
    }
}

/// Upstream's zone name and index for a `name` file's content.
fn name_and_index(name: &str, seen: &mut HashMap<String, usize>) -> (String, usize) {
    if let Some((base, idx)) = name.split_once('-') {
        if let Ok(i) = idx.parse() {
            return (base.to_string(), i);
        }
    }
    let n = seen.entry(name.to_string()).or_insert(0);
    let i = *n;
    *n += 1;
    (name.to_string(), i)
}

impl Collector for Rapl {
    fn name(&self) -> &'static str {
        "rapl"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut seen = HashMap::new();
        for (_, p) in entries(&self.dir, "")? {
            let Some(raw) = attr(&p.join("name")) else {
                continue; // not a zone (e.g. the intel-rapl control type)
            };
            let (zone, index) = name_and_index(&raw, &mut seen);
            let energy = p.join("energy_uj");
            let uj: f64 = num(&energy, &read(&energy)?)?;
            let metric = format!("node_rapl_{zone}_joules_total");
            if !crate::exposition::is_valid_metric_name(&metric) {
                continue;
            }
            out.family(
                &metric,
                &format!("Current RAPL {zone} value in joules"),
                Counter,
            );
            out.sample(
                &metric,
                &[
                    ("index", &index.to_string()),
                    ("path", &p.to_string_lossy()),
                ],
                uj / 1_000_000.0,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn zones_named_and_indexed_as_upstream() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/powercap/intel-rapl/enabled", "1\n"),
                ("sys/class/powercap/intel-rapl:0/name", "package-0\n"),
                (
                    "sys/class/powercap/intel-rapl:0/energy_uj",
                    "240422366267\n",
                ),
                ("sys/class/powercap/intel-rapl:0:0/name", "core\n"),
                (
                    "sys/class/powercap/intel-rapl:0:0/energy_uj",
                    "118821284256\n",
                ),
            ],
        );
        let t = render(&Rapl::new(&p));
        let base = p.sysfs.join("class/powercap");
        assert!(t.contains(&format!(
            "node_rapl_package_joules_total{{index=\"0\",path=\"{}/intel-rapl:0\"}} 240422.366267\n",
            base.display()
        )), "{t}");
        assert!(
            t.contains(&format!(
            "node_rapl_core_joules_total{{index=\"0\",path=\"{}/intel-rapl:0:0\"}} 118821.284256\n",
            base.display()
        )),
            "{t}"
        );
        assert!(t.contains("# HELP node_rapl_core_joules_total Current RAPL core value in joules\n# TYPE node_rapl_core_joules_total counter\n"), "{t}");
    }
}

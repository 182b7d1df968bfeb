//! `node_bonding_{slaves,active}{master}` from /sys/class/net/bonding_masters
//! and each master's slaves' `mii_status`.

use super::{read, read_file, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Bonding {
    dir: PathBuf,
}

impl Bonding {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/net"),
        }
    }
}

impl Collector for Bonding {
    fn name(&self) -> &'static str {
        "bonding"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let masters = read(&self.dir.join("bonding_masters"))?;
        let mut rows = Vec::new();
        for master in masters.split_whitespace() {
            let slaves_path = self.dir.join(master).join("bonding/slaves");
            let slaves = read(&slaves_path)?;
            let (mut total, mut up) = (0u32, 0u32);
            for slave in slaves.split_whitespace() {
                // Newer kernels link `lower_<slave>`, older ones `slave_<slave>`.
                let status = ["lower_", "slave_"]
                    .iter()
                    .map(|pre| {
                        self.dir
                            .join(master)
                            .join(format!("{pre}{slave}"))
                            .join("bonding_slave/mii_status")
                    })
                    .find_map(|p| read_file(p).ok())
                    .ok_or_else(|| {
                        CollectError::parse(
                            &slaves_path,
                            format!("no mii_status for slave {slave}"),
                        )
                    })?;
                total += 1;
                if status.trim() == "up" {
                    up += 1;
                }
            }
            rows.push((master, total, up));
        }
        let name = "node_bonding_slaves";
        out.family(
            name,
            "Number of configured slaves per bonding interface.",
            Gauge,
        );
        for (m, total, _) in &rows {
            out.sample(name, &[("master", m)], *total as f64);
        }
        let name = "node_bonding_active";
        out.family(
            name,
            "Number of active slaves per bonding interface.",
            Gauge,
        );
        for (m, _, up) in &rows {
            out.sample(name, &[("master", m)], *up as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn slaves_and_active_per_master() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/net/bonding_masters", "bond0 dmz\n"),
                ("sys/class/net/bond0/bonding/slaves", "\n"),
                ("sys/class/net/dmz/bonding/slaves", "eth0 eth4\n"),
                (
                    "sys/class/net/dmz/slave_eth0/bonding_slave/mii_status",
                    "up\n",
                ),
                (
                    "sys/class/net/dmz/lower_eth4/bonding_slave/mii_status",
                    "down\n",
                ),
            ],
        );
        let t = render(&Bonding::new(&p));
        assert!(
            t.contains("node_bonding_slaves{master=\"bond0\"} 0\n"),
            "{t}"
        );
        assert!(t.contains("node_bonding_slaves{master=\"dmz\"} 2\n"), "{t}");
        assert!(t.contains("node_bonding_active{master=\"dmz\"} 1\n"), "{t}");
    }
}

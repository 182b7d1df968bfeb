//! `node_arp_entries{device}`: ARP table entries per device, /proc/net/arp.

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub fn count(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for line in text.lines().skip(1) {
        if let Some(dev) = line.split_whitespace().nth(5) {
            *m.entry(dev.to_string()).or_insert(0) += 1;
        }
    }
    m
}

pub struct Arp {
    path: PathBuf,
}

impl Arp {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("net/arp"),
        }
    }
}

impl Collector for Arp {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let entries = count(&read(&self.path)?);
        let name = "node_arp_entries";
        out.family(name, "ARP entries by device", Gauge);
        for (dev, n) in &entries {
            out.sample(name, &[("device", dev)], *n as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_device() {
        let m = count(
            "IP address       HW type     Flags       HW address            Mask     Device\n\
192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
192.0.2.2        0x1         0x2         02:fc:00:00:00:06     *        eth0\n\
10.0.0.1         0x1         0x0         00:00:00:00:00:00     *        eth1\n",
        );
        assert_eq!(m.get("eth0"), Some(&2));
        assert_eq!(m.get("eth1"), Some(&1));
    }
}

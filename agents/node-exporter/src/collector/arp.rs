//! `node_arp_entries{device}`: ARP table entries per device, /proc/net/arp.

use super::{read, CollectError, Collector, FieldFilter, Settings};
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
    include: Option<FieldFilter>,
    exclude: Option<FieldFilter>,
}

impl Arp {
    pub fn new(s: &Settings) -> Self {
        Self {
            path: s.paths.proc("net/arp"),
            include: s.arp_device_include.clone().map(FieldFilter::new),
            exclude: s.arp_device_exclude.clone().map(FieldFilter::new),
        }
    }

    fn wanted(&self, dev: &str) -> bool {
        self.include.as_ref().is_none_or(|r| r.is_match(dev))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(dev))
    }
}

impl Collector for Arp {
    fn name(&self) -> &'static str {
        "arp"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut entries = count(&read(&self.path)?);
        entries.retain(|dev, _| self.wanted(dev));
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
    use crate::collector::testutil::{fake_paths, render};

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

    #[test]
    fn entries_per_device_with_exclude() {
        let d = tempfile::tempdir().unwrap();
        let paths = fake_paths(
            d.path(),
            &[(
                "proc/net/arp",
                "IP address       HW type     Flags       HW address            Mask     Device\n\
                 192.168.1.1      0x1         0x2         cc:aa:dd:ee:aa:bb     *        eth0\n\
                 10.0.0.1         0x1         0x2         cc:aa:dd:ee:aa:bb     *        nope\n",
            )],
        );
        let s = Settings {
            paths,
            arp_device_exclude: Some(regex::Regex::new("nope").unwrap()),
            ..Settings::default()
        };
        let t = render(&Arp::new(&s));
        assert!(t.contains("node_arp_entries{device=\"eth0\"} 1\n"), "{t}");
        assert!(!t.contains("nope"), "{t}");
    }
}

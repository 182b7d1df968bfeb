//! `node_network_{receive,transmit}_*_total{device}` from /proc/net/dev.
//!
//! node_exporter 1.5 reads these over netlink and folds the detailed error
//! counters back into the legacy names, which gives exactly the columns of
//! /proc/net/dev (the kernel folds them the same way) plus
//! `receive_nohandler`, which we read from sysfs.

use super::{num, read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, [u64; 16])>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines().skip(2) {
        let Some((dev, rest)) = line.split_once(':') else {
            continue;
        };
        let mut v = [0u64; 16];
        let mut n = 0;
        for (slot, f) in v.iter_mut().zip(rest.split_whitespace()) {
            *slot = num(path, f)?;
            n += 1;
        }
        if n != 16 {
            return Err(CollectError::parse(path, format!("{dev}: {n} columns")));
        }
        out.push((dev.trim().to_string(), v));
    }
    Ok(out)
}

pub struct Netdev {
    path: PathBuf,
    sys_class_net: PathBuf,
    exclude: Option<FieldFilter>,
    include: Option<FieldFilter>,
}

impl Netdev {
    pub fn new(s: &Settings) -> Self {
        Self {
            path: s.paths.proc("net/dev"),
            sys_class_net: s.paths.sys("class/net"),
            exclude: s.netdev_device_exclude.clone().map(FieldFilter::new),
            include: s.netdev_device_include.clone().map(FieldFilter::new),
        }
    }

    fn wanted(&self, dev: &str) -> bool {
        if let Some(r) = &self.exclude {
            if r.is_match(dev) {
                return false;
            }
        }
        self.include.as_ref().is_none_or(|r| r.is_match(dev))
    }
}

impl Collector for Netdev {
    fn name(&self) -> &'static str {
        "netdev"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut devs = parse(&self.path, &read(&self.path)?)?;
        devs.retain(|(d, _)| self.wanted(d));
        let nohandler: Vec<Option<f64>> = devs
            .iter()
            .map(|(d, _)| {
                let f = self.sys_class_net.join(d).join("statistics/rx_nohandler");
                super::read_file(f).ok()?.trim().parse().ok()
            })
            .collect();
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        for (i, col) in COLUMNS.iter().enumerate() {
            family(out, &mut name, &mut help, col);
            for (d, v) in &devs {
                out.sample(&name, &[("device", d)], v[i] as f64);
            }
            if *col == "receive_multicast" && nohandler.iter().any(Option::is_some) {
                family(out, &mut name, &mut help, "receive_nohandler");
                for ((d, _), n) in devs.iter().zip(&nohandler) {
                    if let Some(n) = n {
                        out.sample(&name, &[("device", d)], *n);
                    }
                }
            }
        }
        Ok(())
    }
}

fn family(out: &mut Exposition, name: &mut String, help: &mut String, col: &str) {
    name.clear();
    name.push_str("node_network_");
    name.push_str(col);
    name.push_str("_total");
    help.clear();
    help.push_str("Network device statistic ");
    help.push_str(col);
    help.push('.');
    out.family(name, help, Counter);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};
    use regex::Regex;

    const DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  132223     775    0    0    0     0          0         0   132223     775    0    0    0     0       0          0
  eth0: 309271058  220000    1    2    3     4          5         6   506624    4000    7    8    9    10      11         12
";

    #[test]
    fn all_columns_and_nohandler() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/net/dev", DEV),
                ("sys/class/net/eth0/statistics/rx_nohandler", "42\n"),
            ],
        );
        let s = Settings {
            paths: p,
            ..Settings::default()
        };
        let t = render(&Netdev::new(&s));
        assert!(t.contains("# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n# TYPE node_network_receive_bytes_total counter\n"), "{t}");
        assert!(
            t.contains("node_network_receive_bytes_total{device=\"eth0\"} 3.09271058e+08\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_transmit_compressed_total{device=\"eth0\"} 12\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_transmit_colls_total{device=\"eth0\"} 10\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_receive_nohandler_total{device=\"eth0\"} 42\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_receive_bytes_total{device=\"lo\"} 132223\n"),
            "{t}"
        );
    }

    #[test]
    fn device_exclude() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/net/dev", DEV)]);
        let s = Settings {
            paths: p,
            netdev_device_exclude: Some(Regex::new("^lo$").unwrap()),
            ..Settings::default()
        };
        let t = render(&Netdev::new(&s));
        assert!(!t.contains("device=\"lo\""), "{t}");
        assert!(t.contains("device=\"eth0\""), "{t}");
    }
}

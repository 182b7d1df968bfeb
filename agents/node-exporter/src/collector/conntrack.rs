//! `node_nf_conntrack_*`: table size and limit, and the per-CPU statistics of
//! /proc/net/stat/nf_conntrack summed over CPUs (columns found by header,
//! since they differ between kernels).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const STATS: &[(&str, &str)] = &[
    ("drop", "Number of packets dropped due to conntrack failure."),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
    ("found", "Number of searched entries which were successful."),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    ("invalid", "Number of packets seen which can not be tracked."),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
];

pub fn parse_stat(path: &Path, text: &str) -> Result<HashMap<String, u64>, CollectError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| CollectError::parse(path, "empty"))?
        .split_whitespace()
        .collect();
    let mut sums = HashMap::new();
    for line in lines {
        for (name, v) in header.iter().zip(line.split_whitespace()) {
            let v = u64::from_str_radix(v, 16)
                .map_err(|_| CollectError::parse(path, format!("not hex: {v}")))?;
            // Saturating: a corrupt file must not overflow (a panic in debug).
            let sum = sums.entry(name.to_string()).or_insert(0u64);
            *sum = sum.saturating_add(v);
        }
    }
    Ok(sums)
}

pub struct Conntrack {
    count: PathBuf,
    max: PathBuf,
    stat: PathBuf,
}

impl Conntrack {
    pub fn new(paths: &Paths) -> Self {
        Self {
            count: paths.proc("sys/net/netfilter/nf_conntrack_count"),
            max: paths.proc("sys/net/netfilter/nf_conntrack_max"),
            stat: paths.proc("net/stat/nf_conntrack"),
        }
    }
}

impl Collector for Conntrack {
    fn name(&self) -> &'static str {
        "conntrack"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let count: f64 = match read(&self.count) {
            Ok(t) => num(&self.count, &t)?,
            Err(e) if e.is_no_data() => {
                return Err(CollectError::NoData("conntrack is not loaded".into()))
            }
            Err(e) => return Err(e),
        };
        let max: f64 = num(&self.max, &read(&self.max)?)?;
        out.single(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            Gauge,
            count,
        );
        out.single(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            Gauge,
            max,
        );
        if let Ok(t) = super::read_file(&self.stat) {
            let sums = parse_stat(&self.stat, &t)?;
            let mut name = String::with_capacity(48);
            for (key, help) in STATS {
                let Some(v) = sums.get(*key) else { continue };
                name.clear();
                name.push_str("node_nf_conntrack_stat_");
                name.push_str(key);
                out.single(&name, help, Gauge, *v as f64);
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
    fn entries_limit_and_summed_stats() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/sys/net/netfilter/nf_conntrack_count", "7\n"),
                ("proc/sys/net/netfilter/nf_conntrack_max", "262144\n"),
                ("proc/net/stat/nf_conntrack", "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
00000007  00000000 00000001 00000000 0000000a 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000  00000000 00000000 00000000 00000003\n\
00000007  00000000 00000001 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"),
            ],
        );
        let t = render(&Conntrack::new(&p));
        assert!(t.contains("node_nf_conntrack_entries 7\n"), "{t}");
        assert!(
            t.contains("node_nf_conntrack_entries_limit 262144\n"),
            "{t}"
        );
        assert!(t.contains("node_nf_conntrack_stat_found 2\n"), "{t}");
        assert!(t.contains("node_nf_conntrack_stat_invalid 11\n"), "{t}");
        assert!(
            t.contains("node_nf_conntrack_stat_search_restart 3\n"),
            "{t}"
        );
        assert_eq!(t.matches("# TYPE node_nf_conntrack_stat_").count(), 8);
    }

    #[test]
    fn no_conntrack_is_no_data() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let e = Conntrack::new(&p)
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(e.is_no_data());
    }
}

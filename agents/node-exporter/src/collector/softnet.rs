//! `node_softnet_{processed,dropped,times_squeezed}_total{cpu}` from
//! /proc/net/softnet_stat (hexadecimal columns, one line per CPU).

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

pub fn parse(path: &Path, text: &str) -> Result<Vec<[u64; 3]>, CollectError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut v = [0u64; 3];
            let mut f = l.split_whitespace();
            for slot in &mut v {
                let s = f
                    .next()
                    .ok_or_else(|| CollectError::parse(path, "short line"))?;
                *slot = u64::from_str_radix(s, 16)
                    .map_err(|_| CollectError::parse(path, format!("not hex: {s}")))?;
            }
            Ok(v)
        })
        .collect()
}

pub struct Softnet {
    path: PathBuf,
}

impl Softnet {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("net/softnet_stat"),
        }
    }
}

impl Collector for Softnet {
    fn name(&self) -> &'static str {
        "softnet"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let rows = parse(&self.path, &read(&self.path)?)?;
        let fams = [
            (1, "node_softnet_dropped_total", "Number of dropped packets"),
            (
                0,
                "node_softnet_processed_total",
                "Number of processed packets",
            ),
            (
                2,
                "node_softnet_times_squeezed_total",
                "Number of times processing packets ran out of quota",
            ),
        ];
        let cpus: Vec<String> = (0..rows.len()).map(|i| i.to_string()).collect();
        for (col, name, help) in fams {
            out.family(name, help, Counter);
            for (cpu, r) in cpus.iter().zip(&rows) {
                out.sample(name, &[("cpu", cpu)], r[col] as f64);
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
    fn hex_columns_per_cpu() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/net/softnet_stat",
                "00000142 00000001 00000002 0 0\n0000459c 00000000 0000000a 0 0\n",
            )],
        );
        let t = render(&Softnet::new(&p));
        assert!(
            t.contains("node_softnet_processed_total{cpu=\"0\"} 322\n"),
            "{t}"
        );
        assert!(
            t.contains("node_softnet_processed_total{cpu=\"1\"} 17820\n"),
            "{t}"
        );
        assert!(
            t.contains("node_softnet_dropped_total{cpu=\"0\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("node_softnet_times_squeezed_total{cpu=\"1\"} 10\n"),
            "{t}"
        );
    }
}

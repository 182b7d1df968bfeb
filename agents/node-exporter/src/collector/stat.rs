//! Boot time, context switches, forks, interrupts and process states from
//! /proc/stat, and with `--collector.stat.softirq` the softirq calls per vector.

use super::{num, read, CollectError, Collector, Settings};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::path::{Path, PathBuf};

pub struct Stat {
    path: PathBuf,
    softirq: bool,
}

/// The `softirq` line's vectors after its total, in kernel order.
const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    pub btime: f64,
    pub ctxt: f64,
    pub processes: f64,
    pub intr: f64,
    pub procs_running: f64,
    pub procs_blocked: f64,
    /// Per vector, in [`SOFTIRQ_VECTORS`] order (empty without the line).
    pub softirq: Vec<f64>,
}

pub fn parse(path: &Path, text: &str) -> Result<Totals, CollectError> {
    let mut t = Totals::default();
    let mut seen_btime = false;
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(first)) = (parts.next(), parts.next()) else {
            continue;
        };
        if key == "softirq" {
            t.softirq = parts
                .map(|v| num(path, v))
                .collect::<Result<Vec<f64>, _>>()?;
            continue;
        }
        let slot = match key {
            "btime" => {
                seen_btime = true;
                &mut t.btime
            }
            "ctxt" => &mut t.ctxt,
            "processes" => &mut t.processes,
            // The first number of `intr` is the total; the rest are per IRQ.
            "intr" => &mut t.intr,
            "procs_running" => &mut t.procs_running,
            "procs_blocked" => &mut t.procs_blocked,
            _ => continue,
        };
        *slot = num(path, first)?;
    }
    if !seen_btime {
        return Err(CollectError::parse(path, "no btime line"));
    }
    Ok(t)
}

impl Stat {
    pub fn new(s: &Settings) -> Self {
        Self {
            path: s.paths.proc("stat"),
            softirq: s.stat_softirq,
        }
    }
}

impl Collector for Stat {
    fn name(&self) -> &'static str {
        "stat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let t = parse(&self.path, &read(&self.path)?)?;
        out.single(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            Gauge,
            t.btime,
        );
        out.single(
            "node_context_switches_total",
            "Total number of context switches.",
            Counter,
            t.ctxt,
        );
        out.single(
            "node_forks_total",
            "Total number of forks.",
            Counter,
            t.processes,
        );
        out.single(
            "node_intr_total",
            "Total number of interrupts serviced.",
            Counter,
            t.intr,
        );
        out.single(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            Gauge,
            t.procs_blocked,
        );
        out.single(
            "node_procs_running",
            "Number of processes in runnable state.",
            Gauge,
            t.procs_running,
        );
        if self.softirq && !t.softirq.is_empty() {
            let name = "node_softirqs_total";
            out.family(name, "Number of softirq calls.", Counter);
            for (vector, v) in SOFTIRQ_VECTORS.iter().zip(&t.softirq) {
                out.sample(name, &[("vector", vector)], *v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "cpu  100 0 50 1000 5 0 1 2 0 0\n\
cpu0 100 0 50 1000 5 0 1 2 0 0\n\
intr 416216 0 9 0 0\n\
ctxt 1034293\n\
btime 1795903567\n\
processes 17215\n\
procs_running 3\n\
procs_blocked 1\n\
softirq 1 2 3\n";

    #[test]
    fn parses_totals() {
        let t = parse(Path::new("stat"), STAT).unwrap();
        assert_eq!(
            t,
            Totals {
                btime: 1795903567.0,
                ctxt: 1034293.0,
                processes: 17215.0,
                intr: 416216.0,
                procs_running: 3.0,
                procs_blocked: 1.0,
                softirq: vec![2.0, 3.0],
            }
        );
    }

    #[test]
    fn softirq_vectors_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let paths = crate::collector::testutil::fake_paths(
            d.path(),
            &[("proc/stat", "btime 1\nsoftirq 30 1 2 3 4 5 6 7 8 9 10\n")],
        );
        let s = Settings {
            paths,
            ..Settings::default()
        };
        let t = crate::collector::testutil::render(&Stat::new(&s));
        assert!(!t.contains("node_softirqs_total"), "{t}");
        let s = Settings {
            stat_softirq: true,
            ..s
        };
        let t = crate::collector::testutil::render(&Stat::new(&s));
        assert!(t.contains("node_softirqs_total{vector=\"hi\"} 1\n"), "{t}");
        assert!(
            t.contains("node_softirqs_total{vector=\"rcu\"} 10\n"),
            "{t}"
        );
    }

    #[test]
    fn missing_btime_is_an_error() {
        assert!(parse(Path::new("stat"), "ctxt 1\n").is_err());
    }
}

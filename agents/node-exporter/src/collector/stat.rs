//! Boot time, context switches, forks, interrupts and process states from /proc/stat.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::path::{Path, PathBuf};

pub struct Stat {
    path: PathBuf,
}

#[derive(Debug, Default, PartialEq)]
pub struct Totals {
    pub btime: f64,
    pub ctxt: f64,
    pub processes: f64,
    pub intr: f64,
    pub procs_running: f64,
    pub procs_blocked: f64,
}

pub fn parse(path: &Path, text: &str) -> Result<Totals, CollectError> {
    let mut t = Totals::default();
    let mut seen_btime = false;
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(first)) = (parts.next(), parts.next()) else {
            continue;
        };
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
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("stat"),
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
                procs_blocked: 1.0
            }
        );
    }

    #[test]
    fn missing_btime_is_an_error() {
        assert!(parse(Path::new("stat"), "ctxt 1\n").is_err());
    }
}

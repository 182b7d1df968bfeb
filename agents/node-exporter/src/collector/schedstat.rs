//! `node_schedstat_{running,waiting}_seconds_total{cpu}` and
//! `node_schedstat_timeslices_total{cpu}` from /proc/schedstat.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

/// Per CPU: (cpu number, running ns, waiting ns, timeslices).
type CpuRow = (String, u64, u64, u64);

/// A family: name, help, and its value from a CPU's row.
type Family = (&'static str, &'static str, fn(&CpuRow) -> f64);

pub fn parse(path: &Path, text: &str) -> Result<Vec<CpuRow>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(cpu) = f.first().and_then(|c| c.strip_prefix("cpu")) else {
            continue;
        };
        // cpuN then 9 fields; the last three are running, waiting, slices.
        if f.len() < 10 {
            return Err(CollectError::parse(
                path,
                format!("cpu{cpu}: {} fields", f.len()),
            ));
        }
        out.push((
            cpu.to_string(),
            num(path, f[7])?,
            num(path, f[8])?,
            num(path, f[9])?,
        ));
    }
    Ok(out)
}

pub struct Schedstat {
    path: PathBuf,
}

impl Schedstat {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("schedstat"),
        }
    }
}

impl Collector for Schedstat {
    fn name(&self) -> &'static str {
        "schedstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let cpus = parse(&self.path, &read(&self.path)?)?;
        let families: [Family; 3] = [
            (
                "node_schedstat_running_seconds_total",
                "Number of seconds CPU spent running a process.",
                |c| c.1 as f64 / 1e9,
            ),
            (
                "node_schedstat_waiting_seconds_total",
                "Number of seconds spent by processing waiting for this CPU.",
                |c| c.2 as f64 / 1e9,
            ),
            (
                "node_schedstat_timeslices_total",
                "Number of timeslices executed by CPU.",
                |c| c.3 as f64,
            ),
        ];
        for (name, help, value) in families {
            out.family(name, help, Counter);
            for c in &cpus {
                out.sample(name, &[("cpu", &c.0)], value(c));
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
    fn seconds_and_timeslices_per_cpu() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/schedstat",
                "version 15\ntimestamp 15819019232\n\
                 cpu0 498494191 0 3533438552 2553969831 3853684107 2465731542 2045936778163039 343796328169361 4767485306\n\
                 domain0 00000000,00000003 212499247 210112015 1861015\n",
            )],
        );
        let t = render(&Schedstat::new(&p));
        assert!(
            t.contains("node_schedstat_running_seconds_total{cpu=\"0\"} 2.045936778163039e+06\n"),
            "{t}"
        );
        assert!(
            t.contains("node_schedstat_waiting_seconds_total{cpu=\"0\"} 343796.328169361\n"),
            "{t}"
        );
        assert!(
            t.contains("node_schedstat_timeslices_total{cpu=\"0\"} 4.767485306e+09\n"),
            "{t}"
        );
        assert!(!t.contains("domain"), "{t}");
    }

    #[test]
    fn short_cpu_line_is_an_error_and_missing_file_no_data() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/schedstat", "cpu0 1 2 3\n")]);
        let mut out = Exposition::default();
        assert!(Schedstat::new(&p).collect(&mut out).is_err());
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        assert!(Schedstat::new(&p)
            .collect(&mut out)
            .unwrap_err()
            .is_no_data());
    }
}

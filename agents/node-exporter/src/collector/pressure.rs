//! Pressure stall information (PSI) from /proc/pressure/{cpu,io,memory}:
//! the `total=` microsecond counters as seconds, as node_exporter 1.5.

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

/// The `total=` of the `some` and `full` lines, in seconds.
pub fn parse(path: &Path, text: &str) -> Result<(f64, Option<f64>), CollectError> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let slot = match f.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            _ => continue,
        };
        let total = f
            .find_map(|kv| kv.strip_prefix("total="))
            .ok_or_else(|| CollectError::parse(path, "no total="))?;
        let us: u64 = total
            .parse()
            .map_err(|_| CollectError::parse(path, format!("total={total}")))?;
        // Two divisions, as upstream: the last bit of the float shows.
        *slot = Some(us as f64 / 1000.0 / 1000.0);
    }
    Ok((
        some.ok_or_else(|| CollectError::parse(path, "no some line"))?,
        full,
    ))
}

pub struct Pressure {
    dir: PathBuf,
}

impl Pressure {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.proc("pressure"),
        }
    }

    fn read(&self, res: &str) -> Result<(f64, Option<f64>), CollectError> {
        let p = self.dir.join(res);
        match read(&p) {
            Ok(t) => parse(&p, &t),
            Err(e) if e.is_no_data() => Err(CollectError::NoData(
                "pressure information is unavailable, you need a Linux kernel >= 4.20 and/or CONFIG_PSI enabled".into(),
            )),
            Err(e) => Err(e),
        }
    }
}

impl Collector for Pressure {
    fn name(&self) -> &'static str {
        "pressure"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let (cpu, _) = self.read("cpu")?;
        let (io_some, io_full) = self.read("io")?;
        let (mem_some, mem_full) = self.read("memory")?;
        out.single(
            "node_pressure_cpu_waiting_seconds_total",
            "Total time in seconds that processes have waited for CPU time",
            Counter,
            cpu,
        );
        out.single(
            "node_pressure_io_stalled_seconds_total",
            "Total time in seconds no process could make progress due to IO congestion",
            Counter,
            io_full.unwrap_or(0.0),
        );
        out.single(
            "node_pressure_io_waiting_seconds_total",
            "Total time in seconds that processes have waited due to IO congestion",
            Counter,
            io_some,
        );
        out.single(
            "node_pressure_memory_stalled_seconds_total",
            "Total time in seconds no process could make progress due to memory congestion",
            Counter,
            mem_full.unwrap_or(0.0),
        );
        out.single(
            "node_pressure_memory_waiting_seconds_total",
            "Total time in seconds that processes have waited for memory",
            Counter,
            mem_some,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn totals_in_seconds() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/pressure/cpu", "some avg10=1.60 avg60=4.04 avg300=6.19 total=40899312\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
                ("proc/pressure/io", "some avg10=0 avg60=0 avg300=0 total=3952998\nfull avg10=0 avg60=0 avg300=0 total=2708084\n"),
                ("proc/pressure/memory", "some avg10=0 avg60=0 avg300=0 total=5\nfull avg10=0 avg60=0 avg300=0 total=1\n"),
            ],
        );
        let t = render(&Pressure::new(&p));
        assert!(
            t.contains("node_pressure_cpu_waiting_seconds_total 40.899311999999995\n"),
            "{t}"
        );
        assert!(
            t.contains("node_pressure_io_stalled_seconds_total 2.708084\n"),
            "{t}"
        );
        assert!(
            t.contains("node_pressure_io_waiting_seconds_total 3.952998\n"),
            "{t}"
        );
        assert!(
            t.contains("node_pressure_memory_stalled_seconds_total 1e-06\n"),
            "{t}"
        );
    }

    #[test]
    fn missing_psi_is_no_data() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let err = Pressure::new(&p)
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(err.is_no_data(), "{err}");
    }
}

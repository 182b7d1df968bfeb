//! `node_load{1,5,15}` from /proc/loadavg.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Loadavg {
    path: PathBuf,
}

impl Loadavg {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("loadavg"),
        }
    }
}

impl Collector for Loadavg {
    fn name(&self) -> &'static str {
        "loadavg"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = read(&self.path)?;
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() < 3 {
            return Err(CollectError::parse(&self.path, "fewer than 3 fields"));
        }
        let (l1, l5, l15): (f64, f64, f64) = (
            num(&self.path, f[0])?,
            num(&self.path, f[1])?,
            num(&self.path, f[2])?,
        );
        out.single("node_load1", "1m load average.", Gauge, l1);
        out.single("node_load5", "5m load average.", Gauge, l5);
        out.single("node_load15", "15m load average.", Gauge, l15);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn parses_loadavg() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/loadavg", "0.79 0.90 0.43 3/200 1234\n")]);
        let t = render(&Loadavg::new(&p));
        assert!(
            t.contains("# TYPE node_load1 gauge\nnode_load1 0.79\n"),
            "{t}"
        );
        assert!(t.contains("node_load5 0.9\n"));
        assert!(t.contains("node_load15 0.43\n"));
    }

    #[test]
    fn garbage_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/loadavg", "x y z\n")]);
        let mut out = Exposition::default();
        assert!(Loadavg::new(&p).collect(&mut out).is_err());
    }
}

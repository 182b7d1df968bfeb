//! `node_filefd_{allocated,maximum}` from /proc/sys/fs/file-nr.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Filefd {
    path: PathBuf,
}

impl Filefd {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("sys/fs/file-nr"),
        }
    }
}

impl Collector for Filefd {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = read(&self.path)?;
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 3 {
            return Err(CollectError::parse(&self.path, "expected 3 fields"));
        }
        let allocated: f64 = num(&self.path, f[0])?;
        let maximum: f64 = num(&self.path, f[2])?;
        out.single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            Gauge,
            allocated,
        );
        out.single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            Gauge,
            maximum,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn allocated_and_maximum() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/sys/fs/file-nr", "987\t0\t2466165\n")]);
        let t = render(&Filefd::new(&p));
        assert!(t.contains("node_filefd_allocated 987\n"), "{t}");
        assert!(t.contains("node_filefd_maximum 2.466165e+06\n"), "{t}");
    }
}

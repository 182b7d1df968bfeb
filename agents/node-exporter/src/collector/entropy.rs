//! `node_entropy_available_bits` and `node_entropy_pool_size_bits`.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Entropy {
    avail: PathBuf,
    pool: PathBuf,
}

impl Entropy {
    pub fn new(paths: &Paths) -> Self {
        Self {
            avail: paths.proc("sys/kernel/random/entropy_avail"),
            pool: paths.proc("sys/kernel/random/poolsize"),
        }
    }
}

impl Collector for Entropy {
    fn name(&self) -> &'static str {
        "entropy"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let avail: f64 = num(&self.avail, &read(&self.avail)?)?;
        let pool: f64 = num(&self.pool, &read(&self.pool)?)?;
        out.single(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            Gauge,
            avail,
        );
        out.single(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            Gauge,
            pool,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn reads_both_files() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/sys/kernel/random/entropy_avail", "256\n"),
                ("proc/sys/kernel/random/poolsize", "4096\n"),
            ],
        );
        let t = render(&Entropy::new(&p));
        assert!(t.contains("node_entropy_available_bits 256\n"), "{t}");
        assert!(t.contains("node_entropy_pool_size_bits 4096\n"), "{t}");
    }
}

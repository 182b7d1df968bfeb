//! `node_ksmd_*` from /sys/kernel/mm/ksm: kernel same-page merging state and
//! counters (off by default, as upstream).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::path::PathBuf;

/// The files upstream reads, in its order.
const FILES: [&str; 9] = [
    "full_scans",
    "merge_across_nodes",
    "pages_shared",
    "pages_sharing",
    "pages_to_scan",
    "pages_unshared",
    "pages_volatile",
    "run",
    "sleep_millisecs",
];

pub struct Ksmd {
    dir: PathBuf,
}

impl Ksmd {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("kernel/mm/ksm"),
        }
    }
}

impl Collector for Ksmd {
    fn name(&self) -> &'static str {
        "ksmd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut vals = Vec::with_capacity(FILES.len());
        for f in FILES {
            let p = self.dir.join(f);
            vals.push((f, num::<f64>(&p, &read(&p)?)?));
        }
        for (f, v) in vals {
            let help = format!("ksmd '{f}' file.");
            match f {
                "full_scans" => out.single("node_ksmd_full_scans_total", &help, Counter, v),
                "sleep_millisecs" => {
                    out.single("node_ksmd_sleep_seconds", &help, Gauge, v / 1000.0)
                }
                _ => out.single(&format!("node_ksmd_{f}"), &help, Gauge, v),
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
    fn every_file_with_upstream_names() {
        let d = tempfile::tempdir().unwrap();
        let files: Vec<(String, &str)> = FILES
            .iter()
            .map(|f| {
                let v = match *f {
                    "full_scans" => "323\n",
                    "sleep_millisecs" => "20\n",
                    _ => "1\n",
                };
                (format!("sys/kernel/mm/ksm/{f}"), v)
            })
            .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let p = fake_paths(d.path(), &refs);
        let t = render(&Ksmd::new(&p));
        for want in [
            "# HELP node_ksmd_full_scans_total ksmd 'full_scans' file.\n# TYPE node_ksmd_full_scans_total counter\nnode_ksmd_full_scans_total 323\n",
            "# HELP node_ksmd_sleep_seconds ksmd 'sleep_millisecs' file.\n# TYPE node_ksmd_sleep_seconds gauge\nnode_ksmd_sleep_seconds 0.02\n",
            "node_ksmd_run 1\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }

    #[test]
    fn missing_ksm_is_no_data() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let mut out = Exposition::default();
        assert!(Ksmd::new(&p).collect(&mut out).unwrap_err().is_no_data());
    }
}

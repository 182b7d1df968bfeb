//! `node_edac_{correctable,uncorrectable}_errors_total{controller}` and the
//! per-csrow counts (`csrow="unknown"` for the noinfo counters) from
//! /sys/devices/system/edac/mc.

use super::{num, numbered_entries, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};

pub struct Edac {
    dir: PathBuf,
}

impl Edac {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("devices/system/edac/mc"),
        }
    }
}

fn count(p: &Path) -> Result<f64, CollectError> {
    num(p, &read(p)?)
}

impl Collector for Edac {
    fn name(&self) -> &'static str {
        "edac"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // (controller, csrow or None, correctable, uncorrectable)
        let mut rows: Vec<(String, Option<String>, f64, f64)> = Vec::new();
        // No EDAC driver: nothing to report, not a failure (upstream globs).
        let controllers = match numbered_entries(&self.dir, "mc") {
            Err(e) if e.is_no_data() => return Ok(()),
            r => r?,
        };
        for (mc, p) in controllers {
            rows.push((
                mc.clone(),
                None,
                count(&p.join("ce_count"))?,
                count(&p.join("ue_count"))?,
            ));
            rows.push((
                mc.clone(),
                Some("unknown".into()),
                count(&p.join("ce_noinfo_count"))?,
                count(&p.join("ue_noinfo_count"))?,
            ));
            for (row, rp) in numbered_entries(&p, "csrow")? {
                rows.push((
                    mc.clone(),
                    Some(row),
                    count(&rp.join("ce_count"))?,
                    count(&rp.join("ue_count"))?,
                ));
            }
        }
        let families: [(&str, &str, bool, bool); 4] = [
            (
                "node_edac_correctable_errors_total",
                "Total correctable memory errors.",
                false,
                true,
            ),
            (
                "node_edac_uncorrectable_errors_total",
                "Total uncorrectable memory errors.",
                false,
                false,
            ),
            (
                "node_edac_csrow_correctable_errors_total",
                "Total correctable memory errors for this csrow.",
                true,
                true,
            ),
            (
                "node_edac_csrow_uncorrectable_errors_total",
                "Total uncorrectable memory errors for this csrow.",
                true,
                false,
            ),
        ];
        if rows.is_empty() {
            return Ok(());
        }
        for (name, help, per_row, correctable) in families {
            out.family(name, help, Counter);
            for (mc, row, ce, ue) in &rows {
                let v = if correctable { *ce } else { *ue };
                match (per_row, row) {
                    (false, None) => out.sample(name, &[("controller", mc)], v),
                    (true, Some(r)) => out.sample(name, &[("controller", mc), ("csrow", r)], v),
                    _ => {}
                }
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
    fn controller_and_csrow_counts() {
        let d = tempfile::tempdir().unwrap();
        let mc = "sys/devices/system/edac/mc/mc0";
        let files = [
            (format!("{mc}/ce_count"), "1\n"),
            (format!("{mc}/ue_count"), "5\n"),
            (format!("{mc}/ce_noinfo_count"), "2\n"),
            (format!("{mc}/ue_noinfo_count"), "6\n"),
            (format!("{mc}/csrow0/ce_count"), "3\n"),
            (format!("{mc}/csrow0/ue_count"), "4\n"),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let p = fake_paths(d.path(), &files);
        let t = render(&Edac::new(&p));
        for want in [
            "node_edac_correctable_errors_total{controller=\"0\"} 1\n",
            "node_edac_uncorrectable_errors_total{controller=\"0\"} 5\n",
            "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"0\"} 3\n",
            "node_edac_csrow_correctable_errors_total{controller=\"0\",csrow=\"unknown\"} 2\n",
            "node_edac_csrow_uncorrectable_errors_total{controller=\"0\",csrow=\"unknown\"} 6\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }
}

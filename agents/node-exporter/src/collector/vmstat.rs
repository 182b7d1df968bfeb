//! `node_vmstat_<field>` for the /proc/vmstat fields matching
//! `--collector.vmstat.fields`. Untyped, as upstream exports them.

use super::{num, read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{is_valid_metric_name, Exposition, MetricType::Untyped};
use std::path::PathBuf;

pub struct Vmstat {
    path: PathBuf,
    fields: FieldFilter,
}

impl Vmstat {
    pub fn new(s: &Settings) -> Self {
        Self {
            path: s.paths.proc("vmstat"),
            fields: FieldFilter::new(s.vmstat_fields.clone()),
        }
    }
}

impl Collector for Vmstat {
    fn name(&self) -> &'static str {
        "vmstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = read(&self.path)?;
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(80);
        for line in text.lines() {
            let Some((key, value)) = line.split_once(' ') else {
                continue;
            };
            if !self.fields.is_match(key) {
                continue;
            }
            let v: f64 = num(&self.path, value)?;
            name.clear();
            name.push_str("node_vmstat_");
            name.push_str(key);
            if !is_valid_metric_name(&name) {
                continue;
            }
            help.clear();
            help.push_str("/proc/vmstat information field ");
            help.push_str(key);
            help.push('.');
            out.family(&name, &help, Untyped);
            out.sample(&name, &[], v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn default_fields() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[("proc/vmstat", "nr_free_pages 1\npgpgin 1.907005e+06\npswpout 0\npgfault 1.5432617e+07\npgmajfault 1396\noom_kill 0\npgfree 9\n")],
        );
        let s = Settings {
            paths: p,
            ..Settings::default()
        };
        let t = render(&Vmstat::new(&s));
        assert!(t.contains("# HELP node_vmstat_pgpgin /proc/vmstat information field pgpgin.\n# TYPE node_vmstat_pgpgin untyped\nnode_vmstat_pgpgin 1.907005e+06\n"), "{t}");
        for f in ["pswpout", "pgfault", "pgmajfault", "oom_kill"] {
            assert!(t.contains(&format!("node_vmstat_{f} ")), "{f}");
        }
        assert!(!t.contains("nr_free_pages") && !t.contains("pgfree"), "{t}");
    }
}

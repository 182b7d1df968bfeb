//! `node_sysctl_*` for the sysctls named by `--collector.sysctl.include`
//! (numbers) and `--collector.sysctl.include-info` (strings, as
//! `node_sysctl_info{index,name,value}`), read from `<procfs>/sys` (off by
//! default, as upstream). `name:a,b,c` gives each value of a multi-value
//! sysctl its own metric; without field names they get an `index` label.

use super::{num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Gauge, Untyped},
};
use std::path::PathBuf;

pub struct Sysctl {
    root: PathBuf,
    /// (sysctl name, field names)
    numeric: Vec<(String, Vec<String>)>,
    info: Vec<String>,
}

impl Sysctl {
    pub fn new(s: &super::Settings) -> Self {
        let numeric = s
            .sysctl_include
            .iter()
            .map(|spec| match spec.split_once(':') {
                Some((name, fields)) => (
                    name.to_string(),
                    fields.split(',').map(String::from).collect(),
                ),
                None => (spec.clone(), Vec::new()),
            })
            .collect();
        Self::with(&s.paths, numeric, s.sysctl_include_info.clone())
    }

    fn with(paths: &Paths, numeric: Vec<(String, Vec<String>)>, info: Vec<String>) -> Self {
        Self {
            root: paths.proc("sys"),
            numeric,
            info,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.join(name.replace('.', "/"))
    }
}

fn metric_name(sysctl: &str) -> String {
    format!("node_sysctl_{}", sysctl.replace(['.', '-'], "_"))
}

impl Collector for Sysctl {
    fn name(&self) -> &'static str {
        "sysctl"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut fam = Families::default();
        for (name, fields) in &self.numeric {
            let path = self.path(name);
            let text = read(&path)?;
            let values = text
                .split_whitespace()
                .map(|v| num::<f64>(&path, v))
                .collect::<Result<Vec<_>, _>>()?;
            let metric = metric_name(name);
            if !fields.is_empty() {
                if fields.len() != values.len() {
                    return Err(CollectError::parse(
                        &path,
                        format!("{} values for {} field names", values.len(), fields.len()),
                    ));
                }
                for (i, (field, v)) in fields.iter().zip(&values).enumerate() {
                    fam.add(
                        format!("{metric}_{field}"),
                        format!("sysctl {name}, field {i}"),
                        Untyped,
                        Vec::new(),
                        *v,
                    );
                }
            } else if values.len() == 1 {
                fam.add(
                    metric,
                    format!("sysctl {name}"),
                    Untyped,
                    Vec::new(),
                    values[0],
                );
            } else {
                for (i, v) in values.iter().enumerate() {
                    fam.add(
                        metric.clone(),
                        format!("sysctl {name}"),
                        Untyped,
                        vec![("index", i.to_string())],
                        *v,
                    );
                }
            }
        }
        for name in &self.info {
            let text = read(&self.path(name))?;
            for (i, v) in text.split_whitespace().enumerate() {
                fam.add(
                    "node_sysctl_info".into(),
                    "sysctl info",
                    Gauge,
                    vec![
                        ("index", i.to_string()),
                        ("name", name.clone()),
                        ("value", v.to_string()),
                    ],
                    1.0,
                );
            }
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn numbers_fields_indexes_and_info() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/sys/kernel/threads-max", "7801\n"),
                ("proc/sys/fs/file-nr", "1024\t0\t1631329\n"),
                (
                    "proc/sys/kernel/seccomp/actions_avail",
                    "kill_process trap\n",
                ),
            ],
        );
        let c = Sysctl::with(
            &p,
            vec![
                ("kernel.threads-max".into(), vec![]),
                ("fs.file-nr".into(), vec![]),
                (
                    "fs.file-nr".into(),
                    vec!["total".into(), "current".into(), "max".into()],
                ),
            ],
            vec!["kernel.seccomp.actions_avail".into()],
        );
        let t = render(&c);
        for want in [
            "# HELP node_sysctl_kernel_threads_max sysctl kernel.threads-max\n# TYPE node_sysctl_kernel_threads_max untyped\nnode_sysctl_kernel_threads_max 7801\n",
            "node_sysctl_fs_file_nr{index=\"2\"} 1.631329e+06\n",
            "# HELP node_sysctl_fs_file_nr_current sysctl fs.file-nr, field 1\n",
            "node_sysctl_fs_file_nr_total 1024\n",
            "node_sysctl_info{index=\"1\",name=\"kernel.seccomp.actions_avail\",value=\"trap\"} 1\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        let bad = Sysctl::with(&p, vec![("fs.file-nr".into(), vec!["a".into()])], vec![]);
        assert!(bad.collect(&mut Exposition::default()).is_err());
    }
}

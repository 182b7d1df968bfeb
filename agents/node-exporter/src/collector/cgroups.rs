//! `node_cgroups_{cgroups,enabled}{subsys_name}` from /proc/cgroups: the
//! number of cgroups per controller and whether it is enabled (off by
//! default, as upstream; both HELP texts are upstream's).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

/// (controller, number of cgroups, enabled)
pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, f64, f64)>, CollectError> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 4 {
            return Err(CollectError::parse(
                path,
                format!("expected 4 fields: {line:?}"),
            ));
        }
        out.push((f[0].to_string(), num(path, f[2])?, num(path, f[3])?));
    }
    Ok(out)
}

pub struct Cgroups {
    path: PathBuf,
}

impl Cgroups {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("cgroups"),
        }
    }
}

impl Collector for Cgroups {
    fn name(&self) -> &'static str {
        "cgroups"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let subsystems = parse(&self.path, &read(&self.path)?)?;
        let help = "Current cgroup number of the subsystem.";
        for (name, pick) in [("node_cgroups_cgroups", 0), ("node_cgroups_enabled", 1)] {
            out.family(name, help, Gauge);
            for (subsys, n, enabled) in &subsystems {
                let v = if pick == 0 { *n } else { *enabled };
                out.sample(name, &[("subsys_name", subsys)], v);
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
    fn cgroups_and_enabled_per_controller() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/cgroups",
                "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t5\t47\t1\nrdma\t4\t1\t0\n",
            )],
        );
        let t = render(&Cgroups::new(&p));
        for want in [
            "node_cgroups_cgroups{subsys_name=\"cpuset\"} 47\n",
            "node_cgroups_enabled{subsys_name=\"rdma\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(parse(Path::new("c"), "cpu 1 2\n").is_err());
    }
}

//! `node_selinux_enabled`, and when SELinux is on, its configured and current
//! enforcement modes (1 enforcing, 0 permissive, -1 disabled).

use super::{CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct Selinux {
    enforce: PathBuf,
    config: PathBuf,
}

impl Selinux {
    pub fn new(paths: &Paths) -> Self {
        Self {
            enforce: paths.sys("fs/selinux/enforce"),
            config: paths.root("etc/selinux/config"),
        }
    }
}

fn config_mode(text: &str) -> f64 {
    let mode = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("SELINUX="))
        .map(|v| v.trim().trim_matches('"'));
    match mode {
        Some("enforcing") => 1.0,
        Some("permissive") => 0.0,
        _ => -1.0,
    }
}

impl Collector for Selinux {
    fn name(&self) -> &'static str {
        "selinux"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // selinuxfs exposes `enforce` only when SELinux is enabled.
        let Ok(enforce) = super::read_file(&self.enforce) else {
            out.single(
                "node_selinux_enabled",
                "SELinux is enabled, 1 is true, 0 is false",
                Gauge,
                0.0,
            );
            return Ok(());
        };
        let current = if enforce.trim() == "1" { 1.0 } else { 0.0 };
        let config = super::read_file(&self.config)
            .map(|t| config_mode(&t))
            .unwrap_or(-1.0);
        out.single(
            "node_selinux_config_mode",
            "Configured SELinux enforcement mode",
            Gauge,
            config,
        );
        out.single(
            "node_selinux_current_mode",
            "Current SELinux enforcement mode",
            Gauge,
            current,
        );
        out.single(
            "node_selinux_enabled",
            "SELinux is enabled, 1 is true, 0 is false",
            Gauge,
            1.0,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn disabled_without_selinuxfs() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&Selinux::new(&fake_paths(d.path(), &[])));
        assert_eq!(t.lines().last(), Some("node_selinux_enabled 0"));
        assert!(!t.contains("mode"));
    }

    #[test]
    fn modes_when_enabled() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/fs/selinux/enforce", "0\n"),
                (
                    "root/etc/selinux/config",
                    "# x\nSELINUX=enforcing\nSELINUXTYPE=targeted\n",
                ),
            ],
        );
        let t = render(&Selinux::new(&p));
        assert!(t.contains("node_selinux_config_mode 1\n"), "{t}");
        assert!(t.contains("node_selinux_current_mode 0\n"), "{t}");
        assert!(t.contains("node_selinux_enabled 1\n"), "{t}");
    }
}

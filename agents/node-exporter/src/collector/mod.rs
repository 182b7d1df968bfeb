//! Collectors, one per file, each named and shaped exactly like its
//! node_exporter counterpart (names, types, labels, HELP).
//!
//! A collector reads its /proc or /sys files and writes families straight into
//! the scrape's [`Exposition`]. It returns an error instead of partial data;
//! the scraper then drops what it wrote and reports
//! `node_scrape_collector_success{collector}=0` while the others still answer.

pub mod arp;
pub mod bcache;
pub mod bonding;
pub mod btrfs;
mod btrfs_ioctl;
pub mod buddyinfo;
pub mod cgroups;
pub mod conntrack;
pub mod cpu;
mod cpu_sysfs;
pub mod cpufreq;
pub mod cpuinfo;
pub mod diskstats;
pub mod dmi;
pub mod drbd;
pub mod edac;
pub mod entropy;
pub mod fibrechannel;
pub mod filefd;
pub mod filesystem;
pub mod hwmon;
pub mod infiniband;
pub mod interrupts;
pub mod ipvs;
pub mod ksmd;
pub mod lnstat;
pub mod loadavg;
pub mod mdadm;
pub mod meminfo;
pub mod meminfo_numa;
pub mod mountstats;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod nfs;
mod nfs_rpc;
pub mod nfsd;
pub mod nvme;
pub mod os;
pub mod powersupplyclass;
pub mod pressure;
pub mod processes;
pub mod qdisc;
pub mod rapl;
pub mod schedstat;
pub mod selinux;
pub mod slabinfo;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod sysctl;
pub mod systemd;
pub mod tapestats;
pub mod textfile;
pub mod thermal_zone;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;
pub mod wifi;
pub mod xfs;
pub mod zfs;
pub mod zoneinfo;

mod families;
mod held_files;
mod procfs;
mod settings;
mod table;

pub use families::Families;
pub use procfs::{attr, attr_num, entries, num, numbered_entries, read, read_file, SysfsDir};
pub use settings::{defaults, FieldFilter, Paths, Settings};
pub use table::{build, spec, Spec, ALL, NOT_IMPLEMENTED};

use crate::exposition::Exposition;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The kernel does not offer this data here (e.g. no PSI, no conntrack).
    /// node_exporter reports these with success=0 too, but logs them quietly.
    #[error("no data: {0}")]
    NoData(String),
}

impl CollectError {
    pub fn parse(path: &Path, reason: impl Into<String>) -> Self {
        CollectError::Parse {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub fn is_no_data(&self) -> bool {
        match self {
            CollectError::NoData(_) => true,
            CollectError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            CollectError::Parse { .. } => false,
        }
    }
}

pub trait Collector: Send + Sync {
    fn name(&self) -> &'static str;
    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError>;
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::Paths;
    use std::path::Path;

    /// A fake root with `proc/` and `sys/` filled from (relative path, text) pairs.
    pub fn fake_paths(dir: &Path, files: &[(&str, &str)]) -> Paths {
        for (rel, text) in files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Paths {
            procfs: dir.join("proc"),
            sysfs: dir.join("sys"),
            rootfs: dir.join("root"),
            udev_data: dir.join("udev"),
        }
    }

    /// Run a collector and return its exposition text.
    pub fn render(c: &dyn super::Collector) -> String {
        let mut out = crate::exposition::Exposition::default();
        c.collect(&mut out).unwrap();
        out.into_string()
    }
}

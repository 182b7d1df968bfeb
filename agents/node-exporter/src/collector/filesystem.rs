//! `node_filesystem_*{device,fstype,mountpoint}` from the mount table and
//! statfs(2), with node_exporter's excludes and a per-mount time bound (see
//! [`crate::statfs`]): a mount that does not answer is reported with
//! `node_filesystem_device_error=1` and the scrape goes on.

use super::{read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{Exposition, MetricType::Gauge};
use crate::statfs::{FsStats, ProbeError, Prober};
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub readonly: bool,
}

/// Undo the kernel's octal escapes in /proc/mounts (`\040` is a space).
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Only \000-\377 name a byte; anything else is kept as written
        // (and cannot overflow the arithmetic).
        if b[i] == b'\\'
            && i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && b[i + 2..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a mounts file, keeping the mounts the excludes let through, once
/// per (device, mountpoint, fstype).
pub fn parse_mounts(
    text: &str,
    mount_exclude: &FieldFilter,
    fs_exclude: &FieldFilter,
) -> Vec<Mount> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let m = Mount {
            device: unescape(f[0]),
            mountpoint: unescape(f[1]),
            fstype: f[2].to_string(),
            readonly: f[3].split(',').any(|o| o == "ro"),
        };
        if mount_exclude.is_match(&m.mountpoint) || fs_exclude.is_match(&m.fstype) {
            continue;
        }
        let key = (m.device.clone(), m.mountpoint.clone(), m.fstype.clone());
        if seen.insert(key) {
            out.push(m);
        }
    }
    out
}

pub struct Filesystem {
    proc_1_mounts: PathBuf,
    proc_mounts: PathBuf,
    rootfs: PathBuf,
    mount_exclude: FieldFilter,
    fs_exclude: FieldFilter,
    prober: Prober,
}

impl Filesystem {
    pub fn new(s: &Settings) -> Self {
        Self {
            proc_1_mounts: s.paths.proc("1/mounts"),
            proc_mounts: s.paths.proc("mounts"),
            rootfs: s.paths.rootfs.clone(),
            mount_exclude: FieldFilter::new(s.mount_points_exclude.clone()),
            fs_exclude: FieldFilter::new(s.fs_types_exclude.clone()),
            prober: Prober::new(s.statfs.clone(), s.mount_timeout),
        }
    }

    fn mounts(&self) -> Result<Vec<Mount>, CollectError> {
        // node_exporter prefers PID 1's view: the host's mounts even when the
        // exporter runs in its own mount namespace.
        let text = match read(&self.proc_1_mounts) {
            Ok(t) => t,
            Err(_) => read(&self.proc_mounts)?,
        };
        Ok(parse_mounts(&text, &self.mount_exclude, &self.fs_exclude))
    }
}

fn labels(m: &Mount) -> [(&str, &str); 3] {
    [
        ("device", &m.device),
        ("fstype", &m.fstype),
        ("mountpoint", &m.mountpoint),
    ]
}

impl Collector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mounts = self.mounts()?;
        let paths: Vec<PathBuf> = mounts
            .iter()
            .map(|m| self.rootfs.join(m.mountpoint.trim_start_matches('/')))
            .collect();
        let results = self.prober.stat_all(paths.iter().map(PathBuf::as_path));
        for (m, r) in mounts.iter().zip(&results) {
            if let Err(e) = r {
                match e {
                    ProbeError::StillStuck => {
                        tracing::debug!(mountpoint = %m.mountpoint, "{e}")
                    }
                    _ => tracing::warn!(mountpoint = %m.mountpoint, "statfs failed: {e}"),
                }
            }
        }
        let ok: Vec<(&Mount, &FsStats)> = mounts
            .iter()
            .zip(&results)
            .filter_map(|(m, r)| r.as_ref().ok().map(|s| (m, s)))
            .collect();

        let gauge = |out: &mut Exposition, name: &str, help: &str, f: &dyn Fn(&FsStats) -> f64| {
            out.family(name, help, Gauge);
            for (m, s) in &ok {
                out.sample(name, &labels(m), f(s));
            }
        };
        gauge(
            out,
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            &|s| s.bavail as f64 * s.bsize as f64,
        );
        let name = "node_filesystem_device_error";
        out.family(
            name,
            "Whether an error occurred while getting statistics for the given device.",
            Gauge,
        );
        for (m, r) in mounts.iter().zip(&results) {
            out.sample(name, &labels(m), if r.is_ok() { 0.0 } else { 1.0 });
        }
        gauge(
            out,
            "node_filesystem_files",
            "Filesystem total file nodes.",
            &|s| s.files as f64,
        );
        gauge(
            out,
            "node_filesystem_files_free",
            "Filesystem total free file nodes.",
            &|s| s.ffree as f64,
        );
        gauge(
            out,
            "node_filesystem_free_bytes",
            "Filesystem free space in bytes.",
            &|s| s.bfree as f64 * s.bsize as f64,
        );
        // Read-only comes from the mount options, so it is known even for a
        // mount that does not answer.
        let name = "node_filesystem_readonly";
        out.family(name, "Filesystem read-only status.", Gauge);
        for m in &mounts {
            out.sample(name, &labels(m), if m.readonly { 1.0 } else { 0.0 });
        }
        gauge(
            out,
            "node_filesystem_size_bytes",
            "Filesystem size in bytes.",
            &|s| s.blocks as f64 * s.bsize as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};
    use crate::collector::Paths;
    use crate::statfs::tests::HangingStatFs;
    use std::sync::Arc;
    use std::time::Duration;

    const MOUNTS: &str = "proc /proc proc rw,relatime 0 0\n\
sysfs /sys sysfs rw,relatime 0 0\n\
/dev/vda / ext4 rw,relatime,discard 0 0\n\
/dev/vda / ext4 rw,relatime,discard 0 0\n\
tmpfs /dev/shm tmpfs rw,relatime 0 0\n\
tools /mnt/my\\040tools tmpfs ro,nosuid 0 0\n\
nfs:/export /mnt/nfs nfs4 rw 0 0\n\
cgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n\
overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n";

    fn settings(p: Paths, statfs: Arc<dyn crate::statfs::StatFs>) -> Settings {
        Settings {
            paths: p,
            statfs,
            mount_timeout: Duration::from_millis(100),
            ..Settings::default()
        }
    }

    #[test]
    fn default_excludes_dedupe_and_unescape() {
        let s = Settings::default();
        let m = parse_mounts(
            MOUNTS,
            &FieldFilter::new(s.mount_points_exclude.clone()),
            &FieldFilter::new(s.fs_types_exclude.clone()),
        );
        let points: Vec<&str> = m.iter().map(|m| m.mountpoint.as_str()).collect();
        assert_eq!(points, vec!["/", "/mnt/my tools", "/mnt/nfs"]);
        assert!(m[1].readonly && !m[0].readonly);
    }

    #[test]
    fn stuck_mount_reports_device_error_and_the_rest_answers() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/1/mounts", MOUNTS)]);
        let stuck = p.rootfs.join("mnt/nfs");
        let fs = HangingStatFs::new(&stuck);
        let c = Filesystem::new(&settings(p, fs.clone()));
        for _ in 0..3 {
            let t = render(&c);
            assert!(t.contains("node_filesystem_device_error{device=\"nfs:/export\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 1\n"), "{t}");
            assert!(t.contains("node_filesystem_device_error{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 0\n"), "{t}");
            assert!(t.contains("node_filesystem_size_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 409600\n"), "{t}");
            assert!(t.contains("node_filesystem_avail_bytes{device=\"tools\",fstype=\"tmpfs\",mountpoint=\"/mnt/my tools\"} 163840\n"), "{t}");
            assert!(
                !t.contains("node_filesystem_size_bytes{device=\"nfs:/export\""),
                "{t}"
            );
            assert!(t.contains("node_filesystem_readonly{device=\"nfs:/export\",fstype=\"nfs4\",mountpoint=\"/mnt/nfs\"} 0\n"), "{t}");
        }
        assert_eq!(
            fs.calls_on_stuck.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the stuck mount is not called again while its call hangs"
        );
        fs.release();
    }

    #[test]
    fn falls_back_to_proc_mounts() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/mounts", "/dev/vda / ext4 ro 0 0\n")]);
        let c = Filesystem::new(&settings(p, HangingStatFs::new("/never")));
        let t = render(&c);
        assert!(t.contains("node_filesystem_readonly{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} 1\n"), "{t}");
    }
}

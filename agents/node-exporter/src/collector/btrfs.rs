//! `node_btrfs_*` from /sys/fs/btrfs/<uuid>: filesystem label
//! (`node_btrfs_info`), global reserve, space reserved / allocated / used per
//! block group type (data, metadata, system) and RAID profile with its
//! allocation ratio, and the size of each member device. Names, HELP and
//! values are node_exporter 1.5's (procfs' `btrfs.Stats`). For a filesystem
//! that is mounted, the members come from its ioctls instead (as upstream):
//! `node_btrfs_device_size_bytes` then carries `btrfs_dev_uuid` too, with
//! `node_btrfs_device_unused_bytes` and `node_btrfs_device_errors_total{type}`
//! beside it; where that fails (not mounted here, no permission), the sysfs
//! sizes are exported as before.

use super::btrfs_ioctl::{self, uuid_text};
use super::filesystem::parse_mounts;
use super::{read, CollectError, Collector, Families, FieldFilter, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Linux counts device sizes in 512-byte sectors whatever the block size.
const SECTOR: u64 = 512;

const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

/// The ioctl query of one mount point (a parameter so tests can stand in
/// for a mounted filesystem).
type Query = fn(&Path) -> std::io::Result<Option<btrfs_ioctl::Filesystem>>;

/// The order of the kernel's per-device error counters, as upstream names them.
const ERROR_TYPES: [&str; btrfs_ioctl::DEV_STAT_VALUES] =
    ["write", "read", "flush", "corruption", "generation"];

pub struct Btrfs {
    dir: PathBuf,
    mounts: [PathBuf; 2],
    rootfs: PathBuf,
    /// Matches nothing: every mount is listed, only btrfs ones are used.
    nothing: FieldFilter,
    query: Query,
}

impl Btrfs {
    pub fn new(paths: &Paths) -> Self {
        Self::with_query(paths, btrfs_ioctl::query)
    }

    fn with_query(paths: &Paths, query: Query) -> Self {
        Self {
            dir: paths.sys("fs/btrfs"),
            // PID 1's view first (the host's mounts), as upstream.
            mounts: [paths.proc("1/mounts"), paths.proc("mounts")],
            rootfs: paths.rootfs.clone(),
            nothing: FieldFilter::new(regex::Regex::new(r"[^\s\S]").unwrap()),
            query,
        }
    }

    /// Members of every mounted btrfs filesystem, by fsid (hex, no dashes).
    /// Failures are logged and leave the filesystem to sysfs, as upstream.
    fn mounted(&self) -> HashMap<String, btrfs_ioctl::Filesystem> {
        let mut found = HashMap::new();
        let Some(text) = self.mounts.iter().find_map(|p| read(p).ok()) else {
            return found;
        };
        let mut devices_done = std::collections::HashSet::new();
        for m in parse_mounts(&text, &self.nothing, &self.nothing) {
            if m.fstype != "btrfs" || devices_done.contains(&m.device) {
                continue;
            }
            let path = self.rootfs.join(m.mountpoint.trim_start_matches('/'));
            match (self.query)(&path) {
                Ok(Some(fs)) => {
                    devices_done.insert(m.device);
                    found.entry(uuid_text(&fs.fsid, false)).or_insert(fs);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(mountpoint = %path.display(), error = %e, "btrfs ioctl query failed")
                }
            }
        }
        found
    }
}

/// A text attribute; absent is empty, as upstream.
fn text(path: &Path) -> Result<String, CollectError> {
    match read(path) {
        Ok(s) => Ok(s.trim().to_string()),
        Err(e) if e.is_no_data() => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// A numeric attribute; absent is 0, as upstream.
fn number(path: &Path) -> Result<u64, CollectError> {
    let s = text(path)?;
    if s.is_empty() {
        return Ok(0);
    }
    s.parse()
        .map_err(|_| CollectError::parse(path, format!("not a number: {s:?}")))
}

/// The names in a folder, sorted; `dirs_only` keeps subfolders (layouts).
fn list(dir: &Path, dirs_only: bool) -> Result<Vec<String>, CollectError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CollectError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<String> = rd
        .filter_map(Result::ok)
        .filter(|e| !dirs_only || e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    Ok(v)
}

/// How many bytes of disk a byte of a profile takes, as upstream computes
/// it from the member count (0 for profiles it does not know, e.g. raid1c3).
fn ratio(layout: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match layout {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

fn filesystem(
    fam: &mut Families,
    name: &str,
    dir: &Path,
    mounted: &HashMap<String, btrfs_ioctl::Filesystem>,
) -> Result<(), CollectError> {
    let devices = list(&dir.join("devices"), false)?;
    let mut uuid = text(&dir.join("metadata_uuid"))?;
    if uuid.is_empty() {
        uuid = name.to_string();
    }
    let label = text(&dir.join("label"))?;
    let with_uuid = |mut l: Vec<(&'static str, String)>| {
        l.push(("uuid", uuid.clone()));
        l
    };
    fam.add(
        "node_btrfs_info".into(),
        "Filesystem information",
        Gauge,
        vec![("label", label), ("uuid", uuid.clone())],
        1.0,
    );
    let alloc = dir.join("allocation");
    fam.add(
        "node_btrfs_global_rsv_size_bytes".into(),
        "Size of global reserve.",
        Gauge,
        with_uuid(vec![]),
        number(&alloc.join("global_rsv_size"))? as f64,
    );
    for group in BLOCK_GROUP_TYPES {
        let gdir = alloc.join(group);
        fam.add(
            "node_btrfs_reserved_bytes".into(),
            "Amount of space reserved for a data type",
            Gauge,
            with_uuid(vec![("block_group_type", group.to_string())]),
            number(&gdir.join("bytes_reserved"))? as f64,
        );
        for layout in list(&gdir, true)? {
            let ldir = gdir.join(&layout);
            let labels = || {
                with_uuid(vec![
                    ("block_group_type", group.to_string()),
                    ("mode", layout.clone()),
                ])
            };
            for (suffix, help, v) in [
                (
                    "used_bytes",
                    "Amount of used space by a layout/data type",
                    number(&ldir.join("used_bytes"))? as f64,
                ),
                (
                    "size_bytes",
                    "Amount of space allocated for a layout/data type",
                    number(&ldir.join("total_bytes"))? as f64,
                ),
                (
                    "allocation_ratio",
                    "Data allocation ratio for a layout/data type",
                    ratio(&layout, devices.len()),
                ),
            ] {
                fam.add(format!("node_btrfs_{suffix}"), help, Gauge, labels(), v);
            }
        }
    }
    if let Some(fs) = mounted.get(&uuid.replace('-', "")) {
        ioctl_devices(fam, &uuid, fs);
        return Ok(());
    }
    for dev in &devices {
        let sectors = number(&dir.join("devices").join(dev).join("size"))?;
        fam.add(
            "node_btrfs_device_size_bytes".into(),
            "Size of a device that is part of the filesystem.",
            Gauge,
            vec![("device", dev.clone()), ("uuid", uuid.clone())],
            sectors.wrapping_mul(SECTOR) as f64,
        );
    }
    Ok(())
}

/// The members as the ioctls give them, labelled as upstream labels them.
fn ioctl_devices(fam: &mut Families, uuid: &str, fs: &btrfs_ioctl::Filesystem) {
    for d in &fs.devices {
        // `/dev/sda1` → `sda1`, the sysfs name the other branch uses.
        let device = d.path.rsplit('/').next().unwrap_or(&d.path).to_string();
        let dev_uuid = if d.uuid == [0; 16] {
            "<zero>".to_string() // what upstream's UUID type prints for it
        } else {
            uuid_text(&d.uuid, true)
        };
        let labels = |extra: Option<&str>| {
            let mut l = vec![
                ("btrfs_dev_uuid", dev_uuid.clone()),
                ("device", device.clone()),
            ];
            if let Some(t) = extra {
                l.push(("type", t.to_string()));
            }
            l.push(("uuid", uuid.to_string()));
            l
        };
        fam.add(
            "node_btrfs_device_size_bytes".into(),
            "Size of a device that is part of the filesystem.",
            Gauge,
            labels(None),
            d.total_bytes as f64,
        );
        fam.add(
            "node_btrfs_device_unused_bytes".into(),
            "Unused bytes unused on a device that is part of the filesystem.",
            Gauge,
            labels(None),
            d.total_bytes.wrapping_sub(d.bytes_used) as f64,
        );
        for (t, v) in ERROR_TYPES.iter().zip(d.errors) {
            fam.add(
                "node_btrfs_device_errors_total".into(),
                "Errors reported for the device",
                Counter,
                labels(Some(t)),
                v as f64,
            );
        }
    }
}

impl Collector for Btrfs {
    fn name(&self) -> &'static str {
        "btrfs"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // Upstream globs `fs/btrfs/*-*`: no btrfs module means no
        // filesystems, and success (`features/` there has no dash).
        let names = match list(&self.dir, false) {
            Ok(v) => v,
            Err(e) if e.is_no_data() => Vec::new(),
            Err(e) => return Err(e),
        };
        let names: Vec<&String> = names.iter().filter(|n| n.contains('-')).collect();
        let mounted = if names.is_empty() {
            HashMap::new()
        } else {
            self.mounted()
        };
        let mut fam = Families::default();
        for name in names {
            filesystem(&mut fam, name, &self.dir.join(name), &mounted)?;
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const FS: &str = "sys/fs/btrfs/7f07c59f-6136-449c-ab87-e1cf2328731b";

    fn files(extra: &[(&'static str, &'static str)]) -> Vec<(String, &'static str)> {
        let mut v: Vec<(String, &str)> = vec![
            (format!("{FS}/label"), "\n"),
            (format!("{FS}/allocation/global_rsv_size"), "16777216\n"),
            (format!("{FS}/allocation/data/bytes_reserved"), "0\n"),
            (
                format!("{FS}/allocation/data/raid5/total_bytes"),
                "644087808\n",
            ),
            (format!("{FS}/allocation/data/raid5/used_bytes"), "0\n"),
            (format!("{FS}/allocation/metadata/bytes_reserved"), "4096\n"),
            (
                format!("{FS}/allocation/metadata/raid6/total_bytes"),
                "429391872\n",
            ),
            (
                format!("{FS}/allocation/metadata/raid6/used_bytes"),
                "114688\n",
            ),
            (format!("{FS}/allocation/system/bytes_reserved"), "0\n"),
            (
                format!("{FS}/allocation/system/raid6/total_bytes"),
                "16777216\n",
            ),
            (
                format!("{FS}/allocation/system/raid6/used_bytes"),
                "16384\n",
            ),
            (format!("{FS}/features/raid56"), "1\n"),
        ];
        for dev in ["loop22", "loop23", "loop24", "loop25"] {
            v.push((format!("{FS}/devices/{dev}/size"), "20971520\n"));
        }
        v.extend(extra.iter().map(|(p, t)| (format!("{FS}/{p}"), *t)));
        v
    }

    fn collector(d: &Path, files: &[(String, &str)]) -> Btrfs {
        let f: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        Btrfs::new(&fake_paths(d, &f))
    }

    #[test]
    fn allocation_per_group_and_profile_and_devices() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), &files(&[])));
        let u = "uuid=\"7f07c59f-6136-449c-ab87-e1cf2328731b\"";
        for want in [
            format!("node_btrfs_info{{label=\"\",{u}}} 1\n"),
            format!("node_btrfs_global_rsv_size_bytes{{{u}}} 1.6777216e+07\n"),
            format!("node_btrfs_reserved_bytes{{block_group_type=\"metadata\",{u}}} 4096\n"),
            format!("node_btrfs_size_bytes{{block_group_type=\"data\",mode=\"raid5\",{u}}} 6.44087808e+08\n"),
            format!("node_btrfs_allocation_ratio{{block_group_type=\"data\",mode=\"raid5\",{u}}} 1.3333333333333333\n"),
            format!("node_btrfs_allocation_ratio{{block_group_type=\"metadata\",mode=\"raid6\",{u}}} 2\n"),
            format!("node_btrfs_used_bytes{{block_group_type=\"system\",mode=\"raid6\",{u}}} 16384\n"),
            format!("node_btrfs_device_size_bytes{{device=\"loop25\",{u}}} 1.073741824e+10\n"),
        ] {
            assert!(t.contains(&want), "{want}: {t}");
        }
        // bytes_reserved etc. are not layouts.
        assert!(!t.contains("mode=\"bytes_reserved\""), "{t}");
    }

    #[test]
    fn metadata_uuid_and_label_win_over_the_folder_name() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(
            d.path(),
            &files(&[("metadata_uuid", "0abb23a9-0000\n"), ("label", "fixture\n")]),
        ));
        assert!(
            t.contains("node_btrfs_info{label=\"fixture\",uuid=\"0abb23a9-0000\"} 1\n"),
            "{t}"
        );
    }

    #[test]
    fn ratios_as_upstream() {
        assert_eq!(ratio("single", 1), 1.0);
        assert_eq!(ratio("dup", 1), 2.0);
        assert_eq!(ratio("raid10", 4), 2.0);
        assert_eq!(ratio("raid6", 5), 5.0 / 3.0);
        assert_eq!(ratio("raid1c3", 3), 0.0);
    }

    #[test]
    fn malformed_or_incomplete_filesystems_fail() {
        let d = tempfile::tempdir().unwrap();
        let e = collector(d.path(), &files(&[("devices/loop22/size", "big\n")]))
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(e.to_string().contains("loop22/size"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let mut f = files(&[]);
        f.retain(|(p, _)| !p.contains("/devices/"));
        let e = collector(d.path(), &f)
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(e.to_string().contains("devices"), "{e}");
    }

    #[test]
    fn no_btrfs_is_success_with_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("sys/fs/btrfs/features/raid56", "1\n")]);
        assert_eq!(render(&Btrfs::new(&p)), "");
        let d = tempfile::tempdir().unwrap();
        assert_eq!(render(&Btrfs::new(&fake_paths(d.path(), &[]))), "");
    }

    fn fake_mounted(path: &Path) -> std::io::Result<Option<btrfs_ioctl::Filesystem>> {
        if !path.ends_with("srv") {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        let mut fsid = [0u8; 16];
        for (i, b) in fsid.iter_mut().enumerate() {
            let hex = "7f07c59f6136449cab87e1cf2328731b";
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let dev = |path: &str, uuid: u8, errors| btrfs_ioctl::Device {
            path: path.into(),
            uuid: [uuid; 16],
            bytes_used: 4096,
            total_bytes: 10240,
            errors,
        };
        Ok(Some(btrfs_ioctl::Filesystem {
            fsid,
            devices: vec![
                dev("/dev/loop22", 0xab, [0, 3, 0, 7, 1]),
                dev("/rootfs/dev/md1", 0, [0; 5]),
            ],
        }))
    }

    #[test]
    fn a_mounted_filesystem_gets_its_members_from_the_ioctls() {
        let d = tempfile::tempdir().unwrap();
        let mut f = files(&[]);
        f.push((
            "proc/1/mounts".into(),
            "/dev/sda1 / ext4 rw 0 0\n/dev/loop22 /srv btrfs rw 0 0\n/dev/loop22 /srv2 btrfs rw 0 0\n/dev/loop9 /locked btrfs rw 0 0\n",
        ));
        let f: Vec<(&str, &str)> = f.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let t = render(&Btrfs::with_query(&fake_paths(d.path(), &f), fake_mounted));
        let u = "uuid=\"7f07c59f-6136-449c-ab87-e1cf2328731b\"";
        let ab = "abababab-abab-abab-abab-abababababab";
        for want in [
            format!("node_btrfs_device_size_bytes{{btrfs_dev_uuid=\"{ab}\",device=\"loop22\",{u}}} 10240\n"),
            format!("node_btrfs_device_unused_bytes{{btrfs_dev_uuid=\"{ab}\",device=\"loop22\",{u}}} 6144\n"),
            format!("# TYPE node_btrfs_device_errors_total counter\nnode_btrfs_device_errors_total{{btrfs_dev_uuid=\"{ab}\",device=\"loop22\",type=\"write\",{u}}} 0\n"),
            format!("node_btrfs_device_errors_total{{btrfs_dev_uuid=\"{ab}\",device=\"loop22\",type=\"read\",{u}}} 3\n"),
            format!("node_btrfs_device_errors_total{{btrfs_dev_uuid=\"{ab}\",device=\"loop22\",type=\"generation\",{u}}} 1\n"),
            format!("node_btrfs_device_size_bytes{{btrfs_dev_uuid=\"<zero>\",device=\"md1\",{u}}} 10240\n"),
        ] {
            assert!(t.contains(&want), "{want}: {t}");
        }
        // The sysfs sizes are not written beside them.
        assert!(!t.contains("device=\"loop23\""), "{t}");
        assert_eq!(t.matches("node_btrfs_device_size_bytes{").count(), 2, "{t}");
        assert_eq!(
            t.matches("node_btrfs_device_errors_total{").count(),
            10,
            "{t}"
        );
    }

    #[test]
    fn without_a_usable_mount_the_sysfs_sizes_stay() {
        let d = tempfile::tempdir().unwrap();
        let mut f = files(&[]);
        // Mounted, but the query fails (as for a locked-down container).
        f.push(("proc/mounts".into(), "/dev/loop9 /locked btrfs rw 0 0\n"));
        let f: Vec<(&str, &str)> = f.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let t = render(&Btrfs::with_query(&fake_paths(d.path(), &f), fake_mounted));
        assert!(
            t.contains("node_btrfs_device_size_bytes{device=\"loop23\","),
            "{t}"
        );
        assert!(
            !t.contains("btrfs_dev_uuid") && !t.contains("errors_total"),
            "{t}"
        );
    }
}

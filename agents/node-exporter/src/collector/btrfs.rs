//! `node_btrfs_*` from /sys/fs/btrfs/<uuid>: filesystem label
//! (`node_btrfs_info`), global reserve, space reserved / allocated / used per
//! block group type (data, metadata, system) and RAID profile with its
//! allocation ratio, and the size of each member device. Names, HELP and
//! values are node_exporter 1.5's (procfs' `btrfs.Stats`), read from sysfs
//! only: upstream's per-device error counters come from a btrfs ioctl on a
//! mounted filesystem and are not produced here (see the README).

use super::{read, CollectError, Collector, Families, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

/// Linux counts device sizes in 512-byte sectors whatever the block size.
const SECTOR: u64 = 512;

const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

pub struct Btrfs {
    dir: PathBuf,
}

impl Btrfs {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("fs/btrfs"),
        }
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

fn filesystem(fam: &mut Families, name: &str, dir: &Path) -> Result<(), CollectError> {
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
        let mut fam = Families::default();
        for name in names.iter().filter(|n| n.contains('-')) {
            filesystem(&mut fam, name, &self.dir.join(name))?;
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
}

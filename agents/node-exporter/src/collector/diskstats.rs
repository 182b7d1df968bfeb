//! `node_disk_*{device}` from /proc/diskstats, plus `node_disk_info` (and the
//! device-mapper and ATA families when udev knows them) from udev's database.
//!
//! Units as node_exporter: sectors are 512 bytes whatever the device's block
//! size (the kernel's convention for this file), times are milliseconds →
//! seconds. Discarded sectors stay sectors, as upstream names them.

use super::{num, read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const SECTOR: f64 = 512.0;
const MS: f64 = 0.001;

/// (field index after major/minor/name, metric, help, type, scale)
const FIELDS: &[(usize, &str, &str, MetricType, f64)] = &[
    (
        0,
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        Counter,
        1.0,
    ),
    (
        1,
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        Counter,
        1.0,
    ),
    (
        2,
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        Counter,
        SECTOR,
    ),
    (
        3,
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        Counter,
        MS,
    ),
    (
        4,
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        Counter,
        1.0,
    ),
    (
        5,
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        Counter,
        1.0,
    ),
    (
        6,
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        Counter,
        SECTOR,
    ),
    (
        7,
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        Counter,
        MS,
    ),
    (
        8,
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        Gauge,
        1.0,
    ),
    (
        9,
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        Counter,
        MS,
    ),
    (
        10,
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        Counter,
        MS,
    ),
    (
        11,
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        Counter,
        1.0,
    ),
    (
        12,
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        Counter,
        1.0,
    ),
    (
        13,
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        Counter,
        1.0,
    ),
    (
        14,
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        Counter,
        MS,
    ),
    (
        15,
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        Counter,
        1.0,
    ),
    (
        16,
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        Counter,
        MS,
    ),
];

#[derive(Debug, PartialEq)]
pub struct Disk {
    pub major: String,
    pub minor: String,
    pub name: String,
    pub stats: Vec<u64>,
}

pub fn parse(path: &Path, text: &str, exclude: &FieldFilter) -> Result<Vec<Disk>, CollectError> {
    let mut disks = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(major), Some(minor), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if exclude.is_match(name) {
            continue;
        }
        let stats = f.map(|v| num(path, v)).collect::<Result<Vec<u64>, _>>()?;
        if stats.len() < 11 {
            return Err(CollectError::parse(
                path,
                format!("{name}: {} fields", stats.len()),
            ));
        }
        disks.push(Disk {
            major: major.into(),
            minor: minor.into(),
            name: name.into(),
            stats,
        });
    }
    Ok(disks)
}

/// udev's `E:KEY=VALUE` properties for a block device.
pub fn udev_properties(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Diskstats {
    path: PathBuf,
    udev: PathBuf,
    exclude: FieldFilter,
}

impl Diskstats {
    pub fn new(s: &Settings) -> Self {
        Self {
            path: s.paths.proc("diskstats"),
            udev: s.paths.udev_data.clone(),
            exclude: FieldFilter::new(s.diskstats_device_exclude.clone()),
        }
    }
}

impl Collector for Diskstats {
    fn name(&self) -> &'static str {
        "diskstats"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let disks = parse(&self.path, &read(&self.path)?, &self.exclude)?;
        let props: Vec<HashMap<String, String>> = disks
            .iter()
            .map(|d| {
                let f = self.udev.join(format!("b{}:{}", d.major, d.minor));
                super::read_file(f)
                    .map(|t| udev_properties(&t))
                    .unwrap_or_default()
            })
            .collect();
        let get = |p: &HashMap<String, String>, k: &str| p.get(k).cloned().unwrap_or_default();

        let name = "node_disk_info";
        out.family(name, "Info of /sys/block/<block_device>.", Gauge);
        for (d, p) in disks.iter().zip(&props) {
            let serial = p
                .get("ID_SERIAL_SHORT")
                .or_else(|| p.get("SCSI_IDENT_SERIAL"))
                .cloned()
                .unwrap_or_default();
            out.sample(
                name,
                &[
                    ("device", &d.name),
                    ("major", &d.major),
                    ("minor", &d.minor),
                    ("model", &get(p, "ID_MODEL")),
                    ("path", &get(p, "ID_PATH")),
                    ("revision", &get(p, "ID_REVISION")),
                    ("serial", &serial),
                    ("wwn", &get(p, "ID_WWN")),
                ],
                1.0,
            );
        }

        for &(idx, metric, help, kind, scale) in FIELDS {
            if !disks.iter().any(|d| d.stats.len() > idx) {
                continue;
            }
            out.family(metric, help, kind);
            for d in disks.iter().filter(|d| d.stats.len() > idx) {
                out.sample(metric, &[("device", &d.name)], d.stats[idx] as f64 * scale);
            }
        }

        if props.iter().any(|p| p.contains_key("DM_NAME")) {
            let name = "node_disk_device_mapper_info";
            out.family(name, "Info about disk device mapper.", Gauge);
            for (d, p) in disks
                .iter()
                .zip(&props)
                .filter(|(_, p)| p.contains_key("DM_NAME"))
            {
                out.sample(
                    name,
                    &[
                        ("device", &d.name),
                        ("lv_layer", &get(p, "DM_LV_LAYER")),
                        ("lv_name", &get(p, "DM_LV_NAME")),
                        ("name", &get(p, "DM_NAME")),
                        ("uuid", &get(p, "DM_UUID")),
                        ("vg_name", &get(p, "DM_VG_NAME")),
                    ],
                    1.0,
                );
            }
        }

        // udev's blkid properties: what the device holds (filesystem, LVM PV,
        // swap); an empty ID_FS_TYPE (blkid found nothing) is no series, as upstream.
        let has_fs =
            |p: &HashMap<String, String>| p.get("ID_FS_TYPE").is_some_and(|t| !t.is_empty());
        if props.iter().any(has_fs) {
            let name = "node_disk_filesystem_info";
            out.family(name, "Info about disk filesystem.", Gauge);
            for (d, p) in disks.iter().zip(&props).filter(|(_, p)| has_fs(p)) {
                out.sample(
                    name,
                    &[
                        ("device", &d.name),
                        ("type", &get(p, "ID_FS_TYPE")),
                        ("usage", &get(p, "ID_FS_USAGE")),
                        ("uuid", &get(p, "ID_FS_UUID")),
                        ("version", &get(p, "ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
        }

        let ata = [
            (
                "ID_ATA_WRITE_CACHE",
                "node_disk_ata_write_cache",
                "ATA disk has a write cache.",
            ),
            (
                "ID_ATA_WRITE_CACHE_ENABLED",
                "node_disk_ata_write_cache_enabled",
                "ATA disk has its write cache enabled.",
            ),
            (
                "ID_ATA_ROTATION_RATE_RPM",
                "node_disk_ata_rotation_rate_rpm",
                "ATA disk rotation rate in RPMs (0 for SSDs).",
            ),
        ];
        for (key, metric, help) in ata {
            let with: Vec<(&Disk, f64)> = disks
                .iter()
                .zip(&props)
                .filter(|(_, p)| p.contains_key("ID_ATA"))
                .filter_map(|(d, p)| p.get(key).and_then(|v| v.parse().ok()).map(|v| (d, v)))
                .collect();
            if with.is_empty() {
                continue;
            }
            out.family(metric, help, Gauge);
            for (d, v) in with {
                out.sample(metric, &[("device", &d.name)], v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const DISKSTATS: &str = "   7       0 loop0 10 0 20 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
 254       0 vda 52899 7150 3813992 16297 37016 76957 20688568 67196 0 10880 84410 11529 15 1145344 742 5811 173\n\
 254       1 vda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n\
 253       0 zram0 1 0 8 0 0 0 0 0 0 0 0\n";

    #[test]
    fn units_excludes_and_optional_fields() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/diskstats", DISKSTATS),
                ("udev/b254:0", "S:disk/by-id/x\nE:ID_MODEL=QEMU_DISK\nE:ID_SERIAL_SHORT=abc\nE:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=0\nE:ID_FS_TYPE=ext4\nE:ID_FS_USAGE=filesystem\nE:ID_FS_UUID=83324ce8\nE:ID_FS_VERSION=1.0\n"),
            ],
        );
        let s = Settings {
            paths: p,
            ..Settings::default()
        };
        let t = render(&Diskstats::new(&s));
        assert!(!t.contains("loop0") && !t.contains("vda1"), "{t}");
        assert!(
            t.contains("# HELP node_disk_filesystem_info Info about disk filesystem.\n# TYPE node_disk_filesystem_info gauge\nnode_disk_filesystem_info{device=\"vda\",type=\"ext4\",usage=\"filesystem\",uuid=\"83324ce8\",version=\"1.0\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("node_disk_read_bytes_total{device=\"vda\"} 1.952763904e+09\n"),
            "{t}"
        );
        assert!(
            t.contains("node_disk_read_time_seconds_total{device=\"vda\"} 16.297\n"),
            "{t}"
        );
        assert!(t.contains("node_disk_io_now{device=\"vda\"} 0\n"), "{t}");
        assert!(
            t.contains("node_disk_discarded_sectors_total{device=\"vda\"} 1.145344e+06\n"),
            "{t}"
        );
        assert!(
            t.contains("node_disk_flush_requests_total{device=\"vda\"} 5811\n"),
            "{t}"
        );
        assert!(
            !t.contains("node_disk_flush_requests_total{device=\"zram0\"}"),
            "{t}"
        );
        assert!(
            t.contains("node_disk_reads_completed_total{device=\"zram0\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("node_disk_info{device=\"vda\",major=\"254\",minor=\"0\",model=\"QEMU_DISK\",path=\"\",revision=\"\",serial=\"abc\",wwn=\"\"} 1\n"), "{t}");
        assert!(
            t.contains("node_disk_ata_rotation_rate_rpm{device=\"vda\"} 0\n"),
            "{t}"
        );
        assert_eq!(t.matches("# TYPE node_disk_io_now gauge").count(), 1);
    }
}

//! `node_tape_*{device}` from /sys/class/scsi_tape/st<N>/stats: SCSI tape
//! drive I/O counts, bytes and times (the `nst`/`a`/`l`/`m` aliases of a
//! drive are skipped, as upstream does). Drives whose name (`st0`) matches
//! `--collector.tapestats.ignored-devices` are left out.

use super::{num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use regex::Regex;
use std::path::PathBuf;

/// (stats file, metric, help, type, scale: nanoseconds are scaled as
/// upstream does, `v * 1e-9`)
const STATS: [(&str, &str, &str, MetricType, Option<f64>); 10] = [
    ("in_flight", "node_tape_io_now", "The number of I/Os currently outstanding to this device.", Gauge, None),
    ("io_ns", "node_tape_io_time_seconds_total", "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.", Counter, Some(0.000000001)),
    ("other_cnt", "node_tape_io_others_total", "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total", Counter, None),
    ("read_byte_cnt", "node_tape_read_bytes_total", "The number of bytes read from the tape drive.", Counter, None),
    ("read_cnt", "node_tape_reads_completed_total", "The number of read requests issued to the tape drive.", Counter, None),
    ("read_ns", "node_tape_read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", Counter, Some(0.000000001)),
    ("resid_cnt", "node_tape_residual_total", "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.", Counter, None),
    ("write_byte_cnt", "node_tape_written_bytes_total", "The number of bytes written to the tape drive.", Counter, None),
    ("write_cnt", "node_tape_writes_completed_total", "The number of write requests issued to the tape drive.", Counter, None),
    ("write_ns", "node_tape_write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", Counter, Some(0.000000001)),
];

pub struct Tapestats {
    dir: PathBuf,
    ignored: Regex,
}

impl Tapestats {
    pub fn new(paths: &Paths, ignored: Regex) -> Self {
        Self {
            dir: paths.sys("class/scsi_tape"),
            ignored,
        }
    }
}

impl Collector for Tapestats {
    fn name(&self) -> &'static str {
        "tapestats"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut fam = Families::default();
        for (n, dir) in super::numbered_entries(&self.dir, "st")? {
            let device = format!("st{n}");
            if self.ignored.is_match(&device) {
                continue;
            }
            let stats = dir.join("stats");
            for (file, metric, help, kind, scale) in STATS {
                let p = stats.join(file);
                // Upstream reads whatever the stats folder holds; an absent one is 0.
                let v: u64 = match read(&p) {
                    Ok(t) => num(&p, &t)?,
                    Err(e) if e.is_no_data() => 0,
                    Err(e) => return Err(e),
                };
                let v = match scale {
                    Some(s) => v as f64 * s,
                    None => v as f64,
                };
                fam.add(
                    metric.to_string(),
                    help,
                    kind,
                    vec![("device", device.clone())],
                    v,
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
    fn counters_per_drive_without_aliases() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/scsi_tape/st0/stats/io_ns", "9247011087720\n"),
                ("sys/class/scsi_tape/st0/stats/read_byte_cnt", "979383912\n"),
                ("sys/class/scsi_tape/st0/stats/in_flight", "1\n"),
                ("sys/class/scsi_tape/nst0/stats/in_flight", "1\n"),
                ("sys/class/scsi_tape/st0a/stats/in_flight", "1\n"),
            ],
        );
        let t = render(&Tapestats::new(&p, Regex::new("^$").unwrap()));
        for want in [
            "node_tape_io_time_seconds_total{device=\"st0\"} 9247.01108772\n",
            "node_tape_read_bytes_total{device=\"st0\"} 9.79383912e+08\n",
            "# TYPE node_tape_io_now gauge\nnode_tape_io_now{device=\"st0\"} 1\n",
            "node_tape_residual_total{device=\"st0\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("st0a") && !t.contains("nst0"), "{t}");
    }

    #[test]
    fn ignored_devices_are_left_out() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/scsi_tape/st0/stats/in_flight", "1\n"),
                ("sys/class/scsi_tape/st1/stats/in_flight", "2\n"),
            ],
        );
        let t = render(&Tapestats::new(&p, Regex::new("^st0$").unwrap()));
        assert!(t.contains("node_tape_io_now{device=\"st1\"} 2\n"), "{t}");
        assert!(!t.contains("\"st0\""), "{t}");
    }
}

//! `node_fibrechannel_*{fc_host}` from /sys/class/fc_host: host port
//! identity (`node_fibrechannel_info`) and its error and traffic counters
//! (hexadecimal in sysfs). Names and HELP texts are node_exporter 1.5's.

use super::{attr, entries, CollectError, Collector, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::path::{Path, PathBuf};

/// (statistics file, metric suffix, help)
const COUNTERS: [(&str, &str, &str); 13] = [
    ("dumped_frames", "", ""), // read by upstream's library, exported by none
    (
        "error_frames",
        "error_frames_total",
        "Number of errors in frames",
    ),
    (
        "fcp_packet_aborts",
        "fcp_packet_aborts_total",
        "Number of aborted packets",
    ),
    (
        "invalid_crc_count",
        "invalid_crc_total",
        "Invalid Cyclic Redundancy Check count",
    ),
    (
        "invalid_tx_word_count",
        "invalid_tx_words_total",
        "Number of invalid words transmitted by host port",
    ),
    (
        "link_failure_count",
        "link_failure_total",
        "Number of times the host port link has failed",
    ),
    (
        "loss_of_signal_count",
        "loss_of_signal_total",
        "Number of times signal has been lost",
    ),
    (
        "loss_of_sync_count",
        "loss_of_sync_total",
        "Number of failures on either bit or transmission word boundaries",
    ),
    (
        "nos_count",
        "nos_total",
        "Number Not_Operational Primitive Sequence received by host port",
    ),
    ("rx_frames", "rx_frames_total", "Number of frames received"),
    (
        "rx_words",
        "rx_words_total",
        "Number of words received by host port",
    ),
    (
        "seconds_since_last_reset",
        "seconds_since_last_reset_total",
        "Number of seconds since last host port reset",
    ),
    (
        "tx_frames",
        "tx_frames_total",
        "Number of frames transmitted by host port",
    ),
];
const TX_WORDS: (&str, &str, &str) = (
    "tx_words",
    "tx_words_total",
    "Number of words transmitted by host port",
);

/// (label, file) of the info series, labels in sorted order.
const INFO: [(&str, &str); 10] = [
    ("dev_loss_tmo", "dev_loss_tmo"),
    ("fabric_name", "fabric_name"),
    ("port_id", "port_id"),
    ("port_name", "port_name"),
    ("port_state", "port_state"),
    ("port_type", "port_type"),
    ("speed", "speed"),
    ("supported_classes", "supported_classes"),
    ("supported_speeds", "supported_speeds"),
    ("symbolic_name", "symbolic_name"),
];

fn hex(path: &Path) -> Result<Option<u64>, CollectError> {
    let Some(s) = attr(path) else { return Ok(None) };
    let digits = s.strip_prefix("0x").unwrap_or(&s);
    u64::from_str_radix(digits, 16)
        .map(Some)
        .map_err(|_| CollectError::parse(path, format!("not hexadecimal: {s:?}")))
}

pub struct Fibrechannel {
    dir: PathBuf,
}

impl Fibrechannel {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/fc_host"),
        }
    }
}

impl Collector for Fibrechannel {
    fn name(&self) -> &'static str {
        "fibrechannel"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let hosts = entries(&self.dir, "")?;
        let mut rows = Vec::new();
        for (host, dir) in &hosts {
            let info: Vec<String> = INFO
                .iter()
                .map(|(_, f)| {
                    let v = attr(&dir.join(f)).unwrap_or_default();
                    match *f {
                        "fabric_name" | "port_id" | "port_name" => {
                            v.strip_prefix("0x").map(str::to_string).unwrap_or(v)
                        }
                        _ => v,
                    }
                })
                .collect();
            let stats = dir.join("statistics");
            let mut counters = Vec::new();
            for (file, suffix, help) in COUNTERS.iter().chain(std::iter::once(&TX_WORDS)) {
                if suffix.is_empty() {
                    continue;
                }
                if let Some(v) = hex(&stats.join(file))? {
                    counters.push((*suffix, *help, v));
                }
            }
            rows.push((host, info, counters));
        }
        if rows.is_empty() {
            return Ok(());
        }
        let name = "node_fibrechannel_info";
        out.family(
            name,
            "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.",
            Gauge,
        );
        for (host, info, _) in &rows {
            let mut labels: Vec<(&str, &str)> = Vec::with_capacity(11);
            for (i, (label, _)) in INFO.iter().enumerate() {
                labels.push((label, &info[i]));
                if *label == "fabric_name" {
                    labels.push(("fc_host", host));
                }
            }
            out.sample(name, &labels, 1.0);
        }
        let mut fam = super::Families::default();
        for (host, _, counters) in &rows {
            for (suffix, help, v) in counters {
                fam.add(
                    format!("node_fibrechannel_{suffix}"),
                    *help,
                    Counter,
                    vec![("fc_host", host.to_string())],
                    *v as f64,
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
    fn info_and_hex_counters_per_host() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/fc_host/host0/port_name", "0x1000e0071bce95f2\n"),
                ("sys/class/fc_host/host0/port_state", "Online\n"),
                ("sys/class/fc_host/host0/fabric_name", "0x0\n"),
                (
                    "sys/class/fc_host/host0/statistics/fcp_packet_aborts",
                    "0x13\n",
                ),
                (
                    "sys/class/fc_host/host0/statistics/dumped_frames",
                    "0xffffffffffffffff\n",
                ),
            ],
        );
        let t = render(&Fibrechannel::new(&p));
        for want in [
            "node_fibrechannel_info{dev_loss_tmo=\"\",fabric_name=\"0\",fc_host=\"host0\",port_id=\"\",port_name=\"1000e0071bce95f2\",port_state=\"Online\",",
            "# TYPE node_fibrechannel_fcp_packet_aborts_total counter\nnode_fibrechannel_fcp_packet_aborts_total{fc_host=\"host0\"} 19\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("dumped"), "{t}");
    }

    #[test]
    fn garbage_counter_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[("sys/class/fc_host/host0/statistics/rx_frames", "zz\n")],
        );
        assert!(Fibrechannel::new(&p)
            .collect(&mut Exposition::default())
            .is_err());
    }
}

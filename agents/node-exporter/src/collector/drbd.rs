//! `node_drbd_*{device}` from /proc/drbd (DRBD 8): replication traffic,
//! pending requests, roles, disk and connection state per device (off by
//! default, as upstream; names, units and HELP texts are upstream's).

use super::{num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use std::path::PathBuf;

/// (field, metric suffix, help, type, multiplier) as upstream maps them
/// (the kibibyte fields are scaled to bytes; `nr` is not, upstream's quirk).
const NUMERIC: [(&str, &str, &str, MetricType, f64); 12] = [
    ("ns", "network_sent_bytes_total", "Total number of bytes sent via the network.", Counter, 1024.0),
    ("nr", "network_received_bytes_total", "Total number of bytes received via the network.", Counter, 1.0),
    ("dw", "disk_written_bytes_total", "Net data written on local hard disk; in bytes.", Counter, 1024.0),
    ("dr", "disk_read_bytes_total", "Net data read from local hard disk; in bytes.", Counter, 1024.0),
    ("al", "activitylog_writes_total", "Number of updates of the activity log area of the meta data.", Counter, 1.0),
    ("bm", "bitmap_writes_total", "Number of updates of the bitmap area of the meta data.", Counter, 1.0),
    ("lo", "local_pending", "Number of open requests to the local I/O sub-system.", Gauge, 1.0),
    ("pe", "remote_pending", "Number of requests sent to the peer, but that have not yet been answered by the latter.", Gauge, 1.0),
    ("ua", "remote_unacknowledged", "Number of requests received by the peer via the network connection, but that have not yet been answered.", Gauge, 1.0),
    ("ap", "application_pending", "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.", Gauge, 1.0),
    ("ep", "epochs", "Number of Epochs currently on the fly.", Gauge, 1.0),
    ("oos", "out_of_sync_bytes", "Amount of data known to be out of sync; in bytes.", Gauge, 1024.0),
];

/// (field, metric suffix, help, value that counts as 1)
const PER_NODE: [(&str, &str, &str, &str); 2] = [
    (
        "ro",
        "node_role_is_primary",
        "Whether the role of the node is in the primary state.",
        "Primary",
    ),
    (
        "ds",
        "disk_state_is_up_to_date",
        "Whether the disk of the node is up to date.",
        "UpToDate",
    ),
];

pub struct Drbd {
    path: PathBuf,
}

impl Drbd {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("drbd"),
        }
    }
}

impl Collector for Drbd {
    fn name(&self) -> &'static str {
        "drbd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let text = read(&self.path)?;
        let mut fam = Families::default();
        let mut device = String::new();
        for line in text.lines() {
            let mut words = line.split_whitespace().peekable();
            // ` 1: cs:Connected ro:…` starts a device block.
            if let Some(w) = words.peek() {
                if let Some(n) = w.strip_suffix(':') {
                    if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
                        device = format!("drbd{n}");
                        words.next();
                    }
                }
            }
            if device.is_empty() {
                continue;
            }
            for w in words {
                let Some((key, value)) = w.split_once(':') else {
                    continue;
                };
                let dev = || vec![("device", device.clone())];
                if let Some((_, suffix, help, kind, mult)) = NUMERIC.iter().find(|f| f.0 == key) {
                    let v: f64 = num(&self.path, value)?;
                    fam.add(format!("node_drbd_{suffix}"), *help, *kind, dev(), v * mult);
                } else if let Some((_, suffix, help, up)) = PER_NODE.iter().find(|f| f.0 == key) {
                    let (local, remote) = value.split_once('/').ok_or_else(|| {
                        CollectError::parse(
                            &self.path,
                            format!("{key}: expected local/remote, got {value:?}"),
                        )
                    })?;
                    for (node, v) in [("local", local), ("remote", remote)] {
                        fam.add(
                            format!("node_drbd_{suffix}"),
                            *help,
                            Gauge,
                            vec![("device", device.clone()), ("node", node.to_string())],
                            if v == *up { 1.0 } else { 0.0 },
                        );
                    }
                } else if key == "cs" {
                    fam.add(
                        "node_drbd_connected".into(),
                        "Whether DRBD is connected to the peer.",
                        Gauge,
                        dev(),
                        if value == "Connected" { 1.0 } else { 0.0 },
                    );
                }
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

    const DRBD: &str = "version: 8.4.3 (api:1/proto:86-101)\nsrcversion: 1A9F77B1CA5FF92235C2213 \n\n \
        1: cs:Connected ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----\n    \
        ns:17324442 nr:10961011 dw:28263521 dr:118696670 al:1100 bm:221 lo:12345 pe:12346 ua:12347 ap:12348 ep:1 wo:d oos:12349\n";

    #[test]
    fn fields_roles_and_states() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/drbd", DRBD)]);
        let t = render(&Drbd::new(&p));
        for want in [
            "node_drbd_network_sent_bytes_total{device=\"drbd1\"} 1.7740228608e+10\n",
            "node_drbd_network_received_bytes_total{device=\"drbd1\"} 1.0961011e+07\n",
            "node_drbd_out_of_sync_bytes{device=\"drbd1\"} 1.2645376e+07\n",
            "node_drbd_epochs{device=\"drbd1\"} 1\n",
            "node_drbd_connected{device=\"drbd1\"} 1\n",
            "node_drbd_node_role_is_primary{device=\"drbd1\",node=\"local\"} 1\n",
            "node_drbd_node_role_is_primary{device=\"drbd1\",node=\"remote\"} 0\n",
            "node_drbd_disk_state_is_up_to_date{device=\"drbd1\",node=\"remote\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("node_drbd_wo"), "{t}");
    }

    #[test]
    fn non_number_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[("proc/drbd", " 1: cs:Connected\n    ns:lots\n")],
        );
        assert!(Drbd::new(&p).collect(&mut Exposition::default()).is_err());
    }
}

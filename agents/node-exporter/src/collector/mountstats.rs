//! `node_mountstats_nfs_*{export,mountaddr,protocol}` from
//! `<procfs>/self/mountstats`: per NFS mount byte, event, transport and
//! per-operation RPC counters (off by default, as upstream). The server
//! address comes from the same mount's `addr=` super option in
//! `<procfs>/self/mountinfo` (both files list mounts in the same order), and
//! mounts of one export over one protocol and address are reported once, as
//! node_exporter 1.5 does.

use super::{num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use std::path::{Path, PathBuf};

/// (bytes: column, metric suffix, help)
const BYTES: [(usize, &str, &str); 8] = [
    (
        0,
        "read_bytes_total",
        "Number of bytes read using the read() syscall.",
    ),
    (
        1,
        "write_bytes_total",
        "Number of bytes written using the write() syscall.",
    ),
    (
        2,
        "direct_read_bytes_total",
        "Number of bytes read using the read() syscall in O_DIRECT mode.",
    ),
    (
        3,
        "direct_write_bytes_total",
        "Number of bytes written using the write() syscall in O_DIRECT mode.",
    ),
    (
        4,
        "total_read_bytes_total",
        "Number of bytes read from the NFS server, in total.",
    ),
    (
        5,
        "total_write_bytes_total",
        "Number of bytes written to the NFS server, in total.",
    ),
    (
        6,
        "read_pages_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        7,
        "write_pages_total",
        "Number of pages written directly via mmap()'d files.",
    ),
];

/// (events: column, metric suffix, help); column 18 (congestion wait) has no metric.
const EVENTS: [(usize, &str, &str); 26] = [
    (
        0,
        "event_inode_revalidate_total",
        "Number of times cached inode attributes are re-validated from the server.",
    ),
    (
        1,
        "event_dnode_revalidate_total",
        "Number of times cached dentry nodes are re-validated from the server.",
    ),
    (
        2,
        "event_data_invalidate_total",
        "Number of times an inode cache is cleared.",
    ),
    (
        3,
        "event_attribute_invalidate_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        4,
        "event_vfs_open_total",
        "Number of times cached inode attributes are invalidated.",
    ),
    (
        5,
        "event_vfs_lookup_total",
        "Number of times a directory lookup has occurred.",
    ),
    (
        6,
        "event_vfs_access_total",
        "Number of times permissions have been checked.",
    ),
    (
        7,
        "event_vfs_update_page_total",
        "Number of updates (and potential writes) to pages.",
    ),
    (
        8,
        "event_vfs_read_page_total",
        "Number of pages read directly via mmap()'d files.",
    ),
    (
        9,
        "event_vfs_read_pages_total",
        "Number of times a group of pages have been read.",
    ),
    (
        10,
        "event_vfs_write_page_total",
        "Number of pages written directly via mmap()'d files.",
    ),
    (
        11,
        "event_vfs_write_pages_total",
        "Number of times a group of pages have been written.",
    ),
    (
        12,
        "event_vfs_getdents_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        13,
        "event_vfs_setattr_total",
        "Number of times directory entries have been read with getdents().",
    ),
    (
        14,
        "event_vfs_flush_total",
        "Number of pending writes that have been forcefully flushed to the server.",
    ),
    (
        15,
        "event_vfs_fsync_total",
        "Number of times fsync() has been called on directories and files.",
    ),
    (
        16,
        "event_vfs_lock_total",
        "Number of times locking has been attempted on a file.",
    ),
    (
        17,
        "event_vfs_file_release_total",
        "Number of times files have been closed and released.",
    ),
    (
        19,
        "event_truncation_total",
        "Number of times files have been truncated.",
    ),
    (
        20,
        "event_write_extension_total",
        "Number of times a file has been grown due to writes beyond its existing end.",
    ),
    (
        21,
        "event_silly_rename_total",
        "Number of times a file was removed while still open by another process.",
    ),
    (
        22,
        "event_short_read_total",
        "Number of times the NFS server gave less data than expected while reading.",
    ),
    (
        23,
        "event_short_write_total",
        "Number of times the NFS server wrote less data than expected while writing.",
    ),
    (
        24,
        "event_jukebox_delay_total",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
    ),
    (
        25,
        "event_pnfs_read_total",
        "Number of NFS v4.1+ pNFS reads.",
    ),
    (
        26,
        "event_pnfs_write_total",
        "Number of NFS v4.1+ pNFS writes.",
    ),
];

/// Go's float64 mantissa range, which upstream reduces large counters by.
const MANTISSA: u64 = 1 << 53;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Transport {
    pub protocol: String,
    pub bind: u64,
    pub connect: u64,
    pub idle_time: u64,
    pub sends: u64,
    pub receives: u64,
    pub bad_xids: u64,
    pub backlog: u64,
    pub max_slots: u64,
    pub sending: u64,
    pub pending: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct NfsMount {
    pub device: String,
    pub age: u64,
    pub bytes: Vec<u64>,
    pub events: Vec<u64>,
    pub transport: Option<Transport>,
    /// (operation, its 8+ counters)
    pub ops: Vec<(String, Vec<u64>)>,
}

/// Parse mountstats: one entry per mount (`None` for non-NFS mounts, so the
/// index still lines up with mountinfo's).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Option<NfsMount>>, CollectError> {
    let mut mounts: Vec<Option<NfsMount>> = Vec::new();
    let mut in_ops = false;
    let nums = |vals: &[&str]| -> Result<Vec<u64>, CollectError> {
        vals.iter().map(|v| num(path, v)).collect()
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f[0] == "device" {
            in_ops = false;
            // device D mounted on M with fstype T [statvers=V]
            if f.len() < 8 {
                return Err(CollectError::parse(
                    path,
                    format!("short device line {line:?}"),
                ));
            }
            let nfs = matches!(f[7], "nfs" | "nfs4")
                && f.get(8).is_some_and(|s| s.starts_with("statvers="));
            mounts.push(nfs.then(|| NfsMount {
                device: f[1].to_string(),
                ..NfsMount::default()
            }));
            continue;
        }
        let Some(Some(m)) = mounts.last_mut() else {
            continue;
        };
        match f[0] {
            "age:" if f.len() >= 2 => m.age = num(path, f[1])?,
            "bytes:" => m.bytes = nums(&f[1..])?,
            "events:" => m.events = nums(&f[1..])?,
            "xprt:" if f.len() >= 2 => {
                let v = nums(&f[2..])?;
                let g = |i: usize| v.get(i).copied().unwrap_or(0);
                let t = match f[1] {
                    // port bind connect connect_time idle_time sends recvs bad_xids req_u backlog_u [max_slots sending_u pending_u]
                    "tcp" | "rdma" => Transport {
                        protocol: f[1].to_string(),
                        bind: g(1),
                        connect: g(2),
                        idle_time: g(4),
                        sends: g(5),
                        receives: g(6),
                        bad_xids: g(7),
                        backlog: g(9),
                        max_slots: g(10),
                        sending: g(11),
                        pending: g(12),
                    },
                    // port bind sends recvs bad_xids req_u backlog_u [max_slots sending_u pending_u]
                    "udp" => Transport {
                        protocol: "udp".into(),
                        bind: g(1),
                        sends: g(2),
                        receives: g(3),
                        bad_xids: g(4),
                        backlog: g(6),
                        max_slots: g(7),
                        sending: g(8),
                        pending: g(9),
                        ..Transport::default()
                    },
                    other => {
                        return Err(CollectError::parse(
                            path,
                            format!("unknown transport {other:?}"),
                        ))
                    }
                };
                let min = if f[1] == "udp" { 7 } else { 10 };
                if v.len() < min {
                    return Err(CollectError::parse(
                        path,
                        format!("short xprt line {line:?}"),
                    ));
                }
                m.transport = Some(t);
            }
            "per-op" => in_ops = true,
            op if in_ops && op.ends_with(':') => {
                let v = nums(&f[1..])?;
                if v.len() < 8 {
                    return Err(CollectError::parse(
                        path,
                        format!("short operation line {line:?}"),
                    ));
                }
                m.ops.push((op.trim_end_matches(':').to_string(), v));
            }
            _ => {}
        }
    }
    Ok(mounts)
}

/// The `addr=` super option of each mountinfo line, in order.
pub fn mount_addrs(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_once(" - ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(2))
                .and_then(|opts| opts.split(',').find_map(|o| o.strip_prefix("addr=")))
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

pub struct Mountstats {
    stats: PathBuf,
    info: PathBuf,
}

impl Mountstats {
    pub fn new(paths: &Paths) -> Self {
        Self {
            stats: paths.proc("self/mountstats"),
            info: paths.proc("self/mountinfo"),
        }
    }
}

impl Collector for Mountstats {
    fn name(&self) -> &'static str {
        "mountstats"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mounts = parse(&self.stats, &read(&self.stats)?)?;
        let addrs = mount_addrs(&read(&self.info)?);
        let mut seen = std::collections::HashSet::new();
        let mut fam = Families::default();
        for (idx, m) in mounts.iter().enumerate() {
            let Some(m) = m else { continue };
            let Some(t) = &m.transport else { continue };
            let addr = addrs.get(idx).cloned().unwrap_or_default();
            if !seen.insert((m.device.clone(), t.protocol.clone(), addr.clone())) {
                continue;
            }
            let labels = || {
                vec![
                    ("export", m.device.clone()),
                    ("mountaddr", addr.clone()),
                    ("protocol", t.protocol.clone()),
                ]
            };
            let mut add = |suffix: &str, help: &str, kind: MetricType, v: f64| {
                fam.add(
                    format!("node_mountstats_nfs_{suffix}"),
                    help,
                    kind,
                    labels(),
                    v,
                );
            };
            add(
                "age_seconds_total",
                "The age of the NFS mount in seconds.",
                Counter,
                m.age as f64,
            );
            for (i, suffix, help) in BYTES {
                add(
                    suffix,
                    help,
                    Counter,
                    m.bytes.get(i).copied().unwrap_or(0) as f64,
                );
            }
            for (i, suffix, help) in EVENTS {
                add(
                    suffix,
                    help,
                    Counter,
                    m.events.get(i).copied().unwrap_or(0) as f64,
                );
            }
            for (suffix, help, kind, v) in [
                ("transport_bind_total", "Number of times the client has had to establish a connection from scratch to the NFS server.", Counter, t.bind),
                ("transport_connect_total", "Number of times the client has made a TCP connection to the NFS server.", Counter, t.connect),
                ("transport_idle_time_seconds", "Duration since the NFS mount last saw any RPC traffic, in seconds.", Gauge, t.idle_time % MANTISSA),
                ("transport_sends_total", "Number of RPC requests for this mount sent to the NFS server.", Counter, t.sends),
                ("transport_receives_total", "Number of RPC responses for this mount received from the NFS server.", Counter, t.receives),
                ("transport_bad_transaction_ids_total", "Number of times the NFS server sent a response with a transaction ID unknown to this client.", Counter, t.bad_xids),
                ("transport_backlog_queue_total", "Total number of items added to the RPC backlog queue.", Counter, t.backlog),
                ("transport_maximum_rpc_slots", "Maximum number of simultaneously active RPC requests ever used.", Gauge, t.max_slots),
                ("transport_sending_queue_total", "Total number of items added to the RPC transmission sending queue.", Counter, t.sending),
                ("transport_pending_queue_total", "Total number of items added to the RPC transmission pending queue.", Counter, t.pending),
            ] {
                add(suffix, help, kind, v as f64);
            }
            for (op, v) in &m.ops {
                let ms = |x: u64| (x % MANTISSA) as f64 / 1000.0;
                for (suffix, help, value) in [
                    ("operations_requests_total", "Number of requests performed for a given operation.", v[0] as f64),
                    ("operations_transmissions_total", "Number of times an actual RPC request has been transmitted for a given operation.", v[1] as f64),
                    ("operations_major_timeouts_total", "Number of times a request has had a major timeout for a given operation.", v[2] as f64),
                    ("operations_sent_bytes_total", "Number of bytes sent for a given operation, including RPC headers and payload.", v[3] as f64),
                    ("operations_received_bytes_total", "Number of bytes received for a given operation, including RPC headers and payload.", v[4] as f64),
                    ("operations_queue_time_seconds_total", "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.", ms(v[5])),
                    ("operations_response_time_seconds_total", "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.", ms(v[6])),
                    ("operations_request_time_seconds_total", "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.", ms(v[7])),
                ] {
                    fam.add(
                        format!("node_mountstats_nfs_{suffix}"),
                        help,
                        Counter,
                        vec![
                            ("export", m.device.clone()),
                            ("mountaddr", addr.clone()),
                            ("operation", op.clone()),
                            ("protocol", t.protocol.clone()),
                        ],
                        value,
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

    const STATS: &str = "device rootfs mounted on / with fstype rootfs\n\
device 10.0.0.1:/srv mounted on /mnt/a with fstype nfs4 statvers=1.1\n\
\topts:\trw,vers=4.0\n\tage:\t13968\n\
\tevents:\t52 226 0 0 1 13 398 0 0 331 0 47 0 0 77 0 0 77 0 0 0 0 0 0 0 0 5\n\
\tbytes:\t1207640230 0 0 0 1210214218 0 295483 0\n\
\txprt:\ttcp 832 0 1 0 11 6428 6428 0 12154 0 24 26 5726\n\
\tper-op statistics\n\t        NULL: 0 0 0 0 0 0 0 0\n\
\t        READ: 1298 1298 0 207680 1210292152 6 79386 18446743919241604546\n\n\
device 10.0.0.1:/srv mounted on /mnt/b with fstype nfs4 statvers=1.1\n\
\tage:\t1\n\txprt:\ttcp 832 0 1 0 11 1 1 0 12154 0 24 26 5726\n";

    const INFO: &str = "1 1 0:5 / / rw shared:8 - rootfs rootfs rw\n\
194 21 0:42 / /mnt/a rw shared:144 - nfs4 10.0.0.1:/srv rw,vers=4.0,addr=10.0.0.1,local_lock=none\n\
195 21 0:42 / /mnt/b rw shared:144 - nfs4 10.0.0.1:/srv rw,vers=4.0,addr=10.0.0.1,local_lock=none\n";

    #[test]
    fn nfs_mounts_once_per_export_protocol_and_address() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/self/mountstats", STATS),
                ("proc/self/mountinfo", INFO),
            ],
        );
        let t = render(&Mountstats::new(&p));
        let l = "export=\"10.0.0.1:/srv\",mountaddr=\"10.0.0.1\",protocol=\"tcp\"";
        for want in [
            format!("node_mountstats_nfs_age_seconds_total{{{l}}} 13968\n"),
            format!("node_mountstats_nfs_read_bytes_total{{{l}}} 1.20764023e+09\n"),
            format!("node_mountstats_nfs_event_pnfs_write_total{{{l}}} 5\n"),
            format!("node_mountstats_nfs_transport_sends_total{{{l}}} 6428\n"),
            format!("node_mountstats_nfs_transport_idle_time_seconds{{{l}}} 11\n"),
            "node_mountstats_nfs_operations_requests_total{export=\"10.0.0.1:/srv\",mountaddr=\"10.0.0.1\",operation=\"READ\",protocol=\"tcp\"} 1298\n".into(),
            "node_mountstats_nfs_operations_request_time_seconds_total{export=\"10.0.0.1:/srv\",mountaddr=\"10.0.0.1\",operation=\"READ\",protocol=\"tcp\"} 9.007044786793922e+12\n".into(),
            "node_mountstats_nfs_operations_response_time_seconds_total{export=\"10.0.0.1:/srv\",mountaddr=\"10.0.0.1\",operation=\"READ\",protocol=\"tcp\"} 79.386\n".into(),
        ] {
            assert!(t.contains(&want), "{want}: {t}");
        }
        // The second mount of the same export is not reported again.
        assert_eq!(
            t.matches("node_mountstats_nfs_age_seconds_total{").count(),
            1,
            "{t}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let bad = "device a:/b mounted on /m with fstype nfs statvers=1.1\n\tage:\tlots\n";
        assert!(parse(Path::new("m"), bad).is_err());
        let short = "device a:/b mounted on /m with fstype nfs statvers=1.1\n\txprt:\ttcp 1 2\n";
        assert!(parse(Path::new("m"), short).is_err());
    }
}

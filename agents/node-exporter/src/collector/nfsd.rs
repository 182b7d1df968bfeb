//! `node_nfsd_*`: NFS server statistics from /proc/net/rpc/nfsd (reply
//! cache, file handles, I/O, threads, read-ahead, network, RPC errors and
//! per-procedure counts), as upstream names them.

use super::nfs_rpc::{self, field, procedures, V2, V3};
use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter, MetricType::Gauge};
use std::path::PathBuf;

/// NFSv4 server operations upstream exports, by kernel op number (the
/// `proc4ops` line holds a count, then one counter per op from op 0).
const V4_OPS: [(&str, usize); 33] = [
    ("Access", 3),
    ("Close", 4),
    ("Commit", 5),
    ("Create", 6),
    ("DelegPurge", 7),
    ("DelegReturn", 8),
    ("GetAttr", 9),
    ("GetFH", 10),
    ("Link", 11),
    ("Lock", 12),
    ("Lockt", 13),
    ("Locku", 14),
    ("Lookup", 15),
    ("LookupRoot", 16),
    ("Nverify", 17),
    ("Open", 18),
    ("OpenAttr", 19),
    ("OpenConfirm", 20),
    ("OpenDgrd", 21),
    ("PutFH", 22),
    ("Read", 25),
    ("ReadDir", 26),
    ("ReadLink", 27),
    ("Remove", 28),
    ("Rename", 29),
    ("Renew", 30),
    ("RestoreFH", 31),
    ("SaveFH", 32),
    ("SecInfo", 33),
    ("SetAttr", 34),
    // upstream's procfs reads these two one slot early (35 and 36 are
    // SETCLIENTID and SETCLIENTID_CONFIRM); kept so the values agree.
    ("Verify", 35),
    ("Write", 36),
    ("RelLockOwner", 37),
];

pub struct Nfsd {
    path: PathBuf,
}

impl Nfsd {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("net/rpc/nfsd"),
        }
    }
}

impl Collector for Nfsd {
    fn name(&self) -> &'static str {
        "nfsd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let l = nfs_rpc::parse(&self.path, &read(&self.path)?)?;
        let v2 = procedures(&self.path, &l, "proc2", V2.len())?;
        let v3 = procedures(&self.path, &l, "proc3", V3.len())?;
        let ops = procedures(&self.path, &l, "proc4ops", 40)?;
        let counters: [(&str, &str, &str, usize); 9] = [
            (
                "node_nfsd_reply_cache_hits_total",
                "Total number of NFSd Reply Cache hits (client lost server response).",
                "rc",
                0,
            ),
            (
                "node_nfsd_reply_cache_misses_total",
                "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
                "rc",
                1,
            ),
            (
                "node_nfsd_reply_cache_nocache_total",
                "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
                "rc",
                2,
            ),
            (
                "node_nfsd_file_handles_stale_total",
                "Total number of NFSd stale file handles",
                "fh",
                0,
            ),
            (
                "node_nfsd_disk_bytes_read_total",
                "Total NFSd bytes read.",
                "io",
                0,
            ),
            (
                "node_nfsd_disk_bytes_written_total",
                "Total NFSd bytes written.",
                "io",
                1,
            ),
            (
                "node_nfsd_read_ahead_cache_not_found_total",
                "Total number of NFSd read ahead cache not found.",
                "ra",
                11,
            ),
            (
                "node_nfsd_connections_total",
                "Total number of NFSd TCP connections.",
                "net",
                3,
            ),
            (
                "node_nfsd_server_rpcs_total",
                "Total number of NFSd RPCs.",
                "rpc",
                0,
            ),
        ];
        for (name, help, key, i) in counters {
            out.single(name, help, Counter, field(&l, key, i));
        }
        out.single(
            "node_nfsd_server_threads",
            "Total number of NFSd kernel threads that are running.",
            Gauge,
            field(&l, "th", 0),
        );
        out.single(
            "node_nfsd_read_ahead_cache_size_blocks",
            "How large the read ahead cache is in blocks.",
            Gauge,
            field(&l, "ra", 0),
        );
        let name = "node_nfsd_packets_total";
        out.family(
            name,
            "Total NFSd network packets (sent+received) by protocol type.",
            Counter,
        );
        out.sample(name, &[("proto", "udp")], field(&l, "net", 1));
        out.sample(name, &[("proto", "tcp")], field(&l, "net", 2));
        let name = "node_nfsd_rpc_errors_total";
        out.family(
            name,
            "Total number of NFSd RPC errors by error type.",
            Counter,
        );
        out.sample(name, &[("error", "fmt")], field(&l, "rpc", 2));
        out.sample(name, &[("error", "auth")], field(&l, "rpc", 3));
        out.sample(name, &[("error", "cInt")], field(&l, "rpc", 4));
        let name = "node_nfsd_requests_total";
        out.family(
            name,
            "Total number NFSd Requests by method and protocol.",
            Counter,
        );
        // The Null procedure is left out, as upstream does.
        for (method, v) in V2.iter().zip(&v2).skip(1) {
            out.sample(name, &[("method", method), ("proto", "2")], *v);
        }
        for (method, v) in V3.iter().zip(&v3).skip(1) {
            out.sample(name, &[("method", method), ("proto", "3")], *v);
        }
        for (method, op) in V4_OPS {
            out.sample(
                name,
                &[("method", method), ("proto", "4")],
                ops.get(op).copied().unwrap_or(0.0),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn server_counters_and_procedures() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/net/rpc/nfsd",
                "rc 0 6 18622\nfh 0 0 0 0 0\nio 157286400 72864\n\
                 th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000\n\
                 ra 32 0 0 0 0 0 0 0 0 0 0 0\nnet 972 55 917 1\nrpc 18628 3 1 2 0\n\
                 proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0\n\
                 proc4ops 40 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 0\n",
            )],
        );
        let t = render(&Nfsd::new(&p));
        for want in [
            "node_nfsd_reply_cache_nocache_total 18622\n",
            "node_nfsd_disk_bytes_read_total 1.572864e+08\n",
            "node_nfsd_server_threads 8\n",
            "node_nfsd_read_ahead_cache_size_blocks 32\n",
            "node_nfsd_packets_total{proto=\"tcp\"} 917\n",
            "node_nfsd_rpc_errors_total{error=\"auth\"} 2\n",
            "node_nfsd_requests_total{method=\"GetAttr\",proto=\"3\"} 112\n",
            "node_nfsd_requests_total{method=\"Access\",proto=\"4\"} 1098\n",
            "node_nfsd_requests_total{method=\"Renew\",proto=\"4\"} 1236\n",
            "node_nfsd_requests_total{method=\"SetAttr\",proto=\"2\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("method=\"Null\""), "{t}");
    }
}

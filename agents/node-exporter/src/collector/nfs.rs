//! `node_nfs_*`: NFS client RPC statistics from /proc/net/rpc/nfs (EFS
//! mounts on EC2), per procedure and NFS version as upstream names them.

use super::nfs_rpc::{self, field, procedures, V2, V3};
use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::PathBuf;

/// NFSv4 client operations, in counter order.
const V4: [&str; 59] = [
    "Null",
    "Read",
    "Write",
    "Commit",
    "Open",
    "OpenConfirm",
    "OpenNoattr",
    "OpenDowngrade",
    "Close",
    "Setattr",
    "FsInfo",
    "Renew",
    "SetClientID",
    "SetClientIDConfirm",
    "Lock",
    "Lockt",
    "Locku",
    "Access",
    "Getattr",
    "Lookup",
    "LookupRoot",
    "Remove",
    "Rename",
    "Link",
    "Symlink",
    "Create",
    "Pathconf",
    "StatFs",
    "ReadLink",
    "ReadDir",
    "ServerCaps",
    "DelegReturn",
    "GetACL",
    "SetACL",
    "FsLocations",
    "ReleaseLockowner",
    "Secinfo",
    "FsidPresent",
    "ExchangeID",
    "CreateSession",
    "DestroySession",
    "Sequence",
    "GetLeaseTime",
    "ReclaimComplete",
    "LayoutGet",
    "GetDeviceInfo",
    "LayoutCommit",
    "LayoutReturn",
    "SecinfoNoName",
    "TestStateID",
    "FreeStateID",
    "GetDeviceList",
    "BindConnToSession",
    "DestroyClientID",
    "Seek",
    "Allocate",
    "DeAllocate",
    "LayoutStats",
    "Clone",
];

pub struct Nfs {
    path: PathBuf,
}

impl Nfs {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("net/rpc/nfs"),
        }
    }
}

impl Collector for Nfs {
    fn name(&self) -> &'static str {
        "nfs"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let l = nfs_rpc::parse(&self.path, &read(&self.path)?)?;
        let versions = [
            ("2", procedures(&self.path, &l, "proc2", V2.len())?, &V2[..]),
            ("3", procedures(&self.path, &l, "proc3", V3.len())?, &V3[..]),
            ("4", procedures(&self.path, &l, "proc4", V4.len())?, &V4[..]),
        ];
        let name = "node_nfs_packets_total";
        out.family(
            name,
            "Total NFSd network packets (sent+received) by protocol type.",
            Counter,
        );
        out.sample(name, &[("protocol", "udp")], field(&l, "net", 1));
        out.sample(name, &[("protocol", "tcp")], field(&l, "net", 2));
        out.single(
            "node_nfs_connections_total",
            "Total number of NFSd TCP connections.",
            Counter,
            field(&l, "net", 3),
        );
        out.single(
            "node_nfs_rpcs_total",
            "Total number of RPCs performed.",
            Counter,
            field(&l, "rpc", 0),
        );
        out.single(
            "node_nfs_rpc_retransmissions_total",
            "Number of RPC transmissions performed.",
            Counter,
            field(&l, "rpc", 1),
        );
        out.single(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            Counter,
            field(&l, "rpc", 2),
        );
        let name = "node_nfs_requests_total";
        out.family(name, "Number of NFS procedures invoked.", Counter);
        for (proto, values, names) in &versions {
            for (method, v) in names.iter().zip(values) {
                out.sample(name, &[("method", method), ("proto", proto)], *v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn client_counters_and_procedures() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[(
                "proc/net/rpc/nfs",
                "net 70 70 69 45\nrpc 1218785755 374636 1218815394\n\
                 proc3 22 0 1061909262 48906 4077635 117661341 5 29391916 2570425 2993289 590 0 0 7815 15 1130 0 3983 92385 13332 2 1 23729\n\
                 proc4 3 98 51 54\n",
            )],
        );
        let t = render(&Nfs::new(&p));
        for want in [
            "node_nfs_packets_total{protocol=\"tcp\"} 69\n",
            "node_nfs_connections_total 45\n",
            "node_nfs_rpcs_total 1.218785755e+09\n",
            "node_nfs_requests_total{method=\"GetAttr\",proto=\"3\"} 1.061909262e+09\n",
            "node_nfs_requests_total{method=\"Commit\",proto=\"3\"} 23729\n",
            "node_nfs_requests_total{method=\"Write\",proto=\"4\"} 54\n",
            "node_nfs_requests_total{method=\"Clone\",proto=\"4\"} 0\n",
            "node_nfs_requests_total{method=\"FsStat\",proto=\"2\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
    }

    #[test]
    fn count_mismatch_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/net/rpc/nfs", "proc3 22 0 1\n")]);
        let mut out = Exposition::default();
        assert!(Nfs::new(&p).collect(&mut out).is_err());
    }
}

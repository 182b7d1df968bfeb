//! `node_ipvs_*` from /proc/net/ip_vs_stats (totals) and /proc/net/ip_vs
//! (per virtual service and backend: active and inactive connections,
//! weight), as node_exporter 1.5 names and labels them. Backends that share
//! a label set are summed, as upstream does; `--collector.ipvs.backend-labels`
//! picks the labels (fewer labels, more backends summed into one series).

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn hex(path: &Path, s: &str) -> Result<u64, CollectError> {
    u64::from_str_radix(s, 16)
        .map_err(|_| CollectError::parse(path, format!("not hexadecimal: {s:?}")))
}

/// `C0A80016:0CEA` (or 32 hex digits for IPv6) as (address, port).
fn addr_port(path: &Path, s: &str) -> Result<(String, String), CollectError> {
    let (a, p) = s
        .rsplit_once(':')
        .ok_or_else(|| CollectError::parse(path, format!("no port in {s:?}")))?;
    let port = hex(path, p)?.to_string();
    let addr = match a.len() {
        8 => std::net::Ipv4Addr::from(hex(path, a)? as u32).to_string(),
        32 => {
            let v = u128::from_str_radix(a, 16)
                .map_err(|_| CollectError::parse(path, format!("not hexadecimal: {a:?}")))?;
            std::net::Ipv6Addr::from(v).to_string()
        }
        _ => return Err(CollectError::parse(path, format!("bad address {a:?}"))),
    };
    Ok((addr, port))
}

/// The totals line of ip_vs_stats: connections, in/out packets, in/out bytes.
pub fn parse_stats(path: &Path, text: &str) -> Result<[u64; 5], CollectError> {
    let line = text
        .lines()
        .nth(2)
        .ok_or_else(|| CollectError::parse(path, "no totals line"))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() != 5 {
        return Err(CollectError::parse(
            path,
            format!("expected 5 totals: {line:?}"),
        ));
    }
    let mut v = [0; 5];
    for (i, s) in f.iter().enumerate() {
        v[i] = hex(path, s)?;
    }
    Ok(v)
}

/// Label values: local_address, local_mark, local_port, proto, remote_address, remote_port.
type Key = [String; 6];

/// The backend label names, in the order of [`Key`] (sorted, as written).
const LABELS: [&str; 6] = [
    "local_address",
    "local_mark",
    "local_port",
    "proto",
    "remote_address",
    "remote_port",
];

/// upstream's default for `--collector.ipvs.backend-labels`: all of them.
pub const DEFAULT_BACKEND_LABELS: &str =
    "local_address,local_port,remote_address,remote_port,proto,local_mark";

/// `--collector.ipvs.backend-labels`: comma-separated label names (empty
/// items ignored, so `""` means none) → which of [`LABELS`] to keep. An
/// unknown name is refused, naming it, as upstream refuses to start.
pub fn parse_backend_labels(s: &str) -> Result<[bool; 6], String> {
    let mut keep = [false; 6];
    let mut unknown: Vec<&str> = Vec::new();
    for name in s.split(',').filter(|n| !n.is_empty()) {
        match LABELS.iter().position(|l| *l == name) {
            Some(i) => keep[i] = true,
            None => unknown.push(name),
        }
    }
    if unknown.is_empty() {
        return Ok(keep);
    }
    unknown.sort_unstable();
    unknown.dedup();
    Err(format!(
        "unknown IPVS backend labels: {:?} (known: {})",
        unknown.join(", "),
        LABELS.join(", ")
    ))
}

/// Per backend: (labels, active, inactive, weight).
pub fn parse_backends(path: &Path, text: &str) -> Result<Vec<(Key, f64, f64, f64)>, CollectError> {
    let mut out = Vec::new();
    let mut service: Option<(String, String, String, String)> = None; // (addr, mark, port, proto)
    for line in text.lines().skip(3) {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first() {
            None => continue,
            Some(&"->") => {
                let Some((la, lm, lp, proto)) = &service else {
                    return Err(CollectError::parse(path, "backend before any service"));
                };
                if f.len() < 6 {
                    return Err(CollectError::parse(
                        path,
                        format!("short backend line {line:?}"),
                    ));
                }
                let (ra, rp) = addr_port(path, f[1])?;
                let n = |s: &str| -> Result<f64, CollectError> { super::num(path, s) };
                out.push((
                    [la.clone(), lm.clone(), lp.clone(), proto.clone(), ra, rp],
                    n(f[4])?,
                    n(f[5])?,
                    n(f[3])?,
                ));
            }
            Some(&"TCP") | Some(&"UDP") | Some(&"SCTP") if f.len() >= 2 => {
                let (a, p) = addr_port(path, f[1])?;
                service = Some((a, String::new(), p, f[0].to_string()));
            }
            Some(&"FWM") if f.len() >= 2 => {
                service = Some((String::new(), f[1].to_string(), "0".into(), "FWM".into()));
            }
            Some(_) => {
                return Err(CollectError::parse(
                    path,
                    format!("unexpected line {line:?}"),
                ))
            }
        }
    }
    Ok(out)
}

pub struct Ipvs {
    stats: PathBuf,
    backends: PathBuf,
    /// Which of [`LABELS`] the backend series carry.
    keep: [bool; 6],
}

impl Ipvs {
    pub fn new(paths: &Paths, keep: [bool; 6]) -> Self {
        Self {
            stats: paths.proc("net/ip_vs_stats"),
            backends: paths.proc("net/ip_vs"),
            keep,
        }
    }
}

impl Collector for Ipvs {
    fn name(&self) -> &'static str {
        "ipvs"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let totals = parse_stats(&self.stats, &read(&self.stats)?)?;
        let backends = parse_backends(&self.backends, &read(&self.backends)?)?;
        for (i, name, help) in [
            (
                0,
                "node_ipvs_connections_total",
                "The total number of connections made.",
            ),
            (
                1,
                "node_ipvs_incoming_packets_total",
                "The total number of incoming packets.",
            ),
            (
                2,
                "node_ipvs_outgoing_packets_total",
                "The total number of outgoing packets.",
            ),
            (
                3,
                "node_ipvs_incoming_bytes_total",
                "The total amount of incoming data.",
            ),
            (
                4,
                "node_ipvs_outgoing_bytes_total",
                "The total amount of outgoing data.",
            ),
        ] {
            out.single(name, help, Counter, totals[i] as f64);
        }
        let mut sums: BTreeMap<Key, [f64; 3]> = BTreeMap::new();
        for (mut k, a, i, w) in backends {
            // A label left out is blanked, so backends differing only in it
            // share a key and are summed.
            for (v, keep) in k.iter_mut().zip(self.keep) {
                if !keep {
                    v.clear();
                }
            }
            let e = sums.entry(k).or_default();
            e[0] += a;
            e[1] += i;
            e[2] += w;
        }
        for (idx, name, help) in [
            (
                0,
                "node_ipvs_backend_connections_active",
                "The current active connections by local and remote address.",
            ),
            (
                1,
                "node_ipvs_backend_connections_inactive",
                "The current inactive connections by local and remote address.",
            ),
            (
                2,
                "node_ipvs_backend_weight",
                "The current backend weight by local and remote address.",
            ),
        ] {
            if sums.is_empty() {
                break;
            }
            out.family(name, help, Gauge);
            for (k, v) in &sums {
                let labels: Vec<(&str, &str)> = LABELS
                    .iter()
                    .zip(k.iter())
                    .zip(self.keep)
                    .filter(|(_, keep)| *keep)
                    .map(|((l, v), _)| (*l, v.as_str()))
                    .collect();
                out.sample(name, &labels, v[idx]);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const VS: &str = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n\
TCP  C0A80016:0CEA wlc  \n  -> C0A85216:0CEA      Tunnel  100    248        2         \n\
FWM  10001000 wlc   \n  -> C0A8321A:0CEA      Tunnel  20     64         1         \n";
    const STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n 16AA370 E33656E5        0     51D8C8883AB3                0\n";

    #[test]
    fn totals_and_backends() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[("proc/net/ip_vs", VS), ("proc/net/ip_vs_stats", STATS)],
        );
        let t = render(&Ipvs::new(&p, [true; 6]));
        for want in [
            "node_ipvs_connections_total 2.3765872e+07\n",
            "node_ipvs_incoming_bytes_total 8.9991519156915e+13\n",
            "node_ipvs_backend_connections_active{local_address=\"192.168.0.22\",local_mark=\"\",local_port=\"3306\",proto=\"TCP\",remote_address=\"192.168.82.22\",remote_port=\"3306\"} 248\n",
            "node_ipvs_backend_weight{local_address=\"\",local_mark=\"10001000\",local_port=\"0\",proto=\"FWM\",remote_address=\"192.168.50.26\",remote_port=\"3306\"} 20\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(parse_stats(Path::new("s"), "a\nb\n1 2 zz 4 5\n").is_err());
    }

    #[test]
    fn backend_labels_pick_labels_and_sum_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[("proc/net/ip_vs", VS), ("proc/net/ip_vs_stats", STATS)],
        );
        let render_with = |flag: &str| render(&Ipvs::new(&p, parse_backend_labels(flag).unwrap()));
        let t = render_with("local_port");
        for want in [
            "node_ipvs_backend_connections_active{local_port=\"0\"} 64\n",
            "node_ipvs_backend_connections_active{local_port=\"3306\"} 248\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        // Both backends have remote port 3306: one series, summed.
        let t = render_with("remote_port,");
        assert!(
            t.contains("node_ipvs_backend_weight{remote_port=\"3306\"} 120\n"),
            "{t}"
        );
        assert_eq!(t.matches("node_ipvs_backend_weight{").count(), 1, "{t}");
        let t = render_with("");
        for want in [
            "node_ipvs_backend_connections_active 312\n",
            "node_ipvs_backend_connections_inactive 3\n",
            "node_ipvs_backend_weight 120\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert_eq!(
            parse_backend_labels(DEFAULT_BACKEND_LABELS).unwrap(),
            [true; 6]
        );
    }

    #[test]
    fn unknown_backend_labels_are_named() {
        let e = parse_backend_labels("proto,zone,local_port,az").unwrap_err();
        assert!(e.contains("\"az, zone\""), "{e}");
    }
}

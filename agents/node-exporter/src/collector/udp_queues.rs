//! `node_udp_queues{ip,queue}`: bytes queued in UDP sockets, summed over
//! /proc/net/udp and udp6 (`tx_queue:rx_queue`, hexadecimal).

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

pub fn sum(path: &Path, text: &str) -> Result<(u64, u64), CollectError> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let Some(q) = line.split_whitespace().nth(4) else {
            continue;
        };
        let (t, r) = q
            .split_once(':')
            .ok_or_else(|| CollectError::parse(path, format!("queue column {q}")))?;
        let hex = |s: &str| {
            u64::from_str_radix(s, 16)
                .map_err(|_| CollectError::parse(path, format!("not hex: {s}")))
        };
        // Saturating: a corrupt file must not overflow (a panic in debug).
        tx = tx.saturating_add(hex(t)?);
        rx = rx.saturating_add(hex(r)?);
    }
    Ok((tx, rx))
}

pub struct UdpQueues {
    v4: PathBuf,
    v6: PathBuf,
}

impl UdpQueues {
    pub fn new(paths: &Paths) -> Self {
        Self {
            v4: paths.proc("net/udp"),
            v6: paths.proc("net/udp6"),
        }
    }
}

impl Collector for UdpQueues {
    fn name(&self) -> &'static str {
        "udp_queues"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let v4 = sum(&self.v4, &read(&self.v4)?)?;
        let v6 = match super::read_file(&self.v6) {
            Ok(t) => Some(sum(&self.v6, &t)?),
            Err(_) => None,
        };
        let name = "node_udp_queues";
        out.family(
            name,
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            Gauge,
        );
        out.sample(name, &[("ip", "v4"), ("queue", "rx")], v4.1 as f64);
        out.sample(name, &[("ip", "v4"), ("queue", "tx")], v4.0 as f64);
        if let Some(v6) = v6 {
            out.sample(name, &[("ip", "v6"), ("queue", "rx")], v6.1 as f64);
            out.sample(name, &[("ip", "v6"), ("queue", "tx")], v6.0 as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_hex_queues() {
        let t = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 00000000:0044 00000000:0000 07 00000010:00000100 00:00000000 00000000     0        0 1 2 0 0\n\
  2: 00000000:0045 00000000:0000 07 00000001:00000001 00:00000000 00000000     0        0 1 2 0 0\n";
        assert_eq!(sum(Path::new("udp"), t).unwrap(), (17, 257));
    }
}

//! `node_netstat_<Proto>_<Field>` from /proc/net/{netstat,snmp,snmp6}, the
//! fields matching `--collector.netstat.fields` (node_exporter's default set).
//! Untyped, as upstream exports them.

use super::{read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{is_valid_metric_name, Exposition, MetricType::Untyped};
use std::path::{Path, PathBuf};

/// Pairs of header/value lines: `Tcp: RtoAlgorithm ...` then `Tcp: 1 ...`;
/// calls `f(key, value)` with `key` = `Proto_Field` (in a reused buffer).
pub fn parse_pairs(
    path: &Path,
    text: &str,
    key: &mut String,
    f: &mut dyn FnMut(&str, &str) -> Result<(), CollectError>,
) -> Result<(), CollectError> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    while let Some(names) = lines.next() {
        let values = lines
            .next()
            .ok_or_else(|| CollectError::parse(path, "odd number of lines"))?;
        let (Some((proto, names)), Some((_, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            return Err(CollectError::parse(path, "line without protocol"));
        };
        if names.split_whitespace().count() != values.split_whitespace().count() {
            return Err(CollectError::parse(
                path,
                format!("{proto}: names and values differ in count"),
            ));
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            key.clear();
            key.push_str(proto);
            key.push('_');
            key.push_str(n);
            f(key, v)?;
        }
    }
    Ok(())
}

/// `Ip6InReceives   123` lines; the protocol is everything up to the `6`.
pub fn parse_snmp6(
    text: &str,
    key: &mut String,
    f: &mut dyn FnMut(&str, &str) -> Result<(), CollectError>,
) -> Result<(), CollectError> {
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let Some(i) = k.find('6') {
            key.clear();
            key.push_str(&k[..=i]);
            key.push('_');
            key.push_str(&k[i + 1..]);
            f(key, v)?;
        }
    }
    Ok(())
}

pub struct Netstat {
    netstat: PathBuf,
    snmp: PathBuf,
    snmp6: PathBuf,
    fields: FieldFilter,
}

impl Netstat {
    pub fn new(s: &Settings) -> Self {
        Self {
            netstat: s.paths.proc("net/netstat"),
            snmp: s.paths.proc("net/snmp"),
            snmp6: s.paths.proc("net/snmp6"),
            fields: FieldFilter::new(s.netstat_fields.clone()),
        }
    }
}

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        let mut key = String::with_capacity(64);
        let mut seen: Vec<u64> = Vec::with_capacity(64);
        let path = self.netstat.clone();
        let mut emit = |key: &str, value: &str| -> Result<(), CollectError> {
            if !self.fields.is_match(key) {
                return Ok(());
            }
            // A key appears once per file; guard anyway, a repeated family
            // would make the whole exposition invalid.
            let h = hash(key);
            if seen.contains(&h) {
                return Ok(());
            }
            seen.push(h);
            let v: f64 = value
                .parse()
                .map_err(|_| CollectError::parse(&path, format!("{key}: {value:?}")))?;
            name.clear();
            name.push_str("node_netstat_");
            name.push_str(key);
            if !is_valid_metric_name(&name) {
                return Ok(());
            }
            help.clear();
            help.push_str("Statistic ");
            help.extend(key.split('_'));
            help.push('.');
            out.family(&name, &help, Untyped);
            out.sample(&name, &[], v);
            Ok(())
        };
        parse_pairs(&self.netstat, &read(&self.netstat)?, &mut key, &mut emit)?;
        parse_pairs(&self.snmp, &read(&self.snmp)?, &mut key, &mut emit)?;
        // No IPv6 is not an error, as upstream.
        if let Ok(t) = super::read_file(&self.snmp6) {
            parse_snmp6(&t, &mut key, &mut emit)?;
        }
        Ok(())
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const NETSTAT: &str = "TcpExt: SyncookiesSent ListenDrops TCPTimeouts DelayedACKs\n\
TcpExt: 0 3 2 99\n\
IpExt: InNoRoutes InOctets OutOctets\n\
IpExt: 0 309271058 506624\n";
    const SNMP: &str = "Ip: Forwarding DefaultTTL\nIp: 2 64\n\
Tcp: RtoAlgorithm ActiveOpens CurrEstab InErrs\nTcp: 1 116 6 0\n\
Udp: InDatagrams NoPorts InErrors\nUdp: 113 0 0\n";
    const SNMP6: &str = "Ip6InReceives 10\nIp6InOctets 128\nIcmp6InMsgs 1\nUdpLite6InErrors 0\n";

    #[test]
    fn default_fields_only() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/net/netstat", NETSTAT),
                ("proc/net/snmp", SNMP),
                ("proc/net/snmp6", SNMP6),
            ],
        );
        let s = Settings {
            paths: p,
            ..Settings::default()
        };
        let t = render(&Netstat::new(&s));
        assert!(t.contains("# HELP node_netstat_Tcp_ActiveOpens Statistic TcpActiveOpens.\n# TYPE node_netstat_Tcp_ActiveOpens untyped\nnode_netstat_Tcp_ActiveOpens 116\n"), "{t}");
        for want in [
            "TcpExt_ListenDrops 3",
            "TcpExt_SyncookiesSent 0",
            "IpExt_InOctets 3.09271058e+08",
            "Ip_Forwarding 2",
            "Ip6_InOctets 128",
            "Icmp6_InMsgs 1",
            "UdpLite6_InErrors 0",
            "Udp_InErrors 0",
            "Tcp_CurrEstab 6",
            "Tcp_InErrs 0",
        ] {
            assert!(t.contains(&format!("node_netstat_{want}\n")), "{want}: {t}");
        }
        assert!(
            !t.contains("DelayedACKs")
                && !t.contains("Ip6_InReceives")
                && !t.contains("DefaultTTL"),
            "{t}"
        );
    }
}

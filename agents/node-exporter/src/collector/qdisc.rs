//! `node_qdisc_*{device,kind}`: the root queueing discipline of each network
//! device, from an rtnetlink RTM_GETQDISC dump (what `tc -s qdisc` shows).
//! Off by default, as upstream. With `--collector.qdisc.fixtures DIR` it reads
//! upstream's test stand-in for netlink instead, `DIR/results.json` (a JSON
//! list of `{IfaceName, Parent, Kind, Bytes, Packets, Drops, Requeues,
//! Overlimits, Qlen, Backlog}`), so the end-to-end suite runs without a
//! kernel. Names and HELP texts are node_exporter 1.5's.

use super::{CollectError, Collector, Families};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use crate::netlink;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The collector's options (`--collector.qdisc.*`).
#[derive(Clone, Default)]
pub struct QdiscSettings {
    /// `--collector.qdisc.fixtures`: a folder holding `results.json`.
    pub fixtures: Option<PathBuf>,
    /// `--collector.qdisc.device-include` / `-exclude` (unanchored, as
    /// upstream's device filter).
    pub device_include: Option<Regex>,
    pub device_exclude: Option<Regex>,
}

/// One qdisc as both sources describe it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Qdisc {
    pub iface: String,
    pub kind: String,
    /// Only root qdiscs are reported (upstream skips the others).
    pub root: bool,
    pub bytes: u64,
    pub packets: u64,
    pub drops: u64,
    pub requeues: u64,
    pub overlimits: u64,
    pub qlen: u64,
    pub backlog: u64,
}

/// (suffix, help, type) in upstream's order.
const FAMILIES: [(&str, &str, MetricType); 7] = [
    ("bytes_total", "Number of bytes sent.", Counter),
    ("packets_total", "Number of packets sent.", Counter),
    ("drops_total", "Number of packets dropped.", Counter),
    (
        "requeues_total",
        "Number of packets dequeued, not transmitted, and requeued.",
        Counter,
    ),
    ("overlimits_total", "Number of overlimit packets.", Counter),
    (
        "current_queue_length",
        "Number of packets currently in queue to be sent.",
        Gauge,
    ),
    (
        "backlog",
        "Number of bytes currently in queue to be sent.",
        Gauge,
    ),
];

pub struct QdiscCollector {
    settings: QdiscSettings,
}

impl QdiscCollector {
    pub fn new(settings: &QdiscSettings) -> Self {
        Self {
            settings: settings.clone(),
        }
    }

    fn ignored(&self, dev: &str) -> bool {
        let s = &self.settings;
        s.device_exclude.as_ref().is_some_and(|r| r.is_match(dev))
            || s.device_include.as_ref().is_some_and(|r| !r.is_match(dev))
    }
}

impl Collector for QdiscCollector {
    fn name(&self) -> &'static str {
        "qdisc"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let qdiscs = match &self.settings.fixtures {
            Some(dir) => from_fixture(&dir.join("results.json"))?,
            None => from_kernel()?,
        };
        let mut fam = Families::default();
        for q in qdiscs.iter().filter(|q| q.root && !self.ignored(&q.iface)) {
            let values = [
                q.bytes,
                q.packets,
                q.drops,
                q.requeues,
                q.overlimits,
                q.qlen,
                q.backlog,
            ];
            for ((suffix, help, kind), v) in FAMILIES.iter().zip(values) {
                fam.add(
                    format!("node_qdisc_{suffix}"),
                    *help,
                    *kind,
                    vec![("device", q.iface.clone()), ("kind", q.kind.clone())],
                    v as f64,
                );
            }
        }
        fam.write(out);
        Ok(())
    }
}

/// A JSON object's field by name, case-insensitively (as Go's encoding/json
/// matches struct fields).
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn from_fixture(path: &Path) -> Result<Vec<Qdisc>, CollectError> {
    let text = super::read(path)?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| CollectError::parse(path, e.to_string()))?;
    let list = json
        .as_array()
        .ok_or_else(|| CollectError::parse(path, "expected a JSON list of qdiscs"))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let num = |name: &str| -> Result<u64, CollectError> {
            match field(item, name) {
                None | Some(Value::Null) => Ok(0),
                Some(v) => v
                    .as_u64()
                    .ok_or_else(|| CollectError::parse(path, format!("{name}: not a count: {v}"))),
            }
        };
        let text = |name: &str| {
            field(item, name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        out.push(Qdisc {
            iface: text("IfaceName"),
            kind: text("Kind"),
            // The fixture format is upstream's library's: Parent 0 is the root.
            root: num("Parent")? == 0,
            bytes: num("Bytes")?,
            packets: num("Packets")?,
            drops: num("Drops")?,
            requeues: num("Requeues")?,
            overlimits: num("Overlimits")?,
            qlen: num("Qlen")?,
            backlog: num("Backlog")?,
        });
    }
    Ok(out)
}

const RTM_NEWQDISC: u16 = 36;
const RTM_GETQDISC: u16 = 38;
const TC_H_ROOT: u32 = 0xffff_ffff;
const TCA_KIND: u16 = 1;
const TCA_STATS: u16 = 3;
const TCA_STATS2: u16 = 7;
const TCA_STATS_BASIC: u16 = 1;
const TCA_STATS_QUEUE: u16 = 3;
const TCA_STATS_PKT64: u16 = 8;

fn from_kernel() -> Result<Vec<Qdisc>, CollectError> {
    let nl_err = |what: &str, e: std::io::Error| CollectError::Io {
        path: PathBuf::from(format!("rtnetlink {what}")),
        source: e,
    };
    let names: HashMap<u32, String> = netlink::dump_links()
        .map_err(|e| nl_err("RTM_GETLINK", e))?
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    // tcmsg, all zero: every qdisc of every device.
    let msgs = netlink::request(libc::NETLINK_ROUTE, RTM_GETQDISC, true, &[0u8; 20])
        .map_err(|e| nl_err("RTM_GETQDISC", e))?;
    Ok(msgs
        .iter()
        .filter(|(ty, _)| *ty == RTM_NEWQDISC)
        .filter_map(|(_, p)| parse_qdisc(p, &names))
        .collect())
}

/// Decode one RTM_NEWQDISC payload (tcmsg + attributes).
pub fn parse_qdisc(p: &[u8], names: &HashMap<u32, String>) -> Option<Qdisc> {
    if p.len() < 20 {
        return None;
    }
    let ifindex = netlink::data_u32(&p[4..])?;
    let parent = netlink::data_u32(&p[12..])?;
    let mut q = Qdisc {
        iface: names.get(&ifindex).cloned().unwrap_or_default(),
        root: parent == TC_H_ROOT,
        ..Qdisc::default()
    };
    let mut have_stats2 = false;
    for (ty, d) in netlink::attrs(p, 20) {
        match ty {
            TCA_KIND => q.kind = netlink::data_str(d),
            TCA_STATS2 => {
                have_stats2 = true;
                for (sty, sd) in netlink::attrs(d, 0) {
                    match sty {
                        // gnet_stats_basic: bytes u64, packets u32
                        TCA_STATS_BASIC if sd.len() >= 12 => {
                            q.bytes = netlink::data_u64(sd).unwrap_or(0);
                            q.packets = netlink::data_u32(&sd[8..]).unwrap_or(0).into();
                        }
                        TCA_STATS_PKT64 => q.packets = netlink::data_u64(sd).unwrap_or(q.packets),
                        // gnet_stats_queue: qlen, backlog, drops, requeues, overlimits
                        TCA_STATS_QUEUE if sd.len() >= 20 => {
                            let at = |i: usize| u64::from(netlink::data_u32(&sd[i..]).unwrap_or(0));
                            q.qlen = at(0);
                            q.backlog = at(4);
                            q.drops = at(8);
                            q.requeues = at(12);
                            q.overlimits = at(16);
                        }
                        _ => {}
                    }
                }
            }
            // Old kernels: tc_stats (bytes u64, packets, drops, overlimits,
            // bps, pps, qlen, backlog u32).
            TCA_STATS if !have_stats2 && d.len() >= 36 => {
                let at = |i: usize| u64::from(netlink::data_u32(&d[i..]).unwrap_or(0));
                q.bytes = netlink::data_u64(d).unwrap_or(0);
                q.packets = at(8);
                q.drops = at(12);
                q.overlimits = at(16);
                q.qlen = at(28);
                q.backlog = at(32);
            }
            _ => {}
        }
    }
    (!q.iface.is_empty()).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    fn with_fixture(json: &str, s: QdiscSettings) -> (tempfile::TempDir, QdiscCollector) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("results.json"), json).unwrap();
        let c = QdiscCollector::new(&QdiscSettings {
            fixtures: Some(d.path().to_path_buf()),
            ..s
        });
        (d, c)
    }

    const FIXTURE: &str = r#"[
        {"IfaceName": "wlan0", "Bytes": 42, "Packets": 42, "Requeues": 1, "Kind": "fq", "Drops": 1},
        {"IfaceName": "eth0", "Bytes": 83, "Packets": 83, "Requeues": 2, "Kind": "pfifo_fast"},
        {"IfaceName": "eth0", "Parent": 65537, "Bytes": 5, "Kind": "fq_codel"}
    ]"#;

    #[test]
    fn fixture_root_qdiscs_with_upstream_names() {
        let (_d, c) = with_fixture(FIXTURE, QdiscSettings::default());
        let t = render(&c);
        for want in [
            "# HELP node_qdisc_bytes_total Number of bytes sent.\n# TYPE node_qdisc_bytes_total counter\n",
            "node_qdisc_bytes_total{device=\"eth0\",kind=\"pfifo_fast\"} 83\n",
            "node_qdisc_drops_total{device=\"wlan0\",kind=\"fq\"} 1\n",
            "# TYPE node_qdisc_backlog gauge\n",
            "node_qdisc_current_queue_length{device=\"wlan0\",kind=\"fq\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(
            !t.contains("fq_codel"),
            "a child qdisc is not reported: {t}"
        );
    }

    #[test]
    fn device_filters() {
        let (_d, c) = with_fixture(
            FIXTURE,
            QdiscSettings {
                device_exclude: Some(Regex::new("wlan").unwrap()),
                ..Default::default()
            },
        );
        let t = render(&c);
        assert!(t.contains("eth0") && !t.contains("wlan0"), "{t}");
        let (_d, c) = with_fixture(
            FIXTURE,
            QdiscSettings {
                device_include: Some(Regex::new("^wlan").unwrap()),
                ..Default::default()
            },
        );
        let t = render(&c);
        assert!(!t.contains("eth0") && t.contains("wlan0"), "{t}");
    }

    #[test]
    fn bad_fixture_is_named() {
        let (_d, c) = with_fixture(
            r#"[{"IfaceName": "x", "Bytes": "many"}]"#,
            Default::default(),
        );
        let e = c
            .collect(&mut Exposition::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("results.json") && e.contains("Bytes"), "{e}");
        let (_d, c) = with_fixture("{", Default::default());
        assert!(c.collect(&mut Exposition::default()).is_err());
    }

    #[test]
    fn decodes_a_qdisc_message() {
        let mut p = vec![0u8; 20];
        p[4..8].copy_from_slice(&2u32.to_ne_bytes());
        p[12..16].copy_from_slice(&TC_H_ROOT.to_ne_bytes());
        p.extend(netlink::attr_bytes(TCA_KIND, b"fq_codel\0"));
        let mut basic = 1234u64.to_ne_bytes().to_vec();
        basic.extend_from_slice(&10u32.to_ne_bytes());
        basic.extend_from_slice(&0u32.to_ne_bytes());
        let mut queue = Vec::new();
        for v in [1u32, 2, 3, 4, 5] {
            queue.extend_from_slice(&v.to_ne_bytes());
        }
        let mut stats2 = netlink::attr_bytes(TCA_STATS_BASIC, &basic);
        stats2.extend(netlink::attr_bytes(TCA_STATS_QUEUE, &queue));
        p.extend(netlink::attr_bytes(TCA_STATS2, &stats2));
        let names = HashMap::from([(2, "eth0".to_string())]);
        let q = parse_qdisc(&p, &names).unwrap();
        assert_eq!(
            q,
            Qdisc {
                iface: "eth0".into(),
                kind: "fq_codel".into(),
                root: true,
                bytes: 1234,
                packets: 10,
                qlen: 1,
                backlog: 2,
                drops: 3,
                requeues: 4,
                overlimits: 5,
            }
        );
    }

    #[test]
    fn live_dump_answers() {
        // Every namespace has lo; whether it has a qdisc depends on the
        // kernel (noqueue), so only the dump itself must succeed.
        let qs = from_kernel().unwrap();
        assert!(qs.iter().all(|q| !q.kind.is_empty()), "{qs:?}");
    }
}

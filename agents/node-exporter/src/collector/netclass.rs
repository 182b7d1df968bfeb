//! `node_network_*{device}` properties from /sys/class/net/<iface>/, as
//! node_exporter's netclass collector: one gauge (or counter) per readable
//! attribute, `node_network_info` with the text attributes, and
//! `node_network_up`. An attribute the kernel refuses to read (carrier of a
//! down link, speed of a virtual one) is left out, as upstream does.

use super::{CollectError, Collector, FieldFilter, Settings, SysfsDir};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use crate::netlink::{dump_links, format_addr, operstate_name, Link, IFF_DORMANT, IFF_UP};
use std::ffi::CStr;
use std::path::{Path, PathBuf};

/// (sysfs file, metric suffix, type, hex?)
const NUMERIC: &[(&CStr, &str, MetricType, bool)] = &[
    (c"addr_assign_type", "address_assign_type", Gauge, false),
    (c"carrier", "carrier", Gauge, false),
    (c"carrier_changes", "carrier_changes_total", Counter, false),
    (
        c"carrier_up_count",
        "carrier_up_changes_total",
        Counter,
        false,
    ),
    (
        c"carrier_down_count",
        "carrier_down_changes_total",
        Counter,
        false,
    ),
    (c"dev_id", "device_id", Gauge, true),
    (c"dormant", "dormant", Gauge, false),
    (c"flags", "flags", Gauge, true),
    (c"ifindex", "iface_id", Gauge, false),
    (c"iflink", "iface_link", Gauge, false),
    (c"link_mode", "iface_link_mode", Gauge, false),
    (c"mtu", "mtu_bytes", Gauge, false),
    (c"name_assign_type", "name_assign_type", Gauge, false),
    (c"netdev_group", "net_dev_group", Gauge, false),
    (c"speed", "speed_bytes", Gauge, false),
    (c"tx_queue_len", "transmit_queue_length", Gauge, false),
    (c"type", "protocol_type", Gauge, false),
];
const SPEED: usize = 14;

#[derive(Debug, Default)]
pub struct Iface {
    pub name: String,
    pub values: [Option<f64>; 17],
    pub address: String,
    pub broadcast: String,
    pub duplex: String,
    pub ifalias: String,
    pub operstate: String,
}

fn number(s: &str, hex: bool) -> Option<f64> {
    if hex {
        let h = s.strip_prefix("0x").unwrap_or(s);
        i64::from_str_radix(h, 16).ok().map(|v| v as f64)
    } else {
        s.parse::<i64>().ok().map(|v| v as f64)
    }
}

/// Mbit/s → bytes/s. node_exporter 1.5 reports -1 (unknown) as -125000
/// unless told to ignore invalid speeds.
fn speed_to_bytes(i: &mut Iface, ignore_invalid_speed: bool) {
    if let Some(mbit) = i.values[SPEED] {
        i.values[SPEED] = if mbit < 0.0 && ignore_invalid_speed {
            None
        } else {
            Some(mbit * 125000.0)
        };
    }
}

/// An interface from rtnetlink, plus the six attributes only sysfs has
/// (address/name assign type, dev_id, flags as set, speed, duplex). Where
/// sysfs refuses a read on a link that is not running (carrier, dormant),
/// the value is left out as well.
pub fn iface_from_link(l: Link, sys_class_net: &Path, ignore_invalid_speed: bool) -> Iface {
    let dir = SysfsDir::open(&sys_class_net.join(&l.name)).ok();
    let sys = |f: &CStr, hex: bool| {
        dir.as_ref()
            .and_then(|d| d.attr(f))
            .and_then(|s| number(&s, hex))
    };
    let running = l.flags & IFF_UP != 0;
    let f = |v: Option<u32>| v.map(f64::from);
    let mut i = Iface {
        values: [
            sys(c"addr_assign_type", false),
            if running {
                l.carrier.map(f64::from)
            } else {
                None
            },
            f(l.carrier_changes),
            f(l.carrier_up),
            f(l.carrier_down),
            sys(c"dev_id", true),
            running.then_some(if l.flags & IFF_DORMANT != 0 { 1.0 } else { 0.0 }),
            sys(c"flags", true),
            Some(f64::from(l.index)),
            Some(f64::from(l.link.unwrap_or(l.index))),
            l.linkmode.map(f64::from),
            f(l.mtu),
            sys(c"name_assign_type", false),
            f(l.group),
            sys(c"speed", false),
            f(l.txqlen),
            Some(f64::from(l.kind)),
        ],
        address: l.address.as_deref().map(format_addr).unwrap_or_default(),
        broadcast: l.broadcast.as_deref().map(format_addr).unwrap_or_default(),
        duplex: dir
            .as_ref()
            .and_then(|d| d.attr(c"duplex"))
            .unwrap_or_default(),
        ifalias: l.ifalias.unwrap_or_default(),
        operstate: operstate_name(l.operstate.unwrap_or(0)).to_string(),
        name: l.name,
    };
    speed_to_bytes(&mut i, ignore_invalid_speed);
    i
}

pub fn read_iface(dir: &Path, name: &str, ignore_invalid_speed: bool) -> Iface {
    let mut i = Iface {
        name: name.to_string(),
        ..Iface::default()
    };
    let Ok(dir) = SysfsDir::open(dir) else {
        return i;
    };
    for (idx, (file, _, _, hex)) in NUMERIC.iter().enumerate() {
        i.values[idx] = dir.attr(file).and_then(|s| number(&s, *hex));
    }
    speed_to_bytes(&mut i, ignore_invalid_speed);
    i.address = dir.attr(c"address").unwrap_or_default();
    i.broadcast = dir.attr(c"broadcast").unwrap_or_default();
    i.duplex = dir.attr(c"duplex").unwrap_or_default();
    i.ifalias = dir.attr(c"ifalias").unwrap_or_default();
    i.operstate = dir.attr(c"operstate").unwrap_or_default();
    i
}

pub struct Netclass {
    dir: PathBuf,
    /// rtnetlink describes the exporter's own network namespace, which is the
    /// host's only when sysfs is the real /sys (not a host tree mounted
    /// elsewhere via --path.sysfs).
    use_netlink: bool,
    ignored: FieldFilter,
    ignore_invalid_speed: bool,
}

impl Netclass {
    pub fn new(s: &Settings) -> Self {
        Self {
            dir: s.paths.sys("class/net"),
            use_netlink: s.paths.sysfs == Path::new("/sys"),
            ignored: FieldFilter::new(s.netclass_ignored_devices.clone()),
            ignore_invalid_speed: s.netclass_ignore_invalid_speed,
        }
    }
}

impl Netclass {
    fn read_sysfs(&self) -> Result<Vec<Iface>, CollectError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| CollectError::Io {
            path: self.dir.clone(),
            source,
        })?;
        let ifaces: Vec<Iface> = entries
            .flatten()
            .filter(|e| {
                // Interfaces are symlinks to directories; bonding_masters is a file.
                std::fs::metadata(e.path()).is_ok_and(|m| m.is_dir())
            })
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (!self.ignored.is_match(&name))
                    .then(|| read_iface(&e.path(), &name, self.ignore_invalid_speed))
            })
            .collect();
        Ok(ifaces)
    }
}

impl Collector for Netclass {
    fn name(&self) -> &'static str {
        "netclass"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let links = if self.use_netlink {
            match dump_links() {
                Ok(l) => Some(l),
                Err(e) => {
                    tracing::debug!("rtnetlink link dump failed, reading sysfs: {e}");
                    None
                }
            }
        } else {
            None
        };
        let mut ifaces: Vec<Iface> = match links {
            Some(links) => links
                .into_iter()
                .filter(|l| !self.ignored.is_match(&l.name))
                .map(|l| iface_from_link(l, &self.dir, self.ignore_invalid_speed))
                .collect(),
            None => self.read_sysfs()?,
        };
        ifaces.sort_by(|a, b| a.name.cmp(&b.name));

        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        for (idx, (_, suffix, kind, _)) in NUMERIC.iter().enumerate() {
            if ifaces.iter().all(|i| i.values[idx].is_none()) {
                continue;
            }
            name.clear();
            name.push_str("node_network_");
            name.push_str(suffix);
            help.clear();
            help.push_str("Network device property: ");
            help.push_str(suffix);
            out.family(&name, &help, *kind);
            for i in &ifaces {
                if let Some(v) = i.values[idx] {
                    out.sample(&name, &[("device", &i.name)], v);
                }
            }
        }
        let n = "node_network_info";
        out.family(
            n,
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            Gauge,
        );
        for i in &ifaces {
            out.sample(
                n,
                &[
                    ("address", &i.address),
                    ("broadcast", &i.broadcast),
                    ("device", &i.name),
                    ("duplex", &i.duplex),
                    ("ifalias", &i.ifalias),
                    ("operstate", &i.operstate),
                ],
                1.0,
            );
        }
        let n = "node_network_up";
        out.family(n, "Value is 1 if operstate is 'up', 0 otherwise.", Gauge);
        for i in &ifaces {
            out.sample(
                n,
                &[("device", &i.name)],
                if i.operstate == "up" { 1.0 } else { 0.0 },
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
    fn properties_info_and_up() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/net/eth0/addr_assign_type", "0\n"),
                ("sys/class/net/eth0/carrier", "1\n"),
                ("sys/class/net/eth0/carrier_changes", "2\n"),
                ("sys/class/net/eth0/flags", "0x1003\n"),
                ("sys/class/net/eth0/dev_id", "0x0\n"),
                ("sys/class/net/eth0/mtu", "1400\n"),
                ("sys/class/net/eth0/speed", "-1\n"),
                ("sys/class/net/eth0/operstate", "up\n"),
                ("sys/class/net/eth0/address", "02:fc:00:00:00:01\n"),
                ("sys/class/net/eth0/duplex", "unknown\n"),
                ("sys/class/net/lo/mtu", "65536\n"),
                ("sys/class/net/lo/operstate", "unknown\n"),
                ("sys/class/net/bonding_masters", "\n"),
            ],
        );
        let s = Settings {
            paths: p,
            ..Settings::default()
        };
        let t = render(&Netclass::new(&s));
        assert!(t.contains("# HELP node_network_flags Network device property: flags\n# TYPE node_network_flags gauge\nnode_network_flags{device=\"eth0\"} 4099\n"), "{t}");
        assert!(
            t.contains("# TYPE node_network_carrier_changes_total counter\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_speed_bytes{device=\"eth0\"} -125000\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_mtu_bytes{device=\"lo\"} 65536\n"),
            "{t}"
        );
        assert!(!t.contains("node_network_carrier{device=\"lo\"}"), "{t}");
        assert!(t.contains("node_network_info{address=\"02:fc:00:00:00:01\",broadcast=\"\",device=\"eth0\",duplex=\"unknown\",ifalias=\"\",operstate=\"up\"} 1\n"), "{t}");
        assert!(
            t.contains("node_network_up{device=\"eth0\"} 1\nnode_network_up{device=\"lo\"} 0\n"),
            "{t}"
        );
        assert!(!t.contains("bonding_masters"), "{t}");

        let s = Settings {
            netclass_ignore_invalid_speed: true,
            ..s
        };
        assert!(!render(&Netclass::new(&s)).contains("speed_bytes"));
    }
}

//! `node_infiniband_*{device,port}` from /sys/class/infiniband: per-port
//! state, physical state, rate and the port counters (`counters/`, and the
//! pre-4.5 64-bit `counters_ext/` as `legacy_*`), plus
//! `node_infiniband_info{board_id,device,firmware_version,hca_type}`.
//! Names, HELP texts and value semantics are node_exporter 1.5's (procfs'
//! `InfiniBandClass`): data counters count 4-octet words and are multiplied
//! by 4, a counter reading `N/A (no PMA)` is absent, the rate is the leading
//! Gb/s figure in bytes per second.

use super::{entries, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::path::{Path, PathBuf};

/// One exported counter: (file, metric suffix, help, multiplier).
type CounterSpec = (&'static str, &'static str, &'static str, u64);

/// `ports/<n>/counters/*` that upstream exports (it also parses
/// `excessive_buffer_overrun_errors`, `local_link_integrity_errors`,
/// `port_rcv_remote_physical_errors`, `port_rcv_switch_relay_errors`,
/// `symbol_error` and `VL15_dropped`, but 1.5 exports none of them).
const COUNTERS: &[CounterSpec] = &[
    ("link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down", 1),
    ("link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state", 1),
    ("multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)", 1),
    ("multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)", 1),
    ("port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded", 1),
    ("port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port", 1),
    // Data counters are kept per lane, in 4-octet units (Mellanox: "divided
    // by 4 unconditionally"); upstream multiplies by 4.
    ("port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links", 4),
    ("port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links", 4),
    ("port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested", 1),
    ("port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested", 1),
    ("port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port", 1),
    ("port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)", 1),
    ("port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)", 1),
    ("port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick", 1),
    ("unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)", 1),
    ("unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)", 1),
];

/// `ports/<n>/counters_ext/*` (kernels before 4.5). The HELP of
/// `legacy_packets_transmitted_total` says "received" upstream; kept.
const COUNTERS_EXT: &[CounterSpec] = &[
    (
        "port_multicast_rcv_packets",
        "legacy_multicast_packets_received_total",
        "Number of multicast packets received",
        1,
    ),
    (
        "port_multicast_xmit_packets",
        "legacy_multicast_packets_transmitted_total",
        "Number of multicast packets transmitted",
        1,
    ),
    (
        "port_rcv_data_64",
        "legacy_data_received_bytes_total",
        "Number of data octets received on all links",
        4,
    ),
    (
        "port_rcv_packets_64",
        "legacy_packets_received_total",
        "Number of data packets received on all links",
        1,
    ),
    (
        "port_unicast_rcv_packets",
        "legacy_unicast_packets_received_total",
        "Number of unicast packets received",
        1,
    ),
    (
        "port_unicast_xmit_packets",
        "legacy_unicast_packets_transmitted_total",
        "Number of unicast packets transmitted",
        1,
    ),
    (
        "port_xmit_data_64",
        "legacy_data_transmitted_bytes_total",
        "Number of data octets transmitted on all links",
        4,
    ),
    (
        "port_xmit_packets_64",
        "legacy_packets_transmitted_total",
        "Number of data packets received on all links",
        1,
    ),
];

const STATE_HELP: &str =
    "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)";
const PHYS_STATE_HELP: &str = "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)";

pub struct Infiniband {
    dir: PathBuf,
}

impl Infiniband {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/infiniband"),
        }
    }
}

/// An attribute that may be absent (`None`); any other read error fails.
fn optional(path: &Path) -> Result<Option<String>, CollectError> {
    match read(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_no_data() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `"<id>: <NAME>"` (state, phys_state) → id.
fn parse_state(path: &Path, text: &str) -> Result<u32, CollectError> {
    let mut parts = text.split(':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(id), Some(_name), None) => id
            .trim()
            .parse()
            .map_err(|_| CollectError::parse(path, format!("state id not a number: {text:?}"))),
        _ => Err(CollectError::parse(
            path,
            format!("expected \"<id>: <name>\", got {text:?}"),
        )),
    }
}

/// `"40 Gb/sec (4X QDR)"` → bytes per second. As upstream, the figure before
/// the first space is taken as Gb/s at single precision and truncated.
fn parse_rate(path: &Path, text: &str) -> Result<u64, CollectError> {
    let Some((figure, _)) = text.split_once(' ') else {
        return Err(CollectError::parse(
            path,
            format!("expected \"<n> Gb/sec …\", got {text:?}"),
        ));
    };
    let gbps: f32 = figure
        .trim()
        .parse()
        .map_err(|_| CollectError::parse(path, format!("rate not a number: {text:?}")))?;
    Ok((f64::from(gbps) * 125_000_000.0) as u64)
}

/// One counter file: `None` when absent, unreadable in the ways sysfs
/// counters are (EINVAL, EOPNOTSUPP, EACCES), or `N/A (no PMA)` (drivers
/// without a performance management agent).
fn counter(path: &Path) -> Result<Option<u64>, CollectError> {
    let text = match super::read_file(path) {
        Ok(t) => t,
        Err(e) => {
            use std::io::ErrorKind::*;
            let skippable = matches!(e.kind(), NotFound | PermissionDenied | InvalidInput)
                || matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP));
            if skippable {
                return Ok(None);
            }
            return Err(CollectError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    match text.trim().parse() {
        Ok(v) => Ok(Some(v)),
        Err(_) if text.contains("N/A (no PMA)") => Ok(None),
        Err(_) => Err(CollectError::parse(
            path,
            format!("not a number: {:?}", text.trim()),
        )),
    }
}

struct Port {
    number: String,
    state: u32,
    phys_state: u32,
    rate: u64,
    counters: Vec<(&'static str, &'static str, u64)>,
}

fn read_port(dir: &Path, name: &str) -> Result<Port, CollectError> {
    let number: u32 = name.parse().map_err(|_| {
        CollectError::parse(dir, format!("port directory {name:?} is not a number"))
    })?;
    let state_path = dir.join("state");
    let state = parse_state(&state_path, &read(&state_path)?)?;
    let phys_path = dir.join("phys_state");
    let phys_state = parse_state(&phys_path, &read(&phys_path)?)?;
    let rate_path = dir.join("rate");
    let rate = parse_rate(&rate_path, &read(&rate_path)?)?;
    let mut counters = Vec::new();
    // A port without counters (Intel irdma has none) still has its state.
    for (sub, specs) in [("counters", COUNTERS), ("counters_ext", COUNTERS_EXT)] {
        let d = dir.join(sub);
        for (file, suffix, help, mul) in specs {
            if let Some(v) = counter(&d.join(file))? {
                counters.push((*suffix, *help, v.wrapping_mul(*mul)));
            }
        }
    }
    Ok(Port {
        number: number.to_string(),
        state,
        phys_state,
        rate,
        counters,
    })
}

impl Collector for Infiniband {
    fn name(&self) -> &'static str {
        "infiniband"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // No /sys/class/infiniband: upstream reports no data (success 0).
        let devices = entries(&self.dir, "")?;
        let mut fam = Families::default();
        for (device, dir) in &devices {
            // fw_ver is there for every driver since Linux 4.10; the others
            // are optional.
            let fw = read(&dir.join("fw_ver"))?.trim().to_string();
            let board = optional(&dir.join("board_id"))?.unwrap_or_default();
            let hca = optional(&dir.join("hca_type"))?.unwrap_or_default();
            fam.add(
                "node_infiniband_info".into(),
                "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                Gauge,
                vec![
                    ("board_id", board.trim().to_string()),
                    ("device", device.clone()),
                    ("firmware_version", fw),
                    ("hca_type", hca.trim().to_string()),
                ],
                1.0,
            );
            for (name, port_dir) in entries(&dir.join("ports"), "")? {
                let p = read_port(&port_dir, &name)?;
                let labels = || vec![("device", device.clone()), ("port", p.number.clone())];
                for (suffix, help, v) in [
                    ("state_id", STATE_HELP, p.state as f64),
                    ("physical_state_id", PHYS_STATE_HELP, p.phys_state as f64),
                    (
                        "rate_bytes_per_second",
                        "Maximum signal transfer rate",
                        p.rate as f64,
                    ),
                ] {
                    fam.add(
                        format!("node_infiniband_{suffix}"),
                        help,
                        Gauge,
                        labels(),
                        v,
                    );
                }
                for (suffix, help, v) in &p.counters {
                    fam.add(
                        format!("node_infiniband_{suffix}"),
                        *help,
                        Counter,
                        labels(),
                        *v as f64,
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

    const DEV: &str = "sys/class/infiniband/mlx4_0";

    fn port_files(extra: &[(&'static str, &'static str)]) -> Vec<(String, &'static str)> {
        let mut v: Vec<(String, &str)> = vec![
            (format!("{DEV}/fw_ver"), "2.31.5050\n"),
            (format!("{DEV}/hca_type"), "MT4099\n"),
            (format!("{DEV}/ports/1/state"), "4: ACTIVE\n"),
            (format!("{DEV}/ports/1/phys_state"), "5: LinkUp\n"),
            (format!("{DEV}/ports/1/rate"), "40 Gb/sec (4X QDR)\n"),
        ];
        v.extend(
            extra
                .iter()
                .map(|(p, t)| (format!("{DEV}/ports/1/{p}"), *t)),
        );
        v
    }

    fn paths(d: &Path, files: &[(String, &str)]) -> Paths {
        let f: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        fake_paths(d, &f)
    }

    #[test]
    fn ports_counters_and_info() {
        let d = tempfile::tempdir().unwrap();
        let files = port_files(&[
            ("counters/port_rcv_data", "4631917\n"),
            ("counters/port_xmit_wait", "4294967295\n"),
            ("counters/symbol_error", "3\n"),
            ("counters/link_downed", "N/A (no PMA)\n"),
            ("counters_ext/port_xmit_data_64", "3733440\n"),
        ]);
        let t = render(&Infiniband::new(&paths(d.path(), &files)));
        for want in [
            "node_infiniband_info{board_id=\"\",device=\"mlx4_0\",firmware_version=\"2.31.5050\",hca_type=\"MT4099\"} 1\n",
            "node_infiniband_state_id{device=\"mlx4_0\",port=\"1\"} 4\n",
            "node_infiniband_physical_state_id{device=\"mlx4_0\",port=\"1\"} 5\n",
            "node_infiniband_rate_bytes_per_second{device=\"mlx4_0\",port=\"1\"} 5e+09\n",
            "# TYPE node_infiniband_port_data_received_bytes_total counter\nnode_infiniband_port_data_received_bytes_total{device=\"mlx4_0\",port=\"1\"} 1.8527668e+07\n",
            "node_infiniband_port_transmit_wait_total{device=\"mlx4_0\",port=\"1\"} 4.294967295e+09\n",
            "node_infiniband_legacy_data_transmitted_bytes_total{device=\"mlx4_0\",port=\"1\"} 1.493376e+07\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        // N/A counters are absent, unexported ones are not invented.
        assert!(!t.contains("link_downed") && !t.contains("symbol"), "{t}");
    }

    #[test]
    fn rate_is_the_leading_figure_in_bytes() {
        let p = Path::new("rate");
        assert_eq!(parse_rate(p, "10 Gb/sec (4X)\n").unwrap(), 1_250_000_000);
        assert_eq!(parse_rate(p, "2.5 Gb/sec (1X SDR)").unwrap(), 312_500_000);
        assert!(parse_rate(p, "fast\n").is_err());
        assert!(parse_rate(p, "x Gb/sec").is_err());
    }

    #[test]
    fn malformed_files_fail_and_name_the_file() {
        for (file, text) in [
            ("state", "ACTIVE\n"),
            ("phys_state", "x: LinkUp\n"),
            ("counters/port_rcv_errors", "lots\n"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let files = port_files(&[(file, text)]);
            let e = Infiniband::new(&paths(d.path(), &files))
                .collect(&mut Exposition::default())
                .unwrap_err();
            let name = file.rsplit('/').next().unwrap();
            assert!(e.to_string().contains(name), "{file}: {e}");
        }
    }

    #[test]
    fn no_infiniband_class_is_no_data() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let e = Infiniband::new(&p)
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(e.is_no_data(), "{e}");
    }
}

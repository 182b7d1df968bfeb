//! `node_wifi_*`: wireless interfaces, the BSS each is associated with and
//! its stations, from the kernel's nl80211 generic-netlink family (what
//! `iw dev`, `iw dev X link` and `iw dev X station dump` show). Off by
//! default, as upstream. With `--collector.wifi.fixtures DIR` it reads
//! upstream's test stand-in for netlink instead: `DIR/interfaces.json`,
//! `DIR/<iface>/bss.json` and `DIR/<iface>/stationinfo.json` (the JSON of
//! upstream's wifi library types), so the end-to-end suite runs without
//! wireless hardware. Names and HELP texts are node_exporter 1.5's.

use super::qdisc::field;
use super::{CollectError, Collector, Families};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use crate::netlink;
use base64::Engine;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub frequency_mhz: i64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Bss {
    pub ssid: String,
    pub bssid: Vec<u8>,
    /// nl80211's BSS status: 0 authenticated, 1 associated, 2 IBSS joined.
    pub status: i64,
}

/// A station; durations in nanoseconds (the fixture format's unit).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Station {
    pub mac: Vec<u8>,
    pub connected_ns: i64,
    pub inactive_ns: i64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_bitrate: u64,
    pub tx_bitrate: u64,
    pub signal: i64,
    pub tx_retries: u64,
    pub tx_failed: u64,
    pub beacon_loss: u64,
}

/// Where the data comes from. `Ok(None)` from `bss`/`stations`: the
/// interface has none (upstream's "not exist", which is skipped quietly).
trait Source {
    fn interfaces(&self) -> Result<Vec<Interface>, CollectError>;
    fn bss(&self, ifi: &Interface) -> Result<Option<Bss>, CollectError>;
    fn stations(&self, ifi: &Interface) -> Result<Option<Vec<Station>>, CollectError>;
}

pub struct Wifi {
    fixtures: Option<PathBuf>,
}

impl Wifi {
    /// `fixtures`: `--collector.wifi.fixtures`.
    pub fn new(fixtures: Option<PathBuf>) -> Self {
        Self { fixtures }
    }
}

impl Collector for Wifi {
    fn name(&self) -> &'static str {
        "wifi"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        match &self.fixtures {
            Some(dir) => write(&Fixtures(dir.clone()), out),
            None => write(&Nl80211::open()?, out),
        }
    }
}

/// Go's `time.Duration.Seconds()`, bit for bit.
fn seconds(ns: i64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

fn write(src: &dyn Source, out: &mut Exposition) -> Result<(), CollectError> {
    let mut fam = Families::default();
    for ifi in src.interfaces()? {
        // Some virtual devices (P2P) have no name; upstream skips them.
        if ifi.name.is_empty() {
            continue;
        }
        fam.add(
            "node_wifi_interface_frequency_hertz".into(),
            "The current frequency a WiFi interface is operating at, in hertz.",
            Gauge,
            vec![("device", ifi.name.clone())],
            ifi.frequency_mhz as f64 * 1000.0 * 1000.0,
        );
        if let Some(bss) = src.bss(&ifi)? {
            let mode = match bss.status {
                0 | 1 => "client",
                2 => "ad-hoc",
                _ => "unknown",
            };
            fam.add(
                "node_wifi_station_info".into(),
                "Labeled WiFi interface station information as provided by the operating system.",
                Gauge,
                vec![
                    ("bssid", netlink::format_addr(&bss.bssid)),
                    ("device", ifi.name.clone()),
                    ("mode", mode.into()),
                    ("ssid", bss.ssid.clone()),
                ],
                1.0,
            );
        }
        for st in src.stations(&ifi)?.unwrap_or_default() {
            let labels = || {
                vec![
                    ("device", ifi.name.clone()),
                    ("mac_address", netlink::format_addr(&st.mac)),
                ]
            };
            let rows: [(&str, &str, _, f64); 10] = [
                (
                    "station_connected_seconds_total",
                    "The total number of seconds a station has been connected to an access point.",
                    Counter,
                    seconds(st.connected_ns),
                ),
                (
                    "station_inactive_seconds",
                    "The number of seconds since any wireless activity has occurred on a station.",
                    Gauge,
                    seconds(st.inactive_ns),
                ),
                (
                    "station_receive_bits_per_second",
                    "The current WiFi receive bitrate of a station, in bits per second.",
                    Gauge,
                    st.rx_bitrate as f64,
                ),
                (
                    "station_transmit_bits_per_second",
                    "The current WiFi transmit bitrate of a station, in bits per second.",
                    Gauge,
                    st.tx_bitrate as f64,
                ),
                (
                    "station_receive_bytes_total",
                    "The total number of bytes received by a WiFi station.",
                    Counter,
                    st.rx_bytes as f64,
                ),
                (
                    "station_transmit_bytes_total",
                    "The total number of bytes transmitted by a WiFi station.",
                    Counter,
                    st.tx_bytes as f64,
                ),
                (
                    "station_signal_dbm",
                    "The current WiFi signal strength, in decibel-milliwatts (dBm).",
                    Gauge,
                    st.signal as f64,
                ),
                (
                    "station_transmit_retries_total",
                    "The total number of times a station has had to retry while sending a packet.",
                    Counter,
                    st.tx_retries as f64,
                ),
                (
                    "station_transmit_failed_total",
                    "The total number of times a station has failed to send a packet.",
                    Counter,
                    st.tx_failed as f64,
                ),
                (
                    "station_beacon_loss_total",
                    "The total number of times a station has detected a beacon loss.",
                    Counter,
                    st.beacon_loss as f64,
                ),
            ];
            for (suffix, help, kind, v) in rows {
                fam.add(format!("node_wifi_{suffix}"), help, kind, labels(), v);
            }
        }
    }
    fam.write(out);
    Ok(())
}

/// Upstream's fixture files.
struct Fixtures(PathBuf);

impl Fixtures {
    /// The file's JSON, `None` when it does not exist.
    fn json(&self, rel: &Path) -> Result<Option<(PathBuf, Value)>, CollectError> {
        let path = self.0.join(rel);
        let text = match super::read_file(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CollectError::Io { path, source }),
        };
        let v =
            serde_json::from_str(&text).map_err(|e| CollectError::parse(&path, e.to_string()))?;
        Ok(Some((path, v)))
    }
}

fn int(path: &Path, v: &Value, name: &str) -> Result<i64, CollectError> {
    match field(v, name) {
        None | Some(Value::Null) => Ok(0),
        Some(x) => x
            .as_i64()
            .ok_or_else(|| CollectError::parse(path, format!("{name}: not an integer: {x}"))),
    }
}

fn uint(path: &Path, v: &Value, name: &str) -> Result<u64, CollectError> {
    int(path, v, name).map(|i| i.max(0) as u64)
}

/// A hardware address: base64 in Go's JSON for `net.HardwareAddr`.
fn hwaddr(path: &Path, v: &Value, name: &str) -> Result<Vec<u8>, CollectError> {
    match field(v, name).and_then(Value::as_str) {
        None => Ok(Vec::new()),
        Some(s) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| CollectError::parse(path, format!("{name}: not base64: {e}"))),
    }
}

fn list<'a>(path: &Path, v: &'a Value) -> Result<&'a Vec<Value>, CollectError> {
    v.as_array()
        .ok_or_else(|| CollectError::parse(path, "expected a JSON list"))
}

impl Source for Fixtures {
    fn interfaces(&self) -> Result<Vec<Interface>, CollectError> {
        let rel = Path::new("interfaces.json");
        let Some((path, v)) = self.json(rel)? else {
            return Err(CollectError::Io {
                path: self.0.join(rel),
                source: std::io::ErrorKind::NotFound.into(),
            });
        };
        list(&path, &v)?
            .iter()
            .map(|i| {
                Ok(Interface {
                    index: uint(&path, i, "index")? as u32,
                    name: field(i, "name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .into(),
                    frequency_mhz: int(&path, i, "frequency")?,
                })
            })
            .collect()
    }

    fn bss(&self, ifi: &Interface) -> Result<Option<Bss>, CollectError> {
        let Some((path, v)) = self.json(&Path::new(&ifi.name).join("bss.json"))? else {
            return Ok(None);
        };
        Ok(Some(Bss {
            ssid: field(&v, "ssid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .into(),
            bssid: hwaddr(&path, &v, "bssid")?,
            status: int(&path, &v, "status")?,
        }))
    }

    fn stations(&self, ifi: &Interface) -> Result<Option<Vec<Station>>, CollectError> {
        let Some((path, v)) = self.json(&Path::new(&ifi.name).join("stationinfo.json"))? else {
            return Ok(None);
        };
        let p = &path;
        list(p, &v)?
            .iter()
            .map(|s| {
                Ok(Station {
                    mac: hwaddr(p, s, "hardwareaddr")?,
                    connected_ns: int(p, s, "connected")?,
                    inactive_ns: int(p, s, "inactive")?,
                    rx_bytes: uint(p, s, "receivedbytes")?,
                    tx_bytes: uint(p, s, "transmittedbytes")?,
                    rx_bitrate: uint(p, s, "receivebitrate")?,
                    tx_bitrate: uint(p, s, "transmitbitrate")?,
                    signal: int(p, s, "signal")?,
                    tx_retries: uint(p, s, "transmitretries")?,
                    tx_failed: uint(p, s, "transmitfailed")?,
                    beacon_loss: uint(p, s, "beaconloss")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

// nl80211 (include/uapi/linux/nl80211.h) and the generic netlink controller.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const CMD_GET_INTERFACE: u8 = 5;
const CMD_GET_STATION: u8 = 17;
const CMD_GET_SCAN: u8 = 32;
const ATTR_IFINDEX: u16 = 3;
const ATTR_IFNAME: u16 = 4;
const ATTR_MAC: u16 = 6;
const ATTR_STA_INFO: u16 = 21;
const ATTR_WIPHY_FREQ: u16 = 38;
const ATTR_BSS: u16 = 47;
const BSS_BSSID: u16 = 1;
const BSS_INFORMATION_ELEMENTS: u16 = 6;
const BSS_STATUS: u16 = 9;
const STA_INACTIVE_TIME: u16 = 1;
const STA_RX_BYTES: u16 = 2;
const STA_TX_BYTES: u16 = 3;
const STA_SIGNAL: u16 = 7;
const STA_TX_BITRATE: u16 = 8;
const STA_TX_RETRIES: u16 = 11;
const STA_TX_FAILED: u16 = 12;
const STA_RX_BITRATE: u16 = 14;
const STA_CONNECTED_TIME: u16 = 16;
const STA_BEACON_LOSS: u16 = 18;
const STA_RX_BYTES64: u16 = 23;
const STA_TX_BYTES64: u16 = 24;
const RATE_BITRATE: u16 = 1;
const RATE_BITRATE32: u16 = 5;

/// The live source: nl80211 over generic netlink.
struct Nl80211 {
    family: u16,
}

fn nl_err(what: &str, source: std::io::Error) -> CollectError {
    CollectError::Io {
        path: PathBuf::from(format!("nl80211 {what}")),
        source,
    }
}

/// A generic netlink request body: genlmsghdr (cmd, version 1) + attributes.
fn genl(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut b = vec![cmd, 1, 0, 0];
    b.extend_from_slice(attrs);
    b
}

impl Nl80211 {
    fn open() -> Result<Self, CollectError> {
        match family_id("nl80211") {
            Ok(Some(family)) => Ok(Self { family }),
            // No cfg80211 in this kernel: no wireless devices, as upstream's
            // "metrics are not available for this system".
            Ok(None) => Err(CollectError::NoData(
                "the kernel has no nl80211 family (no wireless driver loaded)".into(),
            )),
            Err(e) => Err(nl_err("family lookup", e)),
        }
    }

    fn dump(
        &self,
        what: &str,
        cmd: u8,
        ifindex: Option<u32>,
    ) -> Result<Vec<Vec<u8>>, CollectError> {
        let attrs = ifindex
            .map(|i| netlink::attr_bytes(ATTR_IFINDEX, &i.to_ne_bytes()))
            .unwrap_or_default();
        let msgs = netlink::request(libc::NETLINK_GENERIC, self.family, true, &genl(cmd, &attrs))
            .map_err(|e| nl_err(what, e))?;
        Ok(msgs
            .into_iter()
            .filter(|(ty, _)| *ty == self.family)
            .map(|(_, p)| p)
            .collect())
    }
}

/// A generic netlink family's id by name; `None` when the kernel has none.
fn family_id(name: &str) -> std::io::Result<Option<u16>> {
    let mut z = name.as_bytes().to_vec();
    z.push(0);
    let body = genl(
        CTRL_CMD_GETFAMILY,
        &netlink::attr_bytes(CTRL_ATTR_FAMILY_NAME, &z),
    );
    let msgs = match netlink::request(libc::NETLINK_GENERIC, GENL_ID_CTRL, false, &body) {
        Ok(m) => m,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(msgs
        .iter()
        .flat_map(|(_, p)| netlink::attrs(p, 4))
        .find(|(ty, _)| *ty == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, d)| netlink::data_u16(d)))
}

/// A rate-info nest's bitrate in bits/s (nl80211 gives 100 kbit/s units).
fn bitrate(d: &[u8]) -> u64 {
    let a = netlink::attrs(d, 0);
    let find = |t| a.iter().find(|(ty, _)| *ty == t).map(|(_, d)| *d);
    let units = find(RATE_BITRATE32)
        .and_then(netlink::data_u32)
        .or_else(|| {
            find(RATE_BITRATE)
                .and_then(netlink::data_u16)
                .map(u32::from)
        })
        .unwrap_or(0);
    u64::from(units) * 100 * 1000
}

/// Decode one NL80211_CMD_NEW_STATION payload.
pub fn parse_station(p: &[u8]) -> Station {
    let mut s = Station::default();
    let (mut rx32, mut tx32) = (None, None);
    for (ty, d) in netlink::attrs(p, 4) {
        match ty {
            ATTR_MAC => s.mac = d.to_vec(),
            ATTR_STA_INFO => {
                for (t, v) in netlink::attrs(d, 0) {
                    let u = || u64::from(netlink::data_u32(v).unwrap_or(0));
                    match t {
                        STA_INACTIVE_TIME => s.inactive_ns = u() as i64 * 1_000_000,
                        STA_CONNECTED_TIME => s.connected_ns = u() as i64 * 1_000_000_000,
                        STA_RX_BYTES => rx32 = Some(u()),
                        STA_TX_BYTES => tx32 = Some(u()),
                        STA_RX_BYTES64 => s.rx_bytes = netlink::data_u64(v).unwrap_or(0),
                        STA_TX_BYTES64 => s.tx_bytes = netlink::data_u64(v).unwrap_or(0),
                        STA_SIGNAL => s.signal = v.first().map_or(0, |b| i64::from(*b as i8)),
                        STA_RX_BITRATE => s.rx_bitrate = bitrate(v),
                        STA_TX_BITRATE => s.tx_bitrate = bitrate(v),
                        STA_TX_RETRIES => s.tx_retries = u(),
                        STA_TX_FAILED => s.tx_failed = u(),
                        STA_BEACON_LOSS => s.beacon_loss = u(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    // The 64-bit counters win when the kernel sends both.
    if s.rx_bytes == 0 {
        s.rx_bytes = rx32.unwrap_or(0);
    }
    if s.tx_bytes == 0 {
        s.tx_bytes = tx32.unwrap_or(0);
    }
    s
}

/// The BSS of one NL80211_CMD_NEW_SCAN_RESULTS payload, if it carries a
/// status (the one the interface is authenticated/associated with).
pub fn parse_bss(p: &[u8]) -> Option<Bss> {
    let (_, nest) = netlink::attrs(p, 4)
        .into_iter()
        .find(|(t, _)| *t == ATTR_BSS)?;
    let mut bss = Bss::default();
    let mut status = None;
    for (t, d) in netlink::attrs(nest, 0) {
        match t {
            BSS_BSSID => bss.bssid = d.to_vec(),
            BSS_STATUS => status = netlink::data_u32(d),
            BSS_INFORMATION_ELEMENTS => {
                // (id, len, data) elements; element 0 is the SSID.
                let mut i = 0;
                while i + 2 <= d.len() {
                    let (id, len) = (d[i], d[i + 1] as usize);
                    if i + 2 + len > d.len() {
                        break;
                    }
                    if id == 0 {
                        bss.ssid = String::from_utf8_lossy(&d[i + 2..i + 2 + len]).into_owned();
                        break;
                    }
                    i += 2 + len;
                }
            }
            _ => {}
        }
    }
    bss.status = i64::from(status?);
    Some(bss)
}

impl Source for Nl80211 {
    fn interfaces(&self) -> Result<Vec<Interface>, CollectError> {
        let mut v = Vec::new();
        for p in self.dump("interfaces", CMD_GET_INTERFACE, None)? {
            let mut ifi = Interface::default();
            for (ty, d) in netlink::attrs(&p, 4) {
                match ty {
                    ATTR_IFINDEX => ifi.index = netlink::data_u32(d).unwrap_or(0),
                    ATTR_IFNAME => ifi.name = netlink::data_str(d),
                    ATTR_WIPHY_FREQ => {
                        ifi.frequency_mhz = netlink::data_u32(d).map_or(0, i64::from)
                    }
                    _ => {}
                }
            }
            v.push(ifi);
        }
        Ok(v)
    }

    fn bss(&self, ifi: &Interface) -> Result<Option<Bss>, CollectError> {
        let msgs = self.dump("scan results", CMD_GET_SCAN, Some(ifi.index))?;
        Ok(msgs.iter().find_map(|p| parse_bss(p)))
    }

    fn stations(&self, ifi: &Interface) -> Result<Option<Vec<Station>>, CollectError> {
        let msgs = self.dump("stations", CMD_GET_STATION, Some(ifi.index))?;
        Ok((!msgs.is_empty()).then(|| msgs.iter().map(|p| parse_station(p)).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;

    fn fixtures(files: &[(&str, &str)]) -> (tempfile::TempDir, Wifi) {
        let d = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let w = Wifi::new(Some(d.path().to_path_buf()));
        (d, w)
    }

    #[test]
    fn fixture_interfaces_bss_and_stations() {
        let (_d, w) = fixtures(&[
            (
                "interfaces.json",
                r#"[{"name": "wlan0", "type": 2, "frequency": 2412},
                    {"name": "wlan1", "type": 3, "frequency": 5180}, {"type": 10}]"#,
            ),
            (
                "wlan0/bss.json",
                r#"{"ssid": "Example", "bssid": "ABEiM0RV", "status": 1}"#,
            ),
            (
                "wlan0/stationinfo.json",
                r#"[{"hardwareaddr": "qrvM3e7/", "connected": 30000000000, "inactive": 400000000,
                     "receivebitrate": 128000000, "signal": -52, "beaconloss": 1}]"#,
            ),
        ]);
        let t = render(&w);
        for want in [
            "node_wifi_interface_frequency_hertz{device=\"wlan0\"} 2.412e+09\n",
            "node_wifi_interface_frequency_hertz{device=\"wlan1\"} 5.18e+09\n",
            "node_wifi_station_info{bssid=\"00:11:22:33:44:55\",device=\"wlan0\",mode=\"client\",ssid=\"Example\"} 1\n",
            "# TYPE node_wifi_station_connected_seconds_total counter\nnode_wifi_station_connected_seconds_total{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 30\n",
            "node_wifi_station_inactive_seconds{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 0.4\n",
            "node_wifi_station_signal_dbm{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} -52\n",
            "node_wifi_station_transmit_bytes_total{device=\"wlan0\",mac_address=\"aa:bb:cc:dd:ee:ff\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        // wlan1 has neither BSS nor stations: skipped, not an error.
        assert!(!t.contains("device=\"wlan1\",mac"), "{t}");
    }

    #[test]
    fn bad_fixtures_are_named() {
        let (_d, w) = fixtures(&[]);
        let e = w
            .collect(&mut Exposition::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("interfaces.json"), "{e}");
        let (_d, w) = fixtures(&[
            ("interfaces.json", r#"[{"name": "wlan0"}]"#),
            ("wlan0/bss.json", r#"{"bssid": "not base64!"}"#),
        ]);
        let e = w
            .collect(&mut Exposition::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("bss.json") && e.contains("bssid"), "{e}");
    }

    #[test]
    fn decodes_station_and_bss_messages() {
        let mut rate = netlink::attr_bytes(RATE_BITRATE, &650u16.to_ne_bytes());
        rate.extend(netlink::attr_bytes(RATE_BITRATE32, &1300u32.to_ne_bytes()));
        let mut info = netlink::attr_bytes(STA_INACTIVE_TIME, &250u32.to_ne_bytes());
        info.extend(netlink::attr_bytes(
            STA_CONNECTED_TIME,
            &60u32.to_ne_bytes(),
        ));
        info.extend(netlink::attr_bytes(STA_SIGNAL, &[(-40i8) as u8]));
        info.extend(netlink::attr_bytes(STA_RX_BYTES, &7u32.to_ne_bytes()));
        info.extend(netlink::attr_bytes(
            STA_TX_BYTES64,
            &(1u64 << 33).to_ne_bytes(),
        ));
        info.extend(netlink::attr_bytes(STA_TX_BITRATE, &rate));
        let mut p = vec![CMD_GET_STATION, 1, 0, 0];
        p.extend(netlink::attr_bytes(ATTR_MAC, &[1, 2, 3, 4, 5, 6]));
        p.extend(netlink::attr_bytes(ATTR_STA_INFO, &info));
        let s = parse_station(&p);
        assert_eq!(netlink::format_addr(&s.mac), "01:02:03:04:05:06");
        assert_eq!(
            (s.inactive_ns, s.connected_ns),
            (250_000_000, 60_000_000_000)
        );
        assert_eq!((s.signal, s.rx_bytes, s.tx_bytes), (-40, 7, 1 << 33));
        assert_eq!(s.tx_bitrate, 130_000_000);

        let mut nest = netlink::attr_bytes(BSS_BSSID, &[0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        nest.extend(netlink::attr_bytes(
            BSS_INFORMATION_ELEMENTS,
            &[0, 4, b'h', b'o', b'm', b'e', 1, 1, 0x82],
        ));
        let mut p = vec![0u8; 4];
        p.extend(netlink::attr_bytes(ATTR_BSS, &nest));
        assert!(
            parse_bss(&p).is_none(),
            "a BSS without status is only seen, not joined"
        );
        nest.extend(netlink::attr_bytes(BSS_STATUS, &1u32.to_ne_bytes()));
        let mut p = vec![0u8; 4];
        p.extend(netlink::attr_bytes(ATTR_BSS, &nest));
        let b = parse_bss(&p).unwrap();
        assert_eq!((b.ssid.as_str(), b.status), ("home", 1));
    }

    #[test]
    fn generic_netlink_family_lookup() {
        // The controller resolves itself: proves the request and reply
        // layout the nl80211 lookup uses, on any kernel.
        assert_eq!(family_id("nlctrl").unwrap(), Some(GENL_ID_CTRL));
        assert_eq!(family_id("no-such-fam").unwrap(), None);
        // And a dump through the same path the nl80211 dumps take: the
        // controller lists its families, itself among them.
        let ctrl = Nl80211 {
            family: GENL_ID_CTRL,
        };
        let names: Vec<String> = ctrl
            .dump("families", CTRL_CMD_GETFAMILY, None)
            .unwrap()
            .iter()
            .flat_map(|p| netlink::attrs(p, 4))
            .filter(|(t, _)| *t == CTRL_ATTR_FAMILY_NAME)
            .map(|(_, d)| netlink::data_str(d))
            .collect();
        assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
    }

    #[test]
    fn live_without_nl80211_is_no_data_or_answers() {
        // This machine may or may not have cfg80211; either answer is sound,
        // but a missing family must be NoData (logged quietly), not an error.
        match Wifi::new(None).collect(&mut Exposition::default()) {
            Ok(()) => {}
            Err(e) => assert!(e.is_no_data(), "{e}"),
        }
    }
}

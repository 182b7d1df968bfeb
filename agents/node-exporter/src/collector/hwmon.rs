//! `node_hwmon_*{chip,sensor}` from /sys/class/hwmon (and each chip's
//! `device` directory), named, scaled and described exactly as upstream's
//! hwmon collector does: temperatures in °C, voltages in V, currents in A,
//! power in W, energy in J, fans in RPM, alarms and other elements as read;
//! plus `node_hwmon_chip_names` and `node_hwmon_sensor_label`.

use super::{read_file, CollectError, Collector, Paths};
use crate::exposition::{is_valid_metric_name, Exposition, MetricType};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The sensor kinds upstream reads; other files are ignored.
const SENSOR_TYPES: [&str; 11] = [
    "vrm",
    "beep_enable",
    "in",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// Upstream's `cleanMetricName`: lower case, `[^a-z0-9:_]` → `_`, trimmed of `_`.
pub fn clean_name(s: &str) -> String {
    let lower: String = s
        .trim_end_matches('\n')
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    lower.trim_matches('_').to_string()
}

/// `temp1_crit_alarm` → (`temp`, 1, `crit_alarm`), as upstream's
/// `^([^0-9]+)([0-9]*)?(_(.+))?$`.
pub fn explode(file: &str) -> Option<(&str, u32, &str)> {
    let split = file
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(file.len());
    if split == 0 {
        return None;
    }
    let (kind, rest) = file.split_at(split);
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (id, rest) = rest.split_at(digits_end);
    let id = if id.is_empty() { 0 } else { id.parse().ok()? };
    let property = match rest {
        "" => "",
        r => r.strip_prefix('_').filter(|p| !p.is_empty())?,
    };
    Some((kind, id, property))
}

/// Upstream's `hwmonName`: bus and device of the `device` link, else the
/// `name` file, else the hwmon directory's own name.
fn chip_name(dir: &Path) -> String {
    if let Ok(dev) = std::fs::canonicalize(dir.join("device")) {
        let name = dev.file_name().map(|n| clean_name(&n.to_string_lossy()));
        let kind = dev
            .parent()
            .and_then(Path::file_name)
            .map(|n| clean_name(&n.to_string_lossy()));
        match (kind, name) {
            (Some(k), Some(n)) if !k.is_empty() && !n.is_empty() => return format!("{k}_{n}"),
            (_, Some(n)) if !n.is_empty() => return n,
            _ => {}
        }
    }
    if let Some(n) = human_chip_name(dir) {
        return n;
    }
    let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    clean_name(&real.file_name().unwrap_or_default().to_string_lossy())
}

fn human_chip_name(dir: &Path) -> Option<String> {
    let n = clean_name(&read_file(dir.join("name")).ok()?);
    (!n.is_empty()).then_some(n)
}

/// sensor (`temp1`) → property (`input`, `` for the bare file) → value text.
type SensorData = BTreeMap<String, BTreeMap<String, String>>;

fn collect_sensor_data(dir: &Path, data: &mut SensorData) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let Ok(file) = e.file_name().into_string() else {
            continue;
        };
        let Some((kind, id, property)) = explode(&file) else {
            continue;
        };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        let Ok(bytes) = std::fs::read(e.path()) else {
            continue; // write-only or failing attribute
        };
        // Only the newline goes: upstream keeps a label's padding (`Left side  `).
        let value = String::from_utf8_lossy(&bytes)
            .trim_end_matches('\n')
            .to_string();
        data.entry(format!("{kind}{id}"))
            .or_default()
            .insert(property.to_string(), value);
    }
}

/// One family being assembled: help, type, samples (labels, value).
#[derive(Default)]
struct Family {
    help: String,
    counter: bool,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Name, help, value and whether it is a counter, for one sensor element.
fn describe(kind: &str, element: &str, has_bare: bool, v: f64) -> (String, String, f64, bool) {
    let mut name = kind.to_string();
    if element == "input" {
        if has_bare {
            name.push_str("_input");
        }
    } else if !element.is_empty() {
        name.push('_');
        name.push_str(element);
    }
    let g = |n: String, h: String, v: f64| (n, h, v, false);
    match (kind, element) {
        (_, "fault" | "alarm") => g(
            name,
            format!("Hardware sensor {element} status ({kind})"),
            v,
        ),
        (_, "beep") => g(
            format!("{name}_enabled"),
            "Hardware monitor sensor has beeping enabled".into(),
            v,
        ),
        ("in" | "cpu", _) => g(
            format!("{name}_volts"),
            format!("Hardware monitor for voltage ({element})"),
            v * 0.001,
        ),
        ("temp", e) if e != "type" => {
            let e = if e.is_empty() { "input" } else { e };
            g(
                format!("{name}_celsius"),
                format!("Hardware monitor for temperature ({e})"),
                v * 0.001,
            )
        }
        ("curr", _) => g(
            format!("{name}_amps"),
            format!("Hardware monitor for current ({element})"),
            v * 0.001,
        ),
        ("energy", _) => (
            format!("{name}_joule_total"),
            format!("Hardware monitor for joules used so far ({element})"),
            v / 1_000_000.0,
            true,
        ),
        ("power", "accuracy") => g(
            name,
            "Hardware monitor power meter accuracy, as a ratio".into(),
            v / 1_000_000.0,
        ),
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => g(
            format!("{name}_seconds"),
            format!("Hardware monitor power usage update interval ({element})"),
            v * 0.001,
        ),
        ("power", _) => g(
            format!("{name}_watt"),
            format!("Hardware monitor for power usage in watts ({element})"),
            v / 1_000_000.0,
        ),
        ("fan", "input" | "min" | "max" | "target") => g(
            format!("{name}_rpm"),
            format!("Hardware monitor for fan revolutions per minute ({element})"),
            v,
        ),
        _ => g(
            name,
            format!("Hardware monitor {kind} element {element}"),
            v,
        ),
    }
}

pub struct Hwmon {
    dir: PathBuf,
}

impl Hwmon {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/hwmon"),
        }
    }
}

impl Collector for Hwmon {
    fn name(&self) -> &'static str {
        "hwmon"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let chips = super::entries(&self.dir, "")?;
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut add = |name: String,
                       help: String,
                       counter: bool,
                       labels: Vec<(&'static str, String)>,
                       v: f64| {
            let f = families.entry(format!("node_hwmon_{name}")).or_default();
            if f.samples.is_empty() {
                f.help = help;
                f.counter = counter;
            }
            f.samples.push((labels, v));
        };
        for (_, dir) in chips {
            let chip = chip_name(&dir);
            let mut data = SensorData::new();
            collect_sensor_data(&dir, &mut data);
            if dir.join("device").exists() {
                collect_sensor_data(&dir.join("device"), &mut data);
            }
            if let Some(human) = human_chip_name(&dir) {
                add(
                    "chip_names".into(),
                    "Annotation metric for human-readable chip names".into(),
                    false,
                    vec![("chip", chip.clone()), ("chip_name", human)],
                    1.0,
                );
            }
            for (sensor, elements) in &data {
                let kind = explode(sensor).map_or("", |(k, _, _)| k);
                let labels = || vec![("chip", chip.clone()), ("sensor", sensor.clone())];
                if let Some(label) = elements.get("label") {
                    add(
                        "sensor_label".into(),
                        "Label for given chip and sensor".into(),
                        false,
                        vec![
                            ("chip", chip.clone()),
                            ("label", label.clone()),
                            ("sensor", sensor.clone()),
                        ],
                        1.0,
                    );
                }
                if kind == "beep_enable" {
                    let on = elements.get("").is_some_and(|v| v == "1");
                    add(
                        "beep_enabled".into(),
                        "Hardware beep enabled".into(),
                        false,
                        labels(),
                        if on { 1.0 } else { 0.0 },
                    );
                    continue;
                }
                if kind == "vrm" {
                    if let Some(v) = elements.get("").and_then(|v| v.parse::<f64>().ok()) {
                        add(
                            "voltage_regulator_version".into(),
                            "Hardware voltage regulator".into(),
                            false,
                            labels(),
                            v,
                        );
                    }
                    continue;
                }
                let has_bare = elements.contains_key("");
                for (element, value) in elements {
                    if element == "label" {
                        continue;
                    }
                    let Ok(v) = value.parse::<f64>() else {
                        continue;
                    };
                    let (name, help, v, counter) = describe(kind, element, has_bare, v);
                    add(name, help, counter, labels(), v);
                }
            }
        }
        for (name, f) in &families {
            if !is_valid_metric_name(name) {
                continue;
            }
            let kind = if f.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            out.family(name, &f.help, kind);
            for (labels, v) in &f.samples {
                let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                out.sample(name, &l, *v);
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
    fn file_names_explode_as_upstream() {
        assert_eq!(explode("temp1_crit_alarm"), Some(("temp", 1, "crit_alarm")));
        assert_eq!(
            explode("pwm2_auto_point1_pwm"),
            Some(("pwm", 2, "auto_point1_pwm"))
        );
        assert_eq!(explode("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode("in0"), Some(("in", 0, "")));
        assert_eq!(explode("1abc"), None);
        assert_eq!(clean_name("applesmc.768\n"), "applesmc_768");
        assert_eq!(clean_name("_Core-Temp_"), "core_temp");
    }

    #[test]
    fn chips_named_and_sensors_scaled() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                (
                    "sys/devices/platform/coretemp.0/hwmon/hwmon0/name",
                    "coretemp\n",
                ),
                (
                    "sys/devices/platform/coretemp.0/hwmon/hwmon0/temp1_input",
                    "55000\n",
                ),
                (
                    "sys/devices/platform/coretemp.0/hwmon/hwmon0/temp1_label",
                    "Core 0\n",
                ),
                (
                    "sys/devices/platform/coretemp.0/hwmon/hwmon0/temp1_crit_alarm",
                    "0\n",
                ),
                ("sys/devices/platform/coretemp.0/hwmon/hwmon0/uevent", "x\n"),
                ("sys/class/hwmon/hwmon4/in0_input", "1050\n"),
                ("sys/class/hwmon/hwmon4/fan1_input", "1200\n"),
                ("sys/class/hwmon/hwmon4/fan1_beep", "1\n"),
                ("sys/class/hwmon/hwmon4/fan1_pulses", "2\n"),
                ("sys/class/hwmon/hwmon4/power1_average", "12500000\n"),
                ("sys/class/hwmon/hwmon4/energy1_input", "3000000\n"),
            ],
        );
        std::os::unix::fs::symlink(
            "../../devices/platform/coretemp.0/hwmon/hwmon0",
            p.sysfs.join("class/hwmon/hwmon0"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../../../coretemp.0",
            p.sysfs
                .join("devices/platform/coretemp.0/hwmon/hwmon0/device"),
        )
        .unwrap();
        let t = render(&Hwmon::new(&p));
        for want in [
            "node_hwmon_chip_names{chip=\"platform_coretemp_0\",chip_name=\"coretemp\"} 1\n",
            "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)\n",
            "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 55\n",
            "node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Core 0\",sensor=\"temp1\"} 1\n",
            "node_hwmon_temp_crit_alarm_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 0\n",
            "node_hwmon_in_volts{chip=\"hwmon4\",sensor=\"in0\"} 1.05\n",
            "node_hwmon_fan_rpm{chip=\"hwmon4\",sensor=\"fan1\"} 1200\n",
            "node_hwmon_fan_beep_enabled{chip=\"hwmon4\",sensor=\"fan1\"} 1\n",
            "# HELP node_hwmon_fan_pulses Hardware monitor fan element pulses\n",
            "node_hwmon_power_average_watt{chip=\"hwmon4\",sensor=\"power1\"} 12.5\n",
            "# TYPE node_hwmon_energy_joule_total counter\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("uevent"), "{t}");
    }
}

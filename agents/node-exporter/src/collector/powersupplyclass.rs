//! `node_power_supply_*{power_supply}` from /sys/class/power_supply:
//! batteries, mains and USB supplies (micro-units scaled to amperes, volts,
//! watts and watt-hours, tenths of °C to °C) and `node_power_supply_info`
//! with the supply's text attributes. Names are node_exporter 1.5's.

use super::{entries, CollectError, Collector, Families, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

/// (sysfs attribute, metric suffix, divisor)
const NUMERIC: [(&str, &str, f64); 49] = [
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    (
        "constant_charge_current_max",
        "constant_charge_current_max",
        1e6,
    ),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    (
        "constant_charge_voltage_max",
        "constant_charge_voltage_max",
        1e6,
    ),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attributes that become labels of the info series (sorted, with
/// `power_supply` between them), when not empty.
const INFO: [&str; 11] = [
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "scope",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
];

fn text_attr(path: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(super::dmi::to_valid_utf8(&bytes).trim().to_string())
}

pub struct PowerSupplyClass {
    dir: PathBuf,
}

impl PowerSupplyClass {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/power_supply"),
        }
    }
}

impl Collector for PowerSupplyClass {
    fn name(&self) -> &'static str {
        "powersupplyclass"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut fam = Families::default();
        for (supply, dir) in entries(&self.dir, "")? {
            for (file, suffix, div) in NUMERIC {
                let Some(raw) = super::attr(&dir.join(file)) else {
                    continue;
                };
                let v: f64 = super::num(&dir.join(file), &raw)?;
                fam.add(
                    format!("node_power_supply_{suffix}"),
                    format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
                    Gauge,
                    vec![("power_supply", supply.clone())],
                    v / div,
                );
            }
            let mut labels: Vec<(&'static str, String)> = Vec::new();
            for key in INFO {
                if key > "power_supply" && !labels.iter().any(|(k, _)| *k == "power_supply") {
                    labels.push(("power_supply", supply.clone()));
                }
                match text_attr(&dir.join(key)) {
                    Some(v) if !v.is_empty() => labels.push((key, v)),
                    _ => {}
                }
            }
            fam.add(
                "node_power_supply_info".into(),
                "info of /sys/class/power_supply/<power_supply>.",
                Gauge,
                labels,
                1.0,
            );
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn scaled_values_and_info() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/power_supply/AC/online", "0\n"),
                ("sys/class/power_supply/AC/type", "Mains\n"),
                ("sys/class/power_supply/BAT0/energy_full", "45070000\n"),
                ("sys/class/power_supply/BAT0/power_now", "5002000\n"),
                ("sys/class/power_supply/BAT0/cycle_count", "3\n"),
                ("sys/class/power_supply/BAT0/temp", "305\n"),
                ("sys/class/power_supply/BAT0/status", "Discharging\n"),
                ("sys/class/power_supply/BAT0/alarm", "2253000\n"),
            ],
        );
        let t = render(&PowerSupplyClass::new(&p));
        for want in [
            "# HELP node_power_supply_energy_full energy_full value of /sys/class/power_supply/<power_supply>.\n",
            "node_power_supply_energy_full{power_supply=\"BAT0\"} 45.07\n",
            "node_power_supply_power_watt{power_supply=\"BAT0\"} 5.002\n",
            "node_power_supply_cyclecount{power_supply=\"BAT0\"} 3\n",
            "node_power_supply_temp_celsius{power_supply=\"BAT0\"} 30.5\n",
            "node_power_supply_online{power_supply=\"AC\"} 0\n",
            "node_power_supply_info{power_supply=\"AC\",type=\"Mains\"} 1\n",
            "node_power_supply_info{power_supply=\"BAT0\",status=\"Discharging\"} 1\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("alarm"), "{t}");
    }
}

//! `node_thermal_zone_temp{zone,type}` (°C) and
//! `node_cooling_device_{cur,max}_state{name,type}` from /sys/class/thermal.

use super::{attr, entries, num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

pub struct ThermalZone {
    dir: PathBuf,
}

impl ThermalZone {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("class/thermal"),
        }
    }
}

impl Collector for ThermalZone {
    fn name(&self) -> &'static str {
        "thermal_zone"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // No thermal class: nothing to report, not a failure (upstream globs).
        let all = match entries(&self.dir, "") {
            Err(e) if e.is_no_data() => return Ok(()),
            r => r?,
        };
        let of = |prefix: &str| -> Vec<(String, std::path::PathBuf)> {
            all.iter()
                .filter_map(|(n, p)| Some((n.strip_prefix(prefix)?.to_string(), p.clone())))
                .collect()
        };
        let mut zones = Vec::new();
        for (n, p) in of("thermal_zone") {
            let kind = attr(&p.join("type")).unwrap_or_default();
            let temp_path = p.join("temp");
            // A zone whose sensor cannot be read makes upstream's read fail
            // as a whole; keep the others instead, as its later versions do.
            let Ok(text) = read(&temp_path) else { continue };
            let milli: f64 = num(&temp_path, &text)?;
            zones.push((n, kind, milli / 1000.0));
        }
        if !zones.is_empty() {
            let name = "node_thermal_zone_temp";
            out.family(name, "Zone temperature in Celsius", Gauge);
            for (n, kind, c) in &zones {
                out.sample(name, &[("type", kind), ("zone", n)], *c);
            }
        }
        let mut devices = Vec::new();
        for (n, p) in of("cooling_device") {
            let kind = attr(&p.join("type")).unwrap_or_default();
            let cur: Option<f64> = attr(&p.join("cur_state")).and_then(|s| s.parse().ok());
            let max: Option<f64> = attr(&p.join("max_state")).and_then(|s| s.parse().ok());
            if let (Some(cur), Some(max)) = (cur, max) {
                devices.push((n, kind, cur, max));
            }
        }
        if !devices.is_empty() {
            let name = "node_cooling_device_cur_state";
            out.family(name, "Current throttle state of the cooling device", Gauge);
            for (n, kind, cur, _) in &devices {
                out.sample(name, &[("name", n), ("type", kind)], *cur);
            }
            let name = "node_cooling_device_max_state";
            out.family(name, "Maximum throttle state of the cooling device", Gauge);
            for (n, kind, _, max) in &devices {
                out.sample(name, &[("name", n), ("type", kind)], *max);
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
    fn no_thermal_class_is_empty() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(render(&ThermalZone::new(&fake_paths(d.path(), &[]))), "");
    }

    #[test]
    fn zones_and_cooling_devices() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/class/thermal/thermal_zone0/temp", "12376\n"),
                ("sys/class/thermal/thermal_zone0/type", "cpu-thermal\n"),
                ("sys/class/thermal/cooling_device0/type", "Processor\n"),
                ("sys/class/thermal/cooling_device0/cur_state", "0\n"),
                ("sys/class/thermal/cooling_device0/max_state", "3\n"),
            ],
        );
        let t = render(&ThermalZone::new(&p));
        assert!(
            t.contains("node_thermal_zone_temp{type=\"cpu-thermal\",zone=\"0\"} 12.376\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cooling_device_cur_state{name=\"0\",type=\"Processor\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cooling_device_max_state{name=\"0\",type=\"Processor\"} 3\n"),
            "{t}"
        );
    }
}

//! `node_time_seconds`, `node_time_zone_offset_seconds{time_zone}` and the
//! clock source families from /sys/devices/system/clocksource.

use super::{CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::ffi::CStr;
use std::path::PathBuf;

pub struct Time {
    clocksource: PathBuf,
}

impl Time {
    pub fn new(paths: &Paths) -> Self {
        Self {
            clocksource: paths.sys("devices/system/clocksource"),
        }
    }

    /// (device number, available, current) per clocksourceN directory.
    fn clocksources(&self) -> Vec<(String, Vec<String>, String)> {
        let Ok(dir) = std::fs::read_dir(&self.clocksource) else {
            return Vec::new();
        };
        let mut out: Vec<_> = dir
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let dev = name.strip_prefix("clocksource")?.to_string();
                let avail = super::read_file(e.path().join("available_clocksource")).ok()?;
                let cur = super::read_file(e.path().join("current_clocksource")).ok()?;
                Some((
                    dev,
                    avail.split_whitespace().map(String::from).collect(),
                    cur.trim().to_string(),
                ))
            })
            .collect();
        out.sort();
        out
    }
}

/// The local time zone's abbreviation and UTC offset in seconds.
fn zone() -> (String, f64) {
    // SAFETY: localtime_r writes into our tm; tm_zone points to static storage.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() || tm.tm_zone.is_null() {
            return ("UTC".into(), 0.0);
        }
        (
            CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned(),
            tm.tm_gmtoff as f64,
        )
    }
}

impl Collector for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let sources = self.clocksources();
        if !sources.is_empty() {
            let name = "node_time_clocksource_available_info";
            out.family(
                name,
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                Gauge,
            );
            for (dev, avail, _) in &sources {
                for cs in avail {
                    out.sample(name, &[("clocksource", cs), ("device", dev)], 1.0);
                }
            }
            let name = "node_time_clocksource_current_info";
            out.family(
                name,
                "Current clocksource read from '/sys/devices/system/clocksource'.",
                Gauge,
            );
            for (dev, _, cur) in &sources {
                out.sample(name, &[("clocksource", cur), ("device", dev)], 1.0);
            }
        }
        out.single(
            "node_time_seconds",
            "System time in seconds since epoch (1970).",
            Gauge,
            now,
        );
        let (tz, offset) = zone();
        let name = "node_time_zone_offset_seconds";
        out.family(name, "System time zone offset in seconds.", Gauge);
        out.sample(name, &[("time_zone", &tz)], offset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn clocksources_and_time() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                (
                    "sys/devices/system/clocksource/clocksource0/available_clocksource",
                    "tsc kvm-clock \n",
                ),
                (
                    "sys/devices/system/clocksource/clocksource0/current_clocksource",
                    "tsc\n",
                ),
            ],
        );
        let t = render(&Time::new(&p));
        assert!(
            t.contains(
                "node_time_clocksource_available_info{clocksource=\"kvm-clock\",device=\"0\"} 1\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("node_time_clocksource_current_info{clocksource=\"tsc\",device=\"0\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("node_time_zone_offset_seconds{time_zone="),
            "{t}"
        );
        let secs: f64 = t
            .lines()
            .find_map(|l| l.strip_prefix("node_time_seconds "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(secs > 1.7e9, "{secs}");
    }
}

//! The CPU facts the cpu collector takes from sysfs: isolated CPUs
//! (`node_cpu_isolated{cpu}`, from devices/system/cpu/isolated, read once at
//! start as upstream does) and thermal throttle counts per core and package.

use super::{attr_num, numbered_entries};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::collections::BTreeMap;
use std::path::Path;

/// `1,3-5,9` → [1, 3, 4, 5, 9]; malformed parts are skipped.
pub fn parse_cpu_list(s: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                    out.extend(a..=b.min(a.saturating_add(65535)));
                }
            }
            None => out.extend(part.parse::<u32>().ok()),
        }
    }
    out
}

pub fn write_isolated(out: &mut Exposition, isolated: &[u32]) {
    if isolated.is_empty() {
        return;
    }
    let name = "node_cpu_isolated";
    out.family(
        name,
        "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
        Gauge,
    );
    for c in isolated {
        out.sample(name, &[("cpu", &c.to_string())], 1.0);
    }
}

/// Throttle counts, each core and package read once (the first CPU seen of
/// it), as upstream does.
pub fn write_throttles(out: &mut Exposition, cpu_dir: &Path) {
    let Ok(cpus) = numbered_entries(cpu_dir, "cpu") else {
        return;
    };
    let mut packages: BTreeMap<u64, Option<u64>> = BTreeMap::new();
    let mut cores: BTreeMap<(u64, u64), Option<u64>> = BTreeMap::new();
    for (_, p) in cpus {
        let (Some(pkg), Some(core)) = (
            attr_num::<u64>(&p.join("topology/physical_package_id")),
            attr_num::<u64>(&p.join("topology/core_id")),
        ) else {
            continue;
        };
        cores
            .entry((pkg, core))
            .or_insert_with(|| attr_num(&p.join("thermal_throttle/core_throttle_count")));
        packages
            .entry(pkg)
            .or_insert_with(|| attr_num(&p.join("thermal_throttle/package_throttle_count")));
    }
    let cores: Vec<_> = cores
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    let packages: Vec<_> = packages
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
    if !cores.is_empty() {
        let name = "node_cpu_core_throttles_total";
        out.family(
            name,
            "Number of times this CPU core has been throttled.",
            Counter,
        );
        for ((pkg, core), n) in cores {
            out.sample(
                name,
                &[("core", &core.to_string()), ("package", &pkg.to_string())],
                n as f64,
            );
        }
    }
    if !packages.is_empty() {
        let name = "node_cpu_package_throttles_total";
        out.family(
            name,
            "Number of times this CPU package has been throttled.",
            Counter,
        );
        for (pkg, n) in packages {
            out.sample(name, &[("package", &pkg.to_string())], n as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::fake_paths;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1,3-5,9\n"), vec![1, 3, 4, 5, 9]);
        assert_eq!(parse_cpu_list("\n"), Vec::<u32>::new());
        assert_eq!(parse_cpu_list("x,2"), vec![2]);
    }

    #[test]
    fn throttles_once_per_core_and_package() {
        let d = tempfile::tempdir().unwrap();
        let c = "sys/devices/system/cpu";
        let files = [
            (format!("{c}/cpu0/topology/physical_package_id"), "0\n"),
            (format!("{c}/cpu0/topology/core_id"), "0\n"),
            (
                format!("{c}/cpu0/thermal_throttle/core_throttle_count"),
                "5\n",
            ),
            (
                format!("{c}/cpu0/thermal_throttle/package_throttle_count"),
                "30\n",
            ),
            (format!("{c}/cpu1/topology/physical_package_id"), "0\n"),
            (format!("{c}/cpu1/topology/core_id"), "0\n"),
            (
                format!("{c}/cpu1/thermal_throttle/core_throttle_count"),
                "7\n",
            ),
            (
                format!("{c}/cpu1/thermal_throttle/package_throttle_count"),
                "31\n",
            ),
        ];
        let files: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let p = fake_paths(d.path(), &files);
        let mut out = Exposition::default();
        write_throttles(&mut out, &p.sys("devices/system/cpu"));
        let t = out.into_string();
        assert!(
            t.contains("node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_package_throttles_total{package=\"0\"} 30\n"),
            "{t}"
        );
        assert!(!t.contains(" 7\n") && !t.contains(" 31\n"), "{t}");
    }
}

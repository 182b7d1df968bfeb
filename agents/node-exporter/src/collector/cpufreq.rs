//! `node_cpu_frequency_{,min_,max_}hertz{cpu}` and
//! `node_cpu_scaling_frequency_{,min_,max_}hertz{cpu}` from
//! /sys/devices/system/cpu/cpuN/cpufreq (kHz → Hz). Each family appears only
//! for the files the kernel offers (`cpuinfo_cur_freq` is often root-only).

use super::{attr_num, numbered_entries, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::PathBuf;

const FILES: [(&str, &str, &str); 6] = [
    (
        "cpuinfo_cur_freq",
        "node_cpu_frequency_hertz",
        "Current CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_max_freq",
        "node_cpu_frequency_max_hertz",
        "Maximum CPU thread frequency in hertz.",
    ),
    (
        "cpuinfo_min_freq",
        "node_cpu_frequency_min_hertz",
        "Minimum CPU thread frequency in hertz.",
    ),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
];

pub struct Cpufreq {
    dir: PathBuf,
}

impl Cpufreq {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("devices/system/cpu"),
        }
    }
}

impl Collector for Cpufreq {
    fn name(&self) -> &'static str {
        "cpufreq"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let cpus: Vec<(String, PathBuf)> = numbered_entries(&self.dir, "cpu")?
            .into_iter()
            .map(|(n, p)| (n, p.join("cpufreq")))
            .filter(|(_, p)| p.is_dir())
            .collect();
        for (file, name, help) in FILES {
            let rows: Vec<(&str, f64)> = cpus
                .iter()
                .filter_map(|(n, p)| Some((n.as_str(), attr_num::<f64>(&p.join(file))? * 1000.0)))
                .collect();
            if rows.is_empty() {
                continue;
            }
            out.family(name, help, Gauge);
            for (cpu, hz) in rows {
                out.sample(name, &[("cpu", cpu)], hz);
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
    fn offered_files_only_in_hertz() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                (
                    "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq",
                    "1699981\n",
                ),
                (
                    "sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq",
                    "3700000\n",
                ),
                (
                    "sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq",
                    "8000\n",
                ),
                (
                    "sys/devices/system/cpu/cpu10/cpufreq/scaling_cur_freq",
                    "1000\n",
                ),
                ("sys/devices/system/cpu/cpufreq/boost", "1\n"),
                ("sys/devices/system/cpu/cpu2/topology/core_id", "0\n"),
            ],
        );
        let t = render(&Cpufreq::new(&p));
        assert!(
            t.contains("node_cpu_scaling_frequency_hertz{cpu=\"0\"} 1.699981e+09\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_scaling_frequency_hertz{cpu=\"1\"} 8e+06\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_scaling_frequency_hertz{cpu=\"10\"} 1e+06\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_scaling_frequency_max_hertz{cpu=\"0\"} 3.7e+09\n"),
            "{t}"
        );
        assert!(
            !t.contains("min_hertz") && !t.contains("node_cpu_frequency_hertz"),
            "{t}"
        );
        assert!(!t.contains("cpu=\"2\""), "{t}");
    }
}

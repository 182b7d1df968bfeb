//! `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`
//! from the per-CPU lines of /proc/stat.
//!
//! The kernel reports ticks of USER_HZ, which is 100 on every Linux ABI
//! (node_exporter's procfs library hard-codes it too). Some kernels let
//! idle/iowait step backwards by a tick; a counter must not, so each value is
//! held at its previous maximum (node_exporter does the same since 1.4).
//!
//! Also, as upstream: `node_cpu_isolated`, the thermal throttle counters
//! (see `cpu_sysfs`) and, with `--collector.cpu.info`, `node_cpu_info` and
//! the flag/bug info series (see `cpuinfo`).

use super::{cpu_sysfs, cpuinfo, num, read, CollectError, Collector, FieldFilter, Settings};
use crate::exposition::{Exposition, MetricType::Counter};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const USER_HZ: f64 = 100.0;
const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

/// One CPU's ten columns in /proc/stat order: user nice system idle iowait
/// irq softirq steal guest guest_nice, in seconds.
pub type CpuTimes = [f64; 10];

pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, CpuTimes)>, CollectError> {
    let mut cpus = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        // "cpu " is the total over all CPUs; node_exporter reports per CPU only.
        let mut parts = rest.split_whitespace();
        let id = match parts.next() {
            Some(id) if !rest.starts_with(' ') => id,
            _ => continue,
        };
        let mut times = [0.0; 10];
        for (slot, field) in times.iter_mut().zip(parts) {
            let ticks: u64 = num(path, field)?;
            *slot = ticks as f64 / USER_HZ;
        }
        cpus.push((id.to_string(), times));
    }
    if cpus.is_empty() {
        return Err(CollectError::parse(path, "no per-CPU lines"));
    }
    Ok(cpus)
}

pub struct Cpu {
    path: PathBuf,
    last: Mutex<Vec<(String, CpuTimes)>>,
    cpu_dir: PathBuf,
    isolated: Vec<u32>,
    /// With --collector.cpu.info: /proc/cpuinfo and the flag/bug filters.
    info: Option<(PathBuf, Option<FieldFilter>, Option<FieldFilter>)>,
}

impl Cpu {
    pub fn new(s: &Settings) -> Self {
        let cpu_dir = s.paths.sys("devices/system/cpu");
        let isolated = super::attr(&cpu_dir.join("isolated"))
            .map(|l| cpu_sysfs::parse_cpu_list(&l))
            .unwrap_or_default();
        Self {
            path: s.paths.proc("stat"),
            last: Mutex::new(Vec::new()),
            cpu_dir,
            isolated,
            info: s.cpu_info.then(|| {
                (
                    s.paths.proc("cpuinfo"),
                    s.cpu_info_flags_include.clone().map(FieldFilter::new),
                    s.cpu_info_bugs_include.clone().map(FieldFilter::new),
                )
            }),
        }
    }

    /// Hold every counter at no less than its last value for the same CPU.
    fn monotonic(&self, cpus: &mut [(String, CpuTimes)]) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() == cpus.len() && last.iter().zip(cpus.iter()).all(|(a, b)| a.0 == b.0) {
            for ((_, prev), (_, now)) in last.iter().zip(cpus.iter_mut()) {
                for (p, n) in prev.iter().zip(now.iter_mut()) {
                    if *n < *p {
                        *n = *p;
                    }
                }
            }
        }
        last.clear();
        last.extend(cpus.iter().cloned());
    }
}

impl Collector for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let mut cpus = parse(&self.path, &read(&self.path)?)?;
        self.monotonic(&mut cpus);
        if let Some((path, flags, bugs)) = &self.info {
            let info = cpuinfo::parse(&read(path)?);
            cpuinfo::write(out, &info, flags.as_ref(), bugs.as_ref());
        }
        cpu_sysfs::write_throttles(out, &self.cpu_dir);
        cpu_sysfs::write_isolated(out, &self.isolated);
        let name = "node_cpu_guest_seconds_total";
        out.family(
            name,
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            Counter,
        );
        for (id, t) in &cpus {
            out.sample(name, &[("cpu", id), ("mode", "nice")], t[9]);
            out.sample(name, &[("cpu", id), ("mode", "user")], t[8]);
        }
        let name = "node_cpu_seconds_total";
        out.family(name, "Seconds the CPUs spent in each mode.", Counter);
        for (id, t) in &cpus {
            for (mode, v) in MODES.iter().zip(t.iter()) {
                out.sample(name, &[("cpu", id), ("mode", mode)], *v);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};
    use crate::collector::Paths;

    fn settings(paths: Paths) -> Settings {
        Settings {
            paths,
            ..Settings::default()
        }
    }

    #[test]
    fn isolated_cpus_and_info_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/stat", STAT),
                (
                    "proc/cpuinfo",
                    "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu aes\n",
                ),
                ("sys/devices/system/cpu/isolated", "1,3-4\n"),
            ],
        );
        let t = render(&Cpu::new(&settings(p.clone())));
        assert!(t.contains("node_cpu_isolated{cpu=\"4\"} 1\n"), "{t}");
        assert!(!t.contains("node_cpu_info"), "{t}");
        let s = Settings {
            cpu_info: true,
            cpu_info_flags_include: Some(regex::Regex::new("^aes$").unwrap()),
            ..settings(p)
        };
        let t = render(&Cpu::new(&s));
        assert!(t.contains("vendor=\"AuthenticAMD\"} 1\n"), "{t}");
        assert!(t.contains("node_cpu_flag_info{flag=\"aes\"} 1\n"), "{t}");
    }

    const STAT: &str = "cpu  23544 0 9556 45354 386 0 89 26 0 0\n\
cpu0 12146 0 4380 22853 65 0 12 12 7 3\n\
cpu1 11398 0 5176 22501 321 0 77 14 0 0\n\
intr 1 2 3\nctxt 5\nbtime 6\n";

    #[test]
    fn per_cpu_seconds_from_user_hz() {
        let cpus = parse(Path::new("stat"), STAT).unwrap();
        assert_eq!(cpus.len(), 2);
        assert_eq!(cpus[0].0, "0");
        assert_eq!(cpus[0].1[0], 121.46);
        assert_eq!(cpus[1].1[4], 3.21);
    }

    #[test]
    fn writes_modes_and_guest() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/stat", STAT)]);
        let t = render(&Cpu::new(&settings(p)));
        assert!(
            t.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 121.46\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.14\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 0.07\n"),
            "{t}"
        );
        assert!(
            t.contains("node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0.03\n"),
            "{t}"
        );
        assert_eq!(t.matches("node_cpu_seconds_total{").count(), 16);
        assert!(!t.contains("cpu=\"\""), "the total line is not a CPU: {t}");
    }

    #[test]
    fn counters_never_step_back() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/stat", "cpu0 10 0 0 500 0 0 0 0 0 0\n")]);
        let c = Cpu::new(&settings(p.clone()));
        render(&c);
        std::fs::write(p.proc("stat"), "cpu0 11 0 0 499 0 0 0 0 0 0\n").unwrap();
        let t = render(&c);
        assert!(t.contains("mode=\"idle\"} 5\n"), "{t}");
        assert!(t.contains("mode=\"user\"} 0.11\n"), "{t}");
    }
}

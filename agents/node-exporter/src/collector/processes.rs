//! `node_processes_*`: processes per state, PIDs and threads in use, and the
//! PID and thread limits, from `<procfs>/<pid>/stat` and `<procfs>/sys/kernel`
//! (off by default, as upstream).

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// (state letter, number of threads) from one `/proc/<pid>/stat` line.
pub fn parse_stat(path: &Path, text: &str) -> Result<(String, u64), CollectError> {
    // The command is in parentheses and may itself hold spaces or `)`.
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| CollectError::parse(path, "no command field"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, num_threads field 20 (1-based).
    if f.len() < 18 {
        return Err(CollectError::parse(path, "short stat line"));
    }
    Ok((f[0].to_string(), num(path, f[17])?))
}

pub struct Processes {
    procfs: PathBuf,
}

impl Processes {
    pub fn new(paths: &Paths) -> Self {
        Self {
            procfs: paths.procfs.clone(),
        }
    }
}

impl Collector for Processes {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let rd = std::fs::read_dir(&self.procfs).map_err(|source| CollectError::Io {
            path: self.procfs.clone(),
            source,
        })?;
        let (mut pids, mut threads) = (0u64, 0u64);
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let path = e.path().join("stat");
            // A process that exits between the listing and the read is gone, not an error.
            let Ok(text) = super::read_file(&path) else {
                continue;
            };
            let (state, n) = parse_stat(&path, &text)?;
            *states.entry(state).or_default() += 1;
            threads += n;
            pids += 1;
        }
        let limit = |rel: &str| -> Result<f64, CollectError> {
            let p = self.procfs.join(rel);
            num(&p, &read(&p)?)
        };
        let max_threads = limit("sys/kernel/threads-max")?;
        let max_processes = limit("sys/kernel/pid_max")?;
        out.single(
            "node_processes_threads",
            "Allocated threads in system",
            Gauge,
            threads as f64,
        );
        out.single(
            "node_processes_max_threads",
            "Limit of threads in the system",
            Gauge,
            max_threads,
        );
        out.single(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            Gauge,
            max_processes,
        );
        out.single("node_processes_pids", "Number of PIDs", Gauge, pids as f64);
        let name = "node_processes_state";
        out.family(name, "Number of processes in each state.", Gauge);
        for (s, n) in &states {
            out.sample(name, &[("state", s)], *n as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    #[test]
    fn states_pids_threads_and_limits() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("proc/1/stat", "1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 13885 20 0 1 0 29 109604864\n"),
                ("proc/7/stat", "7 (a) b) S 2 0 0 0 -1 2129984 0 0 0 0 0 346 0 0 -2 0 4 0 32 0\n"),
                ("proc/11/stat", "11 (rcu_preempt) I 2 0 0 0 -1 2129984 0 0 0 0 0 346 0 0 -2 0 1 0 32 0\n"),
                ("proc/sys/kernel/threads-max", "7801\n"),
                ("proc/sys/kernel/pid_max", "123\n"),
            ],
        );
        let t = render(&Processes::new(&p));
        for want in [
            "node_processes_threads 6\n",
            "node_processes_pids 3\n",
            "node_processes_max_threads 7801\n",
            "node_processes_max_processes 123\n",
            "node_processes_state{state=\"I\"} 1\n",
            "node_processes_state{state=\"S\"} 2\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(parse_stat(Path::new("s"), "1 (x) S 1 2\n").is_err());
    }
}

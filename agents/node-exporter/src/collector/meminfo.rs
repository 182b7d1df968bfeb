//! Every /proc/meminfo field as `node_memory_<Field>[_bytes]`, like
//! node_exporter: `Active(anon)` becomes `Active_anon`, kB values become
//! bytes with a `_bytes` suffix, unitless counts (HugePages_*) stay as they are.

use super::{num, read, CollectError, Collector, Paths};
use crate::exposition::{is_valid_metric_name, Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

pub struct Meminfo {
    path: PathBuf,
}

/// (metric suffix, value) pairs in file order.
pub fn parse(path: &Path, text: &str) -> Result<Vec<(String, f64)>, CollectError> {
    let mut out = Vec::with_capacity(64);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = key.trim_end_matches(':');
        let mut name = String::with_capacity(key.len() + 6);
        for c in key.chars() {
            match c {
                '(' => name.push('_'),
                ')' => {}
                c => name.push(c),
            }
        }
        let mut v: f64 = num(path, value)?;
        if parts.next() == Some("kB") {
            v *= 1024.0;
            name.push_str("_bytes");
        }
        out.push((name, v));
    }
    if out.is_empty() {
        return Err(CollectError::parse(path, "no fields"));
    }
    Ok(out)
}

impl Meminfo {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("meminfo"),
        }
    }
}

impl Collector for Meminfo {
    fn name(&self) -> &'static str {
        "meminfo"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let fields = parse(&self.path, &read(&self.path)?)?;
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(80);
        for (field, v) in fields {
            name.clear();
            name.push_str("node_memory_");
            name.push_str(&field);
            if !is_valid_metric_name(&name) {
                continue;
            }
            help.clear();
            help.push_str("Memory information field ");
            help.push_str(&field);
            help.push('.');
            out.family(&name, &help, Gauge);
            out.sample(&name, &[], v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const MEMINFO: &str = "MemTotal:       24683652 kB\n\
MemFree:        13578512 kB\n\
Active(anon):     123456 kB\n\
HugePages_Total:       0\n\
Hugepagesize:       2048 kB\n";

    #[test]
    fn names_units_and_help() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("proc/meminfo", MEMINFO)]);
        let t = render(&Meminfo::new(&p));
        assert!(
            t.contains(
                "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.\n\
             # TYPE node_memory_MemTotal_bytes gauge\n\
             node_memory_MemTotal_bytes 2.5276059648e+10\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("node_memory_Active_anon_bytes 1.26418944e+08\n"),
            "{t}"
        );
        assert!(t.contains("node_memory_HugePages_Total 0\n"), "{t}");
        assert!(
            t.contains("node_memory_Hugepagesize_bytes 2.097152e+06\n"),
            "{t}"
        );
    }
}

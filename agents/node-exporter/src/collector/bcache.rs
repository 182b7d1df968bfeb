//! `node_bcache_*` from /sys/fs/bcache/<uuid>: cache-set figures
//! `{uuid}`, backing devices `{backing_device,uuid}` (dirty data, writeback
//! controller, lifetime hit/miss counters) and cache devices
//! `{cache_device,uuid}` (I/O errors, bytes written; with
//! `--collector.bcache.priorityStats` the unused and metadata share from
//! `priority_stats`, which the kernel computes by walking every bucket, hence
//! off by default as upstream). Names, HELP and values are node_exporter
//! 1.5's, including its reading of bcache's "humanized" numbers (`20.4G`,
//! see [`dehumanize`]).

use super::{entries, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{self, Counter, Gauge},
};
use std::path::{Path, PathBuf};

/// Files in the cache set's folder (or a subfolder): (file, metric, help,
/// type, scale). `btree_read_average_duration_us` holds microseconds, yet
/// upstream scales it by 1e-9 (it names the field nanoseconds); kept, so the
/// series has upstream's values.
const SET: &[(&str, &str, &str, MetricType, f64)] = &[
    ("average_key_size", "average_key_size_sectors", "Average data per key in the btree (sectors).", Gauge, 1.0),
    ("btree_cache_size", "btree_cache_size_bytes", "Amount of memory currently used by the btree cache.", Gauge, 1.0),
    ("cache_available_percent", "cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data).", Gauge, 1.0),
    ("congested", "congested", "Congestion.", Gauge, 1.0),
    ("root_usage_percent", "root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high).", Gauge, 1.0),
    ("tree_depth", "tree_depth", "Depth of the btree.", Gauge, 1.0),
    ("internal/active_journal_entries", "active_journal_entries", "Number of journal entries that are newer than the index.", Gauge, 1.0),
    ("internal/btree_nodes", "btree_nodes", "Total nodes in the btree.", Gauge, 1.0),
    ("internal/btree_read_average_duration_us", "btree_read_average_duration_seconds", "Average btree read duration.", Gauge, 1e-9),
    ("internal/cache_read_races", "cache_read_races_total", "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.", Counter, 1.0),
];

/// A backing device's `stats_total/*` counters: (file, metric, help).
const PERIOD: &[(&str, &str, &str)] = &[
    (
        "bypassed",
        "bypassed_bytes_total",
        "Amount of IO (both reads and writes) that has bypassed the cache.",
    ),
    (
        "cache_bypass_hits",
        "cache_bypass_hits_total",
        "Hits for IO intended to skip the cache.",
    ),
    (
        "cache_bypass_misses",
        "cache_bypass_misses_total",
        "Misses for IO intended to skip the cache.",
    ),
    (
        "cache_hits",
        "cache_hits_total",
        "Hits counted per individual IO as bcache sees them.",
    ),
    (
        "cache_miss_collisions",
        "cache_miss_collisions_total",
        "Instances where data insertion from cache miss raced with write (data already present).",
    ),
    (
        "cache_misses",
        "cache_misses_total",
        "Misses counted per individual IO as bcache sees them.",
    ),
    (
        "cache_readaheads",
        "cache_readaheads_total",
        "Count of times readahead occurred.",
    ),
];

/// A cache device's files: (file, metric, help, type).
const CACHE: &[(&str, &str, &str, MetricType)] = &[
    (
        "io_errors",
        "io_errors",
        "Number of errors that have occurred, decayed by io_error_halflife.",
        Gauge,
    ),
    (
        "metadata_written",
        "metadata_written_bytes_total",
        "Sum of all non data writes (btree writes and all other metadata).",
        Counter,
    ),
    (
        "written",
        "written_bytes_total",
        "Sum of all data that has been written to the cache.",
        Counter,
    ),
];

/// bcache's `bch_hprint` fraction: the digits after the point are tenths of
/// 1024ths (`.5` is 512/1024 shown as 5), so they are divided by 10.24.
fn pseudo_float(s: &str) -> Option<f64> {
    let mut parts = s.split('.');
    let int: f64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(int),
        Some(frac) => Some(int + frac.parse::<f64>().ok()? / 10.24),
    }
}

/// A number as bcache prints it: plain, or with a binary-prefix suffix
/// (`k`, `M`, `G`, … as `bch_hprint` writes them), truncated to an integer
/// as upstream does.
fn dehumanize(s: &str) -> Option<u64> {
    let last = *s.as_bytes().last()?;
    // Upstream: anything above '9' is a multiplier.
    if last <= b'9' {
        return s.parse::<f64>().ok().map(|v| v as u64);
    }
    let shift = match last {
        b'k' => 10,
        b'M' => 20,
        b'G' => 30,
        b'T' => 40,
        b'P' => 50,
        b'E' => 60,
        b'Z' => 70,
        b'Y' => 80,
        _ => return None,
    };
    let mant = pseudo_float(&s[..s.len() - 1])?;
    Some((mant * 2f64.powi(shift)) as u64)
}

fn signed(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(rest) => dehumanize(rest).map(|v| (v as i64).wrapping_neg()),
        None => dehumanize(s).map(|v| v as i64),
    }
}

/// One humanized value file (all of them are required, as upstream).
fn value(path: &Path) -> Result<u64, CollectError> {
    let text = read(path)?;
    dehumanize(text.trim())
        .ok_or_else(|| CollectError::parse(path, format!("not a bcache number: {:?}", text.trim())))
}

/// The writeback controller's state from `writeback_rate_debug`.
#[derive(Default, Debug, PartialEq)]
struct Writeback {
    rate: u64,
    target: u64,
    proportional: i64,
    integral: i64,
    change: i64,
}

fn writeback(path: &Path) -> Result<Writeback, CollectError> {
    let text = read(path)?;
    let mut w = Writeback::default();
    for line in text.lines() {
        let Some((key, _)) = line.split_once(':') else {
            continue;
        };
        let last = line.split_whitespace().last().unwrap_or("");
        let bad = || CollectError::parse(path, format!("unreadable line {line:?}"));
        let per_sec = last.strip_suffix("/sec").unwrap_or(last);
        match key {
            "rate" => w.rate = dehumanize(per_sec).ok_or_else(bad)?,
            "dirty" => {
                dehumanize(last).ok_or_else(bad)?;
            }
            "target" => w.target = dehumanize(last).ok_or_else(bad)?,
            "proportional" => w.proportional = signed(last).ok_or_else(bad)?,
            "integral" => w.integral = signed(last).ok_or_else(bad)?,
            "change" => w.change = signed(per_sec).ok_or_else(bad)?,
            "next io" => {
                let ms = last.strip_suffix("ms").unwrap_or(last);
                ms.parse::<i64>().map_err(|_| bad())?;
            }
            _ => {}
        }
    }
    Ok(w)
}

/// `Unused:` and `Metadata:` percentages from `priority_stats`.
fn priority_stats(path: &Path) -> Result<(u64, u64), CollectError> {
    let text = read(path)?;
    let (mut unused, mut metadata) = (0, 0);
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let last = line.split_whitespace().last().unwrap_or("");
        *slot = last
            .strip_suffix('%')
            .unwrap_or(last)
            .parse()
            .map_err(|_| CollectError::parse(path, format!("unreadable line {line:?}")))?;
    }
    Ok((unused, metadata))
}

/// Entries named `<prefix><digit>…`, as upstream's `bdev[0-9]*` glob.
fn members(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, CollectError> {
    Ok(entries(dir, prefix)?
        .into_iter()
        .filter(|(rest, _)| rest.starts_with(|c: char| c.is_ascii_digit()))
        .map(|(rest, p)| (format!("{prefix}{rest}"), p))
        .collect())
}

pub struct Bcache {
    dir: PathBuf,
    priority_stats: bool,
}

impl Bcache {
    pub fn new(paths: &Paths, priority_stats: bool) -> Self {
        Self {
            dir: paths.sys("fs/bcache"),
            priority_stats,
        }
    }

    fn cache_set(&self, fam: &mut Families, uuid: &str, dir: &Path) -> Result<(), CollectError> {
        let name = |suffix: &str| format!("node_bcache_{suffix}");
        for (file, suffix, help, kind, scale) in SET {
            let v = value(&dir.join(file))? as f64 * scale;
            fam.add(
                name(suffix),
                *help,
                *kind,
                vec![("uuid", uuid.to_string())],
                v,
            );
        }
        for (bdev, bdir) in members(dir, "bdev")? {
            let labels = || vec![("backing_device", bdev.clone()), ("uuid", uuid.to_string())];
            let dirty = value(&bdir.join("dirty_data"))?;
            let w = writeback(&bdir.join("writeback_rate_debug"))?;
            for (suffix, help, v) in [
                (
                    "dirty_data_bytes",
                    "Amount of dirty data for this backing device in the cache.",
                    dirty as f64,
                ),
                (
                    "dirty_target_bytes",
                    "Current dirty data target threshold for this backing device in bytes.",
                    w.target as f64,
                ),
                (
                    "writeback_rate",
                    "Current writeback rate for this backing device in bytes.",
                    w.rate as f64,
                ),
                (
                    "writeback_rate_proportional_term",
                    "Current result of proportional controller, part of writeback rate",
                    w.proportional as f64,
                ),
                (
                    "writeback_rate_integral_term",
                    "Current result of integral controller, part of writeback rate",
                    w.integral as f64,
                ),
                (
                    "writeback_change",
                    "Last writeback rate change step for this backing device.",
                    w.change as f64,
                ),
            ] {
                fam.add(name(suffix), help, Gauge, labels(), v);
            }
            // The backing device's own lifetime counters (as Debian's 1.5.0
            // binary reads them; checked side by side).
            let stats = bdir.join("stats_total");
            for (file, suffix, help) in PERIOD {
                let v = value(&stats.join(file))?;
                fam.add(name(suffix), *help, Counter, labels(), v as f64);
            }
        }
        for (cache, cdir) in members(dir, "cache")? {
            let labels = || vec![("cache_device", cache.clone()), ("uuid", uuid.to_string())];
            for (file, suffix, help, kind) in CACHE {
                let v = value(&cdir.join(file))?;
                fam.add(name(suffix), *help, *kind, labels(), v as f64);
            }
            if self.priority_stats {
                let (unused, metadata) = priority_stats(&cdir.join("priority_stats"))?;
                fam.add(
                    name("priority_stats_unused_percent"),
                    "The percentage of the cache that doesn't contain any data.",
                    Gauge,
                    labels(),
                    unused as f64,
                );
                fam.add(
                    name("priority_stats_metadata_percent"),
                    "Bcache's metadata overhead.",
                    Gauge,
                    labels(),
                    metadata as f64,
                );
            }
        }
        Ok(())
    }
}

impl Collector for Bcache {
    fn name(&self) -> &'static str {
        "bcache"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // Upstream globs `fs/bcache/*-*`: no folder means no cache sets, and
        // success (the `register` files there have no dash).
        let sets = match entries(&self.dir, "") {
            Ok(v) => v,
            Err(e) if e.is_no_data() => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut fam = Families::default();
        for (uuid, dir) in sets.iter().filter(|(n, _)| n.contains('-')) {
            self.cache_set(&mut fam, uuid, dir)?;
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const SET_DIR: &str = "sys/fs/bcache/deaddd54-c735-46d5-868e-f331c5fd7c74";

    fn files(extra: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        let mut v: Vec<(String, &str)> = Vec::new();
        for (f, ..) in SET {
            let text = if f.ends_with("btree_read_average_duration_us") {
                "1305\n"
            } else {
                "0\n"
            };
            v.push((format!("{SET_DIR}/{f}"), text));
        }
        v.push((format!("{SET_DIR}/bdev0/dirty_data"), "1.5M\n"));
        v.push((
            format!("{SET_DIR}/bdev0/writeback_rate_debug"),
            "rate:\t\t1.1M/sec\ndirty:\t\t20.4G\ntarget:\t\t20.4G\nproportional:\t-1.1k\nintegral:\t790.0k\nchange:\t\t321.5k/sec\nnext io:\t-150773ms\n",
        ));
        for (f, ..) in PERIOD {
            let text = if *f == "cache_hits" { "546\n" } else { "0\n" };
            v.push((format!("{SET_DIR}/bdev0/stats_total/{f}"), text));
        }
        for (f, ..) in CACHE {
            v.push((format!("{SET_DIR}/cache0/{f}"), "512\n"));
        }
        v.push((
            format!("{SET_DIR}/cache0/priority_stats"),
            "Unused:\t\t99%\nMetadata:\t0%\nAverage:\t10473\n",
        ));
        for (p, t) in extra {
            v.retain(|(q, _)| !q.ends_with(p));
            v.push((format!("{SET_DIR}/{p}"), *t));
        }
        v
    }

    fn collector(d: &Path, files: &[(String, &str)], prio: bool) -> Bcache {
        let f: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        Bcache::new(&fake_paths(d, &f), prio)
    }

    #[test]
    fn humanized_numbers_as_upstream_reads_them() {
        assert_eq!(dehumanize("0"), Some(0));
        assert_eq!(dehumanize("1.1M"), Some(1_150_976));
        assert_eq!(dehumanize("20.4G"), Some(21_894_266_880));
        assert_eq!(dehumanize("427.5k"), Some(437_748));
        assert_eq!(signed("-1.1k"), Some(-1_124));
        assert_eq!(dehumanize("12q"), None);
        assert_eq!(dehumanize(""), None);
    }

    #[test]
    fn cache_set_backing_and_cache_devices() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), &files(&[]), true));
        let u = "uuid=\"deaddd54-c735-46d5-868e-f331c5fd7c74\"";
        for want in [
            format!("node_bcache_btree_read_average_duration_seconds{{{u}}} 1.305e-06\n"),
            format!("# TYPE node_bcache_cache_read_races_total counter\nnode_bcache_cache_read_races_total{{{u}}} 0\n"),
            format!("node_bcache_dirty_data_bytes{{backing_device=\"bdev0\",{u}}} 1.560576e+06\n"),
            format!("node_bcache_writeback_rate{{backing_device=\"bdev0\",{u}}} 1.150976e+06\n"),
            format!("node_bcache_dirty_target_bytes{{backing_device=\"bdev0\",{u}}} 2.189426688e+10\n"),
            format!("node_bcache_writeback_rate_proportional_term{{backing_device=\"bdev0\",{u}}} -1124\n"),
            format!("node_bcache_writeback_change{{backing_device=\"bdev0\",{u}}} 329204\n"),
            format!("node_bcache_cache_hits_total{{backing_device=\"bdev0\",{u}}} 546\n"),
            format!("node_bcache_metadata_written_bytes_total{{cache_device=\"cache0\",{u}}} 512\n"),
            format!("node_bcache_priority_stats_unused_percent{{cache_device=\"cache0\",{u}}} 99\n"),
        ] {
            assert!(t.contains(&want), "{want}: {t}");
        }
    }

    #[test]
    fn priority_stats_only_when_asked() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), &files(&[]), false));
        assert!(t.contains("node_bcache_written_bytes_total"), "{t}");
        assert!(!t.contains("priority_stats"), "{t}");
    }

    #[test]
    fn bad_or_missing_files_fail_naming_them() {
        for (file, text) in [
            ("bdev0/stats_total/bypassed", "lots\n"),
            ("bdev0/writeback_rate_debug", "rate: fast/sec\n"),
            ("cache0/priority_stats", "Unused: most%\n"),
        ] {
            let d = tempfile::tempdir().unwrap();
            let e = collector(d.path(), &files(&[(file, text)]), true)
                .collect(&mut Exposition::default())
                .unwrap_err();
            let leaf = file.rsplit('/').next().unwrap();
            assert!(e.to_string().contains(leaf), "{file}: {e}");
        }
        let d = tempfile::tempdir().unwrap();
        let mut f = files(&[]);
        f.retain(|(p, _)| !p.ends_with("/congested"));
        let e = collector(d.path(), &f, false)
            .collect(&mut Exposition::default())
            .unwrap_err();
        assert!(e.to_string().contains("congested"), "{e}");
    }

    #[test]
    fn no_bcache_is_success_with_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[("sys/fs/bcache/register", "")]);
        assert_eq!(render(&Bcache::new(&p, true)), "");
        let p = fake_paths(d.path(), &[]);
        let _ = std::fs::remove_dir_all(d.path().join("sys/fs"));
        assert_eq!(render(&Bcache::new(&p, true)), "");
    }
}

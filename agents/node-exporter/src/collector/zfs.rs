//! `node_zfs_*` from the ZFS-on-Linux kstat files under
//! `<procfs>/spl/kstat/zfs`: every 64-bit counter of the module-wide kstats
//! (ARC, ABD, dbuf, dnode, DMU, zfetch, ZIL, …) as an untyped
//! `node_zfs_<subsystem>_<stat>`, and per pool the I/O kstat, the objset
//! (dataset) kstats and the pool state, named and typed as upstream.

use super::{entries, num, read, CollectError, Collector, Families, Paths};
use crate::exposition::{
    Exposition,
    MetricType::{Gauge, Untyped},
};
use std::path::{Path, PathBuf};

/// (metric subsystem, kstat file) as upstream maps them.
const SUBSYSTEMS: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbuf_stats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states of node_exporter 1.5 (later releases add `suspended`).
const POOL_STATES: [&str; 6] = [
    "online", "degraded", "faulted", "offline", "removed", "unavail",
];

/// A named kstat file's numeric rows and string rows.
pub type Named = (Vec<(String, u64)>, Vec<(String, String)>);

/// A named kstat file (`name type data` table): its 64-bit integer rows
/// (types 3 and 4) as (name, value), plus the string rows (type 7).
pub fn parse_named(path: &Path, text: &str, signed_too: bool) -> Result<Named, CollectError> {
    let mut started = false;
    let mut nums = Vec::new();
    let mut strings = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !started {
            started = f == ["name", "type", "data"];
            continue;
        }
        if f.len() < 3 {
            continue;
        }
        match f[1] {
            "4" => nums.push((f[0].to_string(), num(path, f[2])?)),
            "3" if signed_too => nums.push((f[0].to_string(), num(path, f[2])?)),
            "7" => strings.push((f[0].to_string(), f[2].to_string())),
            _ => {}
        }
    }
    if !started {
        return Err(CollectError::parse(path, "no `name type data` header"));
    }
    Ok((nums, strings))
}

/// A pool's `io` kstat: the header row starting with `nread`, then values.
pub fn parse_pool_io(path: &Path, text: &str) -> Result<Vec<(String, u64)>, CollectError> {
    let mut fields: Option<Vec<&str>> = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match &fields {
            None => {
                if f.len() >= 12 && f[0] == "nread" {
                    fields = Some(f);
                }
            }
            Some(names) => {
                if f.len() < names.len() {
                    return Err(CollectError::parse(path, format!("short line {line:?}")));
                }
                for (n, v) in names.iter().zip(&f) {
                    out.push((n.to_string(), num(path, v)?));
                }
            }
        }
    }
    Ok(out)
}

fn metric_part(stat: &str) -> String {
    stat.replace('-', "_")
}

pub struct Zfs {
    base: PathBuf,
}

impl Zfs {
    pub fn new(paths: &Paths) -> Self {
        Self {
            base: paths.proc("spl/kstat/zfs"),
        }
    }
}

impl Collector for Zfs {
    fn name(&self) -> &'static str {
        "zfs"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        if !self.base.is_dir() {
            return Err(CollectError::NoData(
                "ZFS / ZFS statistics are not available".into(),
            ));
        }
        let mut fam = Families::default();
        for (subsystem, file) in SUBSYSTEMS {
            let path = self.base.join(file);
            // kstats appear as ZFS gains features: a missing one is fine.
            let Ok(text) = super::read_file(&path) else {
                continue;
            };
            let (nums, _) = parse_named(&path, &text, true)?;
            for (stat, v) in nums {
                fam.add(
                    format!("node_{subsystem}_{}", metric_part(&stat)),
                    format!("kstat.zfs.misc.{file}.{stat}"),
                    Untyped,
                    Vec::new(),
                    v as f64,
                );
            }
        }
        let pools = entries(&self.base, "")?;
        for (pool, dir) in &pools {
            let io = dir.join("io");
            if let Ok(text) = super::read_file(&io) {
                for (stat, v) in parse_pool_io(&io, &text)? {
                    fam.add(
                        format!("node_zfs_zpool_{}", metric_part(&stat)),
                        format!("kstat.zfs.misc.io.{stat}"),
                        Untyped,
                        vec![("zpool", pool.clone())],
                        v as f64,
                    );
                }
            }
        }
        for (pool, dir) in &pools {
            let Ok(objsets) = entries(dir, "objset-") else {
                continue;
            };
            for (_, path) in objsets {
                let (nums, strings) = parse_named(&path, &read(&path)?, false)?;
                let dataset = strings
                    .iter()
                    .find(|(k, _)| k == "dataset_name")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                for (stat, v) in nums {
                    fam.add(
                        format!("node_zfs_zpool_dataset_{}", metric_part(&stat)),
                        format!("kstat.zfs.misc.objset.{stat}"),
                        Untyped,
                        vec![("dataset", dataset.clone()), ("zpool", pool.clone())],
                        v as f64,
                    );
                }
            }
        }
        for (pool, dir) in &pools {
            let path = dir.join("state");
            let Ok(text) = super::read_file(&path) else {
                continue;
            };
            let actual = text.lines().next().unwrap_or("").to_lowercase();
            for state in POOL_STATES {
                fam.add(
                    "node_zfs_zpool_state".into(),
                    "kstat.zfs.misc.state",
                    Gauge,
                    vec![("state", state.into()), ("zpool", pool.clone())],
                    if actual == state { 1.0 } else { 0.0 },
                );
            }
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
    fn kstats_pools_datasets_and_state() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                (
                    "proc/spl/kstat/zfs/arcstats",
                    "6 1 0x01 91 4368 5266997922 97951858082072\nname type data\nhits 4 8772612\nc_min 4 33554432\nstr 7 x\n",
                ),
                (
                    "proc/spl/kstat/zfs/fm",
                    "0 1 0x01 4 192 8007255140 354329591145385\nname type data\nerpt-dropped 4 18\n",
                ),
                (
                    "proc/spl/kstat/zfs/p1/io",
                    "12 3 0x00 1 80 79205351707403 395818011156865\nnread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1884160 3206144 22 132 7155162 104112268 79210489694949 24168078 104112268 79210489849220 0 0\n",
                ),
                (
                    "proc/spl/kstat/zfs/p1/objset-1",
                    "23 1 0x01 7 2160 221578688875 6665999035587\nname type data\ndataset_name 7 p1/ds\nwrites 4 4\n",
                ),
                ("proc/spl/kstat/zfs/p1/state", "DEGRADED\n"),
            ],
        );
        let t = render(&Zfs::new(&p));
        for want in [
            "# HELP node_zfs_arc_hits kstat.zfs.misc.arcstats.hits\n# TYPE node_zfs_arc_hits untyped\nnode_zfs_arc_hits 8.772612e+06\n",
            "node_zfs_fm_erpt_dropped 18\n",
            "node_zfs_zpool_nread{zpool=\"p1\"} 1.88416e+06\n",
            "node_zfs_zpool_dataset_writes{dataset=\"p1/ds\",zpool=\"p1\"} 4\n",
            "# TYPE node_zfs_zpool_state gauge\n",
            "node_zfs_zpool_state{state=\"degraded\",zpool=\"p1\"} 1\n",
            "node_zfs_zpool_state{state=\"online\",zpool=\"p1\"} 0\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("str"), "{t}");
    }

    #[test]
    fn no_zfs_is_no_data_and_garbage_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        let mut out = Exposition::default();
        assert!(Zfs::new(&p).collect(&mut out).unwrap_err().is_no_data());
        let p = fake_paths(
            d.path(),
            &[(
                "proc/spl/kstat/zfs/arcstats",
                "name type data\nhits 4 lots\n",
            )],
        );
        assert!(Zfs::new(&p).collect(&mut out).is_err());
    }
}

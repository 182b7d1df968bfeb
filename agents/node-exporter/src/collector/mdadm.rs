//! `node_md_{state,disks,disks_required,blocks,blocks_synced}{device}` from
//! /proc/mdstat, parsed the way upstream's procfs library parses it (so an
//! array in an odd state reads the same here as with node_exporter).

use super::{read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq)]
pub struct MdStat {
    pub name: String,
    /// `active`, `inactive`, `recovering`, `resyncing`, `checking`, or the
    /// raw third field (e.g. `(read-only)`, which matches no state).
    pub state: String,
    pub active: u64,
    pub failed: u64,
    pub spare: u64,
    pub total: u64,
    pub blocks: u64,
    pub synced: u64,
}

fn number(path: &Path, s: &str, what: &str) -> Result<u64, CollectError> {
    s.parse()
        .map_err(|_| CollectError::parse(path, format!("{what}: not a number: {s:?}")))
}

/// (active, total, size) from an array's first two lines.
fn status(
    path: &Path,
    device_line: &str,
    status_line: &str,
) -> Result<(u64, u64, u64), CollectError> {
    let size_field = status_line
        .split_whitespace()
        .next()
        .ok_or_else(|| CollectError::parse(path, "empty md status line"))?;
    let size = number(path, size_field, "md size")?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        // Only member disks carry a [n] on the device line.
        let n = device_line.matches('[').count() as u64;
        return Ok((n, n, size));
    }
    if device_line.contains("inactive") {
        return Ok((0, 0, size));
    }
    // `… blocks … [total/active] [UU_]`
    let bad = || CollectError::parse(path, format!("no [total/active] in {status_line:?}"));
    let (_, after) = status_line.split_once(" blocks ").ok_or_else(bad)?;
    let counts = after
        .split('[')
        .skip(1)
        .filter_map(|s| s.split_once(']').map(|(c, _)| c))
        .find_map(|c| c.split_once('/'))
        .ok_or_else(bad)?;
    Ok((
        number(path, counts.1, "md active disks")?,
        number(path, counts.0, "md total disks")?,
        size,
    ))
}

/// Blocks done from a `recovery = 8.5% (16775552/195310144) …` line.
fn synced_blocks(path: &Path, line: &str) -> Result<u64, CollectError> {
    let inner = line
        .split_once('(')
        .and_then(|(_, r)| r.split_once('/'))
        .map(|(done, _)| done)
        .ok_or_else(|| CollectError::parse(path, format!("no (done/total) in {line:?}")))?;
    number(path, inner, "md synced blocks")
}

pub fn parse(path: &Path, text: &str) -> Result<Vec<MdStat>, CollectError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty()
            || line.starts_with(' ')
            || line.starts_with("Personalities")
            || line.starts_with("unused")
        {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            return Err(CollectError::parse(path, format!("short md line {line:?}")));
        }
        if lines.len() <= i + 3 {
            return Err(CollectError::parse(
                path,
                format!("{}: too few lines", f[0]),
            ));
        }
        let (active, total, blocks) = status(path, line, lines[i + 1])?;
        let sync_line = if lines[i + 2].contains("bitmap") {
            lines[i + 3]
        } else {
            lines[i + 2]
        };
        let mut state = f[2].to_string();
        let mut synced = blocks;
        let (recovering, resyncing, checking) = (
            sync_line.contains("recovery"),
            sync_line.contains("resync"),
            sync_line.contains("check"),
        );
        if recovering || resyncing || checking {
            state = if recovering {
                "recovering"
            } else if checking {
                "checking"
            } else {
                "resyncing"
            }
            .into();
            synced = if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
                0
            } else {
                synced_blocks(path, sync_line)?
            };
        }
        out.push(MdStat {
            name: f[0].to_string(),
            state,
            active,
            failed: line.matches("(F)").count() as u64,
            spare: line.matches("(S)").count() as u64,
            total,
            blocks,
            synced,
        });
    }
    Ok(out)
}

pub struct Mdadm {
    path: PathBuf,
}

impl Mdadm {
    pub fn new(paths: &Paths) -> Self {
        Self {
            path: paths.proc("mdstat"),
        }
    }
}

impl Collector for Mdadm {
    fn name(&self) -> &'static str {
        "mdadm"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let md = parse(&self.path, &read(&self.path)?)?;
        let name = "node_md_disks_required";
        out.family(name, "Total number of disks of device.", Gauge);
        for m in &md {
            out.sample(name, &[("device", &m.name)], m.total as f64);
        }
        let name = "node_md_disks";
        out.family(
            name,
            "Number of active/failed/spare disks of device.",
            Gauge,
        );
        for m in &md {
            for (state, n) in [
                ("active", m.active),
                ("failed", m.failed),
                ("spare", m.spare),
            ] {
                out.sample(name, &[("device", &m.name), ("state", state)], n as f64);
            }
        }
        let name = "node_md_state";
        out.family(name, "Indicates the state of md-device.", Gauge);
        for m in &md {
            for (label, state) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                let v = if m.state == state { 1.0 } else { 0.0 };
                out.sample(name, &[("device", &m.name), ("state", label)], v);
            }
        }
        let name = "node_md_blocks";
        out.family(name, "Total number of blocks on device.", Gauge);
        for m in &md {
            out.sample(name, &[("device", &m.name)], m.blocks as f64);
        }
        let name = "node_md_blocks_synced";
        out.family(name, "Number of blocks synced on device.", Gauge);
        for m in &md {
            out.sample(name, &[("device", &m.name)], m.synced as f64);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MDSTAT: &str = "Personalities : [raid1] [raid6] [raid0]\n\n\
md6 : active raid1 sdb2[2](F) sdc[1](S) sda2[0]\n      195310144 blocks [2/1] [U_]\n      [=>...................]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n\n\
md7 : active raid6 sdb1[0] sde1[3] sdd1[2] sdc1[1](F)\n      7813735424 blocks super 1.2 level 6, 512k chunk, algorithm 2 [4/3] [U_UU]\n      bitmap: 0/30 pages [0KB], 65536KB chunk\n\n\
md9 : active raid1 sdc2[2] sdd2[3] sdb2[1] sda2[0] sde[4](F) sdf[5](F) sdg[6](S)\n      523968 blocks super 1.2 [4/4] [UUUU]\n      resync=DELAYED\n\n\
md10 : active raid0 sda1[0] sdb1[1]\n       314159265 blocks 64k chunks\n\n\
md219 : inactive sdb[2](S) sdc[1](S) sda[0](S)\n        7932 blocks super external:imsm\n\n\
unused devices: <none>\n";

    #[test]
    fn states_disks_and_sync_as_upstream_reads_them() {
        let md = parse(Path::new("mdstat"), MDSTAT).unwrap();
        let by = |n: &str| md.iter().find(|m| m.name == n).unwrap();
        let m6 = by("md6");
        assert_eq!(
            (
                m6.state.as_str(),
                m6.active,
                m6.failed,
                m6.spare,
                m6.total,
                m6.synced
            ),
            ("recovering", 1, 1, 1, 2, 16775552)
        );
        let m7 = by("md7");
        assert_eq!(
            (m7.state.as_str(), m7.active, m7.total, m7.synced),
            ("active", 3, 4, 7813735424)
        );
        let m9 = by("md9");
        assert_eq!(
            (m9.state.as_str(), m9.synced, m9.failed),
            ("resyncing", 0, 2)
        );
        let m10 = by("md10");
        assert_eq!((m10.active, m10.total, m10.blocks), (2, 2, 314159265));
        let m219 = by("md219");
        assert_eq!(
            (
                m219.state.as_str(),
                m219.active,
                m219.total,
                m219.spare,
                m219.synced
            ),
            ("inactive", 0, 0, 3, 7932)
        );
    }

    #[test]
    fn truncated_array_is_an_error() {
        assert!(parse(Path::new("mdstat"), "md0 : active raid1 sda[0]\n").is_err());
        assert!(parse(
            Path::new("mdstat"),
            "md0 : active raid1 sda[0]\n      x blocks\n\n\n"
        )
        .is_err());
    }
}

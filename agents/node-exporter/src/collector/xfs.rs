//! `node_xfs_*_total{device}` from /sys/fs/xfs/<device>/stats/stats, one
//! series per XFS filesystem (Amazon Linux's root filesystem is XFS).

use super::{entries, num, read, CollectError, Collector, Paths};
use crate::exposition::{Exposition, MetricType::Counter};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// (stats line, field index, metric, help), as upstream names them.
const FIELDS: [(&str, usize, &str, &str); 39] = [
    ("extent_alloc", 0, "node_xfs_extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem."),
    ("extent_alloc", 1, "node_xfs_extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem."),
    ("extent_alloc", 2, "node_xfs_extent_allocation_extents_freed_total", "Number of extents freed for a filesystem."),
    ("extent_alloc", 3, "node_xfs_extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem."),
    ("abt", 0, "node_xfs_allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem."),
    ("abt", 1, "node_xfs_allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem."),
    ("abt", 2, "node_xfs_allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem."),
    ("abt", 3, "node_xfs_allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem."),
    ("blk_map", 0, "node_xfs_block_mapping_reads_total", "Number of block map for read operations for a filesystem."),
    ("blk_map", 1, "node_xfs_block_mapping_writes_total", "Number of block map for write operations for a filesystem."),
    ("blk_map", 2, "node_xfs_block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem."),
    ("blk_map", 3, "node_xfs_block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem."),
    ("blk_map", 4, "node_xfs_block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem."),
    ("blk_map", 5, "node_xfs_block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem."),
    ("blk_map", 6, "node_xfs_block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem."),
    ("bmbt", 0, "node_xfs_block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem."),
    ("bmbt", 1, "node_xfs_block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem."),
    ("bmbt", 2, "node_xfs_block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem."),
    ("bmbt", 3, "node_xfs_block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem."),
    ("dir", 0, "node_xfs_directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache."),
    ("dir", 1, "node_xfs_directory_operation_create_total", "Number of times a new directory entry was created for a filesystem."),
    ("dir", 2, "node_xfs_directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem."),
    ("dir", 3, "node_xfs_directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem."),
    ("ig", 0, "node_xfs_inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache."),
    ("ig", 1, "node_xfs_inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache."),
    ("ig", 2, "node_xfs_inode_operation_recycled_total", "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled."),
    ("ig", 3, "node_xfs_inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
    ("ig", 4, "node_xfs_inode_operation_duplicates_total", "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process."),
    ("ig", 5, "node_xfs_inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose."),
    ("ig", 6, "node_xfs_inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode."),
    ("rw", 0, "node_xfs_write_calls_total", "Number of write(2) system calls made to files in a filesystem."),
    ("rw", 1, "node_xfs_read_calls_total", "Number of read(2) system calls made to files in a filesystem."),
    ("vnodes", 0, "node_xfs_vnode_active_total", "Number of vnodes not on free lists for a filesystem."),
    ("vnodes", 1, "node_xfs_vnode_allocate_total", "Number of times vn_alloc called for a filesystem."),
    ("vnodes", 2, "node_xfs_vnode_get_total", "Number of times vn_get called for a filesystem."),
    ("vnodes", 3, "node_xfs_vnode_hold_total", "Number of times vn_hold called for a filesystem."),
    ("vnodes", 4, "node_xfs_vnode_release_total", "Number of times vn_rele called for a filesystem."),
    ("vnodes", 5, "node_xfs_vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem."),
    ("vnodes", 6, "node_xfs_vnode_remove_total", "Number of times vn_remove called for a filesystem."),
];

/// The stats file as line key → its numbers.
pub fn parse(path: &Path, text: &str) -> Result<HashMap<String, Vec<u64>>, CollectError> {
    let mut m = HashMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(key) = f.next() else { continue };
        let nums = f.map(|v| num(path, v)).collect::<Result<Vec<u64>, _>>()?;
        m.insert(key.to_string(), nums);
    }
    Ok(m)
}

pub struct Xfs {
    dir: PathBuf,
}

impl Xfs {
    pub fn new(paths: &Paths) -> Self {
        Self {
            dir: paths.sys("fs/xfs"),
        }
    }
}

impl Collector for Xfs {
    fn name(&self) -> &'static str {
        "xfs"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        // No XFS module loaded means no XFS filesystems: nothing to report,
        // and not a failure (upstream's glob finds nothing either).
        let Ok(devices) = entries(&self.dir, "") else {
            return Ok(());
        };
        let mut stats = Vec::new();
        for (dev, p) in devices {
            let file = p.join("stats/stats");
            if !file.is_file() || dev == "stats" {
                continue;
            }
            stats.push((dev, parse(&file, &read(&file)?)?, file));
        }
        if stats.is_empty() {
            return Ok(());
        }
        for (key, idx, name, help) in FIELDS {
            out.family(name, help, Counter);
            for (dev, s, file) in &stats {
                let v = match s.get(key) {
                    Some(v) => *v.get(idx).ok_or_else(|| {
                        CollectError::parse(file, format!("{key}: {} values", v.len()))
                    })?,
                    None => 0, // an older kernel without that line
                };
                out.sample(name, &[("device", dev)], v as f64);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::{fake_paths, render};

    const STATS: &str = "extent_alloc 1 872 0 0\nabt 0 0 0 0\nblk_map 61 29 1 1 1 91 0\nbmbt 0 0 0 0\n\
        dir 3 2 1 52\ntrans 4 40 0\nig 5 1 0 4 0 0 1\nrw 28 0\nvnodes 4 0 0 0 1 1 1 0\nxpc 3571712 3568056 0\n";

    #[test]
    fn fields_per_filesystem() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(
            d.path(),
            &[
                ("sys/fs/xfs/sda1/stats/stats", STATS),
                ("sys/fs/xfs/stats/stats", STATS),
            ],
        );
        let t = render(&Xfs::new(&p));
        for want in [
            "node_xfs_extent_allocation_blocks_allocated_total{device=\"sda1\"} 872\n",
            "node_xfs_block_mapping_extent_list_lookups_total{device=\"sda1\"} 91\n",
            "node_xfs_directory_operation_getdents_total{device=\"sda1\"} 52\n",
            "node_xfs_inode_operation_missed_total{device=\"sda1\"} 4\n",
            "node_xfs_write_calls_total{device=\"sda1\"} 28\n",
            "node_xfs_read_calls_total{device=\"sda1\"} 0\n",
            "node_xfs_vnode_remove_total{device=\"sda1\"} 1\n",
        ] {
            assert!(t.contains(want), "{want}: {t}");
        }
        assert!(!t.contains("device=\"stats\""), "{t}");
    }

    #[test]
    fn no_xfs_is_empty_and_short_line_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = fake_paths(d.path(), &[]);
        assert_eq!(render(&Xfs::new(&p)), "");
        let p = fake_paths(d.path(), &[("sys/fs/xfs/nvme0n1p1/stats/stats", "rw 1\n")]);
        let mut out = Exposition::default();
        assert!(Xfs::new(&p).collect(&mut out).is_err());
    }
}

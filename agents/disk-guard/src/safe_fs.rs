//! Traversal and deletion that cannot leave an allowed root.
//!
//! The rules, and why each one holds:
//! - A root is resolved once (`canonicalize`: the administrator wrote it, so a
//!   symlink in the configured path is trusted) and opened as a directory fd.
//! - Below the root every step is `openat(parent_fd, name, O_NOFOLLOW |
//!   O_DIRECTORY)`: a symlink anywhere below the root is never followed, and a
//!   directory swapped for a symlink between listing and opening fails with
//!   ELOOP/ENOTDIR instead of leading outside.
//! - A deletion re-walks from the root fd by name (again O_NOFOLLOW), re-stats
//!   the entry and compares device and inode with what was selected, re-checks
//!   the grace period, and confirms through `/proc/self/fd` that the parent
//!   directory still lies under the root (a directory *moved* out of the root
//!   mid-run is refused). Only then `unlinkat(parent_fd, name)`.
//! - `unlinkat` removes a directory entry; on a symlink it removes the link,
//!   never the target. So even if an entry is swapped at the last instant, the
//!   worst outcome is removing an entry that lives inside the root.
//! - Directories on another mount inside a root are not entered: deleting
//!   there would not free space on the mount being cleaned, and a bind mount
//!   leads outside the root. Mounts are told apart by mount id
//!   ([`crate::mount_id`]), checked on every opened directory fd, because a
//!   bind mount of the same filesystem has the root's device number. A file
//!   bind-mounted into a root is not unlinked either.
//! - Bytes freed count allocated blocks of the last link only: unlinking a
//!   file whose link count is above one frees nothing.

use crate::skip::{errno_skip, io_reason_std, unlink_skip, Skip, SkipReason};
use crate::{escape, mount_id};
use rustix::fs::{openat, statat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Test seams for time-of-check/time-of-use races: called right before a
/// directory is opened during traversal and right before a deletion starts.
/// Production uses [`NoHooks`].
pub trait Hooks: Send + Sync {
    fn before_open_dir(&self, _path: &Path) {}
    fn before_delete(&self, _path: &Path) {}
}

pub struct NoHooks;
impl Hooks for NoHooks {}

/// What a selected entry must still be when it is deleted: device and inode
/// name the file; size and ctime catch an inode number reused by a new file
/// (and a file written since selection, which is then left alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
    pub size: i64,
    pub ctime: (i64, i64),
}

impl Identity {
    pub fn of(st: &Stat) -> Self {
        Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            ctime: (st.st_ctime, st.st_ctime_nsec as i64),
        }
    }
}

/// Device and inode only: the key for counting hard links.
fn inode_key(st: &Stat) -> (u64, u64) {
    (st.st_dev, st.st_ino)
}

pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// Allocated bytes (what deleting the data gives back), not the apparent size.
pub fn allocated(st: &Stat) -> u64 {
    (st.st_blocks as u64).saturating_mul(512)
}

/// What deleting this one link frees: nothing while other links remain.
pub fn freed_by_unlink(st: &Stat) -> u64 {
    if file_type(st) == FileType::RegularFile && st.st_nlink > 1 {
        0
    } else {
        allocated(st)
    }
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
const MAX_DEPTH: usize = 256;

/// An allowed root, opened.
pub struct Root {
    /// Canonical path; everything deleted lies strictly below it.
    pub path: PathBuf,
    fd: OwnedFd,
    dev: u64,
    /// Everything entered must be on this very mount, not just this device.
    mnt_id: u64,
}

impl Root {
    /// Open `configured` as a root. With `mount_dev`, a root on another
    /// filesystem is refused (cleaning it would not help that mount).
    pub fn open(configured: &Path, mount_dev: Option<u64>) -> Result<Root, Skip> {
        let path = std::fs::canonicalize(configured).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Skip::new(configured, SkipReason::MissingRoot, "root does not exist")
            } else {
                Skip::new(
                    configured,
                    io_reason_std(&e),
                    format!("cannot resolve root: {e}"),
                )
            }
        })?;
        let fd = openat(rustix::fs::CWD, &path, DIR_FLAGS, Mode::empty())
            .map_err(|e| errno_skip(&path, e, "cannot open root"))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| errno_skip(&path, e, "cannot stat root"))?;
        if let Some(dev) = mount_dev {
            if st.st_dev != dev {
                return Err(Skip::new(
                    &path,
                    SkipReason::OtherFilesystem,
                    "root is on another filesystem than the mount being cleaned",
                ));
            }
        }
        let mnt_id = mount_id::of_fd(&fd).map_err(|e| {
            Skip::new(
                &path,
                SkipReason::Error,
                format!("cannot identify the root's mount ({e}); refusing to clean it"),
            )
        })?;
        Ok(Root {
            path,
            fd,
            dev: st.st_dev,
            mnt_id,
        })
    }

    pub fn abs(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    fn dup(&self) -> Result<OwnedFd, Skip> {
        openat(&self.fd, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| errno_skip(&self.path, e, "cannot reopen root"))
    }

    /// Open the directory at `rel` (relative, no `..`), step by step without
    /// following links, staying on the root's filesystem.
    pub fn open_dir(&self, rel: &Path) -> Result<OwnedFd, Skip> {
        let mut fd = self.dup()?;
        let mut walked = self.path.clone();
        for comp in rel.components() {
            let name = match comp {
                Component::Normal(n) => n,
                Component::CurDir => continue,
                _ => {
                    return Err(Skip::new(
                        self.abs(rel),
                        SkipReason::OutsideRoot,
                        "path component leaves the root",
                    ))
                }
            };
            walked.push(name);
            fd = self.open_child_dir(&fd, name, &walked)?;
        }
        Ok(fd)
    }

    fn open_child_dir(&self, parent: &OwnedFd, name: &OsStr, abs: &Path) -> Result<OwnedFd, Skip> {
        let fd = openat(parent, name, DIR_FLAGS, Mode::empty()).map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => Skip::new(
                abs,
                SkipReason::ChangedDuringRun,
                "no longer a directory (replaced by a symlink or a file?)",
            ),
            e => errno_skip(abs, e, "cannot open directory"),
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| errno_skip(abs, e, "cannot stat directory"))?;
        if st.st_dev != self.dev {
            return Err(Skip::new(
                abs,
                SkipReason::OtherFilesystem,
                "a different filesystem is mounted here",
            ));
        }
        // Checked on the opened fd, so nothing can be mounted in between.
        self.same_mount(mount_id::of_fd(&fd), abs)?;
        Ok(fd)
    }

    fn same_mount(&self, id: Result<u64, mount_id::MountIdError>, abs: &Path) -> Result<(), Skip> {
        match id {
            Ok(id) if id == self.mnt_id => Ok(()),
            Ok(id) => Err(Skip::new(
                abs,
                SkipReason::OtherFilesystem,
                format!(
                    "another mount is here (mount id {id}, the root's is {}): a bind mount \
                     leads outside the root",
                    self.mnt_id
                ),
            )),
            Err(e) => Err(Skip::new(
                abs,
                SkipReason::Error,
                format!("cannot identify the mount: {e}"),
            )),
        }
    }

    /// Is this open directory still at or under the root? Read back through
    /// /proc, which names where the directory is *now*.
    fn check_inside(&self, fd: &OwnedFd, abs: &Path) -> Result<(), Skip> {
        let link = format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd());
        let now = std::fs::read_link(&link).map_err(|e| {
            Skip::new(
                abs,
                SkipReason::OutsideRoot,
                format!("cannot verify location through {link}: {e}"),
            )
        })?;
        if now == self.path || now.starts_with(&self.path) {
            Ok(())
        } else {
            Err(Skip::new(
                abs,
                SkipReason::OutsideRoot,
                format!(
                    "parent directory is now at {} (moved out of the root)",
                    escape::path(&now)
                ),
            ))
        }
    }

    /// List one directory: names with their lstat, never following links.
    pub fn list(&self, rel: &Path) -> Result<Vec<(OsString, Stat)>, Skip> {
        let fd = self.open_dir(rel)?;
        list_fd(&fd, &self.abs(rel))
    }

    /// Read a small regular file below the root without following links.
    pub fn read_file(&self, rel: &Path, limit: u64) -> Result<Vec<u8>, Skip> {
        use std::io::Read;
        let (parent, name) = split(rel);
        let pfd = self.open_dir(parent)?;
        let fd = openat(
            &pfd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| errno_skip(&self.abs(rel), e, "cannot open"))?;
        let st =
            rustix::fs::fstat(&fd).map_err(|e| errno_skip(&self.abs(rel), e, "cannot stat"))?;
        if file_type(&st) != FileType::RegularFile {
            return Err(Skip::new(
                self.abs(rel),
                SkipReason::NotRegular,
                "not a regular file",
            ));
        }
        let mut buf = Vec::new();
        std::fs::File::from(fd)
            .take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| Skip::new(self.abs(rel), io_reason_std(&e), e.to_string()))?;
        Ok(buf)
    }

    /// Read a symlink's target text (for Jenkins permalinks), not following it.
    pub fn read_link(&self, rel: &Path) -> Result<PathBuf, Skip> {
        let (parent, name) = split(rel);
        let pfd = self.open_dir(parent)?;
        let target = rustix::fs::readlinkat(&pfd, name, Vec::new())
            .map_err(|e| errno_skip(&self.abs(rel), e, "cannot read link"))?;
        Ok(PathBuf::from(OsStr::from_bytes(target.to_bytes())))
    }

    /// Walk everything below `rel` depth first. `visit` gets each entry
    /// (its path relative to the root and its lstat); returning `true` for a
    /// directory descends into it. Problems become [`Skip`]s, and the walk goes on.
    pub fn walk(
        &self,
        rel: &Path,
        hooks: &dyn Hooks,
        skips: &mut Vec<Skip>,
        visit: &mut dyn FnMut(&Entry) -> bool,
    ) {
        match self.open_dir(rel) {
            Ok(fd) => self.walk_fd(&fd, rel, 0, hooks, skips, visit),
            Err(s) => skips.push(s),
        }
    }

    fn walk_fd(
        &self,
        fd: &OwnedFd,
        rel: &Path,
        depth: usize,
        hooks: &dyn Hooks,
        skips: &mut Vec<Skip>,
        visit: &mut dyn FnMut(&Entry) -> bool,
    ) {
        let entries = match list_fd(fd, &self.abs(rel)) {
            Ok(e) => e,
            Err(s) => {
                skips.push(s);
                return;
            }
        };
        for (name, st) in entries {
            let child = rel.join(&name);
            let descend = visit(&Entry {
                rel: &child,
                st: &st,
                dir: fd,
                name: &name,
            });
            if !descend || file_type(&st) != FileType::Directory {
                continue;
            }
            if st.st_dev != self.dev {
                skips.push(Skip::new(
                    self.abs(&child),
                    SkipReason::OtherFilesystem,
                    "a different filesystem is mounted here",
                ));
                continue;
            }
            if depth + 1 >= MAX_DEPTH {
                skips.push(Skip::new(
                    self.abs(&child),
                    SkipReason::Error,
                    format!("deeper than {MAX_DEPTH} levels"),
                ));
                continue;
            }
            hooks.before_open_dir(&self.abs(&child));
            match self.open_child_dir(fd, &name, &self.abs(&child)) {
                Ok(cfd) => {
                    if inode_key(&rustix::fs::fstat(&cfd).unwrap_or(st)) != inode_key(&st) {
                        skips.push(Skip::new(
                            self.abs(&child),
                            SkipReason::ChangedDuringRun,
                            "directory was replaced while being listed",
                        ));
                        continue;
                    }
                    self.walk_fd(&cfd, &child, depth + 1, hooks, skips, visit)
                }
                Err(s) => skips.push(s),
            }
        }
    }

    /// Is this entry on the root's own mount? A file bind-mounted over a name
    /// in the root is not: selecting it would report a deletion that the
    /// deletion itself then refuses (see [`Root::remove_file`]).
    pub fn check_same_mount(&self, e: &Entry) -> Result<(), Skip> {
        self.same_mount(mount_id::of_entry(e.dir, e.name), &self.abs(e.rel))
    }

    /// Size of a tree as deleting it would free it, and its newest mtime.
    pub fn measure_tree(&self, rel: &Path, hooks: &dyn Hooks) -> Result<TreeInfo, Skip> {
        let fd = self.open_dir(rel)?;
        let top =
            rustix::fs::fstat(&fd).map_err(|e| errno_skip(&self.abs(rel), e, "cannot stat"))?;
        let mut info = TreeInfo {
            bytes: allocated(&top),
            newest_mtime: top.st_mtime,
            entries: 0,
            problems: Vec::new(),
        };
        let mut links: HashMap<(u64, u64), (u64, u64, u64)> = HashMap::new();
        let mut skips = Vec::new();
        self.walk_fd(&fd, rel, 0, hooks, &mut skips, &mut |e| {
            let st = e.st;
            info.entries += 1;
            info.newest_mtime = info.newest_mtime.max(st.st_mtime);
            if file_type(st) == FileType::RegularFile && st.st_nlink > 1 {
                let e = links
                    .entry(inode_key(st))
                    .or_insert((st.st_nlink, 0, allocated(st)));
                e.1 += 1;
            } else {
                info.bytes += allocated(st);
            }
            true
        });
        // A hard-linked file frees its blocks only if every link is in the tree.
        info.bytes += links
            .values()
            .filter(|(nlink, seen, _)| seen >= nlink)
            .map(|(_, _, b)| b)
            .sum::<u64>();
        info.problems = skips;
        Ok(info)
    }

    /// Delete one regular file selected earlier as `expect`. Returns bytes freed.
    pub fn remove_file(
        &self,
        rel: &Path,
        expect: Identity,
        grace_cutoff: i64,
        hooks: &dyn Hooks,
    ) -> Result<u64, Skip> {
        let abs = self.abs(rel);
        hooks.before_delete(&abs);
        let (parent, name) = split(rel);
        let pfd = self.open_dir(parent)?;
        let st = self.stat_expected(&pfd, name, &abs, expect)?;
        if file_type(&st) != FileType::RegularFile {
            return Err(Skip::new(
                abs,
                SkipReason::ChangedDuringRun,
                "no longer a regular file",
            ));
        }
        if st.st_mtime > grace_cutoff {
            return Err(Skip::new(
                abs,
                SkipReason::GracePeriod,
                "modified during the run (inside the grace period)",
            ));
        }
        // A file bind-mounted over a name in the root is someone else's file.
        self.same_mount(mount_id::of_entry(&pfd, name), &abs)?;
        self.check_inside(&pfd, &abs)?;
        let freed = freed_by_unlink(&st);
        unlinkat(&pfd, name, AtFlags::empty())
            .map_err(|e| unlink_skip(&abs, e, "unlink failed"))?;
        Ok(freed)
    }

    /// Delete a directory tree selected earlier as `expect`. Entries modified
    /// within the grace period are left in place (and reported); the removal
    /// is then partial. Returns bytes freed and what was left.
    pub fn remove_tree(
        &self,
        rel: &Path,
        expect: Identity,
        grace_cutoff: i64,
        hooks: &dyn Hooks,
    ) -> Result<(u64, Vec<Skip>), Skip> {
        let abs = self.abs(rel);
        hooks.before_delete(&abs);
        let (parent, name) = split(rel);
        let pfd = self.open_dir(parent)?;
        let st = self.stat_expected(&pfd, name, &abs, expect)?;
        if file_type(&st) != FileType::Directory {
            return Err(Skip::new(
                abs,
                SkipReason::ChangedDuringRun,
                "no longer a directory",
            ));
        }
        let fd = self.open_child_dir(&pfd, name, &abs)?;
        let mut left = Vec::new();
        let mut freed = self.empty_dir(&fd, &abs, 0, grace_cutoff, &mut left);
        self.check_inside(&pfd, &abs)?;
        match unlinkat(&pfd, name, AtFlags::REMOVEDIR) {
            Ok(()) => freed += allocated(&st),
            Err(Errno::NOTEMPTY) | Err(Errno::EXIST) if !left.is_empty() => {}
            Err(e) => left.push(unlink_skip(&abs, e, "cannot remove directory")),
        }
        Ok((freed, left))
    }

    fn empty_dir(
        &self,
        fd: &OwnedFd,
        abs: &Path,
        depth: usize,
        grace_cutoff: i64,
        left: &mut Vec<Skip>,
    ) -> u64 {
        if let Err(s) = self.check_inside(fd, abs) {
            left.push(s);
            return 0;
        }
        let entries = match list_fd(fd, abs) {
            Ok(e) => e,
            Err(s) => {
                left.push(s);
                return 0;
            }
        };
        let mut freed = 0;
        for (name, st) in entries {
            let child = abs.join(&name);
            if file_type(&st) == FileType::Directory {
                if depth + 1 >= MAX_DEPTH {
                    left.push(Skip::new(child, SkipReason::Error, "too deep"));
                    continue;
                }
                let cfd = match self.open_child_dir(fd, &name, &child) {
                    Ok(c) => c,
                    Err(s) => {
                        left.push(s);
                        continue;
                    }
                };
                let before = left.len();
                freed += self.empty_dir(&cfd, &child, depth + 1, grace_cutoff, left);
                match unlinkat(fd, name.as_os_str(), AtFlags::REMOVEDIR) {
                    Ok(()) => freed += allocated(&st),
                    Err(Errno::NOTEMPTY) | Err(Errno::EXIST) if left.len() > before => {}
                    Err(e) => left.push(unlink_skip(&child, e, "cannot remove directory")),
                }
                continue;
            }
            if st.st_mtime > grace_cutoff {
                left.push(Skip::new(
                    child,
                    SkipReason::GracePeriod,
                    "modified within the grace period; left in place",
                ));
                continue;
            }
            // Re-stat right before unlinking: nlink may have dropped as other
            // links in this tree went, and the last link frees the blocks.
            let now = match statat(fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                // Inode only: unlinking an earlier hard link of it changed its ctime.
                Ok(n) if inode_key(&n) == inode_key(&st) => n,
                Ok(_) => {
                    left.push(Skip::new(
                        child,
                        SkipReason::ChangedDuringRun,
                        "replaced during the run",
                    ));
                    continue;
                }
                Err(Errno::NOENT) => continue,
                Err(e) => {
                    left.push(errno_skip(&child, e, "cannot stat"));
                    continue;
                }
            };
            match unlinkat(fd, name.as_os_str(), AtFlags::empty()) {
                Ok(()) => freed += freed_by_unlink(&now),
                Err(Errno::NOENT) => {}
                Err(e) => left.push(unlink_skip(&child, e, "unlink failed")),
            }
        }
        freed
    }

    fn stat_expected(
        &self,
        pfd: &OwnedFd,
        name: &OsStr,
        abs: &Path,
        expect: Identity,
    ) -> Result<Stat, Skip> {
        let st = statat(pfd, name, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| match e {
            Errno::NOENT => Skip::new(abs, SkipReason::ChangedDuringRun, "vanished during the run"),
            e => errno_skip(abs, e, "cannot stat"),
        })?;
        if file_type(&st) == FileType::Symlink {
            return Err(Skip::new(
                abs,
                SkipReason::ChangedDuringRun,
                "replaced by a symlink during the run",
            ));
        }
        if Identity::of(&st) != expect {
            return Err(Skip::new(
                abs,
                SkipReason::ChangedDuringRun,
                "replaced or modified during the run",
            ));
        }
        Ok(st)
    }
}

/// One entry met by [`Root::walk`], with the open directory it was listed
/// from, so that checks on it never resolve a path again.
pub struct Entry<'a> {
    pub rel: &'a Path,
    pub st: &'a Stat,
    dir: &'a OwnedFd,
    name: &'a OsStr,
}

/// Everything a tree deletion would free, and whether it is still in use.
#[derive(Debug, Clone, Default)]
pub struct TreeInfo {
    pub bytes: u64,
    pub newest_mtime: i64,
    pub entries: u64,
    /// Parts that could not be inspected (the tree is then not deleted).
    pub problems: Vec<Skip>,
}

fn split(rel: &Path) -> (&Path, &OsStr) {
    (
        rel.parent().unwrap_or(Path::new("")),
        rel.file_name().unwrap_or(OsStr::new(".")),
    )
}

fn list_fd(fd: &OwnedFd, abs: &Path) -> Result<Vec<(OsString, Stat)>, Skip> {
    let dir = Dir::read_from(fd).map_err(|e| errno_skip(abs, e, "cannot list directory"))?;
    let mut out = Vec::new();
    for entry in dir {
        let entry = entry.map_err(|e| errno_skip(abs, e, "cannot list directory"))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        match statat(fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => out.push((name.to_os_string(), st)),
            // Gone between readdir and stat: nothing to do with it.
            Err(Errno::NOENT) => {}
            Err(e) => return Err(errno_skip(&abs.join(name), e, "cannot stat")),
        }
    }
    // Deterministic order: a dry run and a real run see the same sequence.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn walk_never_follows_symlinks_and_counts_hard_links_once() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), vec![1u8; 8192]).unwrap();
        let root = d.path().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/a"), vec![1u8; 8192]).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        fs::hard_link(outside.join("secret"), root.join("hard")).unwrap();

        let r = Root::open(&root, None).unwrap();
        let mut seen = Vec::new();
        let mut skips = Vec::new();
        r.walk(Path::new(""), &NoHooks, &mut skips, &mut |e| {
            seen.push(e.rel.to_path_buf());
            true
        });
        assert!(skips.is_empty(), "{skips:?}");
        assert!(
            seen.iter().all(|p| p.parent() != Some(Path::new("link"))),
            "{seen:?}"
        );
        assert!(seen.contains(&PathBuf::from("link")));

        let info = r.measure_tree(Path::new(""), &NoHooks).unwrap();
        // sub/a counts; "hard" shares its inode with a file outside: frees nothing.
        let a = fs::metadata(root.join("sub/a")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert!(info.bytes >= a.blocks() * 512);
        assert!(info.bytes < a.blocks() * 512 * 2 + 64 * 1024);
    }

    #[test]
    fn remove_file_refuses_a_swapped_entry() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a"), b"x").unwrap();
        let r = Root::open(d.path(), None).unwrap();
        let st = statat(
            rustix::fs::CWD,
            d.path().join("a"),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap();
        fs::remove_file(d.path().join("a")).unwrap();
        fs::write(d.path().join("a"), b"new").unwrap();
        let err = r
            .remove_file(Path::new("a"), Identity::of(&st), i64::MAX, &NoHooks)
            .unwrap_err();
        assert_eq!(err.reason, SkipReason::ChangedDuringRun);
        assert!(d.path().join("a").exists());
    }

    #[test]
    fn a_symlinked_component_is_refused_even_when_it_points_inside() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("real")).unwrap();
        fs::write(d.path().join("real/f"), b"x").unwrap();
        std::os::unix::fs::symlink(d.path().join("real"), d.path().join("alias")).unwrap();
        let r = Root::open(d.path(), None).unwrap();
        let err = r.open_dir(Path::new("alias")).unwrap_err();
        assert_eq!(err.reason, SkipReason::ChangedDuringRun, "{err}");
        let st = statat(rustix::fs::CWD, d.path().join("real/f"), AtFlags::empty()).unwrap();
        let err = r
            .remove_file(Path::new("alias/f"), Identity::of(&st), i64::MAX, &NoHooks)
            .unwrap_err();
        assert_eq!(err.reason, SkipReason::ChangedDuringRun);
        assert!(d.path().join("real/f").exists());
    }

    #[test]
    fn an_open_directory_moved_out_of_the_root_is_detected() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        let r = Root::open(&root, None).unwrap();
        let fd = r.open_dir(Path::new("sub")).unwrap();
        r.check_inside(&fd, &root.join("sub")).unwrap();
        fs::rename(root.join("sub"), d.path().join("elsewhere")).unwrap();
        let err = r.check_inside(&fd, &root.join("sub")).unwrap_err();
        assert_eq!(err.reason, SkipReason::OutsideRoot, "{err}");
        // A sibling whose name merely starts with the root's is outside too.
        fs::create_dir_all(d.path().join("root2")).unwrap();
        let sib = openat(
            rustix::fs::CWD,
            d.path().join("root2"),
            DIR_FLAGS,
            Mode::empty(),
        )
        .unwrap();
        assert!(r.check_inside(&sib, &d.path().join("root2")).is_err());
    }

    #[test]
    fn relative_paths_cannot_climb_out() {
        let d = tempfile::tempdir().unwrap();
        let r = Root::open(d.path(), None).unwrap();
        let err = r.open_dir(Path::new("../")).unwrap_err();
        assert_eq!(err.reason, SkipReason::OutsideRoot);
    }
}

//! Which mount a directory or entry belongs to, by the kernel's mount id
//! (`statx` with `STATX_MNT_ID`, Linux 5.8+).
//!
//! The device number is not enough: a bind mount of another directory of the
//! *same* filesystem has the same device, so a guard telling mounts apart by
//! device walks into it and deletes what lies outside every root. The mount
//! id differs for every mount, bind mounts included, and cannot be reused
//! while the guard holds the root open (the open fd pins the root's mount).

use rustix::fs::{statx, AtFlags, Mode, OFlags, StatxFlags};
use rustix::io::Errno;
use std::os::fd::AsFd;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountIdError {
    /// Kernels before 5.8 (or seccomp filters, old container runtimes) do
    /// not report mount ids; mounts then cannot be told apart safely.
    #[error("the kernel does not report mount ids (statx STATX_MNT_ID needs Linux 5.8 or later)")]
    Unsupported,
    #[error("statx: {0}")]
    Io(Errno),
}

/// The mount id of an open file or directory.
pub fn of_fd(fd: impl AsFd) -> Result<u64, MountIdError> {
    query(statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::MNT_ID,
    ))
}

/// The mount id of `name` in the directory `dir`, not following a symlink
/// and not triggering an automount. For a mount point this is the mount
/// placed there, not the one holding the directory entry.
pub fn of_entry(dir: impl AsFd, name: &std::ffi::OsStr) -> Result<u64, MountIdError> {
    query(statx(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW | AtFlags::NO_AUTOMOUNT,
        StatxFlags::MNT_ID,
    ))
}

fn query(result: rustix::io::Result<rustix::fs::Statx>) -> Result<u64, MountIdError> {
    match result {
        Ok(st) => reported(StatxFlags::from_bits_retain(st.stx_mask), st.stx_mnt_id),
        Err(Errno::NOSYS) => Err(MountIdError::Unsupported),
        Err(e) => Err(MountIdError::Io(e)),
    }
}

/// The id only counts when the kernel says it filled it in: an older
/// kernel leaves the field zero and clears the bit.
fn reported(mask: StatxFlags, id: u64) -> Result<u64, MountIdError> {
    if mask.contains(StatxFlags::MNT_ID) {
        Ok(id)
    } else {
        Err(MountIdError::Unsupported)
    }
}

/// Start-up check of a configured root: refuse it when its mount cannot be
/// identified. A root that does not exist (yet) or cannot be opened is left
/// to the pass, which reports it as a skip (`missing_root`, `unreadable`).
pub fn check_root(root: &Path) -> Result<(), String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let Ok(dir) = rustix::fs::open(root, flags, Mode::empty()) else {
        return Ok(());
    };
    match of_fd(&dir) {
        Ok(_) => Ok(()),
        Err(e @ MountIdError::Unsupported) => Err(format!(
            "root {}: cannot tell which mount it is on ({e}); refusing it, because a bind mount \
             inside it could not be told apart from the root itself",
            crate::escape::path(root)
        )),
        // Anything else (EACCES...) is not about mount ids: the pass reports it.
        Err(MountIdError::Io(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_the_kernel_did_not_fill_in_is_refused() {
        assert_eq!(
            reported(StatxFlags::BASIC_STATS, 0),
            Err(MountIdError::Unsupported)
        );
        assert_eq!(
            reported(StatxFlags::BASIC_STATS | StatxFlags::MNT_ID, 42),
            Ok(42)
        );
        assert_eq!(query(Err(Errno::NOSYS)), Err(MountIdError::Unsupported));
    }

    #[test]
    fn an_entry_and_its_directory_are_on_the_same_mount() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let dir = std::fs::File::open(d.path()).unwrap();
        let sub = std::fs::File::open(d.path().join("sub")).unwrap();
        let id = of_fd(&dir).unwrap();
        assert_eq!(of_fd(&sub).unwrap(), id);
        assert_eq!(of_entry(&dir, "sub".as_ref()).unwrap(), id);
        assert!(check_root(d.path()).is_ok());
        assert!(check_root(&d.path().join("absent")).is_ok());
    }
}

//! /proc and /sys files held open between scrapes.
//!
//! Opening is most of what reading a pseudo-file costs: a scrape opens ~70 of
//! them, and each open(2) walks the path through procfs or kernfs (lookups,
//! revalidation, permission checks) before a byte is produced. A procfs or
//! sysfs file regenerates its text when read again from offset 0, so we keep
//! the descriptor and `lseek(0)` + read on the next scrape.
//!
//! Only procfs and sysfs files are held (checked with fstatfs at open): a
//! regular file (fixtures, `/etc/os-release`, udev's database on tmpfs) may
//! be replaced by a rename, and a held descriptor would keep reading the old
//! one. A held file whose object went away (a device unplugged) fails its
//! read (`ENODEV`); it is then dropped and the path opened again, so a new
//! device of the same name is seen.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Enough for every pseudo-file a scrape reads on a large host, well under
/// the default soft limit of 1,024 descriptors.
const MAX_HELD: usize = 256;

const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
const SYSFS_MAGIC: libc::c_long = 0x6265_6572;

static HELD: Mutex<Option<HashMap<PathBuf, File>>> = Mutex::new(None);

/// Read all of `path` into `buf` (cleared first).
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    // Taken out while read, so a read that blocks (a hung driver) holds no
    // lock: another scrape's worker just opens the path afresh.
    let held = lock().as_mut().and_then(|m| m.remove(path));
    if let Some(mut f) = held {
        buf.clear();
        let reread = f
            .seek(SeekFrom::Start(0))
            .and_then(|_| Read::by_ref(&mut f).take(u64::MAX).read_to_end(buf));
        if reread.is_ok() {
            keep(path, f);
            return Ok(());
        }
        // Gone or changed: drop it and open the path again below.
    }
    let mut f = File::open(path)?;
    buf.clear();
    // `take` routes around File's size-hinting read_to_end (a statx per
    // file; pseudo-files report size 0 anyway).
    Read::by_ref(&mut f).take(u64::MAX).read_to_end(buf)?;
    if is_pseudo(&f) {
        keep(path, f);
    }
    Ok(())
}

fn lock() -> std::sync::MutexGuard<'static, Option<HashMap<PathBuf, File>>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

fn keep(path: &Path, f: File) {
    let mut held = lock();
    let map = held.get_or_insert_with(HashMap::new);
    if map.len() < MAX_HELD {
        map.insert(path.to_path_buf(), f);
    }
}

fn is_pseudo(f: &File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: fstatfs fills the struct we pass, on a descriptor we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) } != 0 {
        return false;
    }
    let magic = st.f_type as libc::c_long;
    magic == PROC_SUPER_MAGIC || magic == SYSFS_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_proc_file_is_read_afresh_each_time() {
        // rchar counts the bytes this process has read: it grows with every
        // read of the file itself, so a stale re-read would show it standing.
        let rchar = |buf: &[u8]| -> u64 {
            let text = std::str::from_utf8(buf).unwrap();
            let line = text.lines().find(|l| l.starts_with("rchar:")).unwrap();
            line[6..].trim().parse().unwrap()
        };
        let mut buf = Vec::new();
        let path = Path::new("/proc/self/io");
        read_into(path, &mut buf).unwrap();
        let first = rchar(&buf);
        assert!(lock().as_ref().unwrap().contains_key(path), "held");
        read_into(path, &mut buf).unwrap();
        assert!(lock().as_ref().unwrap().contains_key(path), "still held");
        assert!(
            rchar(&buf) > first,
            "re-read from offset 0 regenerates the text"
        );
    }

    #[test]
    fn regular_files_are_not_held_so_a_rename_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "old").unwrap();
        let mut buf = Vec::new();
        read_into(&p, &mut buf).unwrap();
        assert_eq!(buf, b"old");
        let tmp = dir.path().join("f.new");
        std::fs::write(&tmp, "new").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        read_into(&p, &mut buf).unwrap();
        assert_eq!(buf, b"new");
        assert!(!lock().as_ref().is_some_and(|m| m.contains_key(&p)));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let mut buf = Vec::new();
        let e = read_into(Path::new("/proc/no-such-file"), &mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}

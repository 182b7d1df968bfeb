//! Opening what is in the reports directory without ever leaving it.
//!
//! Anyone who can write into the directory (a Jenkins job) could otherwise
//! drop a symlink to `/etc/shadow` or to a directory elsewhere, or swap a
//! FIFO in behind a name after it was checked. So every open is relative to
//! a descriptor of the reports directory, with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` (or, on kernels without openat2, one `openat` with
//! `O_NOFOLLOW` per component), `O_NONBLOCK` so a FIFO cannot block the open,
//! and the type is decided by `fstat` on the open descriptor, never on the
//! name.

use crate::input::{self, InputError};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Why something in the reports directory is not read.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(
        "a symbolic link: links are never followed (they could lead outside the reports directory)"
    )]
    Symlink,
    #[error("{0}: only regular files are reports")]
    NotRegular(&'static str),
}

impl Refusal {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Symlink => "symlink",
            Refusal::NotRegular(_) => "not_regular_file",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("gone")]
    Gone,
    #[error("cannot open: {0}")]
    Io(#[from] std::io::Error),
}

/// What a confined open found.
pub enum Opened {
    File(File, Metadata),
    Dir(OwnedFd),
}

/// The reports directory, held open so every later open is relative to it.
pub struct ReportsDir {
    fd: OwnedFd,
}

/// Set once openat2 turned out to be missing (ENOSYS: kernel before 5.6, or
/// a seccomp filter), so the fallback is used without asking again.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Directory levels below the reports directory that are listed; the layout
/// uses three, this only stops a pathological tree.
const MAX_DEPTH: usize = 16;

impl ReportsDir {
    pub fn open(dir: &Path) -> std::io::Result<ReportsDir> {
        let fd = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(ReportsDir { fd })
    }

    /// Open `rel` (relative, plain components only) for reading: a regular
    /// file with its `fstat`, or a directory to list. A symlink anywhere on
    /// the way, and anything that is neither file nor directory, is refused.
    pub fn open_entry(&self, rel: &Path) -> Result<Opened, OpenError> {
        let fd = self.open_raw(
            rel,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
        )?;
        let file = File::from(fd);
        let meta = file.metadata()?;
        let t = meta.file_type();
        if t.is_file() {
            Ok(Opened::File(file, meta))
        } else if t.is_dir() {
            Ok(Opened::Dir(file.into()))
        } else {
            Err(Refusal::NotRegular(input::file_type_name(&t)).into())
        }
    }

    /// The entry's own metadata (a symlink's, not its target's), without
    /// opening it for reading: an `O_PATH` descriptor, so not even a FIFO
    /// is touched.
    pub fn stat_entry(&self, rel: &Path) -> Result<Metadata, OpenError> {
        // O_PATH | O_NOFOLLOW on a trailing symlink gives the link itself,
        // also under RESOLVE_NO_SYMLINKS; a link higher up is still refused.
        let fd = self.open_raw(rel, OFlags::PATH | OFlags::NOFOLLOW)?;
        Ok(File::from(fd).metadata()?)
    }

    fn open_raw(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd, OpenError> {
        let flags = flags | OFlags::CLOEXEC;
        let parts = plain_components(rel)?;
        let r = if NO_OPENAT2.load(Ordering::Relaxed) {
            open_by_components(&self.fd, &parts, flags)
        } else {
            match open_beneath(&self.fd, rel, flags) {
                Err(Errno::NOSYS) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                    open_by_components(&self.fd, &parts, flags)
                }
                r => r,
            }
        };
        r.map_err(|e| match e {
            // ELOOP: a symlink where RESOLVE_NO_SYMLINKS / O_NOFOLLOW forbid
            // one; EXDEV: a path that would leave the directory.
            Errno::LOOP | Errno::XDEV => OpenError::Refused(Refusal::Symlink),
            Errno::NOENT | Errno::NOTDIR => OpenError::Gone,
            e => OpenError::Io(e.into()),
        })
    }

    /// Every entry below `rel` (recursively), relative to the reports
    /// directory. Directories are opened confined like files, so a symlinked
    /// directory is never entered; symlinks and other non-directories are
    /// listed as they are, for the caller to refuse and count.
    pub fn list(&self, rel: &Path) -> Result<Vec<PathBuf>, OpenError> {
        let mut out = Vec::new();
        let fd = if rel.as_os_str().is_empty() {
            rustix::fs::openat(
                &self.fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(std::io::Error::from)?
        } else {
            match self.open_entry(rel)? {
                Opened::Dir(fd) => fd,
                Opened::File(..) => {
                    out.push(rel.to_path_buf());
                    return Ok(out);
                }
            }
        };
        self.list_into(fd, rel, 0, &mut out)?;
        Ok(out)
    }

    fn list_into(
        &self,
        fd: OwnedFd,
        rel: &Path,
        depth: usize,
        out: &mut Vec<PathBuf>,
    ) -> Result<(), OpenError> {
        let dir = rustix::fs::Dir::new(fd).map_err(std::io::Error::from)?;
        for entry in dir {
            let entry = entry.map_err(std::io::Error::from)?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let child = rel.join(name);
            if entry.file_type() == rustix::fs::FileType::Directory && depth < MAX_DEPTH {
                // Re-opened confined: it may have been swapped for a link
                // since it was listed.
                match self.open_entry(&child) {
                    Ok(Opened::Dir(sub)) => self.list_into(sub, &child, depth + 1, out)?,
                    Ok(Opened::File(..)) | Err(OpenError::Refused(_)) => out.push(child),
                    Err(OpenError::Gone) => {}
                    Err(e) => return Err(e),
                }
            } else {
                out.push(child);
            }
        }
        Ok(())
    }
}

/// The components of a relative path; anything but plain names (`..`, a
/// root, `.`) is refused, RESOLVE_BENEATH would refuse it anyway.
fn plain_components(rel: &Path) -> Result<Vec<&OsStr>, OpenError> {
    rel.components()
        .map(|c| match c {
            Component::Normal(s) => Ok(s),
            _ => Err(OpenError::Refused(Refusal::Symlink)),
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err(OpenError::Gone)
            } else {
                Ok(v)
            }
        })
}

fn open_beneath(root: &OwnedFd, rel: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        rel,
        flags,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
}

/// The fallback without openat2: each directory opened from the previous
/// one with `O_NOFOLLOW | O_DIRECTORY`, the last component with `flags`
/// (which carry `O_NOFOLLOW`).
fn open_by_components(root: &OwnedFd, parts: &[&OsStr], flags: OFlags) -> Result<OwnedFd, Errno> {
    let (last, dirs) = parts.split_last().ok_or(Errno::NOENT)?;
    let mut held: Option<OwnedFd> = None;
    for d in dirs {
        let at = held.as_ref().unwrap_or(root);
        let next = rustix::fs::openat(
            at,
            *d,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        // O_DIRECTORY|O_NOFOLLOW on a symlink says ENOTDIR on some kernels:
        // look at what it is so a link is named a link.
        .map_err(|e| {
            if e == Errno::NOTDIR && is_symlink_at(at, d) {
                Errno::LOOP
            } else {
                e
            }
        })?;
        held = Some(next);
    }
    let at = held.as_ref().unwrap_or(root);
    rustix::fs::openat(at, *last, flags, Mode::empty())
}

fn is_symlink_at(at: &OwnedFd, name: &OsStr) -> bool {
    rustix::fs::statat(at, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
        .map(|s| rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Symlink)
        .unwrap_or(false)
}

/// Read an opened regular file whole: its size is checked before reading
/// (a sparse 1 GB file costs nothing) and again while reading (a file that
/// grows past the limit is refused too), then the content as `input` does.
pub fn read_bounded(file: File, meta: &Metadata, limit: u64) -> Result<Vec<u8>, InputError> {
    let buf = input::read_open_file(file, meta, limit)?;
    input::check_bytes(&buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::mpsc;
    use std::time::Duration;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let reports = tmp.path().join("reports");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(reports.join("ci/app")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(reports.join("ci/app/ok.json"), "[]").unwrap();
        std::fs::write(outside.join("secret.json"), "[]").unwrap();
        (tmp, reports, outside)
    }

    fn refused(r: Result<Opened, OpenError>) -> &'static str {
        match r {
            Err(OpenError::Refused(x)) => x.reason(),
            Err(e) => panic!("expected a refusal, got {e}"),
            Ok(_) => panic!("expected a refusal, got an open file"),
        }
    }

    /// Both ways of opening: openat2, and the per-component fallback.
    fn each_way(f: impl Fn()) {
        NO_OPENAT2.store(false, Ordering::Relaxed);
        f();
        NO_OPENAT2.store(true, Ordering::Relaxed);
        f();
        NO_OPENAT2.store(false, Ordering::Relaxed);
    }

    #[test]
    fn regular_files_open_and_read() {
        let (_t, reports, _) = setup();
        each_way(|| {
            let d = ReportsDir::open(&reports).unwrap();
            let Ok(Opened::File(f, meta)) = d.open_entry(Path::new("ci/app/ok.json")) else {
                panic!("not opened");
            };
            assert_eq!(read_bounded(f, &meta, 100).unwrap(), b"[]");
            assert!(matches!(
                d.open_entry(Path::new("ci/app")),
                Ok(Opened::Dir(_))
            ));
            assert!(matches!(
                d.open_entry(Path::new("ci/nothing.json")),
                Err(OpenError::Gone)
            ));
        });
    }

    #[test]
    fn symlinks_are_refused_at_the_end_and_on_the_way() {
        let (_t, reports, outside) = setup();
        symlink(outside.join("secret.json"), reports.join("ci/link.json")).unwrap();
        symlink(&outside, reports.join("ci/linkdir")).unwrap();
        symlink("app", reports.join("ci/inside")).unwrap();
        each_way(|| {
            let d = ReportsDir::open(&reports).unwrap();
            assert_eq!(refused(d.open_entry(Path::new("ci/link.json"))), "symlink");
            assert_eq!(refused(d.open_entry(Path::new("ci/linkdir"))), "symlink");
            assert_eq!(
                refused(d.open_entry(Path::new("ci/linkdir/secret.json"))),
                "symlink"
            );
            // Even a link that stays inside: links are not followed at all.
            assert_eq!(
                refused(d.open_entry(Path::new("ci/inside/ok.json"))),
                "symlink"
            );
            assert_eq!(refused(d.open_entry(Path::new("../outside"))), "symlink");
            // stat_entry sees the link itself.
            assert!(d
                .stat_entry(Path::new("ci/link.json"))
                .unwrap()
                .file_type()
                .is_symlink());
        });
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let (_t, reports, _) = setup();
        let fifo = reports.join("ci/app/fifo.json");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600)).unwrap();
        // On a thread, so a regression fails the test instead of hanging it.
        let (tx, rx) = mpsc::channel();
        let r = reports.clone();
        std::thread::spawn(move || {
            let d = ReportsDir::open(&r).unwrap();
            let _ = tx.send(refused(d.open_entry(Path::new("ci/app/fifo.json"))));
        });
        let reason = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("opening a FIFO blocked");
        assert_eq!(reason, "not_regular_file");
    }

    #[test]
    fn listing_never_enters_a_symlinked_directory() {
        let (_t, reports, outside) = setup();
        std::fs::create_dir_all(outside.join("p/t")).unwrap();
        std::fs::write(outside.join("p/t/x.json"), "[]").unwrap();
        symlink(&outside, reports.join("evil")).unwrap();
        symlink(outside.join("secret.json"), reports.join("ci/s.json")).unwrap();
        let d = ReportsDir::open(&reports).unwrap();
        let mut all = d.list(Path::new("")).unwrap();
        all.sort();
        let want: Vec<PathBuf> = ["ci/app/ok.json", "ci/s.json", "evil"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(all, want);
        assert_eq!(refused(d.open_entry(Path::new("evil"))), "symlink");
        assert_eq!(
            d.list(Path::new("ci")).unwrap().len(),
            2,
            "ci/app/ok.json and the link"
        );
    }

    #[test]
    fn size_is_checked_before_reading() {
        let (_t, reports, _) = setup();
        let f = File::create(reports.join("big.json")).unwrap();
        f.set_len(1 << 30).unwrap();
        let d = ReportsDir::open(&reports).unwrap();
        let Ok(Opened::File(f, meta)) = d.open_entry(Path::new("big.json")) else {
            panic!("not opened");
        };
        assert!(matches!(
            read_bounded(f, &meta, 1000),
            Err(InputError::TooLarge { .. })
        ));
    }
}

//! Reading the host's pseudo-files: whole small files, numbers naming the
//! file on failure, and sysfs directories held open for attribute reads.

use super::CollectError;
use std::path::Path;

/// Read a whole (small, virtual) file.
pub fn read(path: &Path) -> Result<String, CollectError> {
    read_file(path).map_err(|source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `std::fs::read_to_string` without its statx call: /proc and /sys files
/// report size 0 anyway, and a scrape reads over a hundred of them.
/// procfs and sysfs files stay open between scrapes ([`super::held_files`]).
pub fn read_file(path: impl AsRef<Path>) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(4096);
    super::held_files::read_into(path.as_ref(), &mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A sysfs directory held open, so each attribute is one openat(2) relative
/// to it instead of a full path walk through /sys/class symlinks.
pub struct SysfsDir {
    fd: std::os::fd::OwnedFd,
}

impl SysfsDir {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: a plain open(2) of a NUL-terminated path; the fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        Ok(Self {
            fd: unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) },
        })
    }

    /// One sysfs attribute, trimmed. An attribute is produced whole by one
    /// read (at most a page), so a single read(2) suffices.
    pub fn attr(&self, name: &std::ffi::CStr) -> Option<String> {
        use std::os::fd::AsRawFd;
        // SAFETY: openat/read/close on descriptors we own, into our buffer.
        unsafe {
            let fd = libc::openat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return None;
            }
            let mut buf = [0u8; 4096];
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            if n < 0 {
                return None;
            }
            std::str::from_utf8(&buf[..n as usize])
                .ok()
                .map(|s| s.trim().to_string())
        }
    }
}

/// Parse one number, naming the file on failure.
pub fn num<T: std::str::FromStr>(path: &Path, s: &str) -> Result<T, CollectError> {
    s.trim()
        .parse()
        .map_err(|_| CollectError::parse(path, format!("not a number: {s:?}")))
}

/// One sysfs attribute by path, trimmed; `None` when absent or unreadable
/// (upstream treats optional attributes the same way).
pub fn attr(path: &Path) -> Option<String> {
    read_file(path).ok().map(|s| s.trim().to_string())
}

/// One numeric sysfs attribute by path; `None` when absent or not a number.
pub fn attr_num<T: std::str::FromStr>(path: &Path) -> Option<T> {
    attr(path)?.parse().ok()
}

/// The entries of `dir` whose names start with `prefix`, sorted by name as
/// Go's `filepath.Glob` returns them, as (name without prefix, path). A
/// missing directory is an I/O error (`NotFound` counts as no data).
pub fn entries(
    dir: &Path,
    prefix: &str,
) -> Result<Vec<(String, std::path::PathBuf)>, CollectError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CollectError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut v: Vec<(String, String, std::path::PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = name.strip_prefix(prefix)?.to_string();
            Some((name, rest, e.path()))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v.into_iter().map(|(_, rest, p)| (rest, p)).collect())
}

/// `entries` restricted to names whose rest after `prefix` is all digits
/// (`cpu[0-9]*`, `mc[0-9]*` style globs take the first digit only; upstream's
/// users then parse the whole rest as a number, so the stricter form agrees).
pub fn numbered_entries(
    dir: &Path,
    prefix: &str,
) -> Result<Vec<(String, std::path::PathBuf)>, CollectError> {
    Ok(entries(dir, prefix)?
        .into_iter()
        .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .collect())
}

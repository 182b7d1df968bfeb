//! Reading a report from disk or a request body, refusing what cannot be a
//! report before any parsing: too large, empty, binary.

use std::fs::{File, FileType};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Big enough for any real report (a Trivy image scan with descriptions is a
/// few MB; 100,000 synthetic vulnerabilities are ~40 MB), small enough that a
/// runaway file cannot exhaust memory.
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("too large: {size} bytes, the limit is {limit} (--max-report-bytes)")]
    TooLarge { size: u64, limit: u64 },
    #[error("empty file")]
    Empty,
    #[error("binary data (contains NUL bytes or is not UTF-8), not a report")]
    Binary,
    #[error("not a regular file ({0}): only regular files are read as reports")]
    NotRegular(&'static str),
}

impl InputError {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            InputError::Io(_) | InputError::NotRegular(_) => "io",
            InputError::TooLarge { .. } => "too_large",
            InputError::Empty => "empty",
            InputError::Binary => "binary",
        }
    }
}

/// Read a file whole, checking its size before loading it (a sparse 1 GB
/// file is refused without reading a byte) and again while reading (a file
/// that grows past the limit is refused too).
///
/// Only a regular file is a report. The file is opened with `O_NONBLOCK`, so
/// opening a FIFO (or a device) returns at once instead of waiting for a
/// writer, and the type is checked on the open descriptor (`fstat`), not on
/// the name, so a file swapped in behind the name after a check is still
/// caught. For a regular file `O_NONBLOCK` changes nothing.
pub fn read_report_file(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let buf = read_regular_file(path, limit)?;
    check_bytes(&buf)?;
    Ok(buf)
}

/// Policy and ignore files are small; this bounds a mistaken one.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A policy or ignore file as text, refused like a report if it is not a
/// regular file (a FIFO given as `--policy` must not hang the gate either).
/// Empty is fine here: an empty ignore file ignores nothing.
pub fn read_text_file(path: &Path) -> std::io::Result<String> {
    let bytes = read_regular_file(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        InputError::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other.to_string()),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = open_nonblocking(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(InputError::NotRegular(file_type_name(&meta.file_type())));
    }
    read_open_file(file, &meta, limit)
}

/// Read an opened regular file whole: its size is checked before reading
/// (a sparse 1 GB file costs nothing) and again while reading (a file that
/// grows past the limit is refused too).
pub fn read_open_file(
    file: std::fs::File,
    meta: &std::fs::Metadata,
    limit: u64,
) -> Result<Vec<u8>, InputError> {
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// What a non-regular file is, for the refusal message.
pub fn file_type_name(t: &FileType) -> &'static str {
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Empty or binary content is refused with its own reason, so the operator
/// sees "empty file" rather than a JSON parser's "EOF at line 1".
pub fn check_bytes(buf: &[u8]) -> Result<(), InputError> {
    if buf.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(InputError::Empty);
    }
    if buf.contains(&0) || std::str::from_utf8(buf).is_err() {
        return Err(InputError::Binary);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_bad_bytes() {
        assert!(matches!(check_bytes(b""), Err(InputError::Empty)));
        assert!(matches!(check_bytes(b" \n\t"), Err(InputError::Empty)));
        assert!(matches!(check_bytes(b"{\0}"), Err(InputError::Binary)));
        assert!(matches!(
            check_bytes(&[0xff, 0xfe, b'{']),
            Err(InputError::Binary)
        ));
        assert!(check_bytes(b"[]").is_ok());
    }

    /// Opening a FIFO without O_NONBLOCK waits for a writer for ever; the
    /// read runs on a thread so a regression fails the test instead of
    /// hanging the suite.
    #[test]
    fn refuses_a_fifo_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("report.json");
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_report_file(&p, 1000).map(|_| ()));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("read_report_file returned instead of blocking on the FIFO");
        let err = got.unwrap_err();
        assert!(matches!(err, InputError::NotRegular("a FIFO")), "{err}");
        assert!(err.to_string().contains("regular file"), "{err}");
    }

    #[test]
    fn refuses_a_directory_and_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_report_file(dir.path(), 1000).unwrap_err();
        assert!(
            matches!(err, InputError::NotRegular("a directory")),
            "{err}"
        );
        let err = read_report_file(Path::new("/dev/null"), 1000).unwrap_err();
        assert!(
            matches!(err, InputError::NotRegular("a character device")),
            "{err}"
        );
    }

    #[test]
    fn reads_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        std::fs::write(&p, b"[]").unwrap();
        assert_eq!(read_report_file(&p, 1000).unwrap(), b"[]");
    }

    #[test]
    fn refuses_oversized_file_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.json");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(10_000).unwrap();
        let err = read_report_file(&p, 100).unwrap_err();
        assert!(
            matches!(err, InputError::TooLarge { size: 10_000, .. }),
            "{err}"
        );
    }
}

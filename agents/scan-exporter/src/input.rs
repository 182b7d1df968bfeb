//! Reading a report from disk or a request body, refusing what cannot be a
//! report before any parsing: too large, empty, binary.

use std::io::Read;
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
}

impl InputError {
    /// The `reason` label of srp_scan_ingest_errors_total.
    pub fn reason(&self) -> &'static str {
        match self {
            InputError::Io(_) => "io",
            InputError::TooLarge { .. } => "too_large",
            InputError::Empty => "empty",
            InputError::Binary => "binary",
        }
    }
}

/// Read a file whole, checking its size before loading it (a sparse 1 GB
/// file is refused without reading a byte) and again while reading (a file
/// that grows past the limit is refused too).
pub fn read_report_file(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(InputError::Io(std::io::Error::other("not a regular file")));
    }
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
    check_bytes(&buf)?;
    Ok(buf)
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

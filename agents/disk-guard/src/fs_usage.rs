//! How full a filesystem is (statvfs), as the guard samples it for its
//! gauges, its trend and its stop-at-target check.

use std::path::Path;

/// Free and total bytes of the filesystem holding `path`, as non-root users
/// see it (`f_bavail`), like node_filesystem_avail_bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub free_bytes: u64,
    pub size_bytes: u64,
    pub dev: u64,
}

impl Usage {
    pub fn ratio(&self) -> f64 {
        if self.size_bytes == 0 {
            0.0
        } else {
            self.free_bytes as f64 / self.size_bytes as f64
        }
    }
}

pub fn usage(path: &Path) -> std::io::Result<Usage> {
    let v = rustix::fs::statvfs(path)?;
    let st = rustix::fs::stat(path)?;
    Ok(Usage {
        free_bytes: v.f_bavail.saturating_mul(v.f_frsize),
        size_bytes: v.f_blocks.saturating_mul(v.f_frsize),
        dev: st.st_dev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_a_ratio_of_a_real_filesystem() {
        let d = tempfile::tempdir().unwrap();
        let u = usage(d.path()).unwrap();
        assert!(u.size_bytes > 0 && u.free_bytes <= u.size_bytes, "{u:?}");
        assert!((0.0..=1.0).contains(&u.ratio()));
        assert!(usage(&d.path().join("missing")).is_err());
    }
}

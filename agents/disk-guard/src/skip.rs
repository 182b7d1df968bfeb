//! The skip vocabulary: why an entry a policy met was not deleted, and how
//! the system errors met on the way map onto those reasons. The labels are
//! part of the metric contract (README, "Every skip is explained").

use crate::escape;
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Why something was not deleted. Every skip is logged and counted under
/// `srp_disk_skipped_total{policy,reason}` with [`SkipReason::label`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// A symlink matched; links are never followed or treated as their target.
    Symlink,
    /// Modified within the grace period.
    GracePeriod,
    /// The entry changed between selection and deletion (swapped, replaced, vanished).
    ChangedDuringRun,
    /// Permission denied while listing or opening.
    Unreadable,
    /// On a different filesystem than the mount being cleaned, or on another
    /// mount inside a root (a bind mount, even of the same filesystem).
    OtherFilesystem,
    /// Matched but not a regular file (socket, fifo, device).
    NotRegular,
    /// The path no longer resolves under its root.
    OutsideRoot,
    /// A configured root does not exist.
    MissingRoot,
    /// Kept on purpose by the policy (permalinked build, keep-forever, image of a container).
    Protected,
    /// Docker: image used by a container.
    InUse,
    /// Any other I/O error.
    Error,
}

impl SkipReason {
    pub fn label(&self) -> &'static str {
        match self {
            SkipReason::Symlink => "symlink",
            SkipReason::GracePeriod => "grace_period",
            SkipReason::ChangedDuringRun => "changed_during_run",
            SkipReason::Unreadable => "unreadable",
            SkipReason::OtherFilesystem => "other_filesystem",
            SkipReason::NotRegular => "not_regular",
            SkipReason::OutsideRoot => "outside_root",
            SkipReason::MissingRoot => "missing_root",
            SkipReason::Protected => "protected",
            SkipReason::InUse => "in_use",
            SkipReason::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    pub path: PathBuf,
    pub reason: SkipReason,
    pub detail: String,
}

impl Skip {
    pub fn new(path: impl Into<PathBuf>, reason: SkipReason, detail: impl Into<String>) -> Self {
        Skip {
            path: path.into(),
            reason,
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            escape::path(&self.path),
            self.reason.label(),
            self.detail
        )
    }
}

pub(crate) fn errno_skip(path: &Path, e: Errno, what: &str) -> Skip {
    let reason = match e {
        Errno::ACCESS | Errno::PERM => SkipReason::Unreadable,
        Errno::NOENT => SkipReason::ChangedDuringRun,
        _ => SkipReason::Error,
    };
    Skip::new(path, reason, format!("{what}: {e}"))
}

/// The kernel refuses to unlink or rmdir a mount point (EBUSY): something
/// is mounted over that name, and it is not the guard's to remove.
pub(crate) fn unlink_skip(path: &Path, e: Errno, what: &str) -> Skip {
    if e == Errno::BUSY {
        return Skip::new(
            path,
            SkipReason::OtherFilesystem,
            "something is mounted here; not removed",
        );
    }
    errno_skip(path, e, what)
}

pub(crate) fn io_reason_std(e: &std::io::Error) -> SkipReason {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => SkipReason::Unreadable,
        _ => SkipReason::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_errors_map_onto_the_documented_reasons() {
        let p = Path::new("/r/x");
        assert_eq!(
            errno_skip(p, Errno::ACCESS, "open").reason,
            SkipReason::Unreadable
        );
        assert_eq!(
            errno_skip(p, Errno::NOENT, "open").reason,
            SkipReason::ChangedDuringRun
        );
        assert_eq!(errno_skip(p, Errno::IO, "open").reason, SkipReason::Error);
        // Unlinking a mount point: someone else's mount, not an I/O failure.
        assert_eq!(
            unlink_skip(p, Errno::BUSY, "unlink").reason,
            SkipReason::OtherFilesystem
        );
        let s = errno_skip(Path::new("/r/a\nb"), Errno::IO, "open");
        assert_eq!(s.to_string().lines().count(), 1, "{s}");
    }
}

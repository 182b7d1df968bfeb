//! Files policy: regular files under the allowed roots whose path (relative
//! to the root) matches one of the globs and that were not modified for
//! `min_age`. The pass takes them least recently used (oldest mtime) first,
//! together with the other policies' candidates, until the target is reached.

use crate::cleanup::{Candidate, Pass, PolicyError};
use crate::config::FilesPolicy;
use crate::safe_fs::{file_type, freed_by_unlink, Identity, Root};
use crate::skip::{Skip, SkipReason};
use glob::{MatchOptions, Pattern};
use rustix::fs::FileType;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    // `*` stays within one directory; `**` is needed to cross directories.
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

struct Found {
    root: usize,
    rel: PathBuf,
    id: Identity,
    mtime: i64,
    bytes: u64,
    glob: String,
}

pub fn select(
    name: &str,
    cfg: &FilesPolicy,
    pass: &mut Pass,
) -> Result<Vec<Candidate>, PolicyError> {
    let patterns: Vec<Pattern> = cfg
        .globs
        .iter()
        .map(|g| Pattern::new(g).map_err(|e| PolicyError::Failed(format!("glob {g:?}: {e}"))))
        .collect::<Result<_, _>>()?;
    let age_cutoff = pass.now - cfg.min_age.get().as_secs() as i64;
    let mut roots = Vec::new();
    let mut candidates = Vec::new();
    for configured in &cfg.roots {
        let root = match Root::open(configured, Some(pass.mount_dev)) {
            Ok(r) => r,
            Err(skip) => {
                pass.skip(name, skip);
                continue;
            }
        };
        let idx = roots.len();
        let mut skips = Vec::new();
        let mut refused = Vec::new();
        let grace_cutoff = pass.grace_cutoff;
        root.walk(
            std::path::Path::new(""),
            pass.hooks,
            &mut skips,
            &mut |entry| {
                let (rel, st) = (entry.rel, entry.st);
                let ft = file_type(st);
                if ft == FileType::Directory {
                    return true;
                }
                let Some(p) = patterns.iter().find(|p| matches(p, rel)) else {
                    return false;
                };
                let abs = root.abs(rel);
                if ft == FileType::Symlink {
                    refused.push(Skip::new(
                        abs,
                        SkipReason::Symlink,
                        "symlinks are never followed or deleted",
                    ));
                } else if ft != FileType::RegularFile {
                    refused.push(Skip::new(abs, SkipReason::NotRegular, "not a regular file"));
                } else if st.st_mtime > age_cutoff {
                    // Younger than min_age: simply not selected by this policy.
                } else if st.st_mtime > grace_cutoff {
                    refused.push(Skip::new(
                        abs,
                        SkipReason::GracePeriod,
                        "modified within the grace period",
                    ));
                } else if let Err(skip) = root.check_same_mount(entry) {
                    refused.push(skip);
                } else {
                    candidates.push(Found {
                        root: idx,
                        rel: rel.to_path_buf(),
                        id: Identity::of(st),
                        mtime: st.st_mtime,
                        bytes: freed_by_unlink(st),
                        glob: p.as_str().to_string(),
                    });
                }
                false
            },
        );
        for s in skips.into_iter().chain(refused) {
            pass.skip(name, s);
        }
        roots.push(Rc::new(root));
    }
    candidates.sort_by(|a, b| {
        (a.mtime, roots[a.root].abs(&a.rel)).cmp(&(b.mtime, roots[b.root].abs(&b.rel)))
    });
    // Overlapping roots (/var/log and /var/log/jenkins) list a file twice.
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|c| seen.insert(roots[c.root].abs(&c.rel)));
    let min_age = humanize(cfg.min_age.get().as_secs());
    let mut out = Vec::new();
    for c in candidates {
        let root = roots[c.root].clone();
        let reason = format!(
            "matches {:?} and unmodified for {} (min_age {min_age})",
            c.glob,
            humanize((pass.now - c.mtime).max(0) as u64)
        );
        out.push(Candidate {
            policy: name.to_string(),
            last_used: c.mtime,
            abs: root.abs(&c.rel),
            bytes: c.bytes,
            reason,
            recheck_in_use: false,
            report_only: None,
            remove: Box::new(move |grace, hooks| {
                root.remove_file(&c.rel, c.id, grace, hooks)
                    .map(|freed| (freed, Vec::new()))
            }),
        });
    }
    Ok(out)
}

/// Glob matching that does not pass over names that are not UTF-8 (the
/// glob crate matches `&str` only): each byte sequence that is not UTF-8
/// becomes U+FFFD, one character that only `?`, `*`, `**` and negated
/// classes match. Config validation refuses U+FFFD in a glob, so a literal
/// never matches such bytes. The deletion itself uses the real bytes.
fn matches(pattern: &Pattern, rel: &Path) -> bool {
    match rel.to_str() {
        Some(text) => pattern.matches_with(text, MATCH),
        None => pattern.matches_with(&String::from_utf8_lossy(rel.as_os_str().as_bytes()), MATCH),
    }
}

pub fn humanize(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3600 => format!("{}h", s / 3600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_star_matches_at_any_depth_and_star_stays_in_one_dir() {
        let p = Pattern::new("**/*.log").unwrap();
        assert!(p.matches_path_with(std::path::Path::new("a.log"), MATCH));
        assert!(p.matches_path_with(std::path::Path::new("x/y/a.log"), MATCH));
        let top = Pattern::new("*.log").unwrap();
        assert!(!top.matches_path_with(std::path::Path::new("x/a.log"), MATCH));
    }

    #[test]
    fn names_that_are_not_utf8_match_wildcards_but_not_literals() {
        use std::ffi::OsStr;
        let name = |b: &[u8]| PathBuf::from(OsStr::from_bytes(b));
        let star = Pattern::new("**/*.log").unwrap();
        assert!(matches(&star, &name(b"caf\xe9.log")));
        assert!(matches(&star, &name(b"d\xff/x.log")));
        assert!(!matches(&star, &name(b"caf\xe9.txt")));
        assert!(matches(
            &Pattern::new("caf?.log").unwrap(),
            &name(b"caf\xe9.log")
        ));
        assert!(!matches(
            &Pattern::new("cafe.log").unwrap(),
            &name(b"caf\xe9.log")
        ));
        assert!(!matches(
            &Pattern::new("caf[a-z].log").unwrap(),
            &name(b"caf\xe9.log")
        ));
        assert!(matches(
            &Pattern::new("caf[!a-z].log").unwrap(),
            &name(b"caf\xe9.log")
        ));
    }
}

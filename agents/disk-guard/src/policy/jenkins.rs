//! Jenkins policy, on the layout Jenkins writes under JENKINS_HOME (the one
//! allowed root):
//! - `jobs/NAME/builds/N/` build records; folders nest as
//!   `jobs/A/jobs/B/...`, multibranch jobs as `jobs/A/branches/B/...`.
//!   Per job the newest `keep_builds` numbers are kept, plus every build a
//!   permalink names (`builds/permalinks` lines like `lastSuccessfulBuild 41`,
//!   or the older `builds/lastSuccessfulBuild -> 41` symlinks) and builds
//!   marked "keep forever" (`<keepLog>true</keepLog>` in build.xml).
//! - `workspace/NAME*/` directories in which nothing changed for `workspace_idle`.
//!
//! Build records go first (oldest first), then workspaces (longest idle first).

use crate::cleanup::{Pass, PolicyError};
use crate::config::JenkinsPolicy;
use crate::escape;
use crate::policy::files::humanize;
use crate::safe_fs::{file_type, Identity, Root};
use crate::skip::{Skip, SkipReason};
use rustix::fs::FileType;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

struct Tree {
    rel: PathBuf,
    id: Identity,
    bytes: u64,
    newest: i64,
    reason: String,
}

pub fn run(name: &str, cfg: &JenkinsPolicy, pass: &mut Pass) -> Result<(), PolicyError> {
    let root = match Root::open(&cfg.jenkins_home, Some(pass.mount_dev)) {
        Ok(r) => r,
        Err(skip) => {
            // Absent, or on another volume than this mount point: nothing to do
            // here (explained as a skip). Anything else is a failure.
            let benign = matches!(
                skip.reason,
                SkipReason::MissingRoot | SkipReason::OtherFilesystem
            );
            pass.skip(name, skip);
            return if benign {
                Ok(())
            } else {
                Err(PolicyError::Failed(format!(
                    "cannot open JENKINS_HOME {}",
                    cfg.jenkins_home.display()
                )))
            };
        }
    };

    let mut skips = Vec::new();
    let mut jobs = Vec::new();
    find_jobs(&root, Path::new("jobs"), 0, &mut jobs, &mut skips);
    let mut builds = Vec::new();
    for job in &jobs {
        old_builds(&root, job, cfg.keep_builds, pass, &mut builds, &mut skips);
    }
    builds.sort_by(|a, b| (a.newest, &a.rel).cmp(&(b.newest, &b.rel)));
    for s in skips.drain(..) {
        pass.skip(name, s);
    }
    remove_all(name, &root, builds, pass)?;
    if pass.done() {
        return Ok(());
    }

    let mut workspaces = Vec::new();
    idle_workspaces(&root, cfg, pass, &mut workspaces, &mut skips);
    workspaces.sort_by(|a, b| (a.newest, &a.rel).cmp(&(b.newest, &b.rel)));
    for s in skips.drain(..) {
        pass.skip(name, s);
    }
    remove_all(name, &root, workspaces, pass)
}

fn remove_all(
    name: &str,
    root: &Root,
    trees: Vec<Tree>,
    pass: &mut Pass,
) -> Result<(), PolicyError> {
    for t in trees {
        if pass.done() {
            break;
        }
        let mut left = Vec::new();
        let (grace, hooks) = (pass.grace_cutoff, pass.hooks);
        let path = escape::path(&root.abs(&t.rel));
        pass.delete(name, &path, t.bytes, &t.reason, || {
            let (freed, l) = root.remove_tree(&t.rel, t.id, grace, hooks)?;
            left = l;
            Ok(freed)
        })?;
        pass.note_left(name, left);
    }
    Ok(())
}

fn is_dir(st: &rustix::fs::Stat) -> bool {
    file_type(st) == FileType::Directory
}

/// Collect job directories (those with a `builds/` directory) under `dir`.
fn find_jobs(
    root: &Root,
    dir: &Path,
    depth: usize,
    jobs: &mut Vec<PathBuf>,
    skips: &mut Vec<Skip>,
) {
    if depth > 16 {
        return;
    }
    let entries = match root.list(dir) {
        Ok(e) => e,
        Err(s) if s.reason == SkipReason::ChangedDuringRun && depth == 0 => return, // no jobs/ at all
        Err(s) => {
            skips.push(s);
            return;
        }
    };
    for (entry, st) in entries {
        if file_type(&st) == FileType::Symlink {
            skips.push(Skip::new(
                root.abs(&dir.join(&entry)),
                SkipReason::Symlink,
                "job directory is a symlink; not followed",
            ));
            continue;
        }
        if !is_dir(&st) {
            continue;
        }
        let job = dir.join(&entry);
        let children = match root.list(&job) {
            Ok(c) => c,
            Err(s) => {
                skips.push(s);
                continue;
            }
        };
        for (child, cst) in &children {
            if !is_dir(cst) {
                continue;
            }
            match child.to_str() {
                Some("builds") => jobs.push(job.clone()),
                Some("jobs") | Some("branches") => {
                    find_jobs(root, &job.join(child), depth + 1, jobs, skips)
                }
                _ => {}
            }
        }
    }
}

/// Build numbers that permalinks point at (both layouts).
fn permalinked(
    root: &Root,
    builds: &Path,
    entries: &[(std::ffi::OsString, rustix::fs::Stat)],
) -> HashSet<u64> {
    let mut keep = HashSet::new();
    if let Ok(text) = root.read_file(&builds.join("permalinks"), 1 << 20) {
        for line in String::from_utf8_lossy(&text).lines() {
            if let Some((_, n)) = line.split_once(' ') {
                if let Ok(n) = n.trim().parse::<i64>() {
                    if n > 0 {
                        keep.insert(n as u64);
                    }
                }
            }
        }
    }
    for (entry, st) in entries {
        if file_type(st) != FileType::Symlink {
            continue;
        }
        if let Ok(target) = root.read_link(&builds.join(entry)) {
            if let Some(n) = target
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.parse::<u64>().ok())
            {
                keep.insert(n);
            }
        }
    }
    keep
}

fn old_builds(
    root: &Root,
    job: &Path,
    keep_builds: usize,
    pass: &Pass,
    out: &mut Vec<Tree>,
    skips: &mut Vec<Skip>,
) {
    let builds_rel = job.join("builds");
    let entries = match root.list(&builds_rel) {
        Ok(e) => e,
        Err(s) => {
            skips.push(s);
            return;
        }
    };
    let mut numbered: Vec<(u64, &std::ffi::OsString, &rustix::fs::Stat)> = entries
        .iter()
        .filter(|(n, st)| is_dir(st) && n.to_str().is_some_and(|s| s.parse::<u64>().is_ok()))
        .map(|(n, st)| (n.to_str().unwrap().parse().unwrap(), n, st))
        .collect();
    numbered.sort_by_key(|b| std::cmp::Reverse(b.0));
    if numbered.len() <= keep_builds {
        return;
    }
    let keep = permalinked(root, &builds_rel, &entries);
    let job_name = job
        .iter()
        .skip(1)
        .filter(|c| *c != "jobs" && *c != "branches")
        .map(|c| escape::path(Path::new(c)))
        .collect::<Vec<_>>()
        .join("/");
    for (n, entry, st) in numbered.into_iter().skip(keep_builds) {
        let rel = builds_rel.join(entry);
        if keep.contains(&n) {
            skips.push(Skip::new(
                root.abs(&rel),
                SkipReason::Protected,
                "a permalink (lastSuccessful/lastStable/...) points here",
            ));
            continue;
        }
        if let Ok(xml) = root.read_file(&rel.join("build.xml"), 8 << 20) {
            if String::from_utf8_lossy(&xml).contains("<keepLog>true</keepLog>") {
                skips.push(Skip::new(
                    root.abs(&rel),
                    SkipReason::Protected,
                    "marked keep forever",
                ));
                continue;
            }
        }
        if let Some(t) = measured(root, &rel, st, pass, i64::MAX, skips) {
            out.push(Tree {
                reason: format!("build #{n} of job {job_name} is beyond the newest {keep_builds}"),
                ..t
            });
        }
    }
}

fn idle_workspaces(
    root: &Root,
    cfg: &JenkinsPolicy,
    pass: &Pass,
    out: &mut Vec<Tree>,
    skips: &mut Vec<Skip>,
) {
    let entries = match root.list(Path::new("workspace")) {
        Ok(e) => e,
        Err(s) if s.reason == SkipReason::ChangedDuringRun => return, // no workspace/ dir
        Err(s) => {
            skips.push(s);
            return;
        }
    };
    let idle_cutoff = pass.now - cfg.workspace_idle.get().as_secs() as i64;
    for (entry, st) in entries {
        let rel = Path::new("workspace").join(&entry);
        if file_type(&st) == FileType::Symlink {
            skips.push(Skip::new(
                root.abs(&rel),
                SkipReason::Symlink,
                "workspace is a symlink; not followed",
            ));
            continue;
        }
        if !is_dir(&st) {
            continue;
        }
        if let Some(t) = measured(root, &rel, &st, pass, idle_cutoff, skips) {
            out.push(Tree {
                reason: format!(
                    "workspace idle for {} (workspace_idle {})",
                    humanize((pass.now - t.newest).max(0) as u64),
                    humanize(cfg.workspace_idle.get().as_secs())
                ),
                ..t
            });
        }
    }
}

/// Size a tree; refuse it when parts could not be inspected or something in
/// it changed within the grace period.
/// Trees with something newer than `select_cutoff` are not selected (silently).
fn measured(
    root: &Root,
    rel: &Path,
    st: &rustix::fs::Stat,
    pass: &Pass,
    select_cutoff: i64,
    skips: &mut Vec<Skip>,
) -> Option<Tree> {
    let info = match root.measure_tree(rel, pass.hooks) {
        Ok(i) => i,
        Err(s) => {
            skips.push(s);
            return None;
        }
    };
    if info.newest_mtime > select_cutoff {
        return None;
    }
    if !info.problems.is_empty() {
        let first = info.problems[0].to_string();
        skips.extend(info.problems);
        skips.push(Skip::new(
            root.abs(rel),
            SkipReason::Unreadable,
            format!("not entirely readable ({first}); left whole"),
        ));
        return None;
    }
    if info.newest_mtime > pass.grace_cutoff {
        skips.push(Skip::new(
            root.abs(rel),
            SkipReason::GracePeriod,
            "something in it changed within the grace period",
        ));
        return None;
    }
    Some(Tree {
        rel: rel.to_path_buf(),
        id: Identity::of(st),
        bytes: info.bytes,
        newest: info.newest_mtime,
        reason: String::new(),
    })
}

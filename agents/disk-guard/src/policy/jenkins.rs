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
//! Nothing Jenkins is running (its build record, its job's workspaces) and
//! nothing a process is using is selected (`in_use`). The pass takes the
//! trees least recently used first, with the other policies' candidates.

use crate::cleanup::{Candidate, JenkinsView, Pass, PolicyError};
use crate::config::JenkinsPolicy;
use crate::escape;
use crate::in_use::workspace_base;
use crate::policy::files::humanize;
use crate::safe_fs::{file_type, Identity, Root};
use crate::skip::{Skip, SkipReason};
use rustix::fs::FileType;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::rc::Rc;

enum TreeKind {
    /// Job full name as Jenkins writes it ("folder/app/main") and the number.
    Build { job: String, number: u64 },
    /// The top-level name under `workspace/`.
    Workspace { entry: String },
}

struct Tree {
    kind: TreeKind,
    rel: PathBuf,
    id: Identity,
    bytes: u64,
    newest: i64,
    reason: String,
}

pub fn select(
    name: &str,
    cfg: &JenkinsPolicy,
    pass: &mut Pass,
) -> Result<Vec<Candidate>, PolicyError> {
    let root = match Root::open(&cfg.jenkins_home, Some(pass.mount_dev)) {
        Ok(r) => Rc::new(r),
        Err(skip) => {
            // Absent, or on another volume than this mount point: nothing to do
            // here (explained as a skip). Anything else is a failure.
            let benign = matches!(
                skip.reason,
                SkipReason::MissingRoot | SkipReason::OtherFilesystem
            );
            pass.skip(name, skip);
            return if benign {
                Ok(Vec::new())
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
    let mut trees = Vec::new();
    for job in &jobs {
        old_builds(&root, job, cfg.keep_builds, pass, &mut trees, &mut skips);
    }
    idle_workspaces(&root, cfg, pass, &mut trees, &mut skips);
    for s in skips.drain(..) {
        pass.skip(name, s);
    }
    let report_only = match &pass.jenkins {
        JenkinsView::Unreachable(why) => {
            Some(format!("Jenkins could not be asked what is running: {why}"))
        }
        _ => None,
    };
    let mut out = Vec::new();
    for t in trees {
        let abs = root.abs(&t.rel);
        if let Some(skip) = in_use(pass, &abs, &t) {
            pass.skip(name, skip);
            continue;
        }
        let root = root.clone();
        out.push(Candidate {
            policy: name.to_string(),
            last_used: t.newest,
            abs,
            bytes: t.bytes,
            reason: t.reason,
            recheck_in_use: true,
            report_only: report_only.clone(),
            remove: Box::new(move |grace, hooks| root.remove_tree(&t.rel, t.id, grace, hooks)),
        });
    }
    Ok(out)
}

/// Why a selected tree must stay: Jenkins runs its build or a job that
/// uses the workspace, or a process has its cwd, root or an open file in it.
fn in_use(pass: &Pass, abs: &Path, t: &Tree) -> Option<Skip> {
    if let JenkinsView::Running(running) = &pass.jenkins {
        let busy = match &t.kind {
            TreeKind::Build { job, number } => running.build_running(job, *number),
            TreeKind::Workspace { entry } => running.workspace_running(entry),
        };
        if busy {
            return Some(Skip::new(
                abs,
                SkipReason::InUse,
                "Jenkins is running a build of this job",
            ));
        }
    }
    // A workspace's @tmp/@libs/@2 siblings are used together.
    let family: Vec<std::path::PathBuf> = match &t.kind {
        TreeKind::Workspace { entry } => {
            let base = workspace_base(entry);
            let parent = abs.parent().unwrap_or(abs);
            pass.local
                .holders_under(parent)
                .filter(|p| {
                    p.strip_prefix(parent)
                        .ok()
                        .and_then(|r| r.iter().next())
                        .and_then(|c| c.to_str())
                        .is_some_and(|c| workspace_base(c) == base)
                })
                .map(|p| p.to_path_buf())
                .collect()
        }
        TreeKind::Build { .. } => Vec::new(),
    };
    if let Some((pid, held)) = pass.local.holder(abs) {
        return Some(Skip::new(
            abs,
            SkipReason::InUse,
            format!("process {pid} holds {} inside it", escape::path(held)),
        ));
    }
    family.first().map(|held| {
        Skip::new(
            abs,
            SkipReason::InUse,
            format!("a sibling workspace is in use ({})", escape::path(held)),
        )
    })
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
    let job_full = job
        .iter()
        .skip(1)
        .filter(|c| *c != "jobs" && *c != "branches")
        .map(|c| c.to_string_lossy())
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
                kind: TreeKind::Build {
                    job: job_full.clone(),
                    number: n,
                },
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
                kind: TreeKind::Workspace {
                    entry: entry.to_string_lossy().into_owned(),
                },
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
        kind: TreeKind::Workspace {
            entry: String::new(),
        },
        rel: rel.to_path_buf(),
        id: Identity::of(st),
        bytes: info.bytes,
        newest: info.newest_mtime,
        reason: String::new(),
    })
}

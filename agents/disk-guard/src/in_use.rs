//! What is in use right now, from the evidence the guard can see itself:
//! every process's working directory, root and open files (`/proc/PID/cwd`,
//! `root`, `fd/*`), and, from Jenkins, the jobs its executors are running.
//! A tree that any of these lies under is not deleted (`in_use`).

use crate::jenkins_api::RunningBuild;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Paths held by processes other than the guard (its own directory fds
/// point into the roots it is walking).
#[derive(Debug, Default)]
pub struct LocalUse {
    held: Vec<(PathBuf, u32)>,
}

impl LocalUse {
    pub fn scan() -> LocalUse {
        Self::scan_proc(Path::new("/proc"), std::process::id())
    }

    fn scan_proc(proc: &Path, own_pid: u32) -> LocalUse {
        let mut held = Vec::new();
        let Ok(entries) = std::fs::read_dir(proc) else {
            return LocalUse { held };
        };
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if pid == own_pid {
                continue;
            }
            let dir = e.path();
            for link in ["cwd", "root"] {
                if let Ok(p) = std::fs::read_link(dir.join(link)) {
                    if p != Path::new("/") {
                        held.push((p, pid));
                    }
                }
            }
            if let Ok(fds) = std::fs::read_dir(dir.join("fd")) {
                for fd in fds.flatten() {
                    if let Ok(p) = std::fs::read_link(fd.path()) {
                        if p.is_absolute() {
                            held.push((p, pid));
                        }
                    }
                }
            }
        }
        LocalUse { held }
    }

    /// Everything held at or under `dir`.
    pub fn holders_under<'s>(&'s self, dir: &'s Path) -> impl Iterator<Item = &'s Path> + 's {
        self.held
            .iter()
            .filter(move |(p, _)| p.starts_with(dir))
            .map(|(p, _)| p.as_path())
    }

    /// A process holding something at or under `tree`, if any.
    pub fn holder(&self, tree: &Path) -> Option<(u32, &Path)> {
        self.held
            .iter()
            .find(|(p, _)| p.starts_with(tree))
            .map(|(p, pid)| (*pid, p.as_path()))
    }
}

/// Jenkins's `workspace@tmp`, `workspace@2`, `workspace@libs` belong to the
/// workspace they are named after: one in use keeps them all.
pub fn workspace_base(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// Jobs Jenkins is running, in the forms they take on disk.
#[derive(Debug, Default)]
pub struct RunningJobs {
    /// "folder/app/main" and build number, for build records.
    builds: HashSet<(String, u64)>,
    /// Workspace base names that belong to a running job: the top folder
    /// (`workspace/folder/app`), the last segment (agents' flat layout) and
    /// the `_`-joined full name (multibranch's `folder_app_main`).
    workspaces: HashSet<String>,
}

impl RunningJobs {
    pub fn from_builds(running: &[RunningBuild]) -> RunningJobs {
        let mut r = RunningJobs::default();
        for b in running {
            if b.job.is_empty() {
                continue;
            }
            if let Some(n) = b.number {
                r.builds.insert((b.job.join("/"), n));
            }
            r.workspaces.insert(b.job[0].clone());
            r.workspaces.insert(b.job[b.job.len() - 1].clone());
            r.workspaces.insert(b.job.join("_"));
            // A branch name with a slash becomes part of a path or `%2F`.
            r.workspaces.insert(b.job.join("_").replace('/', "%2F"));
        }
        r
    }

    pub fn build_running(&self, job: &str, number: u64) -> bool {
        self.builds.contains(&(job.to_string(), number))
    }

    pub fn workspace_running(&self, entry: &str) -> bool {
        self.workspaces.contains(workspace_base(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_inside_a_tree_is_found_and_the_guard_itself_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let held = std::fs::File::open(dir.path()).unwrap();
        let own = LocalUse::scan_proc(Path::new("/proc"), 0);
        assert!(own.holder(dir.path()).is_some(), "{own:?}");
        let without_self = LocalUse::scan();
        assert!(without_self.holder(dir.path()).is_none());
        drop(held);
    }

    #[test]
    fn siblings_share_the_base_and_every_on_disk_form_is_known() {
        let r = RunningJobs::from_builds(&[RunningBuild {
            job: vec!["folder".into(), "app".into(), "feature/x".into()],
            number: Some(7),
            node: "agent-1".into(),
        }]);
        assert!(r.build_running("folder/app/feature/x", 7));
        assert!(!r.build_running("folder/app/feature/x", 6));
        assert!(r.workspace_running("folder@tmp"));
        assert!(r.workspace_running("folder_app_feature%2Fx@2"));
        assert!(!r.workspace_running("other"));
    }
}

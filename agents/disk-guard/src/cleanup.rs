//! One cleanup pass over one mount point: what every policy shares. Knows
//! when the target is reached, journals before deleting, does nothing but
//! report in dry-run, and explains (logs and counts) every skip.

use crate::escape;
use crate::fs_usage;
use crate::in_use::{LocalUse, RunningJobs};
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use crate::safe_fs::Hooks;
use crate::skip::{Skip, SkipReason};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One deletion, done or (in dry-run) only reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Action {
    /// deleted | would_delete | skipped | failed
    pub outcome: String,
    pub policy: String,
    /// Escaped ([`crate::escape::path`]): one line, whatever bytes the name holds.
    pub path: String,
    pub bytes: u64,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Deleting without a journal row is not allowed: the pass stops.
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Failed(String),
}

/// Removes one selected entry: given the grace cutoff and the test hooks,
/// returns the bytes freed and what was left in place, or why nothing went.
pub type Remove = Box<dyn FnOnce(i64, &dyn Hooks) -> Result<(u64, Vec<Skip>), Skip>>;

/// One entry a policy selected; the pass takes candidates of all its
/// file and Jenkins policies least recently used first.
pub struct Candidate {
    pub policy: String,
    /// Unix seconds of the last use the guard can see (newest mtime in it).
    pub last_used: i64,
    /// Absolute path: for ordering, the in-use re-check and the output.
    pub abs: PathBuf,
    pub bytes: u64,
    pub reason: String,
    /// Trees are checked again for processes inside right before removal.
    pub recheck_in_use: bool,
    /// Set when Jenkins could not be asked: report it, never delete it.
    pub report_only: Option<String>,
    pub remove: Remove,
}

/// What Jenkins says is running, for this pass.
#[derive(Debug, Default)]
pub enum JenkinsView {
    /// No `[jenkins]` configured: local evidence only.
    #[default]
    NotConfigured,
    Running(RunningJobs),
    /// It could not be asked (the error): Jenkins policies only report.
    Unreachable(String),
}

pub struct Pass<'a> {
    pub mountpoint: PathBuf,
    pub mount_dev: u64,
    pub size_bytes: u64,
    pub start_free: u64,
    pub target_bytes: u64,
    pub dry_run: bool,
    /// Unix seconds; files modified after `grace_cutoff` are never deleted.
    pub now: i64,
    pub grace_cutoff: i64,
    pub journal: &'a Journal,
    pub metrics: &'a Metrics,
    pub hooks: &'a dyn Hooks,
    pub cancel: Arc<AtomicBool>,
    pub rt: tokio::runtime::Handle,
    /// Bytes freed (or, in dry-run, that would be freed) so far.
    pub reclaimed: u64,
    pub actions: Vec<Action>,
    pub skips: Vec<(String, Skip)>,
    /// Deletions that failed, per policy (makes its result "partial").
    pub failures: BTreeMap<String, u64>,
    pub jenkins: JenkinsView,
    /// Processes' cwd, root and open files, scanned once per pass.
    pub local: LocalUse,
}

impl Pass<'_> {
    /// Free bytes now: measured, or in dry-run projected from what would go.
    pub fn free_now(&self) -> u64 {
        if self.dry_run {
            return self.start_free.saturating_add(self.reclaimed);
        }
        match fs_usage::usage(&self.mountpoint) {
            Ok(u) => u.free_bytes,
            // Cannot measure: assume the worst and keep going (policies are bounded).
            Err(_) => self.start_free.saturating_add(self.reclaimed),
        }
    }

    pub fn enough(&self) -> bool {
        self.free_now() >= self.target_bytes
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Stop selecting more work?
    pub fn done(&self) -> bool {
        self.cancelled() || self.enough()
    }

    pub fn mountpoint_str(&self) -> String {
        self.mountpoint.display().to_string()
    }

    pub fn skip(&mut self, policy: &str, skip: Skip) {
        self.metrics
            .skipped
            .with_label_values(&[policy, skip.reason.label()])
            .inc();
        match skip.reason {
            SkipReason::Error | SkipReason::Unreadable | SkipReason::OutsideRoot => {
                tracing::warn!(policy, path = %escape::path(&skip.path), reason = skip.reason.label(), "skipped: {}", escape::line(&skip.detail))
            }
            _ => {
                tracing::info!(policy, path = %escape::path(&skip.path), reason = skip.reason.label(), "skipped: {}", escape::line(&skip.detail))
            }
        }
        self.skips.push((policy.to_string(), skip));
    }

    /// Journal, then (unless dry-run) delete through `action`, which returns
    /// the bytes actually freed or why it did not delete.
    pub fn delete(
        &mut self,
        policy: &str,
        path: &str,
        estimate: u64,
        reason: &str,
        action: impl FnOnce() -> Result<u64, Skip>,
    ) -> Result<(), PolicyError> {
        let mount = self.mountpoint_str();
        if self.dry_run {
            self.journal
                .begin(&mount, policy, path, estimate, reason, "would_delete")?;
            tracing::info!(policy, path = %path, bytes = estimate, "would delete: {}", escape::line(reason));
            self.reclaimed += estimate;
            self.actions.push(Action {
                outcome: "would_delete".into(),
                policy: policy.into(),
                path: path.into(),
                bytes: estimate,
                reason: reason.into(),
            });
            return Ok(());
        }
        let id = self
            .journal
            .begin(&mount, policy, path, estimate, reason, "pending")?;
        match action() {
            Ok(freed) => {
                self.journal.finish(id, "deleted", freed)?;
                tracing::info!(policy, path = %path, bytes = freed, "deleted: {}", escape::line(reason));
                self.metrics
                    .reclaimed
                    .with_label_values(&[policy])
                    .inc_by(freed);
                self.reclaimed += freed;
                self.actions.push(Action {
                    outcome: "deleted".into(),
                    policy: policy.into(),
                    path: path.into(),
                    bytes: freed,
                    reason: reason.into(),
                });
            }
            Err(skip) => {
                let failed = skip.reason == SkipReason::Error;
                let outcome = if failed { "failed" } else { "skipped" };
                self.journal.finish(
                    id,
                    &format!("{outcome}: {} ({})", skip.detail, skip.reason.label()),
                    0,
                )?;
                if failed {
                    *self.failures.entry(policy.to_string()).or_default() += 1;
                }
                self.actions.push(Action {
                    outcome: outcome.into(),
                    policy: policy.into(),
                    path: path.into(),
                    bytes: 0,
                    reason: format!("{}: {}", skip.reason.label(), skip.detail),
                });
                self.skip(policy, skip);
            }
        }
        Ok(())
    }

    /// Record partial progress of a tree deletion (entries left in place).
    pub fn note_left(&mut self, policy: &str, left: Vec<Skip>) {
        for s in left {
            if s.reason == SkipReason::Error {
                *self.failures.entry(policy.to_string()).or_default() += 1;
            }
            self.skip(policy, s);
        }
    }

    /// Delete (or report) one candidate, with the checks that must be made
    /// right before: a process that has since entered the tree keeps it.
    pub fn take(&mut self, c: Candidate) -> Result<(), PolicyError> {
        let path = escape::path(&c.abs);
        if let Some(why) = &c.report_only {
            if !self.dry_run {
                let reason = format!("{} (dry-run for this pass: {why})", c.reason);
                self.journal.begin(
                    &self.mountpoint_str(),
                    &c.policy,
                    &path,
                    c.bytes,
                    &reason,
                    "would_delete",
                )?;
                tracing::warn!(policy = %c.policy, path = %path, bytes = c.bytes, "would delete (not deleting: {}): {}", escape::line(why), escape::line(&c.reason));
                // Nothing is freed, so it does not count toward the target.
                self.actions.push(Action {
                    outcome: "would_delete".into(),
                    policy: c.policy.clone(),
                    path,
                    bytes: c.bytes,
                    reason,
                });
                return Ok(());
            }
        }
        if c.recheck_in_use && !self.dry_run {
            if let Some((pid, held)) = LocalUse::scan().holder(&c.abs) {
                let detail = format!("process {pid} now holds {} inside it", escape::path(held));
                self.skip(&c.policy, Skip::new(&c.abs, SkipReason::InUse, detail));
                return Ok(());
            }
        }
        let (grace, hooks) = (self.grace_cutoff, self.hooks);
        let mut left = Vec::new();
        let remove = c.remove;
        self.delete(&c.policy, &path, c.bytes, &c.reason, || {
            let (freed, l) = remove(grace, hooks)?;
            left = l;
            Ok(freed)
        })?;
        self.note_left(&c.policy, left);
        Ok(())
    }
}

//! One check-and-clean pass over every configured mount point: sample,
//! update the trend and gauges, run the mount's policies in order when it is
//! under `act_below` (stopping at `target`), and escalate when it is still
//! under `critical`. The daemon calls [`Guard::pass`] every interval;
//! `--once` calls it once and turns the [`PassReport`] into an exit status.

use crate::cleanup::{Action, JenkinsView, Pass, PolicyError};
use crate::config::{Config, DrainConfig, GrowConfig, JenkinsApiConfig, PolicyConfig};
use crate::drain::{Drainer, MountState, Step};
use crate::escalate::{self, Figures, Outcome};
use crate::escape;
use crate::fs_usage::{self, Usage};
use crate::grow::{GrowError, Grower, Grown};
use crate::in_use::{LocalUse, RunningJobs};
use crate::jenkins_api::JenkinsApi;
use crate::journal::Journal;
use crate::metrics::Metrics;
use crate::policy::{self, Selected};
use crate::safe_fs::{self, Hooks};
use crate::trend::Trend;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// `--once` exit statuses (documented in the README).
pub mod exit {
    /// Every mount point is above its act threshold (nothing needed, or cleanup got it there).
    pub const OK: u8 = 0;
    /// The pass could not run properly (bad config, journal, a mount or policy failed).
    pub const ERROR: u8 = 1;
    /// A mount point is still under its act threshold after cleanup.
    pub const STILL_LOW: u8 = 3;
    /// The escalation command ran (a mount point stayed under critical).
    pub const ESCALATED: u8 = 4;
}

#[derive(Debug, Clone, Serialize)]
pub struct MountReport {
    pub mountpoint: String,
    pub size_bytes: u64,
    pub free_bytes_before: u64,
    /// Measured after cleanup; in dry-run, projected from what would be deleted.
    pub free_bytes_after: u64,
    pub free_ratio_before: f64,
    pub free_ratio_after: f64,
    pub act_below: f64,
    pub target: f64,
    pub critical: f64,
    pub cleaned: bool,
    pub reclaimed_bytes: u64,
    pub actions: Vec<Action>,
    pub skipped: usize,
    pub errors: Vec<String>,
    /// not_needed | not_configured | would_run | cooling_down | ran | failed | error
    pub escalation: String,
    /// What draining did for this mount point: not_needed | drained |
    /// would_drain | already_offline (by someone else) | held | failed
    pub drain: String,
    /// not_needed | grown | would_grow | limited | refused | failed
    pub grow: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PassReport {
    pub dry_run: bool,
    pub mounts: Vec<MountReport>,
    /// End of pass: undrained | would_undrain | failed | "" (nothing to do)
    pub undrain: String,
    /// How long each phase of the pass took, in order: `clean`, `drain`,
    /// `grow` (and its steps as `grow:lookup`, `grow:ModifyVolume`, `grow:optimizing`,
    /// `grow:kernel_size`, `grow:growpart`, `grow:resize2fs` /
    /// `grow:xfs_growfs`), `escalate`, `undrain`.
    pub phases: Vec<Phase>,
}

/// One timed phase of a pass; `mountpoint` is empty for `undrain`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Phase {
    pub mountpoint: String,
    pub name: String,
    pub seconds: f64,
}

fn step_label(s: &Step) -> &'static str {
    match s {
        Step::Nothing => "held",
        Step::Drained => "drained",
        Step::WouldDrain => "would_drain",
        Step::AlreadyOffline => "already_offline",
        Step::Undrained => "undrained",
        Step::WouldUndrain => "would_undrain",
        Step::Failed(_) => "failed",
    }
}

impl PassReport {
    pub fn exit_code(&self) -> u8 {
        let ran = |m: &MountReport| m.escalation == "ran" || m.escalation == "failed";
        if self.mounts.iter().any(ran) {
            exit::ESCALATED
        } else if self.mounts.iter().any(|m| m.free_ratio_after < m.act_below) {
            exit::STILL_LOW
        } else if self.mounts.iter().any(|m| !m.errors.is_empty()) {
            exit::ERROR
        } else {
            exit::OK
        }
    }
}

pub struct Guard {
    pub config: Arc<Config>,
    /// `--dry-run` on the command line wins over the file.
    pub force_dry_run: bool,
    pub journal: Journal,
    pub metrics: Metrics,
    pub hooks: Arc<dyn Hooks>,
    pub cancel: Arc<AtomicBool>,
    pub rt: tokio::runtime::Handle,
    trends: HashMap<PathBuf, Trend>,
    /// Daemon + dry-run: when each mount point's would-delete set was last
    /// reported, so a host sitting under the threshold does not write the
    /// same report to the journal every interval.
    last_dry_report: HashMap<PathBuf, std::time::Instant>,
    /// Set by the daemon; `--once` always reports.
    pub throttle_dry_run_reports: bool,
}

/// How often the daemon repeats a dry-run report for a mount point.
pub const DRY_RUN_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Ask Jenkins what is running, once per pass. Not configured: local
/// evidence only. Any failure (token, network, status, body) means the
/// Jenkins policies must not delete in this pass.
fn ask_jenkins(cfg: Option<&JenkinsApiConfig>, rt: &tokio::runtime::Handle) -> JenkinsView {
    let Some(cfg) = cfg else {
        return JenkinsView::NotConfigured;
    };
    let asked = JenkinsApi::new(cfg).and_then(|api| rt.block_on(api.running_builds()));
    match asked {
        Ok(running) => {
            tracing::debug!(builds = running.len(), "Jenkins is running builds");
            JenkinsView::Running(RunningJobs::from_builds(&running))
        }
        Err(e) => JenkinsView::Unreachable(e.to_string()),
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Guard {
    pub fn new(
        config: Config,
        force_dry_run: bool,
        journal: Journal,
        metrics: Metrics,
        rt: tokio::runtime::Handle,
    ) -> Guard {
        let g = Guard {
            config: Arc::new(config),
            force_dry_run,
            journal,
            metrics,
            hooks: Arc::new(safe_fs::NoHooks),
            cancel: Arc::new(AtomicBool::new(false)),
            rt,
            trends: HashMap::new(),
            last_dry_report: HashMap::new(),
            throttle_dry_run_reports: false,
        };
        g.metrics.dry_run.set(g.dry_run() as i64);
        g
    }

    pub fn dry_run(&self) -> bool {
        self.force_dry_run || self.config.dry_run
    }

    /// Swap in a new configuration (validated already); trends of mount
    /// points that stay are kept.
    pub fn set_config(&mut self, config: Config) {
        let keep: Vec<PathBuf> = config.mounts.iter().map(|m| m.path.clone()).collect();
        for old in &self.config.mounts {
            if !keep.contains(&old.path) {
                self.trends.remove(&old.path);
                self.metrics.forget_mount(&old.path.display().to_string());
            }
        }
        self.config = Arc::new(config);
        self.metrics.dry_run.set(self.dry_run() as i64);
    }

    pub fn pass(&mut self) -> PassReport {
        let cfg = self.config.clone();
        let dry_run = self.dry_run();
        self.metrics.dry_run.set(dry_run as i64);
        if let Err(e) = self
            .journal
            .prune(cfg.journal_retention.get().as_millis() as i64)
        {
            tracing::warn!("cannot prune the journal: {e}");
        }
        let mut report = PassReport {
            dry_run,
            mounts: Vec::new(),
            undrain: String::new(),
            phases: Vec::new(),
        };
        let mut phases = Vec::new();
        for m in &cfg.mounts {
            let mount = m.path.display().to_string();
            let mut t = Instant::now();
            let mut phase = |name: &str, phases: &mut Vec<Phase>| {
                phases.push(Phase {
                    mountpoint: mount.clone(),
                    name: name.to_string(),
                    seconds: t.elapsed().as_secs_f64(),
                });
                t = Instant::now();
            };
            let mut r = self.mount_pass(&cfg, m, dry_run);
            phase("clean", &mut phases);
            if let Some(d) = &cfg.drain {
                let state = self.mount_state(&r, &m.path);
                if let Some(why) = state.needs_drain(d.horizon.get().as_secs_f64()) {
                    let step = self.drainer(&cfg, d, dry_run).drain(&why);
                    if let Step::Failed(e) = &step {
                        r.errors.push(format!("drain: {e}"));
                    }
                    r.drain = step_label(&step).into();
                    phase("drain", &mut phases);
                }
            }
            if let Some(g) = cfg.grow.as_ref().filter(|g| g.enabled) {
                if r.free_ratio_after < r.critical {
                    let steps = self.grow(g, m, &mut r, dry_run);
                    phase("grow", &mut phases);
                    for (name, took) in steps {
                        phases.push(Phase {
                            mountpoint: mount.clone(),
                            name: format!("grow:{name}"),
                            seconds: took.as_secs_f64(),
                        });
                    }
                }
            }
            if r.free_ratio_after < r.critical {
                self.escalate(&cfg, &mut r, dry_run);
                phase("escalate", &mut phases);
            }
            report.mounts.push(r);
        }
        if let Some(d) = &cfg.drain {
            let t = Instant::now();
            let horizon = d.horizon.get().as_secs_f64();
            let all_fine = cfg.mounts.iter().zip(&report.mounts).all(|(m, r)| {
                let state = self.mount_state(r, &m.path);
                r.free_ratio_after >= r.target && state.needs_drain(horizon).is_none()
            });
            let step = self
                .drainer(&cfg, d, dry_run)
                .undrain_if_recovered(all_fine);
            if let Step::Failed(e) = &step {
                if let Some(r) = report.mounts.first_mut() {
                    r.errors.push(format!("undrain: {e}"));
                }
            }
            report.undrain = step_label(&step).into();
            if step != Step::Nothing {
                phases.push(Phase {
                    mountpoint: String::new(),
                    name: "undrain".into(),
                    seconds: t.elapsed().as_secs_f64(),
                });
            }
        }
        for p in &phases {
            tracing::debug!(mountpoint = %p.mountpoint, phase = %p.name, seconds = p.seconds, "pass phase");
        }
        report.phases = phases;
        report
    }

    fn drainer<'s>(&'s self, cfg: &'s Config, d: &'s DrainConfig, dry_run: bool) -> Drainer<'s> {
        Drainer {
            cfg: d,
            config: cfg,
            journal: &self.journal,
            metrics: &self.metrics,
            rt: &self.rt,
            dry_run,
        }
    }

    fn mount_state<'r>(&self, r: &'r MountReport, path: &Path) -> MountState<'r> {
        MountState {
            mountpoint: &r.mountpoint,
            free_ratio: r.free_ratio_after,
            target: r.target,
            critical: r.critical,
            predicted_full_seconds: self
                .trends
                .get(path)
                .and_then(|t| t.seconds_until_full(unix_now())),
        }
    }

    fn sample(&mut self, cfg: &Config, path: &Path, label: &str) -> std::io::Result<Usage> {
        let u = fs_usage::usage(path)?;
        let now = unix_now();
        self.metrics
            .free_bytes
            .with_label_values(&[label])
            .set(u.free_bytes as f64);
        self.metrics
            .free_ratio
            .with_label_values(&[label])
            .set(u.ratio());
        let window = cfg.trend_window.get().as_secs() as f64;
        let trend = self
            .trends
            .entry(path.to_path_buf())
            .or_insert_with(|| Trend::new(window));
        trend.set_window(window);
        trend.push(now, u.free_bytes as f64);
        match trend.seconds_until_full(now) {
            Some(s) => self
                .metrics
                .predicted_full
                .with_label_values(&[label])
                .set(s),
            None => {
                let _ = self.metrics.predicted_full.remove_label_values(&[label]);
            }
        }
        Ok(u)
    }

    fn mount_pass(
        &mut self,
        cfg: &Config,
        m: &crate::config::MountConfig,
        dry_run: bool,
    ) -> MountReport {
        let label = m.path.display().to_string();
        let t = cfg.thresholds_for(m);
        let mut r = MountReport {
            mountpoint: label.clone(),
            size_bytes: 0,
            free_bytes_before: 0,
            free_bytes_after: 0,
            free_ratio_before: 0.0,
            free_ratio_after: 0.0,
            act_below: t.act_below,
            target: t.target,
            critical: t.critical,
            cleaned: false,
            reclaimed_bytes: 0,
            actions: Vec::new(),
            skipped: 0,
            errors: Vec::new(),
            escalation: "not_needed".into(),
            drain: "not_needed".into(),
            grow: "not_needed".into(),
        };
        let before = match self.sample(cfg, &m.path, &label) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(mountpoint = %label, "cannot measure: {e}");
                self.metrics.forget_mount(&label);
                r.errors.push(format!("cannot measure {label}: {e}"));
                // Unknown is neither fine nor low: the error decides the exit status.
                r.free_ratio_before = f64::NAN;
                r.free_ratio_after = f64::NAN;
                return r;
            }
        };
        r.size_bytes = before.size_bytes;
        r.free_bytes_before = before.free_bytes;
        r.free_ratio_before = before.ratio();
        r.free_bytes_after = before.free_bytes;
        r.free_ratio_after = before.ratio();
        if before.ratio() >= t.act_below {
            return r;
        }
        if dry_run && self.throttle_dry_run_reports {
            let now = std::time::Instant::now();
            match self.last_dry_report.get(&m.path) {
                Some(last) if now.duration_since(*last) < DRY_RUN_REPORT_EVERY => {
                    tracing::debug!(mountpoint = %label, "dry-run report repeated at most hourly");
                    return r;
                }
                _ => {
                    self.last_dry_report.insert(m.path.clone(), now);
                }
            }
        }

        tracing::info!(
            mountpoint = %label,
            free_ratio = before.ratio(),
            act_below = t.act_below,
            target = t.target,
            dry_run,
            "under the act threshold: cleaning"
        );
        r.cleaned = true;
        let now = unix_now() as i64;
        let mut pass = Pass {
            mountpoint: m.path.clone(),
            mount_dev: before.dev,
            size_bytes: before.size_bytes,
            start_free: before.free_bytes,
            target_bytes: (t.target * before.size_bytes as f64).ceil() as u64,
            dry_run,
            now,
            grace_cutoff: now - cfg.grace_period.get().as_secs() as i64,
            journal: &self.journal,
            metrics: &self.metrics,
            hooks: self.hooks.as_ref(),
            cancel: self.cancel.clone(),
            rt: self.rt.clone(),
            reclaimed: 0,
            actions: Vec::new(),
            skips: Vec::new(),
            failures: Default::default(),
            jenkins: JenkinsView::NotConfigured,
            local: LocalUse::default(),
        };
        let jenkins_policies = m
            .policies
            .iter()
            .any(|n| matches!(cfg.policies.get(n), Some(PolicyConfig::Jenkins(_))));
        if jenkins_policies {
            pass.jenkins = ask_jenkins(cfg.jenkins.as_ref(), &self.rt);
            if let JenkinsView::Unreachable(why) = &pass.jenkins {
                tracing::warn!(mountpoint = %label, "Jenkins could not be asked what is running ({}): the Jenkins policies only report for this pass", escape::line(why));
                r.errors.push(format!(
                    "Jenkins could not be asked what is running ({why}); Jenkins policies ran as dry-run"
                ));
            }
            pass.local = LocalUse::scan();
        }
        // Docker runs itself, in the configured order; the others hand in
        // candidates, taken least recently used first across all of them.
        let mut results: Vec<(&String, &'static str)> = Vec::new();
        let mut candidates = Vec::new();
        let mut journal_failed = false;
        for name in &m.policies {
            let Some(pcfg) = cfg.policies.get(name) else {
                continue;
            };
            if pass.done() && matches!(pcfg, PolicyConfig::Docker(_)) {
                continue;
            }
            match policy::run(name, pcfg, &mut pass) {
                Ok(Selected::Ran) => results.push((name, "")),
                Ok(Selected::Candidates(c)) => {
                    candidates.extend(c);
                    results.push((name, ""));
                }
                Err(e) => {
                    tracing::error!(policy = %name, mountpoint = %label, "policy failed: {e}");
                    r.errors.push(format!("policy {name}: {e}"));
                    results.push((name, "error"));
                    if matches!(e, PolicyError::Journal(_)) {
                        // No journal, no deletions: stop the whole pass here.
                        journal_failed = true;
                        break;
                    }
                }
            }
        }
        candidates.sort_by(|a, b| (a.last_used, &a.abs).cmp(&(b.last_used, &b.abs)));
        // Two policies over overlapping roots list a path twice.
        let mut seen = std::collections::HashSet::new();
        candidates.retain(|c| seen.insert(c.abs.clone()));
        if !journal_failed {
            for c in candidates {
                if pass.done() {
                    break;
                }
                let policy = c.policy.clone();
                if let Err(e) = pass.take(c) {
                    tracing::error!(policy = %policy, mountpoint = %label, "policy failed: {e}");
                    r.errors.push(format!("policy {policy}: {e}"));
                    if let Some(res) = results.iter_mut().find(|(n, _)| **n == policy) {
                        res.1 = "error";
                    }
                    break;
                }
            }
        }
        for (name, result) in results {
            let result = match result {
                "" if pass.failures.get(name).copied().unwrap_or(0) > 0 => "partial",
                "" => "success",
                other => other,
            };
            self.metrics
                .cleanup_runs
                .with_label_values(&[name, result])
                .inc();
        }
        let after_free = pass.free_now();
        r.reclaimed_bytes = pass.reclaimed;
        r.skipped = pass.skips.len();
        r.actions = std::mem::take(&mut pass.actions);
        drop(pass);
        self.metrics
            .last_action
            .with_label_values(&[&label])
            .set(unix_now());
        if !dry_run {
            // Gauges show the state after cleaning, not the one before.
            let _ = self.sample(cfg, &m.path, &label);
        }
        r.free_bytes_after = after_free;
        r.free_ratio_after = if before.size_bytes == 0 {
            0.0
        } else {
            after_free as f64 / before.size_bytes as f64
        };
        tracing::info!(
            mountpoint = %label,
            free_ratio_before = r.free_ratio_before,
            free_ratio_after = r.free_ratio_after,
            reclaimed_bytes = r.reclaimed_bytes,
            skipped = r.skipped,
            dry_run,
            "cleanup pass done"
        );

        r
    }

    /// Still under critical after cleaning and draining: grow the volume,
    /// then measure again (the new figures decide escalation and undrain).
    fn grow(
        &mut self,
        g: &GrowConfig,
        m: &crate::config::MountConfig,
        r: &mut MountReport,
        dry_run: bool,
    ) -> Vec<(String, std::time::Duration)> {
        let mut steps = Vec::new();
        let grower = Grower {
            cfg: g,
            journal: &self.journal,
            rt: &self.rt,
            dry_run,
        };
        let result = match grower.grow(&m.path) {
            Ok(grown) => {
                match &grown {
                    Grown::Grown {
                        volume,
                        from_gib,
                        to_gib,
                        steps: took,
                    } => {
                        steps = took.clone();
                        tracing::warn!(mountpoint = %r.mountpoint, volume, from_gib, to_gib, "grew the volume and the filesystem")
                    }
                    Grown::Limited(why) => {
                        tracing::warn!(mountpoint = %r.mountpoint, "not growing the volume: {why}")
                    }
                    Grown::WouldGrow(_) => {}
                }
                grown.label()
            }
            Err(e) => {
                tracing::error!(mountpoint = %r.mountpoint, "cannot grow the volume: {}", escape::line(&e.to_string()));
                r.errors.push(format!("grow: {e}"));
                if matches!(e, GrowError::Refused(_) | GrowError::NoVolumeId(_)) {
                    "refused"
                } else {
                    "failed"
                }
            }
        };
        r.grow = result.into();
        self.metrics
            .volume_grows
            .with_label_values(&[&r.mountpoint, result])
            .inc();
        if result == "grown" {
            let label = r.mountpoint.clone();
            if let Ok(u) = self.sample(&self.config.clone(), &m.path, &label) {
                r.size_bytes = u.size_bytes;
                r.free_bytes_after = u.free_bytes;
                r.free_ratio_after = u.ratio();
            }
        }
        steps
    }

    /// Still under critical after cleaning (and draining, and growing): run
    /// the escalation command, within its cooldown.
    fn escalate(&mut self, cfg: &Config, r: &mut MountReport, dry_run: bool) {
        let label = r.mountpoint.clone();
        let after_free = r.free_bytes_after;
        let figures = Figures {
            mountpoint: &label,
            free_bytes: after_free,
            size_bytes: r.size_bytes,
            free_ratio: r.free_ratio_after,
            critical: r.critical,
        };
        r.escalation = match escalate::escalate(
            cfg.escalation.as_ref(),
            &self.journal,
            &figures,
            dry_run,
        ) {
            Ok(Outcome::NotConfigured) => {
                tracing::warn!(mountpoint = %label, "still under critical after cleanup and no escalation command is configured");
                "not_configured".into()
            }
            Ok(Outcome::WouldRun) => {
                tracing::warn!(mountpoint = %label, "dry-run: would run the escalation command");
                "would_run".into()
            }
            Ok(Outcome::CoolingDown { remaining_secs }) => {
                tracing::warn!(mountpoint = %label, remaining_secs, "still under critical; escalation cooling down");
                "cooling_down".into()
            }
            Ok(Outcome::Ran { success, detail }) => {
                self.metrics.escalations.inc();
                if success {
                    tracing::warn!(mountpoint = %label, "escalation command ran: {detail}");
                    "ran".into()
                } else {
                    tracing::error!(mountpoint = %label, "escalation command failed: {detail}");
                    r.errors.push(format!("escalation failed: {detail}"));
                    "failed".into()
                }
            }
            Err(e) => {
                tracing::error!(mountpoint = %label, "cannot escalate: {e}");
                r.errors.push(format!("escalation: {e}"));
                "error".into()
            }
        };
    }
}

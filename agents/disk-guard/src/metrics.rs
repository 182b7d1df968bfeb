//! The guard's metrics (names fixed in DESIGN.md; alert rules and dashboards
//! use them). One instance registered in the process registry.

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

#[derive(Clone)]
pub struct Metrics {
    pub free_bytes: GaugeVec,
    pub free_ratio: GaugeVec,
    pub predicted_full: GaugeVec,
    pub cleanup_runs: IntCounterVec,
    pub reclaimed: IntCounterVec,
    pub escalations: IntCounter,
    pub dry_run: IntGauge,
    pub last_action: GaugeVec,
    pub skipped: IntCounterVec,
    pub config_reload_ok: IntGauge,
    pub config_reload_time: Gauge,
    pub agent_drained: IntGaugeVec,
    pub volume_grows: IntCounterVec,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let m = Metrics {
            free_bytes: GaugeVec::new(
                Opts::new(
                    "srp_disk_free_bytes",
                    "Bytes available to unprivileged users on the mount point's filesystem.",
                ),
                &["mountpoint"],
            )?,
            free_ratio: GaugeVec::new(
                Opts::new(
                    "srp_disk_free_ratio",
                    "Available bytes divided by filesystem size (0..1).",
                ),
                &["mountpoint"],
            )?,
            predicted_full: GaugeVec::new(
                Opts::new(
                    "srp_disk_predicted_full_seconds",
                    "Seconds until the filesystem is full by a linear fit over the trend window; absent when free space is not decreasing.",
                ),
                &["mountpoint"],
            )?,
            cleanup_runs: IntCounterVec::new(
                Opts::new(
                    "srp_disk_cleanup_runs_total",
                    "Cleanup policy runs by outcome (success, partial: some deletions failed, error: the policy could not run).",
                ),
                &["policy", "result"],
            )?,
            reclaimed: IntCounterVec::new(
                Opts::new(
                    "srp_disk_reclaimed_bytes_total",
                    "Bytes freed by deletions (allocated blocks of last links; nothing in dry-run).",
                ),
                &["policy"],
            )?,
            escalations: IntCounter::new(
                "srp_disk_escalations_total",
                "Escalation commands run because cleanup could not get above the critical threshold.",
            )?,
            dry_run: IntGauge::new(
                "srp_disk_dry_run",
                "1 when the guard only reports what it would delete.",
            )?,
            last_action: GaugeVec::new(
                Opts::new(
                    "srp_disk_last_action_timestamp_seconds",
                    "Unix time of the last cleanup pass on the mount point (real or dry-run).",
                ),
                &["mountpoint"],
            )?,
            skipped: IntCounterVec::new(
                Opts::new(
                    "srp_disk_skipped_total",
                    "Entries a policy selected or met but did not delete, by reason.",
                ),
                &["policy", "reason"],
            )?,
            config_reload_ok: IntGauge::new(
                "srp_disk_config_last_reload_successful",
                "1 when the last configuration (re)load succeeded; 0 while an invalid file is being ignored.",
            )?,
            config_reload_time: Gauge::new(
                "srp_disk_config_last_reload_success_timestamp_seconds",
                "Unix time of the last successful configuration load.",
            )?,
            agent_drained: IntGaugeVec::new(
                Opts::new(
                    "srp_disk_agent_drained",
                    "1 while the guard holds the Jenkins agent offline because its disk is (nearly) full.",
                ),
                &["agent"],
            )?,
            volume_grows: IntCounterVec::new(
                Opts::new(
                    "srp_disk_volume_grows_total",
                    "EBS volume grows by result (grown, failed, refused, limited, would_grow).",
                ),
                &["mountpoint", "result"],
            )?,
        };
        registry.register(Box::new(m.free_bytes.clone()))?;
        registry.register(Box::new(m.free_ratio.clone()))?;
        registry.register(Box::new(m.predicted_full.clone()))?;
        registry.register(Box::new(m.cleanup_runs.clone()))?;
        registry.register(Box::new(m.reclaimed.clone()))?;
        registry.register(Box::new(m.escalations.clone()))?;
        registry.register(Box::new(m.dry_run.clone()))?;
        registry.register(Box::new(m.last_action.clone()))?;
        registry.register(Box::new(m.skipped.clone()))?;
        registry.register(Box::new(m.config_reload_ok.clone()))?;
        registry.register(Box::new(m.config_reload_time.clone()))?;
        registry.register(Box::new(m.agent_drained.clone()))?;
        registry.register(Box::new(m.volume_grows.clone()))?;
        Ok(m)
    }

    /// Forget series of mount points that left the configuration.
    pub fn forget_mount(&self, mountpoint: &str) {
        let _ = self.free_bytes.remove_label_values(&[mountpoint]);
        let _ = self.free_ratio.remove_label_values(&[mountpoint]);
        let _ = self.predicted_full.remove_label_values(&[mountpoint]);
        let _ = self.last_action.remove_label_values(&[mountpoint]);
    }
}

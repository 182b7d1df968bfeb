//! DORA's four keys as Prometheus metrics, computed from the ledger (not
//! counted in memory), so they survive restarts and agree across instances.
//! The snapshot is recomputed after every deployment or incident write and
//! every [`REFRESH_INTERVAL`] (for writes that other instances took).

pub mod compute;

use crate::store::{LedgerStore, Store};
use compute::{compute, Snapshot};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// Lead time: from minutes to a month.
const LEAD_TIME_BUCKETS: &[f64] = &[
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 172800.0, 604800.0,
    2592000.0,
];
/// Time to restore: from a minute to a week.
const RESTORE_BUCKETS: &[f64] = &[
    60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 604800.0,
];

struct Families {
    deployments: IntCounterVec,
    change_failures: IntCounterVec,
    lead_time: HistogramVec,
    restore: HistogramVec,
}

impl Families {
    fn new() -> prometheus::Result<Families> {
        Ok(Families {
            deployments: IntCounterVec::new(
                Opts::new(
                    "srp_dora_deployments_total",
                    "Deployments recorded in the ledger, by project, environment and result.",
                ),
                &["project", "environment", "result"],
            )?,
            change_failures: IntCounterVec::new(
                Opts::new(
                    "srp_dora_change_failures_total",
                    "Deployments that failed, failed their smoke test, were rolled back, or were followed by an incident within the window.",
                ),
                &["project", "environment"],
            )?,
            lead_time: HistogramVec::new(
                HistogramOpts::new(
                    "srp_dora_lead_time_seconds",
                    "Commit time to the first successful deployment of that build, per environment.",
                )
                .buckets(LEAD_TIME_BUCKETS.to_vec()),
                &["project", "environment"],
            )?,
            restore: HistogramVec::new(
                HistogramOpts::new(
                    "srp_dora_time_to_restore_seconds",
                    "Incident open to close (from the alerts the relay forwards).",
                )
                .buckets(RESTORE_BUCKETS.to_vec()),
                &["project", "environment"],
            )?,
        })
    }

    fn from(snapshot: &Snapshot) -> prometheus::Result<Families> {
        let f = Families::new()?;
        for ((project, env, result), n) in &snapshot.deployments {
            f.deployments
                .with_label_values(&[project.as_str(), env.as_str(), result])
                .inc_by(*n);
        }
        for ((project, env), n) in &snapshot.change_failures {
            f.change_failures
                .with_label_values(&[project.as_str(), env.as_str()])
                .inc_by(*n);
        }
        for ((project, env), values) in &snapshot.lead_times {
            let h = f
                .lead_time
                .with_label_values(&[project.as_str(), env.as_str()]);
            values.iter().for_each(|v| h.observe(*v));
        }
        for ((project, env), values) in &snapshot.restore_times {
            let h = f
                .restore
                .with_label_values(&[project.as_str(), env.as_str()]);
            values.iter().for_each(|v| h.observe(*v));
        }
        Ok(f)
    }
}

pub struct Dora {
    families: RwLock<Families>,
    descs: Vec<Desc>,
    window: chrono::Duration,
}

impl Dora {
    /// `window`: how long after a deployment an incident counts against it.
    pub fn new(window: Duration) -> prometheus::Result<Arc<Dora>> {
        let families = Families::new()?;
        let descs = [
            families.deployments.desc(),
            families.change_failures.desc(),
            families.lead_time.desc(),
            families.restore.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(Arc::new(Dora {
            families: RwLock::new(families),
            descs,
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1)),
        }))
    }

    /// Recompute from the ledger. A failure keeps the last snapshot (and is
    /// logged): the metrics lag, the write that triggered it still stands.
    pub async fn refresh(&self, store: &Store) {
        let facts = match store.facts().await {
            Ok(facts) => facts,
            Err(e) => {
                tracing::warn!(error = %e, "cannot refresh the DORA metrics");
                return;
            }
        };
        match Families::from(&compute(&facts, self.window)) {
            Ok(f) => *self.families.write().unwrap_or_else(|p| p.into_inner()) = f,
            Err(e) => tracing::warn!(error = %e, "cannot build the DORA metrics"),
        }
    }
}

/// The registry's view of [`Dora`].
pub struct DoraCollector(pub Arc<Dora>);

impl Collector for DoraCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.0.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let f = self.0.families.read().unwrap_or_else(|p| p.into_inner());
        let mut out = f.deployments.collect();
        out.extend(f.change_failures.collect());
        out.extend(f.lead_time.collect());
        out.extend(f.restore.collect());
        out
    }
}

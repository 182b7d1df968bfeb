//! Drain before full: when a mount point is predicted to fill within the
//! horizon, or is still under `critical` after cleaning, the guard takes
//! this host's Jenkins agent temporarily offline (`toggleOffline` with a
//! message) so no new build starts on a disk about to fill, tells the Slack
//! relay, and brings the agent back once every mount point is above its
//! target. Only an agent the guard itself took offline is brought back:
//! one an operator took offline is left alone.

use crate::config::{Config, DrainConfig};
use crate::escape;
use crate::jenkins_api::{JenkinsApi, JenkinsError};
use crate::journal::{Journal, JournalError};
use crate::metrics::Metrics;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Jenkins(#[from] JenkinsError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// One mount point's state after cleaning, as far as draining cares.
pub struct MountState<'a> {
    pub mountpoint: &'a str,
    pub free_ratio: f64,
    pub target: f64,
    pub critical: f64,
    pub predicted_full_seconds: Option<f64>,
}

impl MountState<'_> {
    /// Why this mount point needs the agent drained, if it does.
    pub fn needs_drain(&self, horizon_secs: f64) -> Option<String> {
        let pct = |r: f64| format!("{:.1} %", r * 100.0);
        if self.free_ratio < self.critical {
            return Some(format!(
                "{} is at {} free after cleaning (critical {})",
                self.mountpoint,
                pct(self.free_ratio),
                pct(self.critical)
            ));
        }
        match self.predicted_full_seconds {
            Some(s) if s < horizon_secs => Some(format!(
                "{} is predicted full in {} (horizon {})",
                self.mountpoint,
                crate::policy::files::humanize(s as u64),
                crate::policy::files::humanize(horizon_secs as u64)
            )),
            _ => None,
        }
    }
}

/// What a drain step did, for the pass report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Nothing,
    Drained,
    WouldDrain,
    AlreadyOffline,
    Undrained,
    WouldUndrain,
    Failed(String),
}

pub struct Drainer<'a> {
    pub cfg: &'a DrainConfig,
    pub config: &'a Config,
    pub journal: &'a Journal,
    pub metrics: &'a Metrics,
    pub rt: &'a tokio::runtime::Handle,
    pub dry_run: bool,
}

impl Drainer<'_> {
    fn api(&self) -> Result<JenkinsApi, JenkinsError> {
        // Validation guarantees [jenkins] when [drain] is set.
        let j = self.config.jenkins.as_ref().expect("drain needs [jenkins]");
        JenkinsApi::new(j)
    }

    fn node(&self) -> &str {
        &self.cfg.node
    }

    pub fn held(&self) -> Result<bool, JournalError> {
        self.journal.drain_held(self.node())
    }

    /// Drain now if `why` is set and the guard does not hold the agent yet.
    pub fn drain(&self, why: &str) -> Step {
        let node = self.node();
        match self.held() {
            Ok(true) => {
                self.metrics.agent_drained.with_label_values(&[node]).set(1);
                return Step::Nothing;
            }
            Ok(false) => {}
            Err(e) => return Step::Failed(e.to_string()),
        }
        let message = format!("srp-disk-guard: {why}; offline until back above target");
        if self.dry_run {
            tracing::warn!(agent = %escape::line(node), "dry-run: would take the Jenkins agent offline: {}", escape::line(&message));
            return Step::WouldDrain;
        }
        let step = self.rt.block_on(async {
            let api = self.api()?;
            if api.is_offline(node).await? {
                // Someone else's: not ours to bring back.
                return Ok::<_, DrainError>(Step::AlreadyOffline);
            }
            api.toggle_offline(node, &message).await?;
            Ok(Step::Drained)
        });
        match step {
            Ok(Step::Drained) => {
                let id = self.journal.record_drain(node, "drain", "done", &message);
                self.metrics.agent_drained.with_label_values(&[node]).set(1);
                tracing::warn!(agent = %escape::line(node), "took the Jenkins agent offline: {}", escape::line(&message));
                self.notify(id.unwrap_or(0), "UNSTABLE", "drained", &message);
                Step::Drained
            }
            Ok(other) => other,
            Err(e) => {
                let _ = self
                    .journal
                    .record_drain(node, "drain", &format!("failed: {e}"), &message);
                tracing::error!(agent = %escape::line(node), "cannot take the Jenkins agent offline: {}", escape::line(&e.to_string()));
                Step::Failed(e.to_string())
            }
        }
    }

    /// Bring the agent back if the guard holds it and every mount point is fine.
    pub fn undrain_if_recovered(&self, all_fine: bool) -> Step {
        let node = self.node();
        match self.held() {
            Ok(true) if all_fine => {}
            Ok(true) => {
                self.metrics.agent_drained.with_label_values(&[node]).set(1);
                return Step::Nothing;
            }
            Ok(false) => {
                self.metrics.agent_drained.with_label_values(&[node]).set(0);
                return Step::Nothing;
            }
            Err(e) => return Step::Failed(e.to_string()),
        }
        if self.dry_run {
            return Step::WouldUndrain;
        }
        let message = "srp-disk-guard: every mount point is back above its target".to_string();
        let step = self.rt.block_on(async {
            let api = self.api()?;
            if !api.is_offline(node).await? {
                return Ok::<_, DrainError>("already_online");
            }
            api.toggle_offline(node, "").await?;
            Ok("done")
        });
        match step {
            Ok(outcome) => {
                let id = self
                    .journal
                    .record_drain(node, "undrain", outcome, &message);
                self.metrics.agent_drained.with_label_values(&[node]).set(0);
                tracing::info!(agent = %escape::line(node), "brought the Jenkins agent back online ({outcome})");
                self.notify(id.unwrap_or(0), "SUCCESS", "undrained", &message);
                Step::Undrained
            }
            Err(e) => {
                let _ =
                    self.journal
                        .record_drain(node, "undrain", &format!("failed: {e}"), &message);
                self.metrics.agent_drained.with_label_values(&[node]).set(1);
                Step::Failed(e.to_string())
            }
        }
    }

    /// Tell srp-slack-relay (its Jenkins payload: job, build, result).
    /// A relay that is down does not undo or block the drain; it is logged.
    fn notify(&self, row: i64, result: &str, stage: &str, message: &str) {
        let (Some(url), Some(token_file)) = (&self.cfg.relay_url, &self.cfg.relay_token_file)
        else {
            return;
        };
        let body = json!({
            "job": format!("srp-disk-guard/{}", self.node()),
            "build": row.max(0),
            "result": result,
            "stage": stage,
            "message": message,
        });
        let url = format!("{}/jenkins", url.trim_end_matches('/'));
        let sent = self.rt.block_on(async {
            let token = tokio::fs::read_to_string(token_file)
                .await
                .map_err(|e| format!("cannot read {}: {e}", token_file.display()))?;
            let resp = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .map_err(|e| e.to_string())?
                .post(&url)
                .bearer_auth(token.trim())
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("answered {}", resp.status()))
            }
        });
        if let Err(e) = sent {
            tracing::warn!("cannot tell the Slack relay at {url}: {}", escape::line(&e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(free_ratio: f64, predicted: Option<f64>) -> MountState<'static> {
        MountState {
            mountpoint: "/",
            free_ratio,
            target: 0.30,
            critical: 0.10,
            predicted_full_seconds: predicted,
        }
    }

    #[test]
    fn drains_under_critical_or_when_predicted_full_within_the_horizon() {
        let two_hours = 7200.0;
        assert!(state(0.05, None)
            .needs_drain(two_hours)
            .unwrap()
            .contains("critical"));
        let soon = state(0.50, Some(3600.0)).needs_drain(two_hours).unwrap();
        assert!(soon.contains("predicted full in 1h"), "{soon}");
        assert!(state(0.50, Some(3.0 * 3600.0))
            .needs_drain(two_hours)
            .is_none());
        assert!(state(0.15, None).needs_drain(two_hours).is_none());
    }
}

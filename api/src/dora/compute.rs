//! DORA's four keys from the ledger's facts, as a pure function (so the
//! rules are tested without a database).
//!
//! - deployment frequency: deployments per project, environment and result;
//! - lead time for changes: commit time to the first successful deployment
//!   of that build to that environment (rollbacks are not changes);
//! - change failures: deployments that failed, whose smoke test failed, that
//!   the next deployment to the environment rolled back, or that were
//!   followed by an incident in the environment within the window (and
//!   before the next deployment);
//! - time to restore: incident open to close.

use crate::store::{DeployResult, Facts, Smoke};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// (project, environment)
pub type Key = (String, String);

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    /// (project, environment, result) -> deployments; both results appear
    /// (0 when none) for every place deployed to, so rates start at zero.
    pub deployments: BTreeMap<(String, String, &'static str), u64>,
    pub change_failures: BTreeMap<Key, u64>,
    pub lead_times: BTreeMap<Key, Vec<f64>>,
    pub restore_times: BTreeMap<Key, Vec<f64>>,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0)
}

pub fn compute(facts: &Facts, window: Duration) -> Snapshot {
    let mut out = Snapshot::default();
    let mut by_place: BTreeMap<Key, Vec<_>> = BTreeMap::new();
    for d in &facts.deployments {
        by_place
            .entry((d.project.clone(), d.environment.clone()))
            .or_default()
            .push(d);
    }
    let mut incidents: BTreeMap<Key, Vec<DateTime<Utc>>> = BTreeMap::new();
    for i in &facts.incidents {
        let key = (i.project.clone(), i.environment.clone());
        incidents.entry(key.clone()).or_default().push(i.opened_at);
        if let Some(closed) = i.closed_at {
            out.restore_times
                .entry(key)
                .or_default()
                .push(seconds(i.opened_at, closed));
        }
    }
    for (key, mut deployments) in by_place {
        deployments.sort_by_key(|d| d.finished_at);
        let (project, env) = key.clone();
        for result in DeployResult::ALL {
            out.deployments
                .insert((project.clone(), env.clone(), result), 0);
        }
        let failures = out.change_failures.entry(key.clone()).or_default();
        let opened = incidents.get(&key).map(Vec::as_slice).unwrap_or_default();
        let mut led: BTreeSet<i64> = BTreeSet::new();
        for (i, d) in deployments.iter().enumerate() {
            *out.deployments
                .get_mut(&(project.clone(), env.clone(), d.result.as_str()))
                .expect("inserted above") += 1;
            let next = deployments.get(i + 1);
            let until = match next {
                Some(n) => n.finished_at.min(d.finished_at + window),
                None => d.finished_at + window,
            };
            let incident_after = opened.iter().any(|t| *t >= d.finished_at && *t < until);
            let failed = d.result == DeployResult::Failed
                || d.smoke == Smoke::Failed
                || next.is_some_and(|n| n.rollback)
                || incident_after;
            if failed {
                *failures += 1;
            }
            let healthy = d.result == DeployResult::Succeeded && d.smoke != Smoke::Failed;
            if healthy && !d.rollback && led.insert(d.build) {
                out.lead_times
                    .entry(key.clone())
                    .or_default()
                    .push(seconds(d.commit_time, d.finished_at));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ledger::{DeploymentFact, IncidentFact};

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + Duration::minutes(minutes)
    }

    fn deploy(
        build: i64,
        at: i64,
        result: DeployResult,
        smoke: Smoke,
        rollback: bool,
    ) -> DeploymentFact {
        DeploymentFact {
            project: "api".into(),
            environment: "production".into(),
            build,
            commit_time: t(at - 30),
            finished_at: t(at),
            result,
            smoke,
            rollback,
        }
    }

    fn key() -> Key {
        ("api".into(), "production".into())
    }

    #[test]
    fn the_four_keys() {
        use DeployResult::*;
        let facts = Facts {
            deployments: vec![
                deploy(1, 0, Succeeded, Smoke::Passed, false),
                // Followed by an incident 10 minutes later: a change failure.
                deploy(2, 100, Succeeded, Smoke::Passed, false),
                // Smoke test failed: a failure, and no lead time.
                deploy(3, 200, Succeeded, Smoke::Failed, false),
                // Rolled back by the next one: a failure.
                deploy(4, 300, Succeeded, Smoke::Passed, false),
                deploy(2, 310, Succeeded, Smoke::Passed, true),
                deploy(5, 400, Failed, Smoke::Skipped, false),
            ],
            incidents: vec![
                IncidentFact {
                    project: "api".into(),
                    environment: "production".into(),
                    opened_at: t(110),
                    closed_at: Some(t(125)),
                },
                IncidentFact {
                    project: "api".into(),
                    environment: "production".into(),
                    opened_at: t(500),
                    closed_at: None,
                },
            ],
        };
        let s = compute(&facts, Duration::hours(1));
        let place = |r| ("api".to_string(), "production".to_string(), r);
        assert_eq!(s.deployments[&place("succeeded")], 5);
        assert_eq!(s.deployments[&place("failed")], 1);
        // 2 (incident), 3 (smoke), 4 (rolled back) and 5 (failed); the
        // rollback redeploy at 310 is followed by neither.
        assert_eq!(s.change_failures[&key()], 4);
        // Builds 1, 2 and 4 reached production healthy, 30 minutes after
        // their commits; build 2's rollback redeploy is not a change.
        assert_eq!(s.lead_times[&key()], vec![1800.0, 1800.0, 1800.0]);
        assert_eq!(s.restore_times[&key()], vec![900.0]);
    }

    #[test]
    fn an_incident_outside_the_window_is_not_a_change_failure() {
        let facts = Facts {
            deployments: vec![deploy(1, 0, DeployResult::Succeeded, Smoke::Passed, false)],
            incidents: vec![IncidentFact {
                project: "api".into(),
                environment: "production".into(),
                opened_at: t(61),
                closed_at: Some(t(70)),
            }],
        };
        let s = compute(&facts, Duration::hours(1));
        assert_eq!(s.change_failures[&key()], 0);
        let s = compute(&facts, Duration::hours(2));
        assert_eq!(s.change_failures[&key()], 1);
    }
}

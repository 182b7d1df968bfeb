//! The delivery loop: takes the oldest pending message of each route, paces
//! each Slack destination to one message per interval, and turns every
//! attempt's outcome into durable outbox state (delivered, retry at T, dead).
//!
//! It runs as a background task of the daemon's `Shutdown`; on a stop it
//! takes no new message, lets the attempts on the wire finish and records
//! their outcome for up to [`IN_FLIGHT_GRACE`], and abandons the rest: an
//! abandoned attempt's row is still pending, so it is sent again after the
//! restart (at least once, never lost).

use crate::deliver::{Attempt, Sender};
use crate::incidents::{self, Api};
use crate::metrics::Metrics;
use crate::routes::{Destination, Routes};
use crate::store::{now, Kind, Outbox, OutboxRow};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::{Id, JoinError, JoinSet};

#[derive(Debug, Clone)]
pub struct Policy {
    /// Minimum gap between two messages to one Slack destination.
    pub interval: Duration,
    /// Failed attempts (429s excluded) before a message is dead-lettered.
    pub max_attempts: u32,
    /// Age after which an undelivered message is dead-lettered.
    pub max_age: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub keep_delivered: Duration,
    pub dedupe_window: Duration,
}

/// Exponential backoff with jitter: base·2^(n-1), capped, times 0.5–1.5 so
/// that many relays (or many messages) do not retry in lockstep.
pub fn backoff(policy: &Policy, attempts: u32) -> Duration {
    let exp =
        policy.retry_base.as_secs_f64() * 2f64.powi(attempts.saturating_sub(1).min(30) as i32);
    let capped = exp.min(policy.retry_max.as_secs_f64());
    Duration::from_secs_f64(capped * (0.5 + fastrand::f64()))
}

type Done = (OutboxRow, Destination, Attempt);

/// What the dispatcher does with a head of the outbox this turn.
enum Hold {
    Go,
    /// Too old: dead-lettered, nothing more to do.
    Expired,
    /// Not now: released (on the shared outbox) and looked at again after
    /// this long at most.
    Wait(Duration),
}

/// How long a stop waits for attempts already on the wire: inside srp-daemon's
/// drain bound (`DEFAULT_DRAIN_TIMEOUT`, 8 s), leaving time to record their
/// outcomes before the supervisor's stop timeout.
pub const IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);

/// How often a relay without --api-url looks at a queued incident call again.
const NO_API_RECHECK: Duration = Duration::from_secs(30);

pub struct Dispatcher {
    pub outbox: Outbox,
    pub routes: Arc<Routes>,
    pub sender: Arc<Sender>,
    /// srp-api, for incident calls (`--api-url`); `None` leaves them queued
    /// (they expire after --max-age into the dead letters).
    pub api: Option<Arc<Api>>,
    pub metrics: Metrics,
    pub policy: Policy,
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    /// Deliver until `shutdown` fires; spawn it with `shutdown.spawn`.
    pub async fn run(self, shutdown: srp_daemon::Shutdown) {
        let this = Arc::new(self);
        // Attempts belong to this task: dropping the set at the end aborts
        // whatever is still on the wire after the grace period.
        let mut attempts: JoinSet<Done> = JoinSet::new();
        // Which route each attempt on the wire is for: one at a time per route.
        let mut in_flight: HashMap<Id, String> = HashMap::new();
        let mut next_allowed: HashMap<String, Instant> = HashMap::new();
        let mut last_stats = Instant::now() - Duration::from_secs(10);
        let mut last_prune = Instant::now();
        loop {
            if shutdown.is_triggered() {
                break;
            }
            let mut wake_in = this.outbox.poll_interval();
            match this.outbox.heads().await {
                Ok(heads) => {
                    for row in heads {
                        if in_flight.values().any(|r| *r == row.route) {
                            continue;
                        }
                        match this.hold_back(&row, &mut next_allowed).await {
                            Hold::Go => {}
                            Hold::Expired => continue,
                            Hold::Wait(wait) => {
                                wake_in = wake_in.min(wait);
                                if let Err(e) = this.outbox.release(row.id).await {
                                    tracing::warn!("cannot release message {}: {e}", row.id);
                                }
                                continue;
                            }
                        }
                        let dest = this.routes.destination(&row.route).clone();
                        let route = row.route.clone();
                        let me = this.clone();
                        let handle = attempts.spawn(async move {
                            let attempt = me.attempt(&row, &dest).await;
                            (row, dest, attempt)
                        });
                        in_flight.insert(handle.id(), route);
                    }
                }
                Err(e) => tracing::error!("cannot read the outbox: {e}"),
            }
            if last_stats.elapsed() >= Duration::from_millis(200) {
                last_stats = Instant::now();
                this.update_gauges().await;
                if let Err(e) = this.outbox.checkpoint().await {
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            }
            if last_prune.elapsed() >= Duration::from_secs(600) {
                last_prune = Instant::now();
                if let Err(e) = this
                    .outbox
                    .prune(this.policy.keep_delivered, this.policy.dedupe_window)
                    .await
                {
                    tracing::warn!("cannot prune the outbox: {e}");
                }
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                Some(done) = attempts.join_next_with_id() => {
                    this.finish(done, &mut in_flight, &mut next_allowed).await;
                    // Settle whatever else finished meanwhile before re-reading.
                    while let Some(more) = attempts.try_join_next_with_id() {
                        this.finish(more, &mut in_flight, &mut next_allowed).await;
                    }
                }
                _ = tokio::time::sleep(wake_in) => {}
                _ = shutdown.wait() => {}
            }
        }
        // Let attempts already on the wire finish, so their outcome is
        // recorded and they are not sent again after the restart.
        let deadline = tokio::time::Instant::now() + IN_FLIGHT_GRACE;
        while !attempts.is_empty() {
            match tokio::time::timeout_at(deadline, attempts.join_next_with_id()).await {
                Ok(Some(done)) => this.finish(done, &mut in_flight, &mut next_allowed).await,
                _ => break,
            }
        }
        if !attempts.is_empty() {
            tracing::warn!(
                "{} deliveries still on the wire after {IN_FLIGHT_GRACE:?}; they stay pending and are sent after the restart",
                attempts.len()
            );
        }
        this.update_gauges().await;
    }

    /// Whether `row` goes out now: not when too old (dead-lettered here),
    /// not due yet, or its destination's slot is taken (in this process, or
    /// by any relay on the shared outbox).
    async fn hold_back(
        &self,
        row: &OutboxRow,
        next_allowed: &mut HashMap<String, Instant>,
    ) -> Hold {
        let t = now();
        if t - row.queued_at > self.policy.max_age.as_secs_f64() {
            self.fail_metric(row.kind, "expired");
            let err = format!("not delivered within {:?} (max age)", self.policy.max_age);
            if let Err(e) = self.outbox.dead(row.id, err).await {
                tracing::error!("cannot dead-letter message {}: {e}", row.id);
            }
            return Hold::Expired;
        }
        if row.next_attempt_at > t {
            return Hold::Wait(Duration::from_secs_f64(row.next_attempt_at - t));
        }
        if row.kind.is_incident() {
            // Not a Slack message: no Slack pacing. A relay without
            // --api-url leaves it to one that has it (or to --max-age).
            return match self.api {
                Some(_) => Hold::Go,
                None => Hold::Wait(NO_API_RECHECK),
            };
        }
        let Some(key) = self.routes.destination(&row.route).rate_key() else {
            return Hold::Go;
        };
        let n = Instant::now();
        if let Some(at) = next_allowed.get(&key) {
            if *at > n {
                return Hold::Wait(*at - n);
            }
        }
        match self.outbox.take_slot(&key, self.policy.interval).await {
            Ok(None) => {
                next_allowed.insert(key, n + self.policy.interval);
                Hold::Go
            }
            Ok(Some(wait)) => {
                next_allowed.insert(key, n + wait);
                Hold::Wait(wait)
            }
            Err(e) => {
                tracing::warn!("cannot take a send slot for {key}: {e}");
                Hold::Wait(self.outbox.poll_interval())
            }
        }
    }

    /// Record one finished attempt (a panicked one stays pending).
    async fn finish(
        &self,
        joined: Result<(Id, Done), JoinError>,
        in_flight: &mut HashMap<Id, String>,
        next_allowed: &mut HashMap<String, Instant>,
    ) {
        match joined {
            Ok((id, done)) => {
                in_flight.remove(&id);
                self.settle(done, next_allowed).await;
            }
            Err(e) => {
                let route = in_flight.remove(&e.id());
                tracing::error!(?route, "a delivery attempt failed: {e}");
            }
        }
    }

    /// Count a failed attempt: Slack's counter, or the incident calls' own.
    fn fail_metric(&self, kind: Kind, reason: &str) {
        if kind.is_incident() {
            self.metrics
                .incident_failures
                .with_label_values(&[reason])
                .inc();
        } else {
            self.metrics.failed.with_label_values(&[reason]).inc();
        }
    }

    async fn attempt(&self, row: &OutboxRow, dest: &Destination) -> Attempt {
        let message: serde_json::Value = match serde_json::from_str(&row.message) {
            Ok(v) => v,
            Err(e) => {
                return Attempt::Reject {
                    reason: "rejected",
                    detail: format!("stored message is not JSON: {e}"),
                }
            }
        };
        if row.kind.is_incident() {
            return match &self.api {
                Some(api) => api.forward(row.kind, &message).await,
                None => Attempt::Retry {
                    reason: "network",
                    detail: "this relay has no --api-url".into(),
                },
            };
        }
        let anchor = if dest.threads() && row.kind != Kind::Post {
            match self
                .outbox
                .message_ref(dest.ref_key(), row.group_key.clone())
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    return Attempt::Retry {
                        reason: "network",
                        detail: format!("cannot read message reference: {e}"),
                    }
                }
            }
        } else {
            None
        };
        self.sender
            .send(dest, row.kind, &row.route, &row.title, &message, anchor)
            .await
    }

    async fn settle(
        &self,
        (row, dest, attempt): Done,
        next_allowed: &mut HashMap<String, Instant>,
    ) {
        let m = &self.metrics;
        let t = now();
        let r = match attempt {
            Attempt::Sent(_) if row.kind.is_incident() => {
                tracing::debug!(id = row.id, "forwarded {}", row.title);
                let r = self.outbox.delivered(row.id, None).await;
                if r.is_ok() {
                    m.incidents_forwarded
                        .with_label_values(&[incidents::action(row.kind)])
                        .inc();
                }
                r
            }
            Attempt::Skipped if row.kind.is_incident() => {
                let r = self.outbox.delivered(row.id, None).await;
                if r.is_ok() {
                    m.incidents_dropped
                        .with_label_values(&[incidents::action(row.kind)])
                        .inc();
                }
                r
            }
            Attempt::Sent(anchor) => {
                tracing::debug!(id = row.id, route = %row.route, "delivered {}", row.title);
                let remember = anchor
                    .filter(|_| dest.threads() && row.kind != Kind::Update)
                    .map(|a| (dest.ref_key(), row.group_key.clone(), a));
                let r = self.outbox.delivered(row.id, remember).await;
                // Counted once recorded: a scrape showing it delivered means a
                // restart will not send it again.
                if r.is_ok() {
                    m.delivered.with_label_values(&[row.route.as_str()]).inc();
                    m.latency.observe((t - row.received_at).max(0.0));
                }
                r
            }
            Attempt::Skipped => self.outbox.delivered(row.id, None).await,
            Attempt::RateLimited(wait) => {
                m.rate_limited.inc();
                m.retries.inc();
                if let Some(key) = dest.rate_key() {
                    // The whole destination waits, not just this message,
                    // and on the shared outbox every relay does.
                    if let Err(e) = self.outbox.hold_destination(&key, wait).await {
                        tracing::warn!("cannot hold {key} for the other relays: {e}");
                    }
                    next_allowed.insert(key, Instant::now() + wait);
                }
                tracing::warn!(id = row.id, route = %row.route, "Slack rate limit, retrying after {wait:?}");
                self.outbox
                    .retry_at(
                        row.id,
                        t + wait.as_secs_f64(),
                        false,
                        format!("429, Retry-After {}s", wait.as_secs()),
                    )
                    .await
            }
            Attempt::Retry { reason, detail } => {
                self.fail_metric(row.kind, reason);
                let attempts = row.attempts + 1;
                if attempts >= self.policy.max_attempts {
                    tracing::error!(id = row.id, route = %row.route, "dead-lettered after {attempts} attempts: {detail}");
                    self.outbox
                        .dead(row.id, format!("{detail} (after {attempts} attempts)"))
                        .await
                } else {
                    m.retries.inc();
                    let wait = backoff(&self.policy, attempts);
                    tracing::warn!(id = row.id, route = %row.route, "delivery failed ({detail}), retry {attempts} in {wait:?}");
                    self.outbox
                        .retry_at(row.id, t + wait.as_secs_f64(), true, detail)
                        .await
                }
            }
            Attempt::Reject { reason, detail } => {
                self.fail_metric(row.kind, reason);
                tracing::error!(id = row.id, route = %row.route, "rejected, dead-lettered: {detail}");
                self.outbox.dead(row.id, detail).await
            }
        };
        if let Err(e) = r {
            tracing::error!(id = row.id, "cannot record the delivery outcome: {e}");
        }
    }

    async fn update_gauges(&self) {
        match self.outbox.stats().await {
            Ok(s) => {
                self.metrics.queue_depth.set(s.pending);
                self.metrics.dead_letters.set(s.dead);
                self.metrics.oldest_pending.set(
                    s.oldest_received_at
                        .map(|o| (now() - o).max(0.0))
                        .unwrap_or(0.0),
                );
            }
            Err(e) => tracing::warn!("cannot read queue statistics: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let p = Policy {
            interval: Duration::from_secs(1),
            max_attempts: 10,
            max_age: Duration::from_secs(3600),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            keep_delivered: Duration::from_secs(60),
            dedupe_window: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let a = backoff(&p, 1).as_secs_f64();
            assert!((0.5..=1.5).contains(&a), "{a}");
            let c = backoff(&p, 4).as_secs_f64();
            assert!((4.0..=12.0).contains(&c), "{c}");
            let d = backoff(&p, 40).as_secs_f64();
            assert!((30.0..=90.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn the_in_flight_grace_fits_in_the_drain_bound() {
        assert!(IN_FLIGHT_GRACE < srp_daemon::DEFAULT_DRAIN_TIMEOUT);
    }
}

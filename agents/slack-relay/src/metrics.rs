//! The relay's metrics (names fixed in DESIGN.md: the alert rules and the
//! dashboards use them).

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct Metrics {
    pub received: IntCounterVec,
    pub delivered: IntCounterVec,
    pub failed: IntCounterVec,
    pub retries: IntCounter,
    pub rate_limited: IntCounter,
    pub duplicates: IntCounter,
    pub dead_letters: IntGauge,
    pub queue_depth: IntGauge,
    pub oldest_pending: Gauge,
    pub latency: Histogram,
    pub interactions: IntCounterVec,
    pub incidents_forwarded: IntCounterVec,
    pub incidents_dropped: IntCounterVec,
    pub incident_failures: IntCounterVec,
}

/// Reasons a delivery attempt failed (the `reason` label).
pub const FAILURE_REASONS: &[&str] = &[
    "network",
    "timeout",
    "server_error",
    "rejected",
    "slack_error",
    "expired",
];

impl Metrics {
    pub fn register(registry: &Registry, routes: &[String]) -> prometheus::Result<Self> {
        let m = Metrics {
            received: IntCounterVec::new(
                Opts::new("srp_relay_received_total", "Valid notifications received, by source (alertmanager, jenkins)."),
                &["source"],
            )?,
            delivered: IntCounterVec::new(
                Opts::new("srp_relay_delivered_total", "Messages delivered, by destination route."),
                &["destination"],
            )?,
            failed: IntCounterVec::new(
                Opts::new("srp_relay_failed_total", "Failed delivery attempts, by reason (429s are counted in srp_relay_rate_limited_total)."),
                &["reason"],
            )?,
            retries: IntCounter::new("srp_relay_retries_total", "Delivery attempts scheduled again after a failure or a 429.")?,
            rate_limited: IntCounter::new("srp_relay_rate_limited_total", "Slack answers 429 (Retry-After honoured).")?,
            duplicates: IntCounter::new("srp_relay_duplicates_total", "Notifications dropped as duplicates (Alertmanager retries, HA pairs).")?,
            dead_letters: IntGauge::new("srp_relay_dead_letters", "Messages in the dead-letter table (srp-slack-relay dlq list).")?,
            queue_depth: IntGauge::new("srp_relay_queue_depth", "Messages waiting for delivery.")?,
            oldest_pending: Gauge::new("srp_relay_oldest_pending_seconds", "Age of the oldest undelivered message, 0 when the queue is empty.")?,
            latency: Histogram::with_opts(
                HistogramOpts::new("srp_relay_delivery_latency_seconds", "Time from receipt to delivery to Slack.")
                    .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0]),
            )?,
            interactions: IntCounterVec::new(
                Opts::new("srp_relay_interactions_total", "Requests to /slack/interactions, by action and result (done, unsigned, stale, bad_signature, replayed, malformed, failed)."),
                &["action", "result"],
            )?,
            incidents_forwarded: IntCounterVec::new(
                Opts::new("srp_relay_incidents_forwarded_total", "Incident opens and closes recorded by srp-api (--api-url), by action (open, close)."),
                &["action"],
            )?,
            incidents_dropped: IntCounterVec::new(
                Opts::new("srp_relay_incidents_dropped_total", "Incident calls srp-api had nothing to record against (no such project; a close of an incident that never opened), by action."),
                &["action"],
            )?,
            incident_failures: IntCounterVec::new(
                Opts::new("srp_relay_incident_failures_total", "Failed incident calls to srp-api, by reason (network, timeout, server_error retried; rejected dead-lettered; expired)."),
                &["reason"],
            )?,
        };
        registry.register(Box::new(m.incidents_forwarded.clone()))?;
        registry.register(Box::new(m.incidents_dropped.clone()))?;
        registry.register(Box::new(m.incident_failures.clone()))?;
        registry.register(Box::new(m.interactions.clone()))?;
        registry.register(Box::new(m.received.clone()))?;
        registry.register(Box::new(m.delivered.clone()))?;
        registry.register(Box::new(m.failed.clone()))?;
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.rate_limited.clone()))?;
        registry.register(Box::new(m.duplicates.clone()))?;
        registry.register(Box::new(m.dead_letters.clone()))?;
        registry.register(Box::new(m.queue_depth.clone()))?;
        registry.register(Box::new(m.oldest_pending.clone()))?;
        registry.register(Box::new(m.latency.clone()))?;
        // Zero series exist from the start, so rate() and absent() behave.
        for s in ["alertmanager", "jenkins"] {
            m.received.with_label_values(&[s]);
        }
        for r in routes {
            m.delivered.with_label_values(&[r.as_str()]);
        }
        for r in FAILURE_REASONS {
            m.failed.with_label_values(&[r]);
        }
        for a in ["open", "close"] {
            m.incidents_forwarded.with_label_values(&[a]);
            m.incidents_dropped.with_label_values(&[a]);
        }
        for r in ["network", "timeout", "server_error", "rejected", "expired"] {
            m.incident_failures.with_label_values(&[r]);
        }
        Ok(m)
    }
}

//! The tokio runtime's own numbers, read at scrape time from the stable
//! `RuntimeMetrics` API (no `tokio_unstable` build flag, so blocking-pool
//! size and budget-forced yields, which tokio keeps unstable, are not here).
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `srp_tokio_workers` | gauge | worker threads of the runtime |
//! | `srp_tokio_alive_tasks` | gauge | tasks spawned and not yet finished |
//! | `srp_tokio_global_queue_depth` | gauge | tasks waiting in the shared queue |
//! | `srp_tokio_worker_busy_seconds_total{worker}` | counter | time each worker spent running tasks |
//! | `srp_tokio_worker_parks_total{worker}` | counter | times each worker went idle |
//!
//! The busy ratio is `rate(srp_tokio_worker_busy_seconds_total[5m])`
//! averaged over workers: near 1 means the runtime is saturated.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{CounterVec, IntCounterVec, IntGauge, Opts, Registry};
use tokio::runtime::Handle;

pub struct RuntimeCollector {
    handle: Handle,
    workers: IntGauge,
    alive: IntGauge,
    queue: IntGauge,
    busy: CounterVec,
    parks: IntCounterVec,
    descs: Vec<Desc>,
}

impl RuntimeCollector {
    fn new(handle: Handle) -> prometheus::Result<Self> {
        let workers = IntGauge::new("srp_tokio_workers", "Worker threads of the tokio runtime.")?;
        let alive = IntGauge::new(
            "srp_tokio_alive_tasks",
            "Tasks spawned on the tokio runtime and not yet finished.",
        )?;
        let queue = IntGauge::new(
            "srp_tokio_global_queue_depth",
            "Tasks waiting in the tokio runtime's shared queue.",
        )?;
        let busy = CounterVec::new(
            Opts::new(
                "srp_tokio_worker_busy_seconds_total",
                "Time each tokio worker spent running tasks.",
            ),
            &["worker"],
        )?;
        let parks = IntCounterVec::new(
            Opts::new(
                "srp_tokio_worker_parks_total",
                "Times each tokio worker parked (went idle).",
            ),
            &["worker"],
        )?;
        let descs = [
            workers.desc(),
            alive.desc(),
            queue.desc(),
            busy.desc(),
            parks.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        Ok(RuntimeCollector {
            handle,
            workers,
            alive,
            queue,
            busy,
            parks,
            descs,
        })
    }
}

impl Collector for RuntimeCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let m = self.handle.metrics();
        let workers = m.num_workers();
        self.workers.set(workers as i64);
        self.alive.set(m.num_alive_tasks() as i64);
        self.queue.set(m.global_queue_depth() as i64);
        for w in 0..workers {
            let label = w.to_string();
            // The runtime's counters only grow; the counters here are set to
            // them by adding the difference since the last scrape.
            let busy = self.busy.with_label_values(&[&label]);
            let total = m.worker_total_busy_duration(w).as_secs_f64();
            let seen = busy.get();
            if total > seen {
                busy.inc_by(total - seen);
            }
            let parks = self.parks.with_label_values(&[&label]);
            let total = m.worker_park_count(w);
            let seen = parks.get();
            if total > seen {
                parks.inc_by(total - seen);
            }
        }
        let mut out = Vec::new();
        out.extend(self.workers.collect());
        out.extend(self.alive.collect());
        out.extend(self.queue.collect());
        out.extend(self.busy.collect());
        out.extend(self.parks.collect());
        out
    }
}

/// Register the current runtime's metrics. Outside a runtime there is
/// nothing to measure and nothing is registered.
pub fn register(registry: &Registry) -> prometheus::Result<()> {
    match Handle::try_current() {
        Ok(handle) => registry.register(Box::new(RuntimeCollector::new(handle)?)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exports_the_runtime_and_its_workers() {
        let registry = Registry::new();
        register(&registry).unwrap();
        let keep =
            tokio::spawn(async { tokio::time::sleep(std::time::Duration::from_secs(5)).await });
        let text = crate::metrics::render(&registry);
        assert!(text.contains("srp_tokio_workers 2"), "{text}");
        assert!(
            text.contains("srp_tokio_worker_busy_seconds_total{worker=\"1\"}"),
            "{text}"
        );
        assert!(
            text.contains("srp_tokio_worker_parks_total{worker=\"0\"}"),
            "{text}"
        );
        let alive = text
            .lines()
            .find_map(|l| l.strip_prefix("srp_tokio_alive_tasks "))
            .unwrap();
        assert!(alive.parse::<i64>().unwrap() >= 1, "{text}");
        keep.abort();
    }

    #[test]
    fn outside_a_runtime_registers_nothing() {
        let registry = Registry::new();
        register(&registry).unwrap();
        assert!(registry.gather().is_empty());
    }
}

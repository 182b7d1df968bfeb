//! One scrape: every enabled collector in turn into one buffer, then the
//! self-metrics node_exporter adds (`node_scrape_collector_*`), the standard
//! `process_*` family and what every SRP daemon exports (`srp_build_info`,
//! the `srp_tokio_*` runtime metrics, RED metrics of its own routes).

use crate::collector::Collector;
use crate::deadline::{DeadlineRunner, Outcome};
use crate::exposition::{Exposition, MetricType::Gauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Scraper {
    collectors: Arc<Vec<Box<dyn Collector>>>,
    /// With a deadline, collectors run on a worker thread and one that
    /// overruns is reported failed ([`crate::deadline`]); without, in line.
    runner: Option<DeadlineRunner>,
    /// The last scrape's size, so the next buffer is allocated once.
    size_hint: AtomicUsize,
    process_metrics: bool,
    /// srp-daemon's shared families, rendered after the exporter's own.
    daemon_metrics: Option<prometheus::Registry>,
}

impl Scraper {
    /// `process_metrics`: whether to add the exporter's own `process_*` family
    /// (node_exporter's `--web.disable-exporter-metrics` turns it off).
    pub fn new(collectors: Vec<Box<dyn Collector>>, process_metrics: bool) -> Self {
        Self {
            collectors: Arc::new(collectors),
            runner: None,
            size_hint: AtomicUsize::new(16 * 1024),
            process_metrics,
            daemon_metrics: None,
        }
    }

    /// Add srp-daemon's shared families to every scrape that carries the
    /// exporter's own metrics (not with `--web.disable-exporter-metrics`).
    pub fn with_daemon_metrics(mut self, registry: prometheus::Registry) -> Self {
        self.daemon_metrics = Some(registry);
        self
    }

    /// Bound each collector's call (`--collector.deadline`).
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.runner = Some(DeadlineRunner::new(Arc::clone(&self.collectors), deadline));
        self
    }

    pub fn collector_names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.name()).collect()
    }

    pub fn scrape(&self) -> String {
        let mut out = Exposition::with_capacity(self.size_hint.load(Ordering::Relaxed) + 1024);
        let mut results = Vec::with_capacity(self.collectors.len());
        if let Some(runner) = &self.runner {
            for (c, finished) in self.collectors.iter().zip(runner.run()) {
                let ok = match finished.outcome {
                    Outcome::Done(result) => report(c.as_ref(), result),
                    Outcome::Overran => false,
                };
                if ok {
                    out.push_raw(finished.output.as_str());
                }
                results.push((c.name(), finished.seconds, ok));
            }
        } else {
            for c in self.collectors.iter() {
                let start = Instant::now();
                let mark = out.len();
                let ok = report(c.as_ref(), c.collect(&mut out));
                if !ok {
                    // Half a collector's families would mislead; drop them all.
                    out.truncate(mark);
                }
                results.push((c.name(), start.elapsed().as_secs_f64(), ok));
            }
        }
        let name = "node_scrape_collector_duration_seconds";
        out.family(
            name,
            "node_exporter: Duration of a collector scrape.",
            Gauge,
        );
        for (c, secs, _) in &results {
            out.sample(name, &[("collector", c)], *secs);
        }
        let name = "node_scrape_collector_success";
        out.family(name, "node_exporter: Whether a collector succeeded.", Gauge);
        for (c, _, ok) in &results {
            out.sample(name, &[("collector", c)], if *ok { 1.0 } else { 0.0 });
        }
        if self.process_metrics {
            crate::process::write(&mut out);
        }
        self.size_hint.store(out.len(), Ordering::Relaxed);
        let mut text = out.into_string();
        if let (true, Some(registry)) = (self.process_metrics, &self.daemon_metrics) {
            text.push_str(&srp_daemon::metrics::render(registry));
        }
        // client_golang sorts the whole scrape; so do we, after the
        // collectors wrote in their sources' order.
        crate::exposition::sort_families(&text)
    }
}

/// Log a collector's failure; whether it succeeded.
fn report(c: &dyn Collector, result: Result<(), crate::collector::CollectError>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            if e.is_no_data() {
                tracing::debug!(collector = c.name(), "collector returned no data: {e}");
            } else {
                tracing::warn!(collector = c.name(), "collector failed: {e}");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{CollectError, Collector};

    struct Good;
    impl Collector for Good {
        fn name(&self) -> &'static str {
            "good"
        }
        fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
            out.single("node_good", "Good.", Gauge, 1.0);
            Ok(())
        }
    }

    struct Broken;
    impl Collector for Broken {
        fn name(&self) -> &'static str {
            "broken"
        }
        fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
            out.single("node_half_written", "Half.", Gauge, 1.0);
            Err(CollectError::parse("x".as_ref(), "broken on purpose"))
        }
    }

    #[test]
    fn a_failing_collector_reports_zero_and_the_others_answer() {
        let s = Scraper::new(vec![Box::new(Broken), Box::new(Good)], true);
        let t = s.scrape();
        assert!(t.contains("node_good 1\n"), "{t}");
        assert!(!t.contains("node_half_written"), "{t}");
        assert!(
            t.contains("node_scrape_collector_success{collector=\"broken\"} 0\n"),
            "{t}"
        );
        assert!(
            t.contains("node_scrape_collector_success{collector=\"good\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("node_scrape_collector_duration_seconds{collector=\"broken\"} "),
            "{t}"
        );
        assert!(t.contains("process_resident_memory_bytes"), "{t}");
    }

    #[test]
    fn a_failing_collector_reports_zero_with_a_deadline_too() {
        let s = Scraper::new(vec![Box::new(Broken), Box::new(Good)], false)
            .with_deadline(Duration::from_secs(5));
        let t = s.scrape();
        assert!(t.contains("node_good 1\n"), "{t}");
        assert!(!t.contains("node_half_written"), "{t}");
        assert!(
            t.contains("node_scrape_collector_success{collector=\"broken\"} 0\n"),
            "{t}"
        );
    }

    /// Blocks in `collect` until the test lets it go, as a collector stuck
    /// in the kernel on a hung mount would.
    struct Stuck(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);
    impl Collector for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
            let (lock, freed) = &*self.0;
            let mut free = lock.lock().unwrap();
            while !*free {
                free = freed.wait(free).unwrap();
            }
            out.single("node_stuck_finally", "Late.", Gauge, 1.0);
            Ok(())
        }
    }

    fn threads() -> usize {
        std::fs::read_dir("/proc/self/task").unwrap().count()
    }

    #[test]
    fn a_collector_past_its_deadline_fails_alone_and_is_not_called_again_while_stuck() {
        let gate = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let deadline = Duration::from_millis(200);
        let s = Scraper::new(
            vec![
                Box::new(Good),
                Box::new(Stuck(gate.clone())),
                Box::new(Broken),
            ],
            false,
        )
        .with_deadline(deadline);
        let started = Instant::now();
        let t = s.scrape();
        assert!(started.elapsed() >= deadline, "it waited for the deadline");
        assert!(t.contains("node_good 1\n"), "{t}");
        assert!(
            t.contains("node_scrape_collector_success{collector=\"stuck\"} 0\n"),
            "{t}"
        );
        // The collector after the stuck one still ran (on a fresh worker).
        assert!(
            t.contains("node_scrape_collector_success{collector=\"broken\"} 0\n")
                && t.contains("node_scrape_collector_duration_seconds{collector=\"broken\"} "),
            "{t}"
        );
        let after_first = threads();
        for _ in 0..5 {
            let t = s.scrape();
            assert!(t.contains("node_good 1\n"), "{t}");
            assert!(
                t.contains("node_scrape_collector_success{collector=\"stuck\"} 0\n"),
                "{t}"
            );
        }
        assert_eq!(
            threads(),
            after_first,
            "no thread per scrape for a stuck collector"
        );

        // Once it returns it is called again, and succeeds.
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let mut recovered = false;
        for _ in 0..50 {
            let t = s.scrape();
            if t.contains("node_scrape_collector_success{collector=\"stuck\"} 1\n") {
                assert!(t.contains("node_stuck_finally 1\n"), "{t}");
                recovered = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(recovered, "the collector is called again once it returned");
    }
}

//! One scrape: every enabled collector in turn into one buffer, then the
//! self-metrics node_exporter adds (`node_scrape_collector_*`), the standard
//! `process_*` family and what every SRP daemon exports (`srp_build_info`,
//! the `srp_tokio_*` runtime metrics, RED metrics of its own routes).

use crate::collector::Collector;
use crate::exposition::{Exposition, MetricType::Gauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

pub struct Scraper {
    collectors: Vec<Box<dyn Collector>>,
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
            collectors,
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

    pub fn collector_names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.name()).collect()
    }

    pub fn scrape(&self) -> String {
        let mut out = Exposition::with_capacity(self.size_hint.load(Ordering::Relaxed) + 1024);
        let mut results = Vec::with_capacity(self.collectors.len());
        for c in &self.collectors {
            let start = Instant::now();
            let mark = out.len();
            let ok = match c.collect(&mut out) {
                Ok(()) => true,
                Err(e) => {
                    // Half a collector's families would mislead; drop them all.
                    out.truncate(mark);
                    if e.is_no_data() {
                        tracing::debug!(collector = c.name(), "collector returned no data: {e}");
                    } else {
                        tracing::warn!(collector = c.name(), "collector failed: {e}");
                    }
                    false
                }
            };
            results.push((c.name(), start.elapsed().as_secs_f64(), ok));
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
}

//! One Prometheus registry per process, with the standard `process_*` family.

use prometheus::{Encoder, Registry, TextEncoder};

/// A registry that already carries the `process_*` collector (CPU, resident
/// memory, open fds, threads, start time) and, when called inside a tokio
/// runtime, the runtime's own metrics ([`crate::runtime_metrics`]), as every
/// daemon must export them; with the `sqlite` feature, the commit latency
/// of [`crate::sqlite::commit`].
pub fn registry() -> Registry {
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    {
        let pc = prometheus::process_collector::ProcessCollector::for_self();
        // Registering into a fresh registry can only fail on duplicates.
        registry
            .register(Box::new(pc))
            .expect("process collector registers into an empty registry");
    }
    crate::runtime_metrics::register(&registry)
        .expect("runtime metrics register into a registry without them");
    #[cfg(feature = "sqlite")]
    crate::sqlite::register_metrics(&registry)
        .expect("the SQLite commit histogram registers into a registry without it");
    registry
}

/// Render a registry in the Prometheus text exposition format.
pub fn render(registry: &Registry) -> String {
    let families = registry.gather();
    let mut buf = Vec::with_capacity(8 * 1024);
    // TextEncoder writes into a Vec, which cannot fail.
    TextEncoder::new()
        .encode(&families, &mut buf)
        .expect("encoding metrics into memory");
    String::from_utf8(buf).expect("the text format is UTF-8")
}

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

//! RED metrics (rate, errors, duration) for every daemon's routes, under the
//! names DESIGN.md fixes: `http_requests_total{method,route,status}`,
//! `http_request_duration_seconds{method,route}`, `http_requests_in_flight`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;
use std::time::Instant;

/// Label for requests that matched no route: raw paths would let any client
/// create unbounded series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// From 1 ms (the normal range) to 10 s, with 1 s and its neighbours present
/// so that a "p95 above 1 s" alert is computed from real buckets.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct RedMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
}

impl RedMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Arc<Self>> {
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by route template and status.",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request received to response headers, by route template.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "route"],
        )?;
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being processed right now.",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        Ok(Arc::new(RedMetrics {
            requests,
            duration,
            in_flight,
        }))
    }
}

/// Known methods keep their name; anything else is folded into one label.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Decrements the gauge even when the client disconnects and the request
/// future is dropped half-way.
struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The middleware: outermost on a router, so that timeouts and rejections
/// are counted too.
pub async fn track(State(m): State<Arc<RedMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, |p| p.as_str());
    let method = method_label(req.method());
    m.in_flight.inc();
    let _guard = InFlight(&m.in_flight);
    let start = Instant::now();
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status();
    m.duration
        .with_label_values(&[method, route])
        .observe(elapsed.as_secs_f64());
    m.requests
        .with_label_values(&[method, route, status.as_str()])
        .inc();
    // Per-request lines only at debug: at info they would cost more than the
    // request. Server errors are always worth a line.
    if status.is_server_error() {
        tracing::warn!(
            method,
            route,
            status = status.as_u16(),
            ?elapsed,
            "request failed"
        );
    } else {
        tracing::debug!(method, route, status = status.as_u16(), ?elapsed, "request");
    }
    response
}

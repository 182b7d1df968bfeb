//! RED metrics (rate, errors, duration) for every daemon's routes, under the
//! names DESIGN.md fixes: `http_requests_total{method,route,status}`,
//! `http_request_duration_seconds{method,route}`, `http_requests_in_flight`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A request extension for a layer that sits outside [`track`] (the body
/// deadline, which [`crate::serve_with`] adds around every router) and may
/// drop the request under way to answer it itself. It sets the status it
/// answered with before dropping; [`track`] then counts the request with
/// that status instead of losing it. A request dropped without one (the
/// client went away) is not counted: nobody was answered.
#[derive(Clone, Default)]
pub struct AnsweredOutside(Arc<AtomicU16>);

impl AnsweredOutside {
    /// Say which status the request is being answered with.
    pub fn set(&self, status: StatusCode) {
        self.0.store(status.as_u16(), Ordering::Release);
    }

    fn get(&self) -> Option<StatusCode> {
        StatusCode::from_u16(self.0.load(Ordering::Acquire)).ok()
    }
}

/// The middleware: outermost on a router, so that timeouts and rejections
/// are counted too.
pub async fn track(State(m): State<Arc<RedMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, |p| p.as_str());
    let method = method_label(req.method());
    m.in_flight.inc();
    let mut pending = Pending {
        metrics: &m,
        method,
        route,
        start: Instant::now(),
        outside: req.extensions().get::<AnsweredOutside>().cloned(),
        answered: false,
    };
    let response = next.run(req).await;
    pending.answered = true;
    let status = response.status();
    pending.record(status);
    response
}

/// One request being tracked: decrements the in-flight gauge even when the
/// request future is dropped half-way, and counts a request that an outer
/// layer answered (see [`AnsweredOutside`]).
struct Pending<'a> {
    metrics: &'a RedMetrics,
    method: &'static str,
    route: &'a str,
    start: Instant,
    outside: Option<AnsweredOutside>,
    answered: bool,
}

impl Pending<'_> {
    fn record(&self, status: StatusCode) {
        let (method, route) = (self.method, self.route);
        let elapsed: Duration = self.start.elapsed();
        self.metrics
            .duration
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
        self.metrics
            .requests
            .with_label_values(&[method, route, status.as_str()])
            .inc();
        // Per-request lines only at debug: at info they would cost more than
        // the request. Server errors are always worth a line.
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
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if !self.answered {
            if let Some(status) = self.outside.as_ref().and_then(AnsweredOutside::get) {
                self.record(status);
            }
        }
    }
}

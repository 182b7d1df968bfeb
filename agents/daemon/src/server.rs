//! Binding, serving and draining. Every daemon's main ends in [`serve`].

use crate::health::HealthFn;
use crate::metrics;
use crate::shutdown::Shutdown;
use crate::systemd;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus::Registry;
use std::net::SocketAddr;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    // The io error is part of the message and deliberately not a `source`,
    // so `{:#}` chains at the binary edge do not print it twice.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Bind with an error that names the address (the usual cause is a port
/// already taken by another exporter).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|error| ServeError::Bind { addr, error })
}

#[derive(Clone)]
struct StdState {
    registry: Registry,
    health: HealthFn,
}

/// `/metrics` from `registry` and `/health` from `health`, to merge into a
/// daemon's own router.
pub fn standard_routes(registry: Registry, health: HealthFn) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(health_handler))
        .with_state(StdState { registry, health })
}

async fn metrics_handler(State(s): State<StdState>) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::render(&s.registry),
    )
        .into_response()
}

async fn health_handler(State(s): State<StdState>) -> Response {
    let report = (s.health)().await;
    let code = if report.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(report.body())).into_response()
}

/// Serve `router` on `listener` until `shutdown` fires, then stop accepting
/// and wait for in-flight requests to finish. Tells systemd READY=1 once the
/// socket is listening and STOPPING=1 when draining starts.
///
/// Logs `listening on http://ADDR`; tests that start a binary on port 0 read
/// the real port from that line.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    systemd::notify_ready();
    systemd::spawn_watchdog(shutdown.clone());
    let drain = shutdown.clone();
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        drain.wait().await;
        systemd::notify_stopping();
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Check, HealthReport};
    use std::sync::Arc;

    #[tokio::test]
    async fn serves_metrics_and_health_then_drains() {
        let registry = metrics::registry();
        let c = prometheus::IntCounter::new("srp_test_total", "A test counter.").unwrap();
        registry.register(Box::new(c.clone())).unwrap();
        c.inc();
        let health: HealthFn =
            Arc::new(|| Box::pin(async { HealthReport::new().check("db", Check::failed("down")) }));
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve(
            listener,
            standard_routes(registry, health),
            shutdown.clone(),
        ));

        let m = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap();
        assert_eq!(m.status(), 200);
        let text = m.text().await.unwrap();
        assert!(text.contains("srp_test_total 1"), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");

        let h = reqwest::get(format!("http://{addr}/health")).await.unwrap();
        assert_eq!(h.status(), 503);
        let body: serde_json::Value = h.json().await.unwrap();
        assert_eq!(body["status"], "degraded");

        shutdown.trigger();
        server.await.unwrap().unwrap();
        assert!(reqwest::get(format!("http://{addr}/health")).await.is_err());
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
    }
}

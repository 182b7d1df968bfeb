//! Binding, serving and draining. Every daemon's main ends in [`serve`].

use crate::body_deadline;
use crate::health::HealthFn;
use crate::metrics;
use crate::shutdown::Shutdown;
use crate::systemd;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus::Registry;
use std::net::SocketAddr;
use std::time::Duration;
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

/// Connection limits of [`serve_with`]; [`serve`] uses the defaults.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers. Without it a
    /// slow client (slowloris) holds a connection open for as long as it
    /// likes: the daemons' request timeouts only start once the headers are in.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body once its
    /// headers are in (see [`crate::body_deadline`]).
    pub body_read_timeout: Duration,
    /// How long draining may take before the remaining connections are
    /// dropped; inside systemd's default 90 s stop timeout.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// [`serve_with`] the default [`ServeOptions`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// Serve `router` on `listener` until `shutdown` fires, then stop accepting
/// and wait for in-flight requests to finish (at most `drain_timeout`).
/// Tells systemd READY=1 once the socket is listening and STOPPING=1 when
/// draining starts.
///
/// Logs `listening on http://ADDR`; tests that start a binary on port 0 read
/// the real port from that line.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    options: ServeOptions,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}");
    systemd::notify_ready();
    systemd::spawn_watchdog(shutdown.clone());

    let router = router.layer(axum::middleware::from_fn_with_state(
        options.body_read_timeout,
        body_deadline::enforce,
    ));
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of fds or a connection reset before accept: keep
                    // serving, but do not spin on a persistent error.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small request/response exchanges: Nagle's algorithm would only
        // add latency.
        let _ = stream.set_nodelay(true);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout)
            .serve_connection(
                TokioIo::new(stream),
                TowerToHyperService::new(router.clone()),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    systemd::notify_stopping();
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?options.drain_timeout, "connections still open after the drain timeout");
    }
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
    async fn in_flight_request_completes_during_shutdown() {
        let router = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(serve(listener, router, shutdown.clone()));
        let request = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
        tokio::time::sleep(Duration::from_millis(100)).await;
        shutdown.trigger();
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "done");
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn slow_headers_are_cut_off() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            header_read_timeout: Duration::from_millis(200),
            ..ServeOptions::default()
        };
        let server = tokio::spawn(serve_with(
            listener,
            Router::new().route("/", get(|| async { "hi" })),
            shutdown.clone(),
            options,
        ));
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // Half a request line, then nothing: the server must hang up on its
        // own (408 or a plain close), not wait for the rest forever.
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the connection was still open after 10 s");
        let said = String::from_utf8_lossy(&buf);
        assert!(
            said.is_empty() || said.starts_with("HTTP/1.1 408"),
            "{said}"
        );
        shutdown.trigger();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
    }
}

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
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use prometheus::{IntGaugeVec, Opts, Registry};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

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
    health_checks: IntGaugeVec,
}

/// `/metrics` from `registry` and `/health` from `health`, to merge into a
/// daemon's own router. `/metrics` also exports the health checks as
/// `srp_health_check_ok{check}` (1 passing, 0 failing), evaluated at each
/// scrape, so a degraded `/health` can be alerted on without a prober.
pub fn standard_routes(registry: Registry, health: HealthFn) -> Router {
    let health_checks = IntGaugeVec::new(
        Opts::new(
            "srp_health_check_ok",
            "Whether each of the daemon's /health checks passed at this scrape (1) or failed (0).",
        ),
        &["check"],
    )
    .expect("static metric options are valid");
    registry
        .register(Box::new(health_checks.clone()))
        .expect("srp_health_check_ok is registered once, here");
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health", get(health_handler))
        .with_state(StdState {
            registry,
            health,
            health_checks,
        })
}

async fn metrics_handler(State(s): State<StdState>) -> Response {
    let report = (s.health)().await;
    // Reset first: a check that is no longer reported must not linger with
    // its last value.
    s.health_checks.reset();
    for (name, check) in &report.checks {
        s.health_checks
            .with_label_values(&[name])
            .set(i64::from(check.ok));
    }
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
#[derive(Clone)]
pub struct ServeOptions {
    /// How long a client may take to send its request headers (and, over
    /// TLS, to finish its handshake). Without it a slow client (slowloris)
    /// holds a connection open for as long as it likes: the daemons' request
    /// timeouts only start once the headers are in.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body once its
    /// headers are in (see [`crate::body_deadline`]).
    pub body_read_timeout: Duration,
    /// How long stopping may take: open connections and the daemon's
    /// background tasks ([`crate::Tasks`]) share this one bound. Below
    /// Docker's 10 s stop timeout and the shipped units' `TimeoutStopSec=20s`,
    /// so a stop is never turned into a SIGKILL by the supervisor.
    pub drain_timeout: Duration,
    /// Serve HTTPS with this configuration instead of plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// [`ServeOptions::drain_timeout`]'s default.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            tls: None,
        }
    }
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
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

/// Serve `router` on `listener` (HTTP, or HTTPS when `options.tls` is set)
/// until `shutdown` fires, then stop accepting and wait for in-flight
/// requests and the background tasks in `shutdown`'s [`crate::Tasks`] to
/// finish, all within `drain_timeout`. Tells systemd READY=1 once the socket
/// is listening and STOPPING=1 when draining starts.
///
/// Logs `listening on http://ADDR` (or `https://`); tests that start a
/// binary on port 0 read the real port from that line.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    options: ServeOptions,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!("listening on {scheme}://{local}");
    systemd::notify_ready();
    systemd::spawn_watchdog(shutdown.clone());

    let router = router.layer(axum::middleware::from_fn_with_state(
        options.body_read_timeout,
        body_deadline::enforce,
    ));
    let acceptor = options.tls.clone().map(TlsAcceptor::from);
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
        let watcher = graceful.watcher();
        let router = router.clone();
        let header_timeout = options.header_read_timeout;
        match acceptor.clone() {
            None => {
                tokio::spawn(serve_connection(
                    stream,
                    router,
                    header_timeout,
                    watcher,
                    peer,
                ));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    // The handshake is bounded like the headers: a client
                    // that stalls it holds a socket just the same.
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            serve_connection(tls, router, header_timeout, watcher, peer).await
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    systemd::notify_stopping();
    let drained = async {
        graceful.shutdown().await;
        shutdown.tasks().wait().await;
    };
    if tokio::time::timeout(options.drain_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?options.drain_timeout,
            tasks = shutdown.tasks().len(),
            "connections or background tasks still running after the drain timeout; stopping anyway"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// One HTTP/1 connection, plain or TLS, with the same limits either way.
async fn serve_connection<S>(
    stream: S,
    router: Router,
    header_read_timeout: Duration,
    watcher: Watcher,
    peer: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
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
        assert!(
            text.contains("srp_health_check_ok{check=\"db\"} 0"),
            "a failing check is exported as 0: {text}"
        );

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

    /// A self-signed certificate for `localhost`, made by the openssl CLI.
    fn tls_config(dir: &std::path::Path) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost"])
            // rustls refuses a CA certificate as the server's own.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success());
        let cert = CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    #[tokio::test]
    async fn tls_serves_and_cuts_slow_headers_and_stalled_handshakes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let (server_cfg, client_cfg) = tls_config(dir.path());
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            header_read_timeout: Duration::from_millis(500),
            tls: Some(server_cfg),
            ..ServeOptions::default()
        };
        tokio::spawn(serve_with(
            listener,
            Router::new().route("/", get(|| async { "hi" })),
            shutdown.clone(),
            options,
        ));
        let connector = tokio_rustls::TlsConnector::from(client_cfg);
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();

        // A whole request over TLS is served.
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
        tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut said = Vec::new();
        let _ = tls.read_to_end(&mut said).await;
        let said = String::from_utf8_lossy(&said);
        assert!(
            said.starts_with("HTTP/1.1 200") && said.ends_with("hi"),
            "{said}"
        );

        // Slowloris over TLS: one header byte every 100 ms, never finished.
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
        let started = std::time::Instant::now();
        let mut closed = false;
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if tls.write_all(&[*byte]).await.is_err() || tls.flush().await.is_err() {
                closed = true;
                break;
            }
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(100), tls.read(&mut buf)).await {
                Ok(_) => {
                    closed = true;
                    break;
                }
                Err(_) => continue,
            }
        }
        assert!(
            closed,
            "the TLS connection was still open after {:?}",
            started.elapsed()
        );

        // A client that connects and never starts the handshake.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a stalled handshake held the socket for 10 s");
        shutdown.trigger();
    }

    #[tokio::test]
    async fn stop_waits_for_background_tasks_within_the_drain_bound() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let shutdown = Shutdown::new();
        let finished = Arc::new(AtomicBool::new(false));
        let (stop, done) = (shutdown.clone(), finished.clone());
        // A task in the middle of a write when the stop comes: it must be
        // allowed to finish it.
        shutdown.spawn(async move {
            stop.wait().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            done.store(true, Ordering::SeqCst);
        });
        // One that ignores the stop cannot hold it past the bound.
        shutdown.spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
        let options = ServeOptions {
            drain_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let server = tokio::spawn(serve_with(
            listener,
            Router::new(),
            shutdown.clone(),
            options,
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve returned within its drain bound")
            .unwrap()
            .unwrap();
        assert!(
            finished.load(Ordering::SeqCst),
            "the busy task was not waited for"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn the_drain_bound_is_below_docker_and_the_units_stop_timeouts() {
        // Docker's default stop timeout is 10 s and the shipped units say
        // TimeoutStopSec=20s: past either, the supervisor sends SIGKILL.
        assert!(ServeOptions::default().drain_timeout < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn bind_error_names_the_address() {
        let first = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = first.local_addr().unwrap();
        let err = bind(addr).await.unwrap_err().to_string();
        assert!(err.contains(&addr.to_string()), "{err}");
    }
}

//! A deadline on reading each request's body.
//!
//! hyper's header-read timeout stops a client that dribbles its headers, but
//! once the headers are in, nothing bounds the body: a declared
//! `Content-Length` never sent, or a chunked body that never ends, holds the
//! connection (and whatever the handler allocated for it) for as long as the
//! sender likes, with or without credentials. Every daemon's router is
//! wrapped in this layer by [`crate::serve_with`], so no route can forget it.
//!
//! The clock starts when the request reaches the router and covers the whole
//! body, not the gap between chunks: a sender that trickles one byte a second
//! is cut off just the same. A handler that has read its whole body is never
//! cut off, however long it then works.

use crate::red::AnsweredOutside;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How much later than the response the body itself fails, so the 408 below
/// is what a client sees even when the handler reads the body on another
/// task. The body failing is only the backstop.
const BODY_BACKSTOP: Duration = Duration::from_secs(1);

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// Axum middleware: answer 408 (and close the connection) when a request's
/// body is not complete within `timeout` of its arrival.
pub async fn enforce(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    // The RED layer sits inside this one: told before its request is
    // dropped, it counts the 408 (in `http_requests_total`) all the same.
    let answered = AnsweredOutside::default();
    parts.extensions.insert(answered.clone());
    let deadline = Instant::now() + timeout;
    let complete = Arc::new(AtomicBool::new(false));
    let body = Body::new(DeadlineBody {
        inner: body,
        backstop: Box::pin(tokio::time::sleep_until(deadline + BODY_BACKSTOP)),
        timeout,
        complete: complete.clone(),
    });
    let handler = next.run(Request::from_parts(parts, body));
    tokio::pin!(handler);
    tokio::select! {
        // The deadline first: when both are ready, an unfinished body is cut.
        biased;
        _ = tokio::time::sleep_until(deadline) => {
            if complete.load(Ordering::Acquire) {
                handler.await
            } else {
                // Set before the handler is dropped (when this returns, so
                // before the 408 leaves): the drop is what counts it.
                answered.set(StatusCode::REQUEST_TIMEOUT);
                timed_out(timeout)
            }
        }
        response = &mut handler => response,
    }
}

fn timed_out(timeout: Duration) -> Response {
    let body = serde_json::json!({
        "error": {
            "code": "request_timeout",
            "message": format!("the request body was not received within {} s", timeout.as_secs_f64()),
        }
    });
    (
        StatusCode::REQUEST_TIMEOUT,
        // The rest of the body may still be on its way: this connection
        // cannot carry another request.
        [(header::CONNECTION, "close")],
        axum::Json(body),
    )
        .into_response()
}

/// The request body, failing once the backstop passes and telling
/// [`enforce`] when it has been read to its end.
struct DeadlineBody {
    inner: Body,
    backstop: Pin<Box<Sleep>>,
    timeout: Duration,
    complete: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.complete.load(Ordering::Acquire) {
            return Pin::new(&mut self.inner).poll_frame(cx);
        }
        if self.backstop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(self.timeout)))));
        }
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_))))
            || self.inner.is_end_stream()
        {
            self.complete.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{bind, serve_with, ServeOptions};
    use crate::shutdown::Shutdown;
    use axum::routing::post;
    use axum::Router;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(router: Router, body_read_timeout: Duration) -> (SocketAddr, Shutdown) {
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let options = ServeOptions {
            body_read_timeout,
            ..ServeOptions::default()
        };
        tokio::spawn(serve_with(listener, router, shutdown.clone(), options));
        (addr, shutdown)
    }

    fn echo() -> Router {
        Router::new().route("/", post(|body: Bytes| async move { body }))
    }

    /// Send `head`, then read what the server says; the connection must be
    /// closed by the server well before `bound`.
    async fn exchange(addr: SocketAddr, head: &[u8], bound: Duration) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head).await.unwrap();
        let mut buf = Vec::new();
        tokio::time::timeout(bound, stream.read_to_end(&mut buf))
            .await
            .expect("the server kept the connection open past the body deadline")
            .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[tokio::test]
    async fn declared_length_never_sent_is_cut_off_with_408() {
        let (addr, shutdown) = start(echo(), Duration::from_millis(300)).await;
        let said = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-this",
            Duration::from_secs(10),
        )
        .await;
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        assert!(said.contains("\"code\":\"request_timeout\""), "{said}");
        shutdown.trigger();
    }

    /// The 408 is answered outside the RED layer ([`crate::layers::finish`]
    /// puts it inside this one): it must still show in
    /// `http_requests_total`, under the route it was sent to.
    #[tokio::test]
    async fn the_408_is_counted_in_the_red_metrics() {
        let registry = prometheus::Registry::new();
        let red = crate::RedMetrics::register(&registry).unwrap();
        let router = crate::layers::finish(echo(), red, Duration::from_secs(30));
        let (addr, shutdown) = start(router, Duration::from_millis(300)).await;
        let said = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-this",
            Duration::from_secs(10),
        )
        .await;
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        let text = crate::metrics::render(&registry);
        assert!(
            text.contains(r#"http_requests_total{method="POST",route="/",status="408"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_request_duration_seconds_count{method="POST",route="/"} 1"#),
            "{text}"
        );
        assert!(text.contains("http_requests_in_flight 0"), "{text}");
        shutdown.trigger();
    }

    /// A client that goes away mid-body was not answered 408 by the deadline.
    #[tokio::test]
    async fn a_client_gone_mid_body_is_not_counted_as_a_408() {
        let registry = prometheus::Registry::new();
        let red = crate::RedMetrics::register(&registry).unwrap();
        let router = crate::layers::finish(echo(), red, Duration::from_secs(30));
        let (addr, shutdown) = start(router, Duration::from_secs(30)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npart")
            .await
            .unwrap();
        let in_flight = |text: &str| text.contains("http_requests_in_flight 1");
        let mut text = String::new();
        for _ in 0..100 {
            text = crate::metrics::render(&registry);
            if in_flight(&text) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(in_flight(&text), "the request never arrived: {text}");
        drop(stream);
        for _ in 0..100 {
            text = crate::metrics::render(&registry);
            if text.contains("http_requests_in_flight 0") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(text.contains("http_requests_in_flight 0"), "{text}");
        assert!(!text.contains("status=\"408\""), "{text}");
        shutdown.trigger();
    }

    #[tokio::test]
    async fn unterminated_chunked_body_is_cut_off() {
        let (addr, shutdown) = start(echo(), Duration::from_millis(300)).await;
        let said = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            Duration::from_secs(10),
        )
        .await;
        assert!(said.starts_with("HTTP/1.1 408"), "{said}");
        shutdown.trigger();
    }

    #[tokio::test]
    async fn trickled_body_is_cut_off_although_bytes_keep_coming() {
        let (addr, shutdown) = start(echo(), Duration::from_millis(500)).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut buf = vec![0u8; 4096];
        // One byte every 100 ms: never idle long, never finished.
        let said = loop {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "still open after 10 s"
            );
            if stream.write_all(b"x").await.is_err() {
                break String::new();
            }
            match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break String::new(),
                Ok(Ok(n)) => break String::from_utf8_lossy(&buf[..n]).into_owned(),
                Err(_) => continue,
            }
        };
        assert!(
            said.is_empty() || said.starts_with("HTTP/1.1 408"),
            "{said}"
        );
        shutdown.trigger();
    }

    #[tokio::test]
    async fn a_whole_body_in_time_is_served_and_keeps_the_connection() {
        let (addr, shutdown) = start(echo(), Duration::from_secs(5)).await;
        let client = reqwest::Client::new();
        for _ in 0..2 {
            let r = client
                .post(format!("http://{addr}/"))
                .body("payload")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.text().await.unwrap(), "payload");
        }
        shutdown.trigger();
    }

    #[tokio::test]
    async fn a_handler_working_past_the_deadline_after_reading_is_not_cut() {
        let router = Router::new().route(
            "/",
            post(|body: Bytes| async move {
                tokio::time::sleep(Duration::from_millis(600)).await;
                body
            }),
        );
        let (addr, shutdown) = start(router, Duration::from_millis(200)).await;
        let r = reqwest::Client::new()
            .post(format!("http://{addr}/"))
            .body("slow work")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "slow work");
        shutdown.trigger();
    }

    #[tokio::test]
    async fn a_handler_that_ignores_the_body_answers_at_once() {
        let router = Router::new().route("/", post(|| async { (StatusCode::UNAUTHORIZED, "no") }));
        let (addr, shutdown) = start(router, Duration::from_secs(30)).await;
        let said = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
            Duration::from_secs(5),
        )
        .await;
        assert!(said.starts_with("HTTP/1.1 401"), "{said}");
        shutdown.trigger();
    }
}

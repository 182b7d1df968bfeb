//! HTTP: `/metrics` (or `--web.telemetry-path`), `/health`, a landing page;
//! gzip (flate2 over zlib-rs, fastest level) when the scraper asks for it; optional basic auth. Serving, plain
//! or TLS, is the shared daemon crate's (`srp_daemon::serve_with`).

use crate::scrape::Scraper;
use crate::webconfig::BasicAuth;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use srp_daemon::{HealthReport, HttpError};
use std::sync::Arc;

#[derive(Clone)]
struct AppState {
    scraper: Arc<Scraper>,
}

pub fn router(scraper: Arc<Scraper>, telemetry_path: &str, auth: Option<Arc<BasicAuth>>) -> Router {
    let landing = format!(
        "<html><head><title>srp-node-exporter</title></head><body><h1>srp-node-exporter</h1>\
         <p><a href=\"{telemetry_path}\">Metrics</a> · <a href=\"/health\">Health</a></p></body></html>"
    );
    let mut r = Router::new()
        .route(telemetry_path, get(metrics))
        .route("/health", get(health))
        .route("/", get(move || async move { Html(landing) }))
        .with_state(AppState { scraper });
    if let Some(auth) = auth {
        r = r.layer(middleware::from_fn_with_state(auth, require_auth));
    }
    r
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    // /proc reads are quick, but statfs may wait up to the mount timeout:
    // keep collection (and compression) off the single runtime thread.
    let job = tokio::task::spawn_blocking(move || {
        let text = s.scraper.scrape();
        if gzip {
            compress(text.as_bytes())
        } else {
            Ok(text.into_bytes())
        }
    });
    match job.await {
        Ok(Ok(body)) => {
            let mut resp = (
                [(header::CONTENT_TYPE, srp_daemon::metrics::CONTENT_TYPE)],
                body,
            )
                .into_response();
            let h = resp.headers_mut();
            h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            if gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            resp
        }
        Ok(Err(e)) => {
            tracing::error!("compressing the scrape: {e}");
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "compression_failed",
                format!("compressing the scrape failed: {e}"),
            )
            .into_response()
        }
        Err(e) => {
            tracing::error!("scrape task failed: {e}");
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "scrape_failed",
                "the scrape task failed; see the exporter's log",
            )
            .into_response()
        }
    }
}

/// Whether `Accept-Encoding` allows gzip (and not with `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
}

/// gzip at the fastest level: a scrape still shrinks ~6x, and the default
/// level would cost more CPU than collecting the metrics. A 16 kB window
/// (not 32 kB): a family's lines repeat its name within a few hundred
/// bytes, and the smaller window is less memory to allocate and clear on
/// every scrape.
fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    // On this host's scrape, 2^14 gives the same bytes as 2^15; 2^12 is 2.6 % larger.
    let mut c = Compress::new_gzip(Compression::fast(), 14);
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    loop {
        let read = c.total_in() as usize;
        match c
            .compress_vec(&data[read..], &mut out, FlushCompress::Finish)
            .map_err(std::io::Error::other)?
        {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => out.reserve(out.capacity().max(4096)),
        }
    }
}

async fn health(State(s): State<AppState>) -> Response {
    let report = HealthReport::new()
        .check("collectors", srp_daemon::Check::ok())
        .with("collectors", s.scraper.collector_names());
    Json(report.body()).into_response()
}

async fn require_auth(State(auth): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let ok = tokio::task::spawn_blocking(move || auth.check(header.as_deref()))
        .await
        .unwrap_or(false);
    if ok {
        next.run(req).await
    } else {
        let mut response =
            HttpError::unauthorized("basic auth credentials required").into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        m
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&h("gzip")));
        assert!(accepts_gzip(&h("deflate, GZIP;q=0.5")));
        assert!(accepts_gzip(&h("*")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn compress_round_trips() {
        use std::io::Read;
        let gz = compress(b"node_load1 0.5\n").unwrap();
        let mut s = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "node_load1 0.5\n");
    }
}

//! The HTTP API: `POST /reports` for Jenkins to push a report with curl, and
//! read-only views of the history. `/metrics` and `/health` come from
//! srp-daemon's standard routes.
//!
//! Memory is bounded per request and in total: a body whose Content-Length
//! is over `--max-report-bytes` is refused before a byte of it is read, a
//! body is read with the limit enforced as it arrives, at most
//! `--max-concurrent-ingests` bodies are read and ingested at once (the
//! rest get 503 with Retry-After at once, before their body is read), and
//! `/latest` answers one page of the blocking findings, streamed from the
//! store rather than loaded whole.
//!
//! Every 4xx/5xx is srp-daemon's one error body,
//! `{"error":{"code","message","field"?}}`; for a refused report `code` is
//! the `reason` label it is counted under in `srp_scan_ingest_errors_total`.

use super::ingest::{IngestError, Origin, Shared};
use super::labels;
use super::store::{Page, MAX_PAGE};
use crate::input::InputError;
use axum::body::{to_bytes, Body};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use srp_daemon::{HttpError, Shutdown};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Seconds a client refused for capacity is told to wait (curl --retry
/// honours Retry-After on 503).
const RETRY_AFTER_SECS: u64 = 5;

#[derive(Clone)]
struct Api {
    exporter: Shared,
    /// Ingests run as its tasks: one abandoned by the request timeout still
    /// finishes its write, and the stop waits for it.
    shutdown: Shutdown,
    /// One permit per upload being read or ingested.
    uploads: Arc<Semaphore>,
    max_uploads: usize,
    /// One permit per /diff being computed: it holds two builds' finding
    /// keys in memory.
    diffs: Arc<Semaphore>,
}

/// /diff requests computed at the same time; more are answered 503.
const MAX_CONCURRENT_DIFFS: usize = 2;

/// The routes; `max_concurrent_ingests` bounds the uploads read and
/// ingested at the same time (at least 1).
pub fn routes(state: Shared, max_concurrent_ingests: usize, shutdown: Shutdown) -> Router {
    let max_uploads = max_concurrent_ingests.max(1);
    Router::new()
        .route("/reports", post(push))
        .route("/reports/{pipeline}/{target}/latest", get(latest))
        .route("/reports/{pipeline}/{target}/diff", get(diff))
        // The handler enforces --max-report-bytes itself, so it can count
        // an oversized body as an ingest error.
        .layer(DefaultBodyLimit::disable())
        .with_state(Api {
            exporter: state,
            shutdown,
            uploads: Arc::new(Semaphore::new(max_uploads)),
            max_uploads,
            diffs: Arc::new(Semaphore::new(MAX_CONCURRENT_DIFFS)),
        })
}

#[derive(Debug, Deserialize)]
pub struct PushParams {
    pipeline: Option<String>,
    #[serde(default)]
    build: String,
    target: Option<String>,
}

fn valid_label(name: &'static str, v: &str) -> Result<(), IngestError> {
    labels::check_label(&format!("{name} parameter"), v).map_err(|e| IngestError::Param {
        name,
        message: e.to_string(),
    })
}

/// A refused report as the shared error body: `code` is its reason,
/// `field` the report field or query parameter at fault, if one is.
fn refusal(err: &IngestError) -> HttpError {
    let status = match err {
        IngestError::Input(InputError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        IngestError::Input(InputError::Io(_)) => StatusCode::BAD_REQUEST,
        IngestError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut answer = HttpError::new(status, err.reason(), err.to_string());
    match err {
        IngestError::Field(f) => answer = answer.with_field(f.field.clone()),
        IngestError::Param { name, .. } => answer = answer.with_field(*name),
        IngestError::Busy(_) => answer = answer.with_retry_after(RETRY_AFTER_SECS),
        _ => {}
    }
    answer
}

/// A query string that does not deserialise (a number that is not one, a
/// parameter given twice): axum's own answer is plain text.
fn bad_query(rejection: QueryRejection) -> HttpError {
    HttpError::bad_request("invalid_query", rejection.body_text())
}

/// A path segment that is not valid percent-encoded UTF-8.
fn bad_path(rejection: PathRejection) -> HttpError {
    HttpError::bad_request("invalid_path", rejection.body_text())
}

/// The declared body length, when the client sent a usable one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A body that could not be read whole: over the limit (counted as
/// too_large), or the client went away or was too slow (io).
fn body_error(err: axum::Error, limit: u64) -> IngestError {
    // axum wraps http-body-util's LengthLimitError, whose message is the
    // one way to tell it apart without depending on that crate.
    let over = err.to_string().contains("length limit exceeded");
    if over {
        InputError::TooLarge {
            size: limit + 1,
            limit,
        }
        .into()
    } else {
        InputError::Io(std::io::Error::other(format!("reading the body: {err}"))).into()
    }
}

/// The verdict JSON: the summary (its finding keys went to the store) and
/// the id it was stored under.
#[derive(serde::Serialize)]
struct PushResponse<'a> {
    ingest_id: i64,
    #[serde(flatten)]
    summary: &'a crate::summary::Summary,
}

async fn push(
    State(api): State<Api>,
    params: Result<Query<PushParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let params = match params {
        Ok(Query(p)) => p,
        Err(r) => return bad_query(r).into_response(),
    };
    let state = api.exporter.clone();
    let limit = state.max_bytes;
    // Held until the response is built: the summary is serialised into it.
    let mut upload_slot = None;
    let result = async {
        let pipeline = params
            .pipeline
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| IngestError::Param {
                name: "pipeline",
                message: "the pipeline parameter is required".into(),
            })?;
        valid_label("pipeline", &pipeline)?;
        valid_label("build", &params.build)?;
        if let Some(t) = &params.target {
            valid_label("target", t)?;
        }
        // Refused before reading: a declared length over the limit, and
        // any upload beyond the concurrency bound.
        if let Some(size) = content_length(&headers).filter(|n| *n > limit) {
            return Err(InputError::TooLarge { size, limit }.into());
        }
        upload_slot = Some(
            api.uploads
                .clone()
                .try_acquire_owned()
                .map_err(|_| IngestError::Busy(api.max_uploads))?,
        );
        let bytes = to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .await
            .map_err(|e| body_error(e, limit))?;
        let origin = Origin {
            fallback_target: pipeline.clone(),
            pipeline,
            build: params.build.clone(),
            target: params.target.clone(),
            source: "http".into(),
        };
        let st = state.clone();
        let slot = upload_slot.take();
        // The slot goes with the ingest and comes back with its result: if
        // the request is abandoned (timeout, client gone), the ingest still
        // holds it until it ends, so the bound on uploads in memory holds.
        let (result, slot) = api
            .shutdown
            .spawn_blocking(move || (st.ingest(bytes, &origin), slot))
            .await
            .map_err(|e| IngestError::BadRequest(format!("ingest task failed: {e}")))?;
        upload_slot = slot;
        result
    }
    .await;
    let response = match result {
        Ok((id, summary)) => (
            StatusCode::OK,
            Json(PushResponse {
                ingest_id: id,
                summary: &summary,
            }),
        )
            .into_response(),
        Err(e) => {
            state.record_error(&e, "http");
            refusal(&e).into_response()
        }
    };
    drop(upload_slot);
    response
}

/// `?limit=N&offset=M` over the blocking findings of `/latest`.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn latest(
    State(api): State<Api>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let (pipeline, target) = match path {
        Ok(Path(p)) => p,
        Err(r) => return bad_path(r).into_response(),
    };
    let p = match query {
        Ok(Query(p)) => p,
        Err(r) => return bad_query(r).into_response(),
    };
    let st = api.exporter.clone();
    let page = Page {
        offset: p.offset.unwrap_or(0),
        limit: p.limit.unwrap_or(super::store::DEFAULT_PAGE).min(MAX_PAGE),
    };
    lookup_response(
        tokio::task::spawn_blocking(move || st.store.latest(&pipeline, &target, page)).await,
    )
}

async fn diff(
    State(api): State<Api>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    let (pipeline, target) = match path {
        Ok(Path(p)) => p,
        Err(r) => return bad_path(r).into_response(),
    };
    let Ok(slot) = api.diffs.clone().try_acquire_owned() else {
        return HttpError::unavailable(
            "busy",
            format!("{MAX_CONCURRENT_DIFFS} diffs are being computed already; retry later"),
        )
        .with_retry_after(RETRY_AFTER_SECS)
        .into_response();
    };
    let st = api.exporter.clone();
    let r = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        st.store.diff(&pipeline, &target)
    })
    .await;
    lookup_response(r)
}

/// The answer to a history lookup run on the blocking pool: the value, 404
/// when the pipeline and target have no report, 500 for a store failure.
fn lookup_response<T: serde::Serialize, E: std::fmt::Display>(
    r: Result<Result<Option<T>, E>, tokio::task::JoinError>,
) -> Response {
    let failure = match r {
        Ok(Ok(Some(v))) => return Json(v).into_response(),
        Ok(Ok(None)) => {
            return HttpError::not_found("no report for this pipeline and target").into_response()
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    // The same code as a report refused because the database failed.
    HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "storage", failure).into_response()
}

//! The HTTP API: `POST /reports` for Jenkins to push a report with curl, and
//! read-only views of the history. `/metrics` and `/health` come from
//! srp-daemon's standard routes.

use super::ingest::{IngestError, Origin, Shared};
use crate::input::InputError;
use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes(state: Shared) -> Router {
    Router::new()
        .route("/reports", post(push))
        .route("/reports/{pipeline}/{target}/latest", get(latest))
        .route("/reports/{pipeline}/{target}/diff", get(diff))
        // The handler enforces --max-report-bytes itself, so it can count
        // an oversized body as an ingest error.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

#[derive(Debug, Deserialize)]
pub struct PushParams {
    pipeline: Option<String>,
    #[serde(default)]
    build: String,
    target: Option<String>,
}

fn valid_label(name: &str, v: &str) -> Result<(), IngestError> {
    if v.len() > 256 || v.chars().any(char::is_control) {
        return Err(IngestError::BadRequest(format!(
            "{name} must be at most 256 characters without control characters"
        )));
    }
    Ok(())
}

fn error_response(err: &IngestError) -> Response {
    let code = match err {
        IngestError::Input(InputError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        IngestError::Input(InputError::Io(_)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (
        code,
        Json(json!({"error": err.to_string(), "reason": err.reason()})),
    )
        .into_response()
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
    State(state): State<Shared>,
    Query(params): Query<PushParams>,
    body: Body,
) -> Response {
    let limit = state.max_bytes;
    let result = async {
        let pipeline = params
            .pipeline
            .clone()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| IngestError::BadRequest("the pipeline parameter is required".into()))?;
        valid_label("pipeline", &pipeline)?;
        valid_label("build", &params.build)?;
        if let Some(t) = &params.target {
            valid_label("target", t)?;
        }
        let bytes = to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
            .await
            .map_err(|_| InputError::TooLarge {
                size: limit + 1,
                limit,
            })?;
        let origin = Origin {
            fallback_target: pipeline.clone(),
            pipeline,
            build: params.build.clone(),
            target: params.target.clone(),
            source: "http".into(),
        };
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.ingest(bytes, &origin))
            .await
            .map_err(|e| IngestError::BadRequest(format!("ingest task failed: {e}")))?
    }
    .await;
    match result {
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
            error_response(&e)
        }
    }
}

async fn latest(
    State(state): State<Shared>,
    Path((pipeline, target)): Path<(String, String)>,
) -> Response {
    let st = state.clone();
    lookup_response(tokio::task::spawn_blocking(move || st.store.latest(&pipeline, &target)).await)
}

async fn diff(
    State(state): State<Shared>,
    Path((pipeline, target)): Path<(String, String)>,
) -> Response {
    let st = state.clone();
    lookup_response(tokio::task::spawn_blocking(move || st.store.diff(&pipeline, &target)).await)
}

/// The answer to a history lookup run on the blocking pool: the value, 404
/// when the pipeline and target have no report, 500 for a store failure.
fn lookup_response<T: serde::Serialize, E: std::fmt::Display>(
    r: Result<Result<Option<T>, E>, tokio::task::JoinError>,
) -> Response {
    let failure = match r {
        Ok(Ok(Some(v))) => return Json(v).into_response(),
        Ok(Ok(None)) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no report for this pipeline and target"})),
            )
                .into_response()
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": failure})),
    )
        .into_response()
}

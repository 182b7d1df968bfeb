//! The HTTP surface: routes, the JSON error shape, body handling, metrics and
//! the request timeout.

pub mod body;
pub mod error;
pub mod meta;
pub mod metrics;
pub mod projects;
pub mod timeout;
pub mod validate;

use crate::store::Store;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::Router;
use error::ApiError;
use metrics::HttpMetrics;
use prometheus::Registry;
use srp_daemon::HealthFn;
use std::sync::Arc;
use std::time::Duration;

/// What the route handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub max_body_bytes: usize,
}

pub struct RouterParts {
    pub state: AppState,
    pub metrics: Arc<HttpMetrics>,
    pub registry: Registry,
    pub health: HealthFn,
    pub request_timeout: Duration,
}

pub fn router(parts: RouterParts) -> Router {
    let api = Router::new()
        .route("/version", get(meta::version))
        .route("/openapi.json", get(meta::openapi))
        .route("/docs", get(meta::docs))
        .route("/projects", get(projects::list).post(projects::create))
        .route(
            "/projects/{id}",
            get(projects::get)
                .put(projects::replace)
                .patch(projects::patch)
                .delete(projects::delete),
        )
        .with_state(parts.state);
    api.merge(srp_daemon::standard_routes(parts.registry, parts.health))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(parts.request_timeout, timeout::enforce))
        // Outermost, so that timeouts and rejections are counted too.
        .layer(from_fn_with_state(parts.metrics, metrics::track))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; see /docs or /openapi.json",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not accept that method; see /docs or /openapi.json",
    )
}

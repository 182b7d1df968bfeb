//! The HTTP surface: routes, errors, body handling and the API's metrics;
//! fallbacks, the request timeout and RED metrics are srp-daemon's layers.

pub mod body;
pub mod error;
pub mod meta;
pub mod metrics;
pub mod projects;
pub mod validate;

use crate::store::Store;
use axum::routing::get;
use axum::Router;
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
    pub red: Arc<srp_daemon::RedMetrics>,
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
    srp_daemon::layers::finish(
        api.merge(srp_daemon::standard_routes(parts.registry, parts.health)),
        parts.red,
        parts.request_timeout,
    )
}

//! The HTTP surface: routes, errors, body handling and the API's metrics;
//! fallbacks, the request timeout and RED metrics are srp-daemon's layers.

pub mod auth;
pub mod body;
pub mod error;
pub mod fields;
pub mod ledger;
pub mod meta;
pub mod metrics;
pub mod projects;
pub mod token_cache;
pub mod validate;

use crate::dora::Dora;
use crate::store::Store;
use axum::routing::{get, post, put};
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
    /// `--require-token-for-reads`: data GETs need an active token too.
    pub reads_need_token: bool,
    pub dora: Arc<Dora>,
    /// Tokens the database confirmed recently (`--token-cache-ttl`).
    pub tokens: Arc<token_cache::TokenCache>,
}

pub struct RouterParts {
    pub state: AppState,
    pub red: Arc<srp_daemon::RedMetrics>,
    pub registry: Registry,
    pub health: HealthFn,
    pub request_timeout: Duration,
}

pub fn router(parts: RouterParts) -> Router {
    let data = Router::new()
        .route("/projects", get(projects::list).post(projects::create))
        .route(
            "/projects/{id}",
            get(projects::get)
                .put(projects::replace)
                .patch(projects::patch)
                .delete(projects::delete),
        )
        .route(
            "/projects/{id}/releases",
            get(ledger::list_releases).post(ledger::create_release),
        )
        .route("/projects/{id}/releases/{build}", get(ledger::get_release))
        .route(
            "/projects/{id}/releases/{build}/verdicts/{stage}",
            put(ledger::record_verdict),
        )
        .route(
            "/projects/{id}/deployments",
            get(ledger::list_deployments).post(ledger::create_deployment),
        )
        .route("/projects/{id}/environments", get(ledger::environments))
        .route("/projects/{id}/environments/{env}", get(ledger::current))
        .route(
            "/projects/{id}/incidents",
            get(ledger::list_incidents).post(ledger::open_incident),
        )
        .route(
            "/projects/{id}/incidents/{key}/close",
            post(ledger::close_incident),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            parts.state.clone(),
            auth::reads,
        ));
    // What the API says about itself stays open whatever the flags.
    let api = Router::new()
        .route("/version", get(meta::version))
        .route("/openapi.json", get(meta::openapi))
        .route("/docs", get(meta::docs))
        .merge(data)
        .with_state(parts.state);
    srp_daemon::layers::finish(
        api.merge(srp_daemon::standard_routes(parts.registry, parts.health)),
        parts.red,
        parts.request_timeout,
    )
}

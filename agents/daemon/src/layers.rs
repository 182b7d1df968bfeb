//! What every daemon's own routes get, in one call: the shared fallbacks
//! (404/405 in the one error shape), the request timeout and RED metrics.

use crate::error;
use crate::red::{self, RedMetrics};
use crate::request_timeout;
use axum::middleware::from_fn_with_state;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;

/// Wrap a daemon's complete router (its routes merged with
/// [`crate::standard_routes`]). It sets the fallbacks, so the router must
/// not have one of its own (axum would replace it).
pub fn finish(router: Router, red: Arc<RedMetrics>, request_timeout: Duration) -> Router {
    router
        .fallback(error::no_such_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(from_fn_with_state(
            request_timeout,
            request_timeout::enforce,
        ))
        // Outermost, so that timeouts and rejections are counted too.
        .layer(from_fn_with_state(red, red::track))
}

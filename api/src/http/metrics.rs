//! The API's own metrics beyond the shared RED family and build info
//! (srp-daemon registers those): database reachability.

use prometheus::{IntGauge, Registry};

pub struct ApiMetrics {
    /// 1 while the last database check passed.
    pub db_up: IntGauge,
}

impl ApiMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let db_up = IntGauge::new(
            "srp_api_db_up",
            "Whether the last database check passed (1) or failed (0).",
        )?;
        registry.register(Box::new(db_up.clone()))?;
        Ok(ApiMetrics { db_up })
    }
}

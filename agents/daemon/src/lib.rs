//! What every SRP daemon (the API and the four agents) needs exactly once:
//! command-line pieces, logging, the metrics registry, `/health` + `/metrics`,
//! signal handling with graceful shutdown, and systemd readiness.
//!
//! Nothing daemon-specific lives here; if only one binary needs it, it belongs
//! to that binary's crate.

pub mod body_deadline;
pub mod build_info;
pub mod cli;
pub mod duration;
pub mod edge;
pub mod error;
pub mod health;
pub mod layers;
pub mod metrics;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod red;
pub mod request_timeout;
pub mod runtime_metrics;
pub mod server;
pub mod shutdown;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod systemd;
pub mod telemetry;

pub use build_info::BuildInfo;
pub use cli::{HttpArgs, LogArgs, LogFormat};
pub use duration::Dur;
pub use error::HttpError;
pub use health::{Check, HealthFn, HealthReport};
pub use red::RedMetrics;
pub use server::{
    bind, serve, serve_with, standard_routes, ServeError, ServeOptions, DEFAULT_DRAIN_TIMEOUT,
};
pub use shutdown::{Shutdown, Tasks};

//! srp-api: the SRP application. Health, version, projects CRUD, Prometheus
//! metrics and an OpenAPI document, over embedded SQLite (default) or
//! PostgreSQL.
//!
//! Layout (zero-to-production style): `config` (flags), `store` (the one
//! storage interface and its two backends), `http` (routes, errors, metrics
//! middleware), `startup` (wiring and serving).

pub mod auth;
pub mod build_info;
pub mod config;
pub mod dora;
pub mod http;
pub mod startup;
pub mod store;
pub mod tokens;

pub use config::{Config, DatabaseUrl};
pub use startup::Application;

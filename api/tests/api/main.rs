//! srp-api integration tests: the real server on 127.0.0.1:0 (and the real
//! binary in `binary`), over HTTP, against both stores.
//!
//! PostgreSQL tests use the server at 127.0.0.1:5432 (database `test`, or
//! SRP_TEST_POSTGRES_URL), each in a schema of its own that is dropped
//! afterwards. When it is unreachable they fail if CI is set, and otherwise
//! pass with a loud SKIPPED message on stderr.

mod helpers;

mod auth;
mod binary;
mod docs;
mod errors;
mod health;
mod ledger;
mod metrics;
mod outage;
mod projects;
mod shutdown;
mod store_suite;
mod version;

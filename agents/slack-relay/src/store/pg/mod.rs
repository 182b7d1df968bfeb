//! The shared outbox in PostgreSQL, for two or three relays behind an
//! Alertmanager cluster: the same tables as the SQLite file plus delivery
//! leases and per-destination pacing, so that exactly one relay posts each
//! message and the 1 msg/s per channel holds across relays.
//!
//! - [`ingest`]: storing a notification (the dedupe key is unique across
//!   relays: the same notification into two relays is stored once);
//! - [`outbox`]: leases (`FOR UPDATE SKIP LOCKED` with an expiry), outcomes
//!   held to the lease, shared message references and pacing, statistics.

pub mod audit;
pub mod dead_letters;
pub mod ingest;
pub mod outbox;

use super::StoreError;
use deadpool_postgres::{Object, Pool};
use std::time::Duration;

/// Schema versions, applied in order and recorded in
/// `srp_relay_schema_migrations`. Add new versions at the end; never edit
/// one that shipped.
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE dedupe (
    key      TEXT PRIMARY KEY,
    seen_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    source          TEXT NOT NULL,
    route           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     DOUBLE PRECISION NOT NULL,
    queued_at       DOUBLE PRECISION NOT NULL,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error      TEXT,
    finished_at     DOUBLE PRECISION,
    lease_owner     TEXT,
    lease_until     DOUBLE PRECISION
);
CREATE INDEX outbox_pending_route ON outbox (route, id) WHERE state = 'pending';
CREATE INDEX outbox_state ON outbox (state, id);
CREATE TABLE message_refs (
    target     TEXT NOT NULL,
    group_key  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (target, group_key)
);
CREATE TABLE pacing (
    rate_key TEXT PRIMARY KEY,
    next_at  DOUBLE PRECISION NOT NULL
);
"#,
    r#"
CREATE TABLE audit (
    id         BIGSERIAL PRIMARY KEY,
    at         DOUBLE PRECISION NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    silence_id TEXT
);
CREATE TABLE interactions_seen (
    signature TEXT PRIMARY KEY,
    seen_at   DOUBLE PRECISION NOT NULL
);
"#,
];

/// Serialises migrations when several relays start at once.
const MIGRATION_LOCK_KEY: i64 = 0x0053_5250_5f72_6c79; // "SRP_rly"
pub(crate) fn pg_error(e: impl std::error::Error + 'static) -> StoreError {
    StoreError::Postgres(srp_daemon::postgres::describe(&e))
}

/// A pool of connections to the shared outbox, and this relay's name in
/// the leases it takes.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    owner: String,
    lease: Duration,
}

impl PgStore {
    /// Connect, check the server answers, and migrate. `lease` is how long a
    /// claimed message stays this relay's before another may take it.
    pub async fn connect(url: &str, lease: Duration) -> Result<Self, StoreError> {
        let pool = srp_daemon::postgres::pool(url, "srp-slack-relay")
            .map_err(|e| StoreError::Postgres(e.to_string()))?;
        let owner = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            fastrand::u32(..)
        );
        let store = PgStore { pool, owner, lease };
        store.migrate().await?;
        Ok(store)
    }

    /// This relay's lease-holder name.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether the server answers now (for `/health`), within two seconds.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let probe = async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await.map_err(pg_error)?;
            Ok(())
        };
        tokio::time::timeout(Duration::from_secs(2), probe)
            .await
            .unwrap_or_else(|_| Err(StoreError::Postgres("did not answer within 2s".into())))
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        srp_daemon::postgres::client(&self.pool)
            .await
            .map_err(|e| StoreError::Postgres(e.to_string()))
    }

    /// The pool, for its metrics.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        srp_daemon::postgres::migrate(
            &mut client,
            "srp_relay_schema_migrations",
            MIGRATION_LOCK_KEY,
            MIGRATIONS,
        )
        .await
        .map(drop)
        .map_err(|e| match e {
            srp_daemon::postgres::MigrateError::Postgres(e) => pg_error(e),
            too_new => StoreError::Postgres(format!("{too_new}; upgrade the relay")),
        })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "relay".into())
}

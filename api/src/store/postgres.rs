//! PostgreSQL, for production: tokio-postgres behind a deadpool pool, with
//! statements prepared once per connection and cached.
//!
//! A broken connection (server restarted, network cut) fails the request that
//! was using it with 503; the pool drops it on the next checkout and opens a
//! fresh one, so the API recovers by itself when the server comes back.

mod ledger;

use super::model::{now, NewProject, Project, ProjectChange};
use super::{ProjectStore, StoreError};
use deadpool_postgres::{Object, Pool};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

/// Schema versions, applied in order and recorded in `srp_schema_migrations`.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE projects (
        id          BIGSERIAL PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at  TIMESTAMPTZ NOT NULL,
        updated_at  TIMESTAMPTZ NOT NULL
    )",
    ledger::LEDGER_MIGRATION,
];

/// Serialises migrations when several API instances start at once.
const MIGRATION_LOCK_KEY: i64 = 0x0053_5250_5f61_7069; // "SRP_api"
const COLUMNS: &str = "id, name, description, created_at, updated_at";
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

pub struct PgStore {
    pool: Pool,
}

fn unavailable(e: impl std::error::Error + 'static) -> StoreError {
    StoreError::Unavailable(srp_daemon::postgres::describe(&e))
}

fn write_error(e: tokio_postgres::Error, name: Option<&str>) -> StoreError {
    match (e.code(), name) {
        (Some(code), Some(name)) if *code == SqlState::UNIQUE_VIOLATION => {
            StoreError::DuplicateName(name.to_string())
        }
        _ => unavailable(e),
    }
}

fn project(row: &Row) -> Project {
    Project {
        id: row.get(0),
        name: row.get(1),
        description: row.get(2),
        created_at: row.get(3),
        updated_at: row.get(4),
    }
}

impl PgStore {
    /// Connect, check the server answers, and migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = srp_daemon::postgres::pool(url, "srp-api")
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The pool, for its metrics.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> Result<Object, StoreError> {
        srp_daemon::postgres::client(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        srp_daemon::postgres::migrate(
            &mut client,
            "srp_schema_migrations",
            MIGRATION_LOCK_KEY,
            MIGRATIONS,
        )
        .await
        .map(drop)
        .map_err(unavailable)
    }
}

impl ProjectStore for PgStore {
    async fn create(&self, new: NewProject) -> Result<Project, StoreError> {
        let ts = now();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "INSERT INTO projects (name, description, created_at, updated_at)
                 VALUES ($1, $2, $3, $3) RETURNING {COLUMNS}"
            ))
            .await
            .map_err(unavailable)?;
        let row = client
            .query_one(&stmt, &[&new.name, &new.description, &ts])
            .await
            .map_err(|e| write_error(e, Some(&new.name)))?;
        Ok(project(&row))
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<Project>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM projects ORDER BY id LIMIT $1 OFFSET $2"
            ))
            .await
            .map_err(unavailable)?;
        let limit = i64::from(limit);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = client
            .query(&stmt, &[&limit, &offset])
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(project).collect())
    }

    async fn get(&self, id: i64) -> Result<Option<Project>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM projects WHERE id = $1"))
            .await
            .map_err(unavailable)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(unavailable)?;
        Ok(row.as_ref().map(project))
    }

    async fn by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!("SELECT {COLUMNS} FROM projects WHERE name = $1"))
            .await
            .map_err(unavailable)?;
        let row = client
            .query_opt(&stmt, &[&name])
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(project))
    }

    async fn update(&self, id: i64, change: ProjectChange) -> Result<Option<Project>, StoreError> {
        let ts = now();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "UPDATE projects
                 SET name = COALESCE($2, name),
                     description = COALESCE($3, description),
                     updated_at = $4
                 WHERE id = $1 RETURNING {COLUMNS}"
            ))
            .await
            .map_err(unavailable)?;
        let row = client
            .query_opt(&stmt, &[&id, &change.name, &change.description, &ts])
            .await
            .map_err(|e| write_error(e, change.name.as_deref()))?;
        Ok(row.as_ref().map(project))
    }

    async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("DELETE FROM projects WHERE id = $1")
            .await
            .map_err(unavailable)?;
        let n = client.execute(&stmt, &[&id]).await.map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn check(&self) -> Result<(), String> {
        let probe = async {
            let client = self.client().await.map_err(|e| e.to_string())?;
            client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "PostgreSQL did not answer: {}",
                        srp_daemon::postgres::describe(&e)
                    )
                })
        };
        tokio::time::timeout(HEALTH_TIMEOUT, probe)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "PostgreSQL did not answer within {HEALTH_TIMEOUT:?}"
                ))
            })
    }
}

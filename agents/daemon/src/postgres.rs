//! PostgreSQL schema migrations, the one SRP way (srp-api and the relay's
//! shared outbox): a table of applied versions, one transaction for the whole
//! upgrade under an advisory lock (several processes may start at once
//! against one database), and a schema from a newer release refused.

use tokio_postgres::Client;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error(
        "the database's schema ({table}) is version {found}, newer than this release knows ({known}); \
         use the release that wrote it"
    )]
    TooNew {
        table: String,
        found: i32,
        known: usize,
    },
}

/// Apply the `migrations` not yet recorded in `table`; returns the version
/// reached. `lock_key` is the advisory lock that serialises concurrent starts
/// (one per schema owner).
pub async fn migrate(
    client: &mut Client,
    table: &str,
    lock_key: i64,
    migrations: &[&str],
) -> Result<usize, MigrateError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])
        .await?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            version    INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )"
    ))
    .await?;
    let current: i32 = tx
        .query_one(
            &format!("SELECT COALESCE(MAX(version), 0) FROM {table}"),
            &[],
        )
        .await?
        .get(0);
    if current as usize > migrations.len() {
        return Err(MigrateError::TooNew {
            table: table.to_string(),
            found: current,
            known: migrations.len(),
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(sql).await?;
        tx.execute(
            &format!("INSERT INTO {table} (version) VALUES ($1)"),
            &[&version],
        )
        .await?;
        tracing::info!(version, table, "applied PostgreSQL migration");
    }
    tx.commit().await?;
    Ok(migrations.len())
}

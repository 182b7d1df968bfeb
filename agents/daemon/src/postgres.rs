//! PostgreSQL, the one SRP way (srp-api and the relay's shared outbox): a
//! connection pool with bounded connect and wait times, and schema
//! migrations: a table of applied versions, one transaction for the whole
//! upgrade under an advisory lock (several processes may start at once
//! against one database), and a schema from a newer release refused.

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::Client;

/// How long opening one connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request waits for a free connection before it is refused.
pub const POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per process: the server's default `max_connections` (100)
/// leaves room for several daemons and their restarts.
pub const POOL_SIZE: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The URL does not parse. The message never repeats the URL: it may
    /// hold a password.
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    #[error("cannot build the PostgreSQL pool: {0}")]
    Build(String),
    /// No connection: the server is down, refused us, or all connections
    /// stayed busy past [`POOL_WAIT_TIMEOUT`].
    #[error("{0}")]
    Unavailable(String),
}

/// A pool for `url` (libpq style). `application_name` shows in
/// `pg_stat_activity` unless the URL sets its own. Connects lazily: call
/// [`client`] (or migrate) to find out whether the server answers.
pub fn pool(url: &str, application_name: &str) -> Result<Pool, PoolError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| PoolError::InvalidUrl(e.to_string()))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name(application_name);
    }
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| PoolError::Build(e.to_string()))
}

/// The pool's state at scrape time, for the Rust Runtime dashboard:
/// `srp_pg_pool_connections{state="idle"|"in_use"}`, `srp_pg_pool_max_connections`
/// and `srp_pg_pool_waiting` (requests waiting for a connection now; above 0
/// for long means the pool is too small or the server too slow).
pub fn register_pool_metrics(
    registry: &prometheus::Registry,
    pool: &Pool,
) -> prometheus::Result<()> {
    registry.register(Box::new(PoolCollector::new(pool.clone())?))
}

struct PoolCollector {
    pool: Pool,
    connections: prometheus::IntGaugeVec,
    max: prometheus::IntGauge,
    waiting: prometheus::IntGauge,
    descs: Vec<prometheus::core::Desc>,
}

impl PoolCollector {
    fn new(pool: Pool) -> prometheus::Result<Self> {
        use prometheus::core::Collector;
        let connections = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "srp_pg_pool_connections",
                "PostgreSQL connections the pool holds, idle or in use.",
            ),
            &["state"],
        )?;
        let max = prometheus::IntGauge::new(
            "srp_pg_pool_max_connections",
            "The most PostgreSQL connections the pool opens.",
        )?;
        let waiting = prometheus::IntGauge::new(
            "srp_pg_pool_waiting",
            "Requests waiting for a PostgreSQL connection now.",
        )?;
        let descs = connections
            .desc()
            .into_iter()
            .chain(max.desc())
            .chain(waiting.desc())
            .cloned()
            .collect();
        Ok(PoolCollector {
            pool,
            connections,
            max,
            waiting,
            descs,
        })
    }
}

impl prometheus::core::Collector for PoolCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let status = self.pool.status();
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.connections
            .with_label_values(&["idle"])
            .set(gauge(status.available));
        self.connections
            .with_label_values(&["in_use"])
            .set(gauge(status.size.saturating_sub(status.available)));
        self.max.set(gauge(status.max_size));
        self.waiting.set(gauge(status.waiting));
        let mut families = self.connections.collect();
        families.extend(self.max.collect());
        families.extend(self.waiting.collect());
        families
    }
}

/// A connection from `pool`, with the server's own error (not the pool's
/// wrapper) as the message when connecting failed.
pub async fn client(pool: &Pool) -> Result<Object, PoolError> {
    pool.get().await.map_err(|e| {
        PoolError::Unavailable(match e {
            deadpool_postgres::PoolError::Backend(e) => describe(&e),
            other => describe(&other),
        })
    })
}

/// An error and its causes on one line: tokio-postgres's own `Display` is
/// often just "db error" with the server's message in the source.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_url_is_refused_without_echoing_it() {
        let e = pool("postgres://u:s3cret@host:notaport/db", "t").unwrap_err();
        assert!(matches!(e, PoolError::InvalidUrl(_)), "{e:?}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_is_named_by_its_own_error() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let p = pool(&format!("postgres://postgres@127.0.0.1:{port}/test"), "t").unwrap();
        let e = client(&p).await.unwrap_err();
        assert!(matches!(e, PoolError::Unavailable(_)), "{e:?}");
        assert!(e.to_string().to_lowercase().contains("refused"), "{e}");
    }

    /// The machine's PostgreSQL (CI has it; see the README).
    #[tokio::test]
    async fn connects_and_names_itself() {
        let p = pool("postgres://postgres@127.0.0.1:5432/test", "srp-daemon-test").unwrap();
        let c = client(&p).await.expect("PostgreSQL at 127.0.0.1:5432");
        let row = c
            .query_one("SELECT current_setting('application_name')", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "srp-daemon-test");

        let registry = prometheus::Registry::new();
        register_pool_metrics(&registry, &p).unwrap();
        let text = crate::metrics::render(&registry);
        assert!(
            text.contains("srp_pg_pool_connections{state=\"in_use\"} 1"),
            "{text}"
        );
        assert!(text.contains("srp_pg_pool_max_connections 16"), "{text}");
        drop(c);
        let text = crate::metrics::render(&registry);
        assert!(
            text.contains("srp_pg_pool_connections{state=\"idle\"} 1"),
            "{text}"
        );
    }
}

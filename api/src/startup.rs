//! Wiring: open the store, build the registry and router, bind, serve.

use crate::build_info::BUILD;
use crate::config::{Config, DatabaseUrl};
use crate::dora::{Dora, DoraCollector, REFRESH_INTERVAL};
use crate::http::metrics::ApiMetrics;
use crate::http::token_cache::TokenCache;
use crate::http::{self, AppState, RouterParts};
use crate::store::{ProjectStore, Store, StoreError};
use anyhow::Context;
use axum::Router;
use prometheus::IntGauge;
use srp_daemon::{Check, HealthFn, HealthReport, Shutdown};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// How often `srp_api_db_up` is refreshed when nobody calls /health.
const DB_PROBE_INTERVAL: Duration = Duration::from_secs(5);

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Arc<Store>,
    db_up: IntGauge,
    dora: Arc<Dora>,
}

/// Run the database check, record it in `srp_api_db_up`, and report it.
async fn probe(store: &Store, db_up: &IntGauge) -> Check {
    match store.check().await {
        Ok(()) => {
            db_up.set(1);
            Check::ok()
        }
        Err(detail) => {
            if db_up.get() != 0 {
                tracing::warn!(error = %detail, "database check failed");
            }
            db_up.set(0);
            Check::failed(detail)
        }
    }
}

impl Application {
    /// Open (and migrate) the database and bind the listener. Fails with a
    /// message naming the database or the address when either is unusable.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let database = config
            .database()
            .context("invalid --database-url / DATABASE_URL")?;
        let store = Arc::new(
            open_store(&database, config.database_start_wait)
                .await
                .with_context(|| format!("cannot use the database {}", database.redacted()))?,
        );
        tracing::info!(database = %database.redacted(), backend = store.backend(), "database ready");

        let registry = srp_daemon::metrics::registry();
        BUILD
            .register(&registry)
            .context("registering srp_build_info")?;
        if let Store::Postgres(pg) = store.as_ref() {
            srp_daemon::postgres::register_pool_metrics(&registry, pg.pool())
                .context("registering the PostgreSQL pool metrics")?;
        }
        let red = srp_daemon::RedMetrics::register(&registry).context("registering RED metrics")?;
        let metrics = ApiMetrics::register(&registry).context("registering the API's metrics")?;
        let db_up = metrics.db_up.clone();
        db_up.set(1);
        let dora = Dora::new(config.change_failure_window).context("building the DORA metrics")?;
        registry
            .register(Box::new(DoraCollector(dora.clone())))
            .context("registering the DORA metrics")?;
        dora.refresh(&store).await;

        let health: HealthFn = {
            let store = store.clone();
            let db_up = db_up.clone();
            Arc::new(move || {
                let store = store.clone();
                let db_up = db_up.clone();
                Box::pin(async move {
                    HealthReport::new()
                        .with("version", BUILD.version)
                        .check("database", probe(&store, &db_up).await)
                })
            })
        };

        let router = http::router(RouterParts {
            state: AppState {
                store: store.clone(),
                max_body_bytes: config.max_body_bytes,
                reads_need_token: config.require_token_for_reads,
                dora: dora.clone(),
                tokens: Arc::new(TokenCache::new(config.token_cache_ttl)),
            },
            red,
            registry,
            health,
            request_timeout: config.request_timeout,
        });
        let listener = srp_daemon::bind(config.listen).await?;
        Ok(Application {
            listener,
            router,
            store,
            db_up,
            dora,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve until `shutdown` fires, then drain in-flight requests.
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let (store, db_up, stop) = (self.store.clone(), self.db_up.clone(), shutdown.clone());
        // Tracked, so the stop waits for a probe in flight (within the drain).
        shutdown.spawn(async move {
            let mut tick = tokio::time::interval(DB_PROBE_INTERVAL);
            loop {
                tokio::select! {
                    _ = stop.wait() => break,
                    _ = tick.tick() => { probe(&store, &db_up).await; }
                }
            }
        });
        let (store, dora, stop) = (self.store.clone(), self.dora.clone(), shutdown.clone());
        // Other instances write to the same database: pick their writes up.
        shutdown.spawn(async move {
            let mut tick = tokio::time::interval(REFRESH_INTERVAL);
            loop {
                tokio::select! {
                    _ = stop.wait() => break,
                    _ = tick.tick() => dora.refresh(&store).await,
                }
            }
        });
        srp_daemon::serve(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}

/// Open the store; PostgreSQL is retried, with a growing pause, while it does
/// not answer and `wait` has not run out, so a start races neither the server's
/// own start nor a slow first connection. Any other failure (and SQLite's,
/// which a wait cannot cure) is returned at once.
async fn open_store(database: &DatabaseUrl, wait: Duration) -> Result<Store, StoreError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(250);
    loop {
        match Store::open(database).await {
            Err(StoreError::Unavailable(detail))
                if matches!(database, DatabaseUrl::Postgres(_))
                    && Instant::now() + pause < deadline =>
            {
                tracing::warn!(error = %detail, retry_in = ?pause, "PostgreSQL does not answer yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(4));
            }
            other => return other,
        }
    }
}

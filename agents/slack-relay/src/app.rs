//! Startup: configuration → outbox → dispatcher → HTTP server, and an
//! orderly stop: stop accepting, answer the requests in progress, let the
//! deliveries on the wire finish, all inside srp-daemon's drain bound (the
//! writer and the dispatcher are tasks of the one `Shutdown`).

use crate::cli::ServeArgs;
use crate::deliver::Sender;
use crate::dispatch::{Dispatcher, Policy};
use crate::http::{self, AppState, Auth};
use crate::incidents::Api;
use crate::interactions::Interactions;
use crate::metrics::Metrics;
use crate::routes::{Destination, Routes};
use crate::silences::Alertmanagers;
use crate::store::pg::PgStore;
use crate::store::{DbHealth, Ingest, Outbox, WriterMetrics};
use anyhow::{bail, Context};
use srp_daemon::{Check, HealthReport};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let s = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} from {}", path.display()))?;
    let s = s.trim().to_string();
    if s.is_empty() {
        bail!("{what} file {} is empty", path.display());
    }
    Ok(s)
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

pub struct Config {
    /// srp-api, for incidents from alerts (`--api-url`).
    pub api: Option<Api>,
    /// The Slack signing secret, when interactive messages are on.
    pub signing_secret: Option<String>,
    pub routes: Routes,
    pub token: Option<String>,
    pub auth: Auth,
}

/// A request timeout at or below the body timeout would answer a slow but
/// legitimate delivery 408, which Alertmanager takes as final: refused.
fn check_timeouts(request: Duration, body: Duration) -> anyhow::Result<()> {
    if request <= body {
        bail!(
            "--request-timeout ({}) must be longer than --request-body-timeout ({}): \
             Alertmanager does not retry the 408 it would answer",
            srp_daemon::Dur(request),
            srp_daemon::Dur(body)
        );
    }
    Ok(())
}

/// A lease that can expire while its holder still waits on Slack lets a
/// second relay post the same message: refused.
fn check_lease(lease: Duration, timeout: Duration, flag: &str) -> anyhow::Result<()> {
    if lease <= timeout {
        bail!(
            "--lease-duration ({}) must be longer than {flag} ({}): \
             another relay would take over a delivery still on the wire and post it twice",
            srp_daemon::Dur(lease),
            srp_daemon::Dur(timeout)
        );
    }
    Ok(())
}

/// Check and assemble everything the flags describe, failing with a message
/// that names the flag before anything starts.
pub fn configure(a: &ServeArgs) -> anyhow::Result<Config> {
    check_timeouts(a.request_timeout, a.http.request_body_timeout)?;
    if a.database_url.is_some() {
        check_lease(a.lease_duration, a.slack_timeout, "--slack-timeout")?;
        if a.api_url.is_some() {
            check_lease(a.lease_duration, a.api_timeout, "--api-timeout")?;
        }
    }
    let api = match (&a.api_url, &a.api_token_file) {
        (Some(url), Some(f)) => {
            if url.scheme() != "http" && url.scheme() != "https" {
                bail!("--api-url must be http:// or https://, not {url}");
            }
            let token = read_secret(f, "srp-api token")?;
            Some(Api::new(url.clone(), token, a.api_timeout)?)
        }
        _ => None,
    };
    let token = match (&a.slack_token, &a.slack_token_file) {
        (_, Some(f)) => Some(read_secret(f, "Slack token")?),
        (t, None) => nonempty(t.clone()),
    };
    let channel = nonempty(a.slack_channel.clone());
    let default = match (&a.slack_webhook_url, &token, &channel) {
        (Some(u), _, _) => Destination::Webhook(u.clone()),
        (None, Some(_), Some(c)) => Destination::Channel(c.clone()),
        (None, Some(_), None) if a.routes.is_none() => {
            bail!("--slack-token needs --slack-channel (or a routes file with a [default] channel)")
        }
        (None, None, Some(_)) => bail!("--slack-channel needs --slack-token (or SRP_SLACK_TOKEN)"),
        _ => Destination::Log,
    };
    let routes = match &a.routes {
        Some(p) => Routes::load(p, default, token.is_some())?,
        None => Routes::single(default, token.is_some()),
    };
    let bearer = match (&a.auth_token_file, &a.auth_token) {
        (Some(f), _) => Some(read_secret(f, "auth token")?),
        (None, t) => nonempty(t.clone()),
    };
    let basic = match (&a.basic_auth_user, &a.basic_auth_password_file) {
        (Some(u), Some(f)) => Some((u.clone(), read_secret(f, "basic-auth password")?)),
        _ => None,
    };
    let signing_secret = match &a.slack_signing_secret_file {
        Some(f) => {
            if token.is_none() {
                bail!("--slack-signing-secret-file needs --slack-token: buttons exist in bot-token mode only");
            }
            if a.alertmanager_urls.is_empty() {
                bail!("--slack-signing-secret-file needs --alertmanager-url: silences are created there");
            }
            Some(read_secret(f, "Slack signing secret")?)
        }
        None => None,
    };
    Ok(Config {
        api,
        signing_secret,
        routes,
        token,
        auth: Auth { bearer, basic },
    })
}

pub async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let cfg = configure(&a)?;
    if !cfg.auth.is_enabled() && !a.listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {} without inbound authentication; set --auth-token-file or SRP_RELAY_TOKEN",
            a.listen
        );
    }
    let route_names = cfg.routes.names();
    let needs_client = route_names
        .iter()
        .any(|r| *cfg.routes.destination(r) != Destination::Log);
    if !needs_client {
        tracing::info!("no Slack settings: log sink mode, messages are printed");
    }
    let sender = Sender::new(
        &a.slack_api_url,
        cfg.token.clone(),
        needs_client,
        a.slack_timeout,
        a.sink_file.clone(),
    )?;

    // Inside the runtime, so the registry carries the runtime metrics.
    let registry = srp_daemon::metrics::registry();
    let metrics = Metrics::register(&registry, &route_names)?;
    let red = srp_daemon::RedMetrics::register(&registry).context("registering RED metrics")?;
    srp_daemon::build_info!("srp-slack-relay")
        .register(&registry)
        .context("registering srp_build_info")?;
    let health = Arc::new(DbHealth::default());
    let wake = Arc::new(Notify::new());
    let shutdown = srp_daemon::Shutdown::on_signals();
    let mut shared: Option<PgStore> = None;
    let (ingest, outbox) = match &a.database_url {
        Some(url) => {
            let pg = PgStore::connect(url, a.lease_duration)
                .await
                .context("opening the shared outbox in PostgreSQL (--database-url)")?;
            tracing::info!(owner = pg.owner(), "shared outbox in PostgreSQL");
            srp_daemon::postgres::register_pool_metrics(&registry, pg.pool())
                .context("registering the PostgreSQL pool metrics")?;
            shared = Some(pg.clone());
            (
                Ingest::postgres(pg.clone(), a.dedupe_window, health.clone()),
                Outbox::postgres(pg, health.clone())?,
            )
        }
        None => {
            let writer_metrics = WriterMetrics::new();
            writer_metrics
                .register(&registry)
                .context("registering the writer metrics")?;
            let ingest = Ingest::spawn_with(
                &a.data_dir,
                a.dedupe_window,
                a.commit_gather,
                wake.clone(),
                health.clone(),
                writer_metrics,
                &shutdown,
            )
            .with_context(|| format!("opening the outbox in {}", a.data_dir.display()))?;
            let sync = ingest.wal_sync().expect("the SQLite writer has a WAL sync");
            let outbox = Outbox::open_synced(&a.data_dir, health.clone(), sync)?;
            (ingest, outbox)
        }
    };
    let routes = Arc::new(cfg.routes);

    let sender = Arc::new(sender);
    let interactions = cfg.signing_secret.as_ref().map(|secret| {
        Arc::new(Interactions {
            signing_secret: secret.as_bytes().to_vec(),
            alertmanagers: Alertmanagers::new(a.alertmanager_urls.clone()),
            outbox: outbox.clone(),
            sender: sender.clone(),
            metrics: metrics.clone(),
        })
    });
    let forwards_incidents = cfg.api.is_some();
    if let Some(url) = &a.api_url {
        tracing::info!(%url, "alerts with a project label are forwarded to srp-api as incidents");
    }
    let dispatcher = Dispatcher {
        outbox,
        routes: routes.clone(),
        sender,
        api: cfg.api.map(Arc::new),
        metrics: metrics.clone(),
        policy: Policy {
            interval: a.per_destination_interval,
            max_attempts: a.max_attempts,
            max_age: a.max_age,
            retry_base: a.retry_base,
            retry_max: a.retry_max,
            keep_delivered: a.keep_delivered,
            dedupe_window: a.dedupe_window,
        },
        wake,
    };
    shutdown.spawn(dispatcher.run(shutdown.clone()));

    let db_health = health.clone();
    let health_fn: srp_daemon::HealthFn = Arc::new(move || {
        let h = db_health.clone();
        let shared = shared.clone();
        Box::pin(async move {
            // The shared database is asked now: the last operations may be
            // old news when it just went away (or came back).
            let now = match &shared {
                Some(pg) => pg.ping().await.err().map(|e| e.to_string()),
                None => None,
            };
            let check = match now.or_else(|| h.error()) {
                None => Check::ok(),
                Some(e) => Check::failed(e),
            };
            HealthReport::new().check("database", check)
        })
    });
    let state = Arc::new(AppState {
        ingest,
        routes,
        metrics,
        auth: cfg.auth,
        interactive: interactions.is_some(),
        incidents: forwards_incidents,
    });
    let mut app = http::router(state, a.max_body_bytes);
    if let Some(i) = interactions {
        // Outside the bearer check: Slack signs its requests instead.
        app = app.merge(crate::interactions::router(i));
    }
    let router = srp_daemon::layers::finish(
        app.merge(srp_daemon::standard_routes(registry, health_fn)),
        red,
        a.request_timeout,
    );
    let listener = match srp_daemon::bind(a.listen).await {
        Ok(l) => l,
        Err(e) => {
            // The writer and the dispatcher are running: stop them first.
            shutdown.trigger();
            shutdown.tasks().wait().await;
            return Err(e.into());
        }
    };
    // Returns once the connections and the background tasks are done (or
    // the drain bound passed).
    srp_daemon::serve_with(listener, router, shutdown, a.http.serve_options()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_must_outlast_a_slack_request() {
        let s = Duration::from_secs;
        assert!(check_lease(s(30), s(15), "--slack-timeout").is_ok());
        let e = check_lease(s(15), s(15), "--slack-timeout")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--lease-duration (15s)") && e.contains("--slack-timeout (15s)"),
            "{e}"
        );
    }

    #[test]
    fn the_request_timeout_must_outlast_the_body_timeout() {
        let s = Duration::from_secs;
        assert!(check_timeouts(s(60), s(30)).is_ok());
        let e = check_timeouts(s(30), s(30)).unwrap_err().to_string();
        assert!(
            e.contains("--request-timeout (30s)") && e.contains("--request-body-timeout (30s)"),
            "{e}"
        );
    }
}

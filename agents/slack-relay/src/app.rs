//! Startup: configuration → outbox → dispatcher → HTTP server, and an
//! orderly stop (stop accepting, let in-flight deliveries finish).

use crate::cli::ServeArgs;
use crate::deliver::Sender;
use crate::dispatch::{Dispatcher, Policy};
use crate::http::{self, AppState, Auth};
use crate::metrics::Metrics;
use crate::routes::{Destination, Routes};
use crate::store::{DbHealth, Ingest, Outbox};
use anyhow::{bail, Context};
use srp_daemon::{Check, HealthReport};
use std::path::Path;
use std::sync::Arc;
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
    pub routes: Routes,
    pub token: Option<String>,
    pub auth: Auth,
}

/// Check and assemble everything the flags describe, failing with a message
/// that names the flag before anything starts.
pub fn configure(a: &ServeArgs) -> anyhow::Result<Config> {
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
    Ok(Config {
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

    let registry = srp_daemon::metrics::registry();
    let metrics = Metrics::register(&registry, &route_names)?;
    let health = Arc::new(DbHealth::default());
    let wake = Arc::new(Notify::new());
    let ingest = Ingest::spawn(&a.data_dir, a.dedupe_window, wake.clone(), health.clone())
        .with_context(|| format!("opening the outbox in {}", a.data_dir.display()))?;
    let outbox = Outbox::open(&a.data_dir, health.clone())?;
    let routes = Arc::new(cfg.routes);

    let shutdown = srp_daemon::Shutdown::on_signals();
    let dispatcher = Dispatcher {
        outbox,
        routes: routes.clone(),
        sender: Arc::new(sender),
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
    let delivering = tokio::spawn(dispatcher.run(shutdown.clone()));

    let db_health = health.clone();
    let health_fn: srp_daemon::HealthFn = Arc::new(move || {
        let h = db_health.clone();
        Box::pin(async move {
            let check = match h.error() {
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
    });
    let router = http::router(state, a.max_body_bytes)
        .merge(srp_daemon::standard_routes(registry, health_fn));
    let listener = srp_daemon::bind(a.listen).await?;
    let served =
        srp_daemon::serve_with(listener, router, shutdown.clone(), a.http.serve_options()).await;
    shutdown.trigger();
    let _ = delivering.await;
    served?;
    Ok(())
}

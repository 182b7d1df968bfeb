//! The long-running mode: a pass every interval on a blocking thread, config
//! reload on file change (notify) or SIGHUP, `/health` and `/metrics`.
//! The loop and its helpers are tasks of [`Shutdown`]: the stop waits for
//! them (a pass in progress finishes its current deletion) inside
//! srp-daemon's one drain bound.
//! A config that fails to load on reload is ignored (the running one stays),
//! logged, exported as `srp_disk_config_last_reload_successful 0`, and shown
//! as a failed `config` check in `/health`.

use crate::config::Config;
use crate::guard::Guard;
use srp_daemon::{Check, HealthFn, HealthReport, Shutdown};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct HealthState {
    pub config_error: Option<String>,
    pub mount_errors: Vec<String>,
    pub passes: u64,
}

pub fn health_fn(state: Arc<Mutex<HealthState>>) -> HealthFn {
    Arc::new(move || {
        let s = state.lock().map(|s| s.clone()).unwrap_or_default();
        Box::pin(async move {
            let config = match &s.config_error {
                None => Check::ok(),
                Some(e) => {
                    Check::failed(format!("reload failed, running the previous config: {e}"))
                }
            };
            let mounts = if s.mount_errors.is_empty() {
                Check::ok()
            } else {
                Check::failed(s.mount_errors.join("; "))
            };
            HealthReport::new()
                .check("config", config)
                .check("last_pass", mounts)
                .with("passes", s.passes)
        })
    })
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Send a reload request when the config file (or the directory entry it
/// lives in: editors and Ansible replace files by rename) changes.
pub fn watch_config(
    path: &Path,
    tx: mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let name = path.file_name().map(|n| n.to_os_string());
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            if ev.kind.is_access() {
                return;
            }
            if ev
                .paths
                .iter()
                .any(|p| p.file_name().map(|n| n.to_os_string()) == name)
            {
                let _ = tx.try_send(());
            }
        }
    })?;
    w.watch(&dir, RecursiveMode::NonRecursive)?;
    Ok(w)
}

/// Turn SIGHUP into reload requests until the stop, as a task the stop
/// waits for.
pub fn spawn_sighup(shutdown: &Shutdown, tx: mpsc::Sender<()>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.wait() => break,
                got = hup.recv() => {
                    if got.is_none() {
                        break;
                    }
                    tracing::info!("SIGHUP: reloading the configuration");
                    let _ = tx.send(()).await;
                }
            }
        }
    });
    Ok(())
}

fn reload(guard: &mut Guard, path: &Path, health: &Mutex<HealthState>) {
    match Config::load(path) {
        Ok(cfg) => {
            if *guard.config == cfg {
                tracing::debug!("configuration unchanged");
            } else {
                tracing::info!(config = %path.display(), "configuration reloaded");
            }
            // Health first: whoever sees the metrics flip also sees /health agree.
            if let Ok(mut h) = health.lock() {
                h.config_error = None;
            }
            guard.set_config(cfg);
            guard.metrics.config_reload_ok.set(1);
            guard.metrics.config_reload_time.set(unix_now());
        }
        Err(e) => {
            tracing::error!("keeping the running configuration: {e}");
            if let Ok(mut h) = health.lock() {
                h.config_error = Some(e.to_string());
            }
            guard.metrics.config_reload_ok.set(0);
        }
    }
}

pub async fn run_loop(
    mut guard: Guard,
    config_path: PathBuf,
    mut reload_rx: mpsc::Receiver<()>,
    shutdown: Shutdown,
    health: Arc<Mutex<HealthState>>,
) {
    guard.metrics.config_reload_ok.set(1);
    guard.metrics.config_reload_time.set(unix_now());
    // A pass under way stops selecting at the next entry once the stop
    // comes; the deletion in progress finishes.
    let cancel = guard.cancel.clone();
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        stop.wait().await;
        cancel.store(true, Ordering::Relaxed);
    });
    let mut next = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            Some(()) = reload_rx.recv() => {
                // Editors write in bursts: let the burst finish, then load once.
                tokio::time::sleep(Duration::from_millis(200)).await;
                while reload_rx.try_recv().is_ok() {}
                reload(&mut guard, &config_path, &health);
                next = next.min(Instant::now() + guard.config.interval.0);
            }
            _ = tokio::time::sleep_until(next) => {
                let joined = shutdown.spawn_blocking(move || {
                    let report = guard.pass();
                    (guard, report)
                })
                .await;
                let (g, report) = match joined {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::error!("cleanup pass crashed: {e}; stopping");
                        shutdown.trigger();
                        return;
                    }
                };
                guard = g;
                if let Ok(mut h) = health.lock() {
                    h.passes += 1;
                    h.mount_errors = report.mounts.iter().flat_map(|m| m.errors.clone()).collect();
                }
                next = Instant::now() + guard.config.interval.0;
            }
        }
    }
}

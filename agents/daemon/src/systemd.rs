//! systemd readiness (`Type=notify`) and the watchdog. Every call is a no-op
//! when the process was not started by systemd (NOTIFY_SOCKET unset).

use crate::shutdown::Shutdown;
use sd_notify::NotifyState;
use std::time::Duration;

pub fn notify_ready() {
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Ready]) {
        tracing::warn!(error = %e, "sd_notify READY=1 failed");
    }
}

pub fn notify_stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// When the unit sets `WatchdogSec=`, ping systemd at half the interval until
/// shutdown. The ping runs on the same runtime as the server, so a wedged
/// runtime stops pinging and systemd restarts the service.
pub fn spawn_watchdog(shutdown: Shutdown) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let period = Duration::from_micros(usec / 2);
    tracing::info!(?period, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = tick.tick() => {
                    let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
                }
            }
        }
    });
}

//! Whether the reports-directory watcher is still going round its loop, for
//! `/health`. A watcher stuck on one file (or stopped) means new reports are
//! silently not ingested; the health check must say so instead of "ok".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the watcher may go without completing a loop before `/health`
/// calls it stuck: far longer than ingesting the largest allowed report.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

pub struct Liveness {
    epoch: Instant,
    /// Milliseconds after `epoch` of the last completed loop.
    last_beat_ms: AtomicU64,
    /// The file being handled, named in the health detail when stuck.
    working_on: Mutex<Option<String>>,
    /// Set when the watcher ended (an error, or shutdown).
    stopped: Mutex<Option<String>>,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            epoch: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            working_on: Mutex::new(None),
            stopped: Mutex::new(None),
        }
    }
}

impl Liveness {
    pub fn beat(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_beat_ms.store(ms, Ordering::Relaxed);
    }

    pub fn working_on(&self, what: Option<String>) {
        *self.working_on.lock().unwrap_or_else(|p| p.into_inner()) = what;
    }

    pub fn stopped(&self, why: impl Into<String>) {
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.into());
    }

    /// Time since the last completed loop.
    pub fn since_beat(&self) -> Duration {
        let last = Duration::from_millis(self.last_beat_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// `Ok` while the watcher runs and its last loop is younger than
    /// `stall_after`; otherwise what is wrong, for the health detail.
    pub fn check(&self, stall_after: Duration) -> Result<(), String> {
        if let Some(why) = &*self.stopped.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(format!("the watcher stopped: {why}"));
        }
        let since = self.since_beat();
        if since > stall_after {
            let on = self
                .working_on
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "nothing".into());
            return Err(format!(
                "no watcher loop for {}s (working on {on}); new reports are not being read",
                since.as_secs()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stale_and_stopped() {
        let l = Liveness::default();
        l.beat();
        assert!(l.check(Duration::from_secs(60)).is_ok());
        l.working_on(Some("ci/x.json".into()));
        std::thread::sleep(Duration::from_millis(30));
        let e = l.check(Duration::from_millis(10)).unwrap_err();
        assert!(e.contains("ci/x.json"), "{e}");
        l.beat();
        assert!(l.check(Duration::from_secs(60)).is_ok());
        l.stopped("cannot watch");
        assert!(l
            .check(Duration::from_secs(60))
            .unwrap_err()
            .contains("stopped"));
    }
}

//! Explicit shutdown, as in mini-redis: one token that the signal handler
//! cancels and every task watches, and one tracker of the background tasks
//! that the stop waits for (inside the same drain bound as the connections).

use std::future::Future;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tasks: Tasks,
}

/// The background tasks of one daemon (DB probe, watcher, dispatcher, guard
/// loop). [`crate::serve_with`] waits for them after the last connection,
/// so a task that is writing when SIGTERM arrives finishes its write; each
/// task must watch [`Shutdown::wait`] to end.
#[derive(Clone, Debug, Default)]
pub struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    /// Tasks still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }

    /// Take no new tasks and wait for the running ones.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await
    }
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token that is cancelled on SIGTERM or SIGINT (Ctrl-C).
    pub fn on_signals() -> Self {
        let s = Self::new();
        let token = s.token.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutdown requested, draining");
            token.cancel();
        });
        s
    }

    /// Spawn a background task that the stop waits for.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.tracker.spawn(task)
    }

    /// Run blocking work on the blocking pool; the stop waits for it too.
    pub fn spawn_blocking<F, T>(&self, work: F) -> tokio::task::JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.tasks.tracker.spawn_blocking(work)
    }

    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown has been requested.
    pub async fn wait(&self) {
        self.token.cancelled().await
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("installing SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("installing SIGINT handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

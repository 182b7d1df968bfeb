//! The ingest side: one writer commits whatever notifications have queued up
//! in a single transaction (group commit) and only then lets the HTTP
//! handlers answer 2xx. One fsync covers many requests, and nothing is
//! acknowledged before it is on disk.
//!
//! The writer is a background task of the daemon's [`Shutdown`]: on a stop
//! it keeps committing until no inbound request is open any more (see
//! [`Ingest::open_request`]), so a request that was being received when
//! SIGTERM came is still stored and answered; then it ends, inside the
//! shared drain bound.

use super::pg::PgStore;
use super::wal_sync::WalSync;
use super::{now, schema, Accepted, DbHealth, NewNotification, StoreError};
use prometheus::{Histogram, HistogramOpts, Registry};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use srp_daemon::Shutdown;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// Most notifications one transaction takes: bounds a commit's latency.
const MAX_BATCH: usize = 512;
/// How often a stopping writer looks whether requests are still open.
const STOP_POLL: Duration = Duration::from_millis(10);
/// Longest a commit waits for requests that are open but not yet submitted
/// (their body or rendering still in progress) to join it: one fsync then
/// covers them instead of the next one. At the timer's 1 ms resolution, at
/// most about 2 ms more on an acknowledgement, and only while other
/// requests are in progress.
pub const GATHER: Duration = Duration::from_millis(1);

type Job = (NewNotification, oneshot::Sender<Result<Accepted, String>>);

/// The writer's metrics: how many notifications each commit carried (one
/// fsync covers them all: the rate is about batch size / cycle time) and
/// how long each WAL fsync took.
#[derive(Clone)]
pub struct WriterMetrics {
    pub batch_sizes: Histogram,
    pub fsyncs: Histogram,
}

impl WriterMetrics {
    /// Not registered anywhere (tests, or [`WriterMetrics::register`]).
    pub fn new() -> Self {
        let batch_sizes = Histogram::with_opts(
            HistogramOpts::new(
                "srp_relay_commit_batch_size",
                "Notifications stored by one SQLite commit of the ingest writer (one WAL fsync covers them).",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 128.0, 512.0]),
        )
        .expect("static histogram options are valid");
        let fsyncs = Histogram::with_opts(
            HistogramOpts::new(
                "srp_relay_wal_fsync_seconds",
                "Time of one fsync of the SQLite WAL by the sync thread (acknowledgements wait for it).",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.1, 1.0,
            ]),
        )
        .expect("static histogram options are valid");
        WriterMetrics {
            batch_sizes,
            fsyncs,
        }
    }

    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.batch_sizes.clone()))?;
        registry.register(Box::new(self.fsyncs.clone()))
    }
}

impl Default for WriterMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Hands notifications to the writer (SQLite) or stores them in the shared
/// outbox (PostgreSQL), and waits for the commit.
#[derive(Clone)]
pub struct Ingest {
    backend: Backend,
    open_requests: Arc<AtomicUsize>,
    /// Notifications handed to the writer and not answered yet.
    submitted: Arc<AtomicUsize>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(mpsc::Sender<Job>, WalSync),
    /// Each request is its own transaction: PostgreSQL group-commits
    /// concurrent ones itself, and there is no writer to drain on a stop.
    Postgres {
        store: PgStore,
        window: Duration,
        health: Arc<DbHealth>,
    },
}

/// An inbound request in progress (from its headers to its answer): a
/// stopping writer waits for every one to be dropped.
pub struct OpenRequest(Arc<AtomicUsize>);

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ingest {
    /// Start the writer, on its own connection, as a task of `shutdown`
    /// (call inside the runtime). `committed` is notified after every commit
    /// that stored something.
    pub fn spawn(
        dir: &Path,
        dedupe_window: Duration,
        committed: Arc<Notify>,
        health: Arc<DbHealth>,
        shutdown: &Shutdown,
    ) -> Result<Self, StoreError> {
        Self::spawn_with(
            dir,
            dedupe_window,
            GATHER,
            committed,
            health,
            WriterMetrics::new(),
            shutdown,
        )
    }

    /// [`Ingest::spawn`] with how long a commit may wait for requests still
    /// on their way (`--commit-gather`; zero: never).
    pub fn spawn_with(
        dir: &Path,
        dedupe_window: Duration,
        gather: Duration,
        committed: Arc<Notify>,
        health: Arc<DbHealth>,
        metrics: WriterMetrics,
        shutdown: &Shutdown,
    ) -> Result<Self, StoreError> {
        // Commits return before their fsync; the sync thread's fsync
        // releases the answers (see `wal_sync`).
        let conn = schema::open_unsynced(dir)?;
        let sync = WalSync::start(&schema::db_path(dir), health.clone(), metrics.fsyncs)?;
        let writer = Writer {
            window: dedupe_window,
            committed,
            health,
            open_requests: Arc::default(),
            submitted: Arc::default(),
            gather,
            sync,
            batch_sizes: metrics.batch_sizes,
        };
        writer.start(conn, shutdown)
    }

    /// A writer whose WAL syncs are `sync`'s (tests: slow or failing).
    #[cfg(test)]
    pub(super) fn spawn_with_sync(
        dir: &Path,
        sync: WalSync,
        health: Arc<DbHealth>,
        shutdown: &Shutdown,
    ) -> Result<Self, StoreError> {
        let writer = Writer {
            window: Duration::from_secs(60),
            committed: Arc::new(Notify::new()),
            health,
            open_requests: Arc::default(),
            submitted: Arc::default(),
            gather: GATHER,
            sync,
            batch_sizes: WriterMetrics::new().batch_sizes,
        };
        writer.start(schema::open_unsynced(dir)?, shutdown)
    }

    /// Store into the shared PostgreSQL outbox; outcomes are recorded in
    /// `health` like the writer's.
    pub fn postgres(store: PgStore, dedupe_window: Duration, health: Arc<DbHealth>) -> Self {
        Ingest {
            backend: Backend::Postgres {
                store,
                window: dedupe_window,
                health,
            },
            open_requests: Arc::new(AtomicUsize::new(0)),
            submitted: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The WAL sync thread, for the other connections of this relay that
    /// commit without an fsync of their own (SQLite only).
    pub fn wal_sync(&self) -> Option<WalSync> {
        match &self.backend {
            Backend::Sqlite(_, sync) => Some(sync.clone()),
            Backend::Postgres { .. } => None,
        }
    }

    /// Mark an inbound request as open until the guard is dropped.
    pub fn open_request(&self) -> OpenRequest {
        self.open_requests.fetch_add(1, Ordering::SeqCst);
        OpenRequest(self.open_requests.clone())
    }

    /// Store durably; `Ok` means committed (or a duplicate of something that
    /// was).
    pub async fn submit(&self, n: NewNotification) -> Result<Accepted, StoreError> {
        let tx = match &self.backend {
            Backend::Sqlite(tx, _) => tx,
            Backend::Postgres {
                store,
                window,
                health,
            } => {
                let r = store.submit(&n, *window).await;
                health.record_ingest(&r);
                return r;
            }
        };
        let (reply, wait) = oneshot::channel();
        // Counted until answered (or the caller gives up).
        self.submitted.fetch_add(1, Ordering::SeqCst);
        let _submitted = Submitted(self.submitted.clone());
        tx.send((n, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        match wait.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(StoreError::Join(e)),
            Err(_) => Err(StoreError::WriterGone),
        }
    }
}

struct Submitted(Arc<AtomicUsize>);

impl Drop for Submitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Writer {
    window: Duration,
    committed: Arc<Notify>,
    health: Arc<DbHealth>,
    open_requests: Arc<AtomicUsize>,
    submitted: Arc<AtomicUsize>,
    gather: Duration,
    sync: WalSync,
    batch_sizes: Histogram,
}

impl Writer {
    fn start(self, conn: Connection, shutdown: &Shutdown) -> Result<Ingest, StoreError> {
        // Checkpoints (copying the WAL into the database, with an fsync) run
        // on the outbox connection instead, so they never stall an
        // acknowledgement.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (tx, rx) = mpsc::channel::<Job>(8192);
        let ingest = Ingest {
            backend: Backend::Sqlite(tx, self.sync.clone()),
            open_requests: self.open_requests.clone(),
            submitted: self.submitted.clone(),
        };
        shutdown.spawn(self.run(conn, rx, shutdown.clone()));
        Ok(ingest)
    }

    /// Inbound requests in progress that have not handed their
    /// notification over yet (they may still: worth waiting a moment for).
    fn still_coming(&self) -> bool {
        self.open_requests.load(Ordering::SeqCst) > self.submitted.load(Ordering::SeqCst)
    }
}

/// Resolves once a stop was asked for and no inbound request is open.
async fn stopped_and_idle(shutdown: &Shutdown, open_requests: &AtomicUsize) {
    shutdown.wait().await;
    while open_requests.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(STOP_POLL).await;
    }
}

impl Writer {
    async fn run(self, mut conn: Connection, mut rx: mpsc::Receiver<Job>, shutdown: Shutdown) {
        let open_requests = self.open_requests.clone();
        let this = Arc::new(self);
        let mut last_batch = 0;
        loop {
            let first = tokio::select! {
                // Queued work first: a stop never drops a submitted job.
                biased;
                job = rx.recv() => match job {
                    Some(job) => job,
                    None => break,
                },
                _ = stopped_and_idle(&shutdown, &open_requests) => break,
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            // Group commit that groups: right after a commit, its senders'
            // next requests are still on their way (or being read), and
            // starting at once would give them a commit (an fsync) of their
            // own. Wait a moment for as many as the last commit had, or for
            // the requests in progress.
            let until = tokio::time::Instant::now() + this.gather;
            while !this.gather.is_zero()
                && batch.len() < MAX_BATCH
                && (batch.len() < last_batch || this.still_coming())
            {
                match tokio::time::timeout_at(until, rx.recv()).await {
                    Ok(Some(j)) => batch.push(j),
                    _ => break,
                }
            }
            last_batch = batch.len();
            let me = this.clone();
            // SQLite blocks (fsync): on the blocking pool, the connection
            // travelling with the batch.
            match tokio::task::spawn_blocking(move || {
                me.commit_and_answer(&mut conn, batch);
                conn
            })
            .await
            {
                Ok(c) => conn = c,
                Err(e) => {
                    tracing::error!("the database writer failed: {e}");
                    break;
                }
            }
        }
        // Everything committed is answered once its fsync is done: wait
        // for that (in order, so this waits for all of them).
        if let Err(e) = this.sync.synced().await {
            tracing::error!("the last commits are not on disk: {e}");
        }
        tracing::debug!("database writer stopped");
    }

    fn commit_and_answer(&self, conn: &mut Connection, batch: Vec<Job>) {
        let result = self
            .sync
            .check()
            .and_then(|()| commit_batch(conn, &batch, self.window.as_secs_f64()));
        self.health.record_ingest(&result);
        self.answer_after_sync(batch, result);
        // Let a waiting delivery update in (at most ~1 ms per batch); after
        // the batch went to the sync thread, so its fsync does not wait.
        for _ in 0..10 {
            if !self.health.delivery_waiting() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn answer_after_sync(&self, batch: Vec<Job>, result: Result<Vec<Accepted>, StoreError>) {
        match result {
            Ok(outcomes) => {
                self.batch_sizes.observe(batch.len() as f64);
                let stored = outcomes
                    .iter()
                    .any(|o| matches!(o, Accepted::Stored { .. }));
                let committed = self.committed.clone();
                let replies: Vec<_> = batch.into_iter().map(|(_, reply)| reply).collect();
                // Answered only after an fsync that began after this commit
                // returned, duplicates too (what they duplicate may be in
                // this commit or the one before, not yet on disk).
                self.sync.after_commit(Box::new(move |synced| match synced {
                    Ok(()) => {
                        if stored {
                            committed.notify_one();
                        }
                        for (reply, o) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(o));
                        }
                    }
                    Err(e) => {
                        tracing::error!("cannot acknowledge {} notifications: {e}", replies.len());
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::NotSynced(e.clone()).to_string()));
                        }
                    }
                }));
            }
            Err(e) => {
                tracing::error!("cannot commit {} notifications: {e}", batch.len());
                let msg = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

fn commit_batch(
    conn: &mut Connection,
    batch: &[Job],
    window_secs: f64,
) -> Result<Vec<Accepted>, StoreError> {
    let t = now();
    // IMMEDIATE: take the write lock up front. A deferred transaction that
    // reads first cannot upgrade after the dispatcher wrote (SQLITE_BUSY
    // without waiting), which would turn into needless 503s.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut seen = tx.prepare_cached("SELECT seen_at FROM dedupe WHERE key = ?1")?;
        let mut mark = tx.prepare_cached(
            "INSERT INTO dedupe (key, seen_at) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET seen_at = excluded.seen_at",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO outbox (source, route, kind, group_key, title, message,
                                 received_at, queued_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7)",
        )?;
        for (n, _) in batch {
            let last: Option<f64> = seen
                .query_row(params![n.dedupe_key], |r| r.get(0))
                .optional()?;
            if last.is_some_and(|s| t - s < window_secs) {
                out.push(Accepted::Duplicate);
                continue;
            }
            mark.execute(params![n.dedupe_key, t])?;
            for m in &n.messages {
                insert.execute(params![
                    n.source,
                    m.route,
                    m.kind.as_str(),
                    m.group_key,
                    m.title,
                    m.message,
                    t
                ])?;
            }
            out.push(Accepted::Stored {
                messages: n.messages.len(),
            });
        }
    }
    srp_daemon::sqlite::commit(tx)?;
    Ok(out)
}

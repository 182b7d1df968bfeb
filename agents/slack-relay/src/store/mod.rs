//! The durable outbox in SQLite (WAL, synchronous=FULL), one concern a
//! module:
//!
//! - [`schema`]: the file, its pragmas and its versioned schema;
//! - [`message`]: what a notification turns into (rows to deliver);
//! - [`ingest`]: the writer that group-commits inbound notifications before
//!   they are acknowledged;
//! - [`outbox`]: the dispatcher's side (heads, outcomes, pruning, stats);
//! - [`audit`]: actions taken from Slack and used request signatures;
//! - [`dead_letters`]: the dead-letter table, for the CLI;
//! - [`health`]: the last failure of each side, for `/health`;
//! - [`pg`]: the same outbox shared by several relays in PostgreSQL
//!   (`--database-url`), with delivery leases and shared pacing.

pub mod audit;
pub mod dead_letters;
pub mod health;
pub mod ingest;
pub mod message;
pub mod outbox;
pub mod pg;
pub mod schema;
pub mod wal_sync;

pub use audit::AuditEntry;
pub use dead_letters::{dead_letters, purge, replay, DeadRow};
pub use health::DbHealth;
pub use ingest::{Ingest, OpenRequest, WriterMetrics};
pub use message::{Accepted, Kind, NewMessage, NewNotification};
pub use outbox::{stats, MessageRef, Outbox, OutboxRow, QueueStats};
pub use schema::{db_path, open, DB_FILE, MIGRATIONS};
pub use wal_sync::WalSync;

use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Opening or migrating the file; the message names it.
    #[error(transparent)]
    Open(#[from] srp_daemon::sqlite::SqliteError),
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    /// PostgreSQL unreachable or refusing; the message has the causes.
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    /// The WAL could not be made durable (a failed fsync): nothing is
    /// acknowledged any more until a restart.
    #[error("not on disk: {0}; the relay must be restarted")]
    NotSynced(String),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("background task failed: {0}")]
    Join(String),
}

/// Seconds since the epoch, as the outbox stores times.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use srp_daemon::Shutdown;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::sync::Notify;

    fn note(key: &str) -> NewNotification {
        NewNotification {
            source: "alertmanager",
            dedupe_key: key.into(),
            messages: vec![NewMessage {
                route: "default".into(),
                kind: Kind::Post,
                group_key: "g".into(),
                title: "t".into(),
                message: "{}".into(),
            }],
        }
    }

    fn spawn_ingest(dir: &std::path::Path, shutdown: &Shutdown) -> (Ingest, Arc<DbHealth>) {
        let health = Arc::new(DbHealth::default());
        let ingest = Ingest::spawn(
            dir,
            Duration::from_secs(60),
            Arc::new(Notify::new()),
            health.clone(),
            shutdown,
        )
        .unwrap();
        (ingest, health)
    }

    #[tokio::test]
    async fn commits_dedupes_and_replays() {
        let dir = tempfile::tempdir().unwrap();
        let (ingest, health) = spawn_ingest(dir.path(), &Shutdown::new());
        assert_eq!(
            ingest.submit(note("a")).await.unwrap(),
            Accepted::Stored { messages: 1 }
        );
        assert_eq!(ingest.submit(note("a")).await.unwrap(), Accepted::Duplicate);
        ingest.submit(note("b")).await.unwrap();

        let outbox = Outbox::open(dir.path(), health).unwrap();
        let heads = outbox.heads().await.unwrap();
        assert_eq!(heads.len(), 1, "one head per route");
        let first = heads[0].id;
        outbox.dead(first, "boom".into()).await.unwrap();
        let s = outbox.stats().await.unwrap();
        assert_eq!((s.pending, s.dead), (1, 1));

        let c = open(dir.path()).unwrap();
        let dl = dead_letters(&c).unwrap();
        assert_eq!(dl[0].last_error, "boom");
        assert_eq!(replay(&c, &[first]).unwrap(), 1);
        assert_eq!(replay(&c, &[]).unwrap(), 0);
        assert_eq!(outbox.heads().await.unwrap()[0].id, first);
    }

    #[tokio::test]
    async fn nothing_is_acknowledged_before_the_wal_fsync() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).unwrap();
        let health = Arc::new(DbHealth::default());
        let fsyncs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = fsyncs.clone();
        let sync = WalSync::start_with(
            move || {
                std::thread::sleep(Duration::from_millis(300));
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            },
            health.clone(),
            WriterMetrics::new().fsyncs,
        )
        .unwrap();
        let ingest = Ingest::spawn_with_sync(dir.path(), sync, health, &Shutdown::new()).unwrap();
        let started = std::time::Instant::now();
        assert_eq!(
            ingest.submit(note("a")).await.unwrap(),
            Accepted::Stored { messages: 1 }
        );
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "answered after {:?}, before the fsync ended",
            started.elapsed()
        );
        assert!(fsyncs.load(std::sync::atomic::Ordering::SeqCst) >= 1);
        // A duplicate waits for an fsync too: what it duplicates may not be
        // on disk yet.
        let started = std::time::Instant::now();
        assert_eq!(ingest.submit(note("a")).await.unwrap(), Accepted::Duplicate);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn a_failed_fsync_refuses_everything_after_it() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).unwrap();
        let health = Arc::new(DbHealth::default());
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = calls.clone();
        let sync = WalSync::start_with(
            move || {
                // The first fails, later ones "succeed": they prove nothing.
                match c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    0 => Err("fsync of relay.db-wal: Input/output error".into()),
                    _ => Ok(()),
                }
            },
            health.clone(),
            WriterMetrics::new().fsyncs,
        )
        .unwrap();
        let ingest =
            Ingest::spawn_with_sync(dir.path(), sync, health.clone(), &Shutdown::new()).unwrap();
        let e = ingest.submit(note("a")).await.unwrap_err().to_string();
        assert!(e.contains("Input/output error"), "{e}");
        let e = ingest.submit(note("b")).await.unwrap_err().to_string();
        assert!(e.contains("not on disk"), "{e}");
        assert!(health.error().unwrap().contains("not on disk"));
        // The retry of the first is refused as well, not taken for a
        // duplicate of a commit that may not be on disk.
        assert!(ingest.submit(note("a")).await.is_err());
    }

    #[tokio::test]
    async fn a_stopping_writer_stores_what_open_requests_still_submit() {
        let dir = tempfile::tempdir().unwrap();
        let shutdown = Shutdown::new();
        let (ingest, _) = spawn_ingest(dir.path(), &shutdown);
        // A request whose body was still arriving when the stop came.
        let receiving = ingest.open_request();
        shutdown.trigger();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!shutdown.tasks().is_empty(), "the writer waits for it");
        assert_eq!(
            ingest.submit(note("late")).await.unwrap(),
            Accepted::Stored { messages: 1 }
        );
        drop(receiving);
        tokio::time::timeout(Duration::from_secs(5), shutdown.tasks().wait())
            .await
            .expect("the writer ends once no request is open");
        assert!(matches!(
            ingest.submit(note("after")).await,
            Err(StoreError::WriterGone)
        ));
        let c = open(dir.path()).unwrap();
        assert_eq!(stats(&c).unwrap().pending, 1);
    }
}

//! The dispatcher's side of the outbox, on its own connection: the next
//! message of each route, delivery outcomes, message references for
//! threads, WAL checkpoints, pruning and queue statistics.

use super::pg::PgStore;
use super::{now, schema, DbHealth, Kind, StoreError, WalSync};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub source: String,
    pub route: String,
    pub kind: Kind,
    pub group_key: String,
    pub title: String,
    pub message: String,
    pub attempts: u32,
    pub received_at: f64,
    pub queued_at: f64,
    pub next_attempt_at: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub pending: i64,
    pub oldest_received_at: Option<f64>,
    pub dead: i64,
}

/// A message reference (for threads and edits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

fn row_to_outbox(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        source: r.get(1)?,
        route: r.get(2)?,
        kind: Kind::parse(&r.get::<_, String>(3)?),
        group_key: r.get(4)?,
        title: r.get(5)?,
        message: r.get(6)?,
        attempts: r.get(7)?,
        received_at: r.get(8)?,
        queued_at: r.get(9)?,
        next_attempt_at: r.get(10)?,
    })
}

const OUTBOX_COLUMNS: &str = "id, source, route, kind, group_key, title, message, attempts, \
                              received_at, queued_at, next_attempt_at";

/// What the dispatcher does with the outbox: the SQLite file of this relay,
/// or the PostgreSQL outbox it shares with others (leases, shared pacing).
#[derive(Clone)]
pub struct Outbox {
    conn: Arc<Mutex<Connection>>,
    shared: Option<PgStore>,
    health: Arc<DbHealth>,
    /// The WAL sync thread when this connection commits without an fsync
    /// of its own: every write waits for it, outside the write lock.
    sync: Option<WalSync>,
}

/// How often a relay on the shared outbox looks for work: the other relays'
/// commits do not wake it.
const SHARED_POLL: Duration = Duration::from_millis(100);

impl Outbox {
    /// Its own connection, every commit fsynced before it returns.
    pub fn open(dir: &Path, health: Arc<DbHealth>) -> Result<Self, StoreError> {
        Ok(Outbox {
            conn: Arc::new(Mutex::new(schema::open(dir)?)),
            shared: None,
            health,
            sync: None,
        })
    }

    /// Its own connection, committing without an fsync and then waiting for
    /// the writer's WAL sync thread: a delivery outcome is still on disk
    /// before the dispatcher acts on it (the next message of the route),
    /// but the write lock is not held through an fsync, so the ingest
    /// writer is not kept waiting by one.
    pub fn open_synced(
        dir: &Path,
        health: Arc<DbHealth>,
        sync: WalSync,
    ) -> Result<Self, StoreError> {
        Ok(Outbox {
            conn: Arc::new(Mutex::new(schema::open_unsynced(dir)?)),
            shared: None,
            health,
            sync: Some(sync),
        })
    }

    /// The shared outbox in PostgreSQL.
    pub fn postgres(store: PgStore, health: Arc<DbHealth>) -> Result<Self, StoreError> {
        Ok(Outbox {
            // Never used in this mode; an in-memory database keeps one type.
            conn: Arc::new(Mutex::new(Connection::open_in_memory()?)),
            shared: Some(store),
            health,
            sync: None,
        })
    }

    /// Longest the dispatcher may sleep before looking at the outbox again.
    pub fn poll_interval(&self) -> Duration {
        if self.shared.is_some() {
            SHARED_POLL
        } else {
            Duration::from_secs(1)
        }
    }

    /// Record a shared-outbox outcome for `/health`.
    fn noted<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        self.health.record_outbox(&r);
        r
    }

    /// Give back a message taken by [`Outbox::heads`] but not sent now
    /// (pacing, not due yet): on the shared outbox it is leased.
    pub async fn release(&self, id: i64) -> Result<(), StoreError> {
        match &self.shared {
            Some(pg) => self.noted(pg.release(id).await),
            None => Ok(()),
        }
    }

    /// The send slot of a destination: `None` to send now, else the wait.
    /// Only the shared outbox paces here (across relays); one relay on its
    /// own file paces in memory.
    pub async fn take_slot(
        &self,
        rate_key: &str,
        interval: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        match &self.shared {
            Some(pg) => self.noted(pg.take_slot(rate_key, interval).await),
            None => Ok(None),
        }
    }

    /// Hold a destination for every relay (Slack's Retry-After).
    pub async fn hold_destination(&self, rate_key: &str, wait: Duration) -> Result<(), StoreError> {
        match &self.shared {
            Some(pg) => self.noted(pg.hold_destination(rate_key, wait).await),
            None => Ok(()),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.exec(false, f).await
    }

    /// Like `run`, for statements that need the write lock.
    async fn run_write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.exec(true, f).await
    }

    async fn exec<T: Send + 'static>(
        &self,
        writes: bool,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        let health = self.health.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().expect("outbox connection lock");
            if writes {
                health.delivery_write(|| f(&mut c))
            } else {
                f(&mut c)
            }
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))
        .and_then(|r| r);
        let r = match (r, &self.sync) {
            (Ok(v), Some(sync)) if writes => sync.synced().await.map(|()| v),
            (r, _) => r,
        };
        self.health.record_outbox(&r);
        r
    }

    /// The oldest pending message of every route: messages of one route go
    /// out in order, so a resolve never overtakes its firing message.
    /// On the shared outbox only the due heads no live relay holds are
    /// returned, leased to this relay.
    pub async fn heads(&self) -> Result<Vec<OutboxRow>, StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.claim(now()).await);
        }
        self.run(|c| {
            // A skip scan: each step seeks the next route in the
            // (state, route, id) index, so this costs a few lookups per
            // route. `MIN(id) ... GROUP BY route` walked every pending row
            // instead, and the dispatcher asks after every commit: during a
            // storm that scan of a growing queue took more CPU than the
            // accepts themselves.
            let mut st = c.prepare_cached(&format!(
                "WITH RECURSIVE pending_routes(r) AS (
                   SELECT (SELECT MIN(route) FROM outbox WHERE state = 'pending')
                   UNION ALL
                   SELECT (SELECT MIN(route) FROM outbox WHERE state = 'pending' AND route > r)
                     FROM pending_routes WHERE r IS NOT NULL)
                 SELECT {OUTBOX_COLUMNS} FROM pending_routes JOIN outbox ON id =
                   (SELECT MIN(id) FROM outbox WHERE state = 'pending' AND route = r)
                 WHERE r IS NOT NULL ORDER BY id"
            ))?;
            let rows = st.query_map([], row_to_outbox)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    pub async fn message_ref(
        &self,
        target: String,
        group_key: String,
    ) -> Result<Option<MessageRef>, StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.message_ref(&target, &group_key).await);
        }
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT channel, ts FROM message_refs WHERE target = ?1 AND group_key = ?2",
                params![target, group_key],
                |r| {
                    Ok(MessageRef {
                        channel: r.get(0)?,
                        ts: r.get(1)?,
                    })
                },
            )
            .optional()?)
        })
        .await
    }

    /// Mark delivered, and remember where it landed when it started a thread.
    pub async fn delivered(
        &self,
        id: i64,
        remember: Option<(String, String, MessageRef)>,
    ) -> Result<(), StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.delivered(id, remember, now()).await);
        }
        self.run_write(move |c| {
            let t = now();
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE outbox SET state = 'delivered', finished_at = ?2, last_error = NULL,
                        attempts = attempts + 1 WHERE id = ?1",
                params![id, t],
            )?;
            if let Some((target, group_key, r)) = remember {
                tx.execute(
                    "INSERT INTO message_refs (target, group_key, channel, ts, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(target, group_key) DO UPDATE SET
                        channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at",
                    params![target, group_key, r.channel, r.ts, t],
                )?;
            }
            srp_daemon::sqlite::commit(tx)?;
            Ok(())
        })
        .await
    }

    /// Try again at `next_at`; `count_attempt` is false for a 429 (Slack
    /// told us when, that is not a failure of the message).
    pub async fn retry_at(
        &self,
        id: i64,
        next_at: f64,
        count_attempt: bool,
        error: String,
    ) -> Result<(), StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.retry_at(id, next_at, count_attempt, &error).await);
        }
        self.run_write(move |c| {
            c.execute(
                "UPDATE outbox SET next_attempt_at = ?2, last_error = ?3,
                        attempts = attempts + ?4 WHERE id = ?1",
                params![id, next_at, error, count_attempt as i64],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn dead(&self, id: i64, error: String) -> Result<(), StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.dead(id, &error, now()).await);
        }
        self.run_write(move |c| {
            c.execute(
                "UPDATE outbox SET state = 'dead', finished_at = ?2, last_error = ?3,
                        attempts = attempts + 1 WHERE id = ?1",
                params![id, now(), error],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether a Slack request signature is new (and now used).
    pub async fn first_use(&self, signature: String) -> Result<bool, StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.first_use(&signature, now()).await);
        }
        self.run_write(move |c| super::audit::first_use(c, &signature, now()))
            .await
    }

    /// Record an action taken from Slack.
    pub async fn record_action(&self, e: super::AuditEntry) -> Result<(), StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.record_action(&e).await);
        }
        self.run_write(move |c| super::audit::record(c, &e)).await
    }

    /// Copy what the WAL holds into the database without blocking writers.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.shared.is_some() {
            return Ok(());
        }
        self.run_write(|c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    pub async fn stats(&self) -> Result<QueueStats, StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.stats().await);
        }
        self.run(|c| stats(c)).await
    }

    /// Forget delivered messages and dedupe keys that can no longer matter.
    pub async fn prune(&self, keep: Duration, dedupe_window: Duration) -> Result<(), StoreError> {
        if let Some(pg) = &self.shared {
            return self.noted(pg.prune(keep, dedupe_window, now()).await);
        }
        self.run_write(move |c| {
            let t = now();
            c.execute(
                "DELETE FROM outbox WHERE state = 'delivered' AND finished_at < ?1",
                params![t - keep.as_secs_f64()],
            )?;
            c.execute(
                "DELETE FROM dedupe WHERE seen_at < ?1",
                params![t - dedupe_window.as_secs_f64()],
            )?;
            Ok(())
        })
        .await
    }
}

pub fn stats(c: &Connection) -> Result<QueueStats, StoreError> {
    let pending: i64 = c.query_row(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    // Ids follow commit order, so the lowest pending id is the oldest; this
    // is an index lookup where MIN(received_at) would scan the queue.
    let oldest: Option<f64> = c
        .query_row(
            "SELECT received_at FROM outbox WHERE id =
               (SELECT MIN(id) FROM outbox WHERE state = 'pending')",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let dead: i64 = c.query_row(
        "SELECT COUNT(*) FROM outbox WHERE state = 'dead'",
        [],
        |r| r.get(0),
    )?;
    Ok(QueueStats {
        pending,
        oldest_received_at: oldest,
        dead,
    })
}

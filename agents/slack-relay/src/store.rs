//! The durable outbox in SQLite (WAL, synchronous=FULL).
//!
//! Inbound notifications go through one writer thread that commits whatever
//! has queued up in a single transaction (group commit) and only then lets
//! the HTTP handlers answer 2xx: one fsync covers many requests, and nothing
//! is acknowledged before it is on disk. The dispatcher uses its own
//! connection for the much smaller delivery bookkeeping.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, Notify};

pub const DB_FILE: &str = "relay.db";
/// Most notifications one transaction takes: bounds a commit's latency.
const MAX_BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("background task failed: {0}")]
    Join(String),
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// What one outbox row asks the dispatcher to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A new message.
    Post,
    /// A reply in the thread of the group's last message (a new message when
    /// there is none).
    Reply,
    /// Edit the group's last message in place (nothing when there is none).
    Update,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Post => "post",
            Kind::Reply => "reply",
            Kind::Update => "update",
        }
    }
    pub fn parse(s: &str) -> Kind {
        match s {
            "reply" => Kind::Reply,
            "update" => Kind::Update,
            _ => Kind::Post,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub route: String,
    pub kind: Kind,
    pub group_key: String,
    pub title: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub source: &'static str,
    pub dedupe_key: String,
    pub messages: Vec<NewMessage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Stored { messages: usize },
    Duplicate,
}

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

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadRow {
    pub id: i64,
    pub source: String,
    pub route: String,
    pub kind: &'static str,
    pub title: String,
    pub attempts: u32,
    pub last_error: String,
    pub received_at: f64,
    pub dead_at: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub pending: i64,
    pub oldest_received_at: Option<f64>,
    pub dead: i64,
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS dedupe (
    key      TEXT PRIMARY KEY,
    seen_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    route           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     REAL NOT NULL,
    queued_at       REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    finished_at     REAL
);
CREATE INDEX IF NOT EXISTS outbox_state_route ON outbox(state, route, id);
CREATE TABLE IF NOT EXISTS message_refs (
    target     TEXT NOT NULL,
    group_key  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (target, group_key)
) WITHOUT ROWID;
"#;

/// Busy handler: 250 µs steps for up to about 10 s, then SQLITE_BUSY.
fn retry_briefly(attempt: i32) -> bool {
    if attempt >= 40_000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(250));
    true
}

/// Open (creating if needed) the database under `dir` with durable settings.
pub fn open(dir: &Path) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
        path: dir.display().to_string(),
        source,
    })?;
    let conn = Connection::open(dir.join(DB_FILE))?;
    // SQLite's own busy timeout sleeps in steps of up to 100 ms; the writer
    // and the dispatcher hold the lock for well under a millisecond, so
    // retrying in short steps keeps acknowledgements fast.
    conn.busy_handler(Some(retry_briefly))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a commit is on disk (WAL fsynced) before we acknowledge it.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Why the last database operations failed, for `/health`: the ingest side
/// (commits of new notifications) and the delivery side are tracked apart,
/// so a successful read by one does not hide a failing write by the other.
///
/// It also carries how many delivery-side writes wait for the database: the
/// ingest writer commits back to back during a storm, and SQLite's lock is
/// not fair, so it steps aside briefly when a delivery update waits.
#[derive(Debug, Default)]
pub struct DbHealth {
    ingest: Mutex<Option<String>>,
    outbox: Mutex<Option<String>>,
    delivery_waiting: std::sync::atomic::AtomicUsize,
}

impl DbHealth {
    fn delivery_waiting(&self) -> bool {
        self.delivery_waiting
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
    }

    fn set<T>(slot: &Mutex<Option<String>>, r: &Result<T, StoreError>) {
        *slot.lock().expect("health lock") = r.as_ref().err().map(|e| e.to_string());
    }
    pub fn record_ingest<T>(&self, r: &Result<T, StoreError>) {
        Self::set(&self.ingest, r)
    }
    pub fn record_outbox<T>(&self, r: &Result<T, StoreError>) {
        Self::set(&self.outbox, r)
    }
    pub fn error(&self) -> Option<String> {
        let i = self.ingest.lock().expect("health lock").clone();
        let o = self.outbox.lock().expect("health lock").clone();
        match (i, o) {
            (Some(i), Some(o)) => Some(format!("storing: {i}; delivering: {o}")),
            (Some(i), None) => Some(format!("storing: {i}")),
            (None, Some(o)) => Some(format!("delivering: {o}")),
            (None, None) => None,
        }
    }
}

type Job = (NewNotification, oneshot::Sender<Result<Accepted, String>>);

/// The ingest side: hands notifications to the writer thread and waits for
/// the commit.
#[derive(Clone)]
pub struct Ingest {
    tx: mpsc::Sender<Job>,
}

impl Ingest {
    /// Start the writer thread on its own connection. `committed` is
    /// notified after every commit that stored something.
    pub fn spawn(
        dir: &Path,
        dedupe_window: Duration,
        committed: Arc<Notify>,
        health: Arc<DbHealth>,
    ) -> Result<Self, StoreError> {
        let conn = open(dir)?;
        // Checkpoints (copying the WAL into the database, with an fsync) run
        // on the outbox connection instead, so they never stall an
        // acknowledgement.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (tx, rx) = mpsc::channel::<Job>(8192);
        std::thread::Builder::new()
            .name("relay-writer".into())
            .spawn(move || writer_loop(conn, rx, dedupe_window, committed, health))
            .map_err(|e| StoreError::Join(e.to_string()))?;
        Ok(Ingest { tx })
    }

    /// Store durably; `Ok` means committed (or a duplicate of something that
    /// was).
    pub async fn submit(&self, n: NewNotification) -> Result<Accepted, StoreError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send((n, reply))
            .await
            .map_err(|_| StoreError::WriterGone)?;
        match wait.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(e)) => Err(StoreError::Join(e)),
            Err(_) => Err(StoreError::WriterGone),
        }
    }
}

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    window: Duration,
    committed: Arc<Notify>,
    health: Arc<DbHealth>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let result = commit_batch(&mut conn, &batch, window.as_secs_f64());
        health.record_ingest(&result);
        // Let a waiting delivery update in (at most ~1 ms per batch).
        for _ in 0..10 {
            if !health.delivery_waiting() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        match result {
            Ok(outcomes) => {
                if outcomes
                    .iter()
                    .any(|o| matches!(o, Accepted::Stored { .. }))
                {
                    committed.notify_one();
                }
                for ((_, reply), o) in batch.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(o));
                }
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
    tx.commit()?;
    Ok(out)
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

/// What the dispatcher and the CLI do with the outbox.
#[derive(Clone)]
pub struct Outbox {
    conn: Arc<Mutex<Connection>>,
    health: Arc<DbHealth>,
}

/// A message reference (for threads and edits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub channel: String,
    pub ts: String,
}

impl Outbox {
    pub fn open(dir: &Path, health: Arc<DbHealth>) -> Result<Self, StoreError> {
        Ok(Outbox {
            conn: Arc::new(Mutex::new(open(dir)?)),
            health,
        })
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
        use std::sync::atomic::Ordering;
        let conn = self.conn.clone();
        let health = self.health.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().expect("outbox connection lock");
            if writes {
                health.delivery_waiting.fetch_add(1, Ordering::Relaxed);
            }
            let r = f(&mut c);
            if writes {
                health.delivery_waiting.fetch_sub(1, Ordering::Relaxed);
            }
            r
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))
        .and_then(|r| r);
        self.health.record_outbox(&r);
        r
    }

    /// The oldest pending message of every route: messages of one route go
    /// out in order, so a resolve never overtakes its firing message.
    pub async fn heads(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.run(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id IN
                   (SELECT MIN(id) FROM outbox WHERE state = 'pending' GROUP BY route)"
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
            tx.commit()?;
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

    /// Copy what the WAL holds into the database without blocking writers.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.run_write(|c| {
            c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    pub async fn stats(&self) -> Result<QueueStats, StoreError> {
        self.run(|c| stats(c)).await
    }

    /// Forget delivered messages and dedupe keys that can no longer matter.
    pub async fn prune(&self, keep: Duration, dedupe_window: Duration) -> Result<(), StoreError> {
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

/// The dead-letter table, for the CLI.
pub fn dead_letters(c: &Connection) -> Result<Vec<DeadRow>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, source, route, kind, title, attempts, COALESCE(last_error, ''),
                received_at, COALESCE(finished_at, 0)
         FROM outbox WHERE state = 'dead' ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(DeadRow {
            id: r.get(0)?,
            source: r.get(1)?,
            route: r.get(2)?,
            kind: Kind::parse(&r.get::<_, String>(3)?).as_str(),
            title: r.get(4)?,
            attempts: r.get(5)?,
            last_error: r.get(6)?,
            received_at: r.get(7)?,
            dead_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Put dead letters back in the queue as if just received (fresh attempts
/// and age); `ids` empty means all. Returns how many were requeued.
pub fn replay(c: &Connection, ids: &[i64]) -> Result<usize, StoreError> {
    let t = now();
    let sql = "UPDATE outbox SET state = 'pending', attempts = 0, queued_at = ?1,
                      next_attempt_at = ?1, finished_at = NULL
               WHERE state = 'dead'";
    if ids.is_empty() {
        return Ok(c.execute(sql, params![t])?);
    }
    let mut n = 0;
    for id in ids {
        n += c.execute(&format!("{sql} AND id = ?2"), params![t, id])?;
    }
    Ok(n)
}

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn commits_dedupes_and_replays() {
        let dir = tempfile::tempdir().unwrap();
        let health = Arc::new(DbHealth::default());
        let ingest = Ingest::spawn(
            dir.path(),
            Duration::from_secs(60),
            Arc::new(Notify::new()),
            health.clone(),
        )
        .unwrap();
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
}

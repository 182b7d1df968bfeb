//! Embedded SQLite: the default backend, so a new user needs nothing installed.
//!
//! WAL mode lets readers run beside the single writer. Queries run inline on
//! the async worker thread: they take microseconds, less than handing them to
//! a blocking thread would cost. The only long wait is a lock held by another
//! process, and that is bounded by the busy timeouts below.

mod checkpoint;
mod ledger;

use super::group_commit::Inserter;
use super::model::{format_timestamp, now, parse_timestamp, NewProject, Project, ProjectChange};
use super::{ProjectStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension, Row};
use srp_daemon::sqlite;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Schema versions, applied in order; `PRAGMA user_version` records the last.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE projects (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    )",
    ledger::LEDGER_MIGRATION,
];

const COLUMNS: &str = "id, name, description, created_at, updated_at";
const WRITE_BUSY_TIMEOUT: Duration = Duration::from_secs(1);
/// Short, so that /health answers promptly while another process holds the lock.
const HEALTH_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

pub struct SqliteStore {
    path: PathBuf,
    /// SQLite allows one writer at a time; one connection makes that explicit.
    /// Shared with the group commit of the inserts.
    writer: Arc<Mutex<Connection>>,
    inserter: Inserter,
    /// One reader per worker thread, picked round-robin.
    readers: Box<[Mutex<Connection>]>,
    next_reader: AtomicUsize,
    health: Mutex<Connection>,
    /// (device, inode) of the file we opened: if the path stops pointing at
    /// it (deleted, moved, replaced), our writes go to a file nobody will read.
    identity: (u64, u64),
    /// Dropping it stops the checkpoint thread.
    _checkpointer: std::sync::mpsc::Sender<()>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave a transaction open
    // (rusqlite rolls back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SqliteStore {
    /// Open (creating if needed) the database file and migrate it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let describe = |e: rusqlite::Error| {
            StoreError::Unavailable(format!(
                "cannot open SQLite database {}: {e}",
                path.display()
            ))
        };
        // The API's rows are re-creatable from the pipeline; NORMAL keeps
        // commits off the fsync path (a power cut may lose the last ones).
        let options = sqlite::Options {
            busy_timeout: WRITE_BUSY_TIMEOUT,
            ..sqlite::Options::new(sqlite::Durability::Normal)
        };
        let writer = sqlite::open_migrated(path, &options, MIGRATIONS)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {e}")))?;
        // Checkpoints fsync the database file; done by a commit they would
        // stall a request (and its worker thread) now and then. A background
        // thread does them instead, so commits only append to the WAL.
        writer
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(describe)?;
        // The WAL restarts from its beginning after a complete checkpoint;
        // this cuts the file back then, instead of keeping its largest size.
        writer
            .pragma_update(None, "journal_size_limit", checkpoint::JOURNAL_SIZE_LIMIT)
            .map_err(describe)?;
        let writer = Arc::new(Mutex::new(writer));
        let checkpointer =
            checkpoint::spawn(Connection::open(path).map_err(describe)?, writer.clone()).map_err(
                |e| StoreError::Unavailable(format!("cannot start the SQLite checkpointer: {e}")),
            )?;

        let open_reader = || -> Result<Connection, StoreError> {
            let c = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(describe)?;
            c.busy_timeout(WRITE_BUSY_TIMEOUT).map_err(describe)?;
            c.execute_batch("PRAGMA query_only = ON;")
                .map_err(describe)?;
            Ok(c)
        };
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let readers = (0..n)
            .map(|_| open_reader().map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?
            .into_boxed_slice();

        let health = Connection::open(path).map_err(describe)?;
        health.busy_timeout(HEALTH_BUSY_TIMEOUT).map_err(describe)?;

        let meta = std::fs::metadata(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot stat {}: {e}", path.display())))?;
        let inserter = Inserter::new(writer.clone(), insert_sql(), project, write_error);
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer,
            inserter,
            readers,
            next_reader: AtomicUsize::new(0),
            health: Mutex::new(health),
            identity: (meta.dev(), meta.ino()),
            _checkpointer: checkpointer,
        })
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            if let Ok(guard) = self.readers[(start + i) % self.readers.len()].try_lock() {
                return guard;
            }
        }
        lock(&self.readers[start % self.readers.len()])
    }

    fn check_sync(&self) -> Result<(), String> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| format!("database file {}: {e}", self.path.display()))?;
        if (meta.dev(), meta.ino()) != self.identity {
            return Err(format!(
                "database file {} was replaced or moved since it was opened",
                self.path.display()
            ));
        }
        // Taking the write lock proves that a write would get through now.
        let conn = lock(&self.health);
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| format!("cannot take the write lock: {e}"))?;
        conn.execute_batch("ROLLBACK").map_err(|e| e.to_string())
    }
}

fn insert_sql() -> String {
    format!(
        "INSERT INTO projects (name, description, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3) RETURNING {COLUMNS}"
    )
}

fn parse_time(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    parse_timestamp(s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            3,
            rusqlite::types::Type::Text,
            format!("not an RFC 3339 timestamp: {s:?}").into(),
        )
    })
}

fn project(row: &Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        created_at: parse_time(row.get_ref(3)?.as_str()?)?,
        updated_at: parse_time(row.get_ref(4)?.as_str()?)?,
    })
}

/// A unique-constraint failure means a duplicate name; anything else means
/// the database could not do its job.
fn write_error(e: rusqlite::Error, name: Option<&str>) -> StoreError {
    if let (rusqlite::Error::SqliteFailure(f, _), Some(name)) = (&e, name) {
        if f.code == ErrorCode::ConstraintViolation
            && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        {
            return StoreError::DuplicateName(name.to_string());
        }
    }
    unavailable(e)
}

impl ProjectStore for SqliteStore {
    async fn create(&self, new: NewProject) -> Result<Project, StoreError> {
        self.inserter.insert(new, format_timestamp(&now())).await
    }

    async fn list(&self, limit: u32, offset: u64) -> Result<Vec<Project>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM projects ORDER BY id LIMIT ?1 OFFSET ?2"
            ))
            .map_err(unavailable)?;
        // SQLite integers are signed; an offset past i64::MAX matches nothing anyway.
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![limit, offset], project)
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    async fn get(&self, id: i64) -> Result<Option<Project>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM projects WHERE id = ?1"))
            .map_err(unavailable)?;
        stmt.query_row([id], project)
            .optional()
            .map_err(unavailable)
    }

    async fn by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM projects WHERE name = ?1"))
            .map_err(unavailable)?;
        stmt.query_row([name], project)
            .optional()
            .map_err(unavailable)
    }

    async fn update(&self, id: i64, change: ProjectChange) -> Result<Option<Project>, StoreError> {
        let ts = format_timestamp(&now());
        let conn = lock(&self.writer);
        let mut stmt = conn
            .prepare_cached(&format!(
                "UPDATE projects
                 SET name = COALESCE(?2, name),
                     description = COALESCE(?3, description),
                     updated_at = ?4
                 WHERE id = ?1 RETURNING {COLUMNS}"
            ))
            .map_err(unavailable)?;
        stmt.query_row(params![id, change.name, change.description, ts], project)
            .optional()
            .map_err(|e| write_error(e, change.name.as_deref()))
    }

    async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let conn = lock(&self.writer);
        let mut stmt = conn
            .prepare_cached("DELETE FROM projects WHERE id = ?1")
            .map_err(unavailable)?;
        Ok(stmt.execute([id]).map_err(unavailable)? > 0)
    }

    async fn check(&self) -> Result<(), String> {
        self.check_sync()
    }
}

//! Opening SQLite the one SRP way: WAL, a busy timeout, foreign keys, the
//! crate's own durability, and `PRAGMA user_version` migrations, with errors
//! that name the file.
//!
//! Migrations are a list of SQL batches, applied in order inside one
//! transaction each; `user_version` records how many ran. A database made
//! before a crate versioned its schema has `user_version` 0, so a crate's
//! first migration is its original `CREATE TABLE IF NOT EXISTS` schema and
//! applies cleanly to such a file. A database from a newer release (a
//! `user_version` past the list) is refused rather than written by code
//! that does not know its schema.

use prometheus::{Histogram, HistogramOpts};
use rusqlite::{Connection, OpenFlags, Transaction};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// `srp_sqlite_commit_duration_seconds`: one per process (a daemon has one
/// database), in every registry [`crate::metrics::registry`] makes.
static COMMIT_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    Histogram::with_opts(
        HistogramOpts::new(
            "srp_sqlite_commit_duration_seconds",
            "Time to commit one SQLite write transaction (WAL frames written, synced as the crate's durability says).",
        )
        .buckets(vec![
            0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            1.0,
        ]),
    )
    .expect("static histogram options are valid")
});

pub(crate) fn register_metrics(registry: &prometheus::Registry) -> prometheus::Result<()> {
    registry.register(Box::new(COMMIT_SECONDS.clone()))
}

/// Commit `tx`, timed into `srp_sqlite_commit_duration_seconds`.
pub fn commit(tx: Transaction<'_>) -> rusqlite::Result<()> {
    let started = Instant::now();
    let result = tx.commit();
    COMMIT_SECONDS.observe(started.elapsed().as_secs_f64());
    result
}

/// How hard a commit is made durable: a per-crate choice (the relay's outbox
/// must survive power loss; the disk guard's journal trades the last rows of
/// a power cut for 35x faster deletions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = FULL`: a commit is on disk when it returns.
    Full,
    /// `synchronous = NORMAL`: survives a process crash; a power loss may
    /// lose the last commits.
    Normal,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    pub busy_timeout: Duration,
    /// Open an existing file only, read-only (inspection commands).
    pub read_only: bool,
}

impl Options {
    pub fn new(durability: Durability) -> Self {
        Options {
            durability,
            busy_timeout: Duration::from_secs(5),
            read_only: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("SQLite database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "SQLite database {path} has schema version {found}, newer than this release knows ({known}); \
         use the release that wrote it or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error("SQLite database {path}: migration to schema version {version} failed: {source}")]
    Migration {
        path: PathBuf,
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
}

/// Open (creating unless read-only) `path` with SRP's pragmas.
pub fn open(path: &Path, options: &Options) -> Result<Connection, SqliteError> {
    let err = |source| SqliteError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let conn = if options.read_only {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
    } else {
        Connection::open(path)
    }
    .map_err(err)?;
    conn.busy_timeout(options.busy_timeout).map_err(err)?;
    if !options.read_only {
        // journal_mode answers with a row; pragma_update would fail on it.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(err)?;
        let sync = match options.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(err)?;
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(err)?;
    Ok(conn)
}

/// The schema version a database file records.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Apply the migrations `conn` has not seen; returns the version reached.
pub fn migrate(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<u32, SqliteError> {
    let known = migrations.len() as u32;
    let found = schema_version(conn).map_err(|source| SqliteError::Sqlite {
        path: path.to_path_buf(),
        source,
    })?;
    if found > known {
        return Err(SqliteError::TooNew {
            path: path.to_path_buf(),
            found,
            known,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let fail = |source| SqliteError::Migration {
            path: path.to_path_buf(),
            version,
            source,
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(known)
}

/// [`open`] then [`migrate`]: what a store's constructor does.
pub fn open_migrated(
    path: &Path,
    options: &Options,
    migrations: &[&str],
) -> Result<Connection, SqliteError> {
    let mut conn = open(path, options)?;
    migrate(&mut conn, path, migrations)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a TEXT NOT NULL)";
    const V2: &str = "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x'";

    #[test]
    fn migrates_a_pre_versioning_file_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // What a release without versioning left: the table, version 0.
            let c = Connection::open(&path).unwrap();
            c.execute_batch(V1).unwrap();
            c.execute("INSERT INTO t (a) VALUES ('kept')", []).unwrap();
        }
        let c = open_migrated(&path, &Options::new(Durability::Full), &[V1, V2]).unwrap();
        assert_eq!(schema_version(&c).unwrap(), 2);
        let (a, b): (String, String) = c
            .query_row("SELECT a, b FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("kept", "x"));
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Opening again is a no-op.
        drop(c);
        let c = open_migrated(&path, &Options::new(Durability::Normal), &[V1, V2]).unwrap();
        assert_eq!(schema_version(&c).unwrap(), 2);
    }

    #[test]
    fn refuses_a_newer_schema_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        open_migrated(&path, &Options::new(Durability::Normal), &[V1, V2]).unwrap();
        let e = open_migrated(&path, &Options::new(Durability::Normal), &[V1]).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("new.db") && text.contains("schema version 2"),
            "{text}"
        );
    }

    #[test]
    fn a_failing_migration_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.db");
        open_migrated(&path, &Options::new(Durability::Normal), &[V1]).unwrap();
        let e = open_migrated(
            &path,
            &Options::new(Durability::Normal),
            &[
                V1,
                "ALTER TABLE t ADD COLUMN c TEXT; ALTER TABLE nope ADD COLUMN d TEXT",
            ],
        )
        .unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");
        let c = Connection::open(&path).unwrap();
        assert_eq!(schema_version(&c).unwrap(), 1);
        let cols: i64 = c
            .query_row("SELECT COUNT(*) FROM pragma_table_info('t')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(cols, 2, "the half-applied batch was rolled back");
    }

    #[test]
    fn an_unopenable_path_is_named() {
        let e = open(
            Path::new("/nonexistent-dir/x.db"),
            &Options::new(Durability::Normal),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.db"), "{e}");
    }
}

//! The outbox file: where it lives, how it is opened (srp-daemon's SQLite
//! layer with FULL durability and a short-step busy handler) and its schema
//! versions.

use super::StoreError;
use rusqlite::Connection;
use srp_daemon::sqlite::{self, Durability, Options};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DB_FILE: &str = "relay.db";

/// Schema versions, oldest first (`PRAGMA user_version` counts them). The
/// first is, to the letter, the schema releases before versioning created
/// with `CREATE TABLE IF NOT EXISTS`, so their files (user_version 0)
/// upgrade in place. Add new versions at the end; never edit one that
/// shipped.
pub const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
CREATE TABLE audit (
    id         INTEGER PRIMARY KEY,
    at         REAL NOT NULL,
    user       TEXT NOT NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    silence_id TEXT
);
CREATE TABLE interactions_seen (
    signature TEXT PRIMARY KEY,
    seen_at   REAL NOT NULL
) WITHOUT ROWID;
"#,
];

pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Busy handler: 250 µs steps for up to about 10 s, then SQLITE_BUSY.
fn retry_briefly(attempt: i32) -> bool {
    if attempt >= 40_000 {
        return false;
    }
    std::thread::sleep(Duration::from_micros(250));
    true
}

/// Open (creating if needed) the database under `dir` and bring its schema
/// up to date. A file from a newer release is refused, naming the file.
/// FULL: a commit is on disk (WAL fsynced) when it returns (the CLI, and
/// any connection without the WAL sync thread behind it).
pub fn open(dir: &Path) -> Result<Connection, StoreError> {
    open_with(dir, Durability::Full)
}

/// [`open`] with a commit that returns before its fsync (NORMAL): only for
/// the relay's own connections, whose every commit is followed by the WAL
/// sync thread's fsync before anything depends on it (see `wal_sync`).
pub(super) fn open_unsynced(dir: &Path) -> Result<Connection, StoreError> {
    open_with(dir, Durability::Normal)
}

fn open_with(dir: &Path, durability: Durability) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
        path: dir.display().to_string(),
        source,
    })?;
    let path = db_path(dir);
    let mut conn = sqlite::open(&path, &Options::new(durability))?;
    // SQLite's own busy timeout sleeps in steps of up to 100 ms; the writer
    // and the dispatcher hold the lock for well under a millisecond, so
    // retrying in short steps keeps acknowledgements fast. (It replaces the
    // timeout the shared opener set.)
    conn.busy_handler(Some(retry_briefly))?;
    sqlite::migrate(&mut conn, &path, MIGRATIONS)?;
    Ok(conn)
}

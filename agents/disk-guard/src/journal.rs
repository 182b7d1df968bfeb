//! The SQLite journal: one row per deletion, written *before* the deletion
//! happens (outcome `pending`), then updated with what happened. A crash
//! mid-deletion therefore leaves a `pending` row naming what may be gone.
//! Dry-run passes write `would_delete` rows, so what a dry run reported can
//! be listed and compared with a real run. Escalations are recorded too, which
//! keeps the cooldown across restarts and `--once` runs from cron.
//!
//! Opened through srp-daemon's SQLite layer (WAL, busy timeout,
//! `user_version` migrations) with synchronous=NORMAL: a committed row
//! survives a crash of the guard (the usual failure), without an fsync per
//! deletion (FULL measured 36x slower: 12 ms per deleted file). See the
//! README's safety model.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use srp_daemon::sqlite::{self, Durability, Options, SqliteError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Opening or migrating: the message names the file.
    #[error("journal: {0}")]
    Open(#[from] SqliteError),
    #[error("journal: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

pub const FILE_NAME: &str = "disk-guard.sqlite";

/// The schema, one batch per `user_version`. The first is exactly the
/// schema releases before versioning created (`IF NOT EXISTS` throughout),
/// so their journals (user_version 0) upgrade in place. Append; never edit.
pub const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS deletions (
         id INTEGER PRIMARY KEY,
         time_ms INTEGER NOT NULL,
         mountpoint TEXT NOT NULL,
         policy TEXT NOT NULL,
         path TEXT NOT NULL,
         bytes INTEGER NOT NULL,
         reason TEXT NOT NULL,
         outcome TEXT NOT NULL
     );
     CREATE INDEX IF NOT EXISTS deletions_time ON deletions(time_ms);
     CREATE TABLE IF NOT EXISTS escalations (
         id INTEGER PRIMARY KEY,
         time_ms INTEGER NOT NULL,
         mountpoint TEXT NOT NULL,
         outcome TEXT NOT NULL
     );",
    // 1: every drain and undrain of the Jenkins agent; the last `done` row
    // of an agent says whether the guard holds it offline (across restarts).
    "CREATE TABLE drains (
         id INTEGER PRIMARY KEY,
         time_ms INTEGER NOT NULL,
         agent TEXT NOT NULL,
         action TEXT NOT NULL,
         outcome TEXT NOT NULL,
         detail TEXT NOT NULL
     );
     CREATE INDEX drains_agent ON drains(agent, id);",
    // 2: every volume grow, written before ModifyVolume is called (so a
    // crash mid-grow still counts toward the cooldown and the daily limit).
    "CREATE TABLE grows (
         id INTEGER PRIMARY KEY,
         time_ms INTEGER NOT NULL,
         mountpoint TEXT NOT NULL,
         volume_id TEXT NOT NULL,
         from_gib INTEGER NOT NULL,
         to_gib INTEGER NOT NULL,
         outcome TEXT NOT NULL
     );
     CREATE INDEX grows_mount ON grows(mountpoint, time_ms);",
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DrainRow {
    pub id: i64,
    pub time: String,
    pub agent: String,
    /// drain | undrain
    pub action: String,
    /// done | failed: WHY | already_online (someone else brought it back)
    pub outcome: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    pub id: i64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    pub time: String,
    pub mountpoint: String,
    pub policy: String,
    pub path: String,
    pub bytes: i64,
    pub reason: String,
    /// pending | deleted | would_delete | skipped: WHY | failed: WHY
    pub outcome: String,
}

pub struct Journal {
    conn: Connection,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Journal {
    pub fn open_in(data_dir: &Path) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(data_dir).map_err(|source| JournalError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        Journal::open(&data_dir.join(FILE_NAME))
    }

    /// Open (creating it if need be) and migrate the journal at `path`, with
    /// its per-crate durability (NORMAL, see the module comment).
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let conn = sqlite::open_migrated(path, &Options::new(Durability::Normal), MIGRATIONS)?;
        Ok(Journal { conn })
    }

    /// Record an intended deletion; returns the row id to finish later.
    pub fn begin(
        &self,
        mountpoint: &str,
        policy: &str,
        path: &str,
        bytes: u64,
        reason: &str,
        outcome: &str,
    ) -> Result<i64, JournalError> {
        self.conn.execute(
            "INSERT INTO deletions (time_ms, mountpoint, policy, path, bytes, reason, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                now_ms(),
                mountpoint,
                policy,
                path,
                bytes as i64,
                reason,
                outcome
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish(&self, id: i64, outcome: &str, bytes: u64) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE deletions SET outcome = ?2, bytes = ?3 WHERE id = ?1",
            params![id, outcome, bytes as i64],
        )?;
        Ok(())
    }

    /// Newest first.
    pub fn list(&self, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, time_ms, mountpoint, policy, path, bytes, reason, outcome
             FROM deletions ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let time_ms: i64 = r.get(1)?;
            Ok(Entry {
                id: r.get(0)?,
                time_ms,
                time: format_time(time_ms),
                mountpoint: r.get(2)?,
                policy: r.get(3)?,
                path: r.get(4)?,
                bytes: r.get(5)?,
                reason: r.get(6)?,
                outcome: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn last_escalation_ms(&self, mountpoint: &str) -> Result<Option<i64>, JournalError> {
        Ok(self
            .conn
            .query_row(
                "SELECT MAX(time_ms) FROM escalations WHERE mountpoint = ?1",
                [mountpoint],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten())
    }

    pub fn record_escalation(&self, mountpoint: &str, outcome: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT INTO escalations (time_ms, mountpoint, outcome) VALUES (?1, ?2, ?3)",
            params![now_ms(), mountpoint, outcome],
        )?;
        Ok(())
    }

    /// Record a drain or undrain (`action`), its outcome and why.
    pub fn record_drain(
        &self,
        agent: &str,
        action: &str,
        outcome: &str,
        detail: &str,
    ) -> Result<i64, JournalError> {
        self.conn.execute(
            "INSERT INTO drains (time_ms, agent, action, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![now_ms(), agent, action, outcome, detail],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Whether the guard holds `agent` offline: its last successful row is a drain.
    pub fn drain_held(&self, agent: &str) -> Result<bool, JournalError> {
        let last: Option<String> = self
            .conn
            .query_row(
                "SELECT action FROM drains WHERE agent = ?1 AND outcome = 'done' ORDER BY id DESC LIMIT 1",
                [agent],
                |r| r.get(0),
            )
            .optional()?;
        Ok(last.as_deref() == Some("drain"))
    }

    /// Drain rows, newest first: (time, agent, action, outcome, detail).
    pub fn drains(&self, limit: usize) -> Result<Vec<DrainRow>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, time_ms, agent, action, outcome, detail FROM drains ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let time_ms: i64 = r.get(1)?;
            Ok(DrainRow {
                id: r.get(0)?,
                time: format_time(time_ms),
                agent: r.get(2)?,
                action: r.get(3)?,
                outcome: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn begin_grow(
        &self,
        mountpoint: &str,
        volume_id: &str,
        from_gib: u64,
        to_gib: u64,
    ) -> Result<i64, JournalError> {
        self.conn.execute(
            "INSERT INTO grows (time_ms, mountpoint, volume_id, from_gib, to_gib, outcome) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
            params![now_ms(), mountpoint, volume_id, from_gib as i64, to_gib as i64],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_grow(&self, id: i64, outcome: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "UPDATE grows SET outcome = ?2 WHERE id = ?1",
            params![id, outcome],
        )?;
        Ok(())
    }

    /// Times (ms) of the grows of `mountpoint` since `since_ms`, newest first.
    pub fn grows_since(&self, mountpoint: &str, since_ms: i64) -> Result<Vec<i64>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT time_ms FROM grows WHERE mountpoint = ?1 AND time_ms >= ?2 ORDER BY time_ms DESC",
        )?;
        let rows = stmt.query_map(params![mountpoint, since_ms], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Grow rows, newest first: (volume, from, to, outcome).
    pub fn grows(&self, limit: usize) -> Result<Vec<(String, u64, u64, String)>, JournalError> {
        let mut stmt = self.conn.prepare(
            "SELECT volume_id, from_gib, to_gib, outcome FROM grows ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get(3)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Drop rows older than `retention_ms`; returns how many went.
    pub fn prune(&self, retention_ms: i64) -> Result<usize, JournalError> {
        let cutoff = now_ms() - retention_ms;
        let n = self
            .conn
            .execute("DELETE FROM deletions WHERE time_ms < ?1", [cutoff])?;
        self.conn
            .execute("DELETE FROM escalations WHERE time_ms < ?1", [cutoff])?;
        Ok(n)
    }

    /// A cheap query for /health.
    pub fn ping(&self) -> Result<(), JournalError> {
        self.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_written_before_and_finished_after() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open_in(&dir.path().join("data")).unwrap();
        let id = j
            .begin(
                "/",
                "logs",
                "/var/log/a.log",
                10,
                "glob **/*.log",
                "pending",
            )
            .unwrap();
        assert_eq!(j.list(10).unwrap()[0].outcome, "pending");
        j.finish(id, "deleted", 8).unwrap();
        let e = &j.list(10).unwrap()[0];
        assert_eq!((e.outcome.as_str(), e.bytes), ("deleted", 8));
        assert!(e.time.ends_with('Z'));
        // A second connection (the `journal` subcommand) sees it.
        let again = Journal::open_in(&dir.path().join("data")).unwrap();
        assert_eq!(again.list(10).unwrap().len(), 1);
    }

    /// The schema and rows exactly as releases before versioning wrote them
    /// (their `CREATE TABLE IF NOT EXISTS` batch and INSERTs, user_version 0).
    const UNVERSIONED_JOURNAL: &str = "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         CREATE TABLE IF NOT EXISTS deletions (
             id INTEGER PRIMARY KEY,
             time_ms INTEGER NOT NULL,
             mountpoint TEXT NOT NULL,
             policy TEXT NOT NULL,
             path TEXT NOT NULL,
             bytes INTEGER NOT NULL,
             reason TEXT NOT NULL,
             outcome TEXT NOT NULL
         );
         CREATE INDEX IF NOT EXISTS deletions_time ON deletions(time_ms);
         CREATE TABLE IF NOT EXISTS escalations (
             id INTEGER PRIMARY KEY,
             time_ms INTEGER NOT NULL,
             mountpoint TEXT NOT NULL,
             outcome TEXT NOT NULL
         );
         INSERT INTO deletions (time_ms, mountpoint, policy, path, bytes, reason, outcome)
             VALUES (1700000000000, '/', 'logs', '/var/log/jenkins/a.log', 4096, 'matches \"*.log\"', 'deleted');
         INSERT INTO deletions (time_ms, mountpoint, policy, path, bytes, reason, outcome)
             VALUES (1700000001000, '/', 'jenkins', '/var/lib/jenkins/jobs/x/builds/3', 0, 'old build', 'pending');
         INSERT INTO escalations (time_ms, mountpoint, outcome) VALUES (1700000002000, '/', 'started');";

    #[test]
    fn a_journal_from_before_versioning_upgrades_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(UNVERSIONED_JOURNAL).unwrap();
            let v: u32 = old
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(v, 0);
        }
        let j = Journal::open_in(dir.path()).unwrap();
        let v: u32 = j
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let rows = j.list(10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].policy.as_str(), rows[0].outcome.as_str()),
            ("jenkins", "pending")
        );
        assert_eq!(
            (rows[1].path.as_str(), rows[1].bytes, rows[1].time_ms),
            ("/var/log/jenkins/a.log", 4096, 1_700_000_000_000)
        );
        assert_eq!(
            j.last_escalation_ms("/").unwrap(),
            Some(1_700_000_002_000),
            "the cooldown survives the upgrade"
        );
        // Still the journal's durability: NORMAL (1).
        let sync: i64 = j
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 1);
        // New rows go on after the old ones.
        let id = j.begin("/", "logs", "/b", 1, "r", "pending").unwrap();
        assert_eq!(id, 3);
    }

    #[test]
    fn a_journal_from_a_newer_release_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        Journal::open(&path).unwrap();
        let newer = MIGRATIONS.len() + 1;
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        let e = Journal::open(&path)
            .err()
            .expect("a newer schema is refused");
        let text = e.to_string();
        assert!(
            text.contains(&path.display().to_string())
                && text.contains(&format!("schema version {newer}")),
            "{text}"
        );
    }

    #[test]
    fn escalation_times_persist() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open_in(dir.path()).unwrap();
        assert_eq!(j.last_escalation_ms("/").unwrap(), None);
        j.record_escalation("/", "exit 0").unwrap();
        assert!(j.last_escalation_ms("/").unwrap().is_some());
        assert_eq!(j.last_escalation_ms("/data").unwrap(), None);
    }
}

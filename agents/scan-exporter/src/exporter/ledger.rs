//! The file ledger: which versions (path, size, mtime) of the files in the
//! reports directory were already handled, ingested or refused, so a restart
//! neither ingests nor counts them twice. It lives in the history's SQLite
//! file (table `files`) and shares its writer connection.

use super::db::Db;
use rusqlite::{params, OptionalExtension};
use std::sync::Arc;

#[derive(Clone)]
pub struct FileLedger {
    db: Arc<Db>,
}

impl FileLedger {
    pub fn new(db: Arc<Db>) -> FileLedger {
        FileLedger { db }
    }

    /// Whether this exact file version was already handled.
    pub fn seen(&self, path: &str, size: u64, mtime_ns: i64) -> rusqlite::Result<bool> {
        let hit: Option<i64> = self
            .db
            .writer()
            .query_row(
                "SELECT 1 FROM files WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3",
                params![path, size as i64, mtime_ns],
                |r| r.get(0),
            )
            .optional()?;
        Ok(hit.is_some())
    }

    /// Record a file version as handled: ingested as `ingest_id`, or
    /// refused with `error`.
    pub fn mark(
        &self,
        path: &str,
        size: u64,
        mtime_ns: i64,
        ingest_id: Option<i64>,
        error: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.db.writer().execute(
            "INSERT INTO files (path, size, mtime_ns, ingest_id, error) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
               ingest_id = excluded.ingest_id, error = excluded.error",
            params![path, size as i64, mtime_ns, ingest_id, error],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_seen_once_marked_and_a_new_version_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FileLedger::new(Arc::new(Db::open(dir.path()).unwrap()));
        assert!(!ledger.seen("/r/a.json", 10, 1).unwrap());
        ledger
            .mark("/r/a.json", 10, 1, None, Some("empty"))
            .unwrap();
        assert!(ledger.seen("/r/a.json", 10, 1).unwrap());
        assert!(!ledger.seen("/r/a.json", 11, 2).unwrap(), "rewritten");
        ledger.mark("/r/a.json", 11, 2, Some(7), None).unwrap();
        assert!(ledger.seen("/r/a.json", 11, 2).unwrap());
        assert!(
            !ledger.seen("/r/a.json", 10, 1).unwrap(),
            "one row per path"
        );
    }
}

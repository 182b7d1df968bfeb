//! The exporter's one SQLite file under `--data-dir`: its schema versions,
//! how it is opened (srp-daemon's opener; NORMAL durability, because every
//! report can be pushed or dropped again, and a power cut losing the last
//! ingests costs less than an fsync per ingest), the writer connection the
//! history and the file ledger share, and read-only connections of their own.

use rusqlite::Connection;
use srp_daemon::sqlite::{self, Durability, Options, SqliteError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub const DB_FILE: &str = "scan-exporter.db";

/// Schema versions, oldest first (`PRAGMA user_version` counts those
/// applied). The first is the schema releases before versioning created
/// with `CREATE TABLE IF NOT EXISTS`, unchanged, so their files (version 0)
/// take it as a no-op and are then versioned. Append; never edit one.
pub const MIGRATIONS: &[&str] = &[V1, V2];

const V1: &str = r#"
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    build TEXT NOT NULL,
    -- the build, or '#<id>' when none was given: one group per report
    build_group TEXT NOT NULL,
    target TEXT NOT NULL,
    -- the scanners in the report, sorted and joined with '+'
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    verdict TEXT NOT NULL,
    summary TEXT NOT NULL,
    keys TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingests_by_target ON ingests (pipeline, target, id);
CREATE TABLE IF NOT EXISTS scanner_results (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    scanner TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (ingest_id, scanner)
);
CREATE INDEX IF NOT EXISTS scanner_results_latest ON scanner_results (target, scanner, ingest_id);
CREATE TABLE IF NOT EXISTS counts (
    ingest_id INTEGER NOT NULL,
    scanner TEXT NOT NULL,
    class TEXT NOT NULL,
    severity TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ingest_id, scanner, class, severity)
);
CREATE TABLE IF NOT EXISTS sbom (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ingest_id, type)
);
CREATE TABLE IF NOT EXISTS waivers (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    waiver TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS waivers_by_ingest ON waivers (ingest_id);
-- files from the reports directory already handled (ingested or refused),
-- so a restart does not ingest or count them twice
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ingest_id INTEGER,
    error TEXT
);
"#;

/// Version 2: the components of each CycloneDX SBOM ingested (so the next
/// SBOM of the target can be diffed against it), and the changes from the
/// target's previous SBOM, counted at ingest (srp_scan_sbom_changes).
const V2: &str = r#"
CREATE TABLE sbom_components (
    ingest_id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    -- JSON object: component identity -> [versions]
    components TEXT NOT NULL
);
CREATE INDEX sbom_components_by_target ON sbom_components (target, ingest_id);
CREATE TABLE sbom_changes (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    -- added, removed, upgraded, downgraded
    change TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ingest_id, change)
);
CREATE INDEX sbom_changes_by_target ON sbom_changes (target, ingest_id);
"#;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
}

/// The database file and its one writer connection.
pub struct Db {
    writer: Mutex<Connection>,
    path: PathBuf,
}

impl Db {
    /// Open (creating) `data_dir/scan-exporter.db` and bring its schema up
    /// to date; a file from a newer release is refused, naming the file.
    pub fn open(data_dir: &Path) -> Result<Db, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::Dir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let conn = sqlite::open_migrated(&path, &Options::new(Durability::Normal), MIGRATIONS)?;
        Ok(Db {
            writer: Mutex::new(conn),
            path,
        })
    }

    /// The writer connection.
    pub fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the
        // transaction rolls back), so a poisoned lock is still usable.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A read-only connection of its own, for the larger history reads, so
    /// they neither wait for nor hold up ingests (WAL: readers see a
    /// snapshot).
    pub fn reader(&self) -> Result<Connection, SqliteError> {
        let options = Options {
            read_only: true,
            ..Options::new(Durability::Normal)
        };
        sqlite::open(&self.path, &options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema and rows exactly as the release before versioning wrote
    /// them (its `CREATE TABLE IF NOT EXISTS` batch and its inserts, copied
    /// as literal SQL), so this keeps testing that upgrade whatever later
    /// migrations do.
    const OLD_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS ingests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    build TEXT NOT NULL,
    build_group TEXT NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    verdict TEXT NOT NULL,
    summary TEXT NOT NULL,
    keys TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ingests_by_target ON ingests (pipeline, target, id);
CREATE TABLE IF NOT EXISTS scanner_results (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    scanner TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (ingest_id, scanner)
);
CREATE INDEX IF NOT EXISTS scanner_results_latest ON scanner_results (target, scanner, ingest_id);
CREATE TABLE IF NOT EXISTS counts (
    ingest_id INTEGER NOT NULL,
    scanner TEXT NOT NULL,
    class TEXT NOT NULL,
    severity TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ingest_id, scanner, class, severity)
);
CREATE TABLE IF NOT EXISTS sbom (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    type TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (ingest_id, type)
);
CREATE TABLE IF NOT EXISTS waivers (
    ingest_id INTEGER NOT NULL,
    target TEXT NOT NULL,
    waiver TEXT NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS waivers_by_ingest ON waivers (ingest_id);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ingest_id INTEGER,
    error TEXT
);
"#;

    const OLD_ROWS: &str = r#"
INSERT INTO ingests (pipeline, build, build_group, target, kind, source, received_at, verdict, summary, keys)
  VALUES ('srp', '41', '41', 'api', 'trivy', 'http', 1700000000.5, 'block',
          '{"kind":"srp-gate/summary","verdict":"block","reports":[],"counts":[],"blocking":[{"id":"CVE-2019-14697"}]}',
          'trivy|CVE-2019-14697|musl');
INSERT INTO scanner_results (ingest_id, target, scanner, scanned_at) VALUES (1, 'api', 'trivy', 1629894030.0);
INSERT INTO counts (ingest_id, scanner, class, severity, count) VALUES (1, 'trivy', 'vulnerability', 'CRITICAL', 2);
INSERT INTO sbom (ingest_id, target, type, count) VALUES (1, 'api', 'deb', 105);
INSERT INTO waivers (ingest_id, target, waiver, expires) VALUES (1, 'api', 'policy CVE-1', '2099-01-01');
INSERT INTO files (path, size, mtime_ns, ingest_id, error) VALUES ('/r/ci/app/trivy.json', 1234, 1700000000000000000, 1, NULL);
INSERT INTO files (path, size, mtime_ns, ingest_id, error) VALUES ('/r/ci/leak.json', 0, 0, NULL, 'symbolic link');
"#;

    fn user_version(path: &Path) -> u32 {
        Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_database_of_the_release_before_versioning_is_upgraded_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c.execute_batch(OLD_SCHEMA).unwrap();
            c.execute_batch(OLD_ROWS).unwrap();
        }
        assert_eq!(user_version(&path), 0);

        let db = Db::open(dir.path()).unwrap();
        assert_eq!(user_version(&path), MIGRATIONS.len() as u32);
        let c = db.writer();
        let row: (String, String, f64, String) = c
            .query_row(
                "SELECT build_group, verdict, received_at, keys FROM ingests WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "41".into(),
                "block".into(),
                1700000000.5,
                "trivy|CVE-2019-14697|musl".into()
            )
        );
        let tables: Vec<(String, i64)> = ["scanner_results", "counts", "sbom", "waivers", "files"]
            .iter()
            .map(|t| {
                let n = c
                    .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap();
                (t.to_string(), n)
            })
            .collect();
        assert_eq!(
            tables,
            [
                ("scanner_results".into(), 1),
                ("counts".into(), 1),
                ("sbom".into(), 1),
                ("waivers".into(), 1),
                ("files".into(), 2),
            ]
        );
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "NORMAL durability is kept");
        drop(c);
        // The old rows are readable through the new reader too.
        let n: i64 = db
            .reader()
            .unwrap()
            .query_row("SELECT COUNT(*) FROM ingests", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop(db);
        // Opening again changes nothing.
        Db::open(dir.path()).unwrap();
        assert_eq!(user_version(&path), MIGRATIONS.len() as u32);
    }

    #[test]
    fn a_database_of_a_newer_release_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DB_FILE);
        drop(Db::open(dir.path()).unwrap());
        let newer = MIGRATIONS.len() as u32 + 1;
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", newer)
            .unwrap();
        let e = Db::open(dir.path()).err().expect("refused").to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(&format!("version {newer}")),
            "{e}"
        );
        assert_eq!(user_version(&path), newer, "left as it was");
    }
}

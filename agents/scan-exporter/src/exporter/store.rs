//! The exporter's history: every accepted report (as an srp-gate summary)
//! with its counts broken out into tables, so the metrics are rebuilt from
//! the database after a restart and "what changed since the previous build"
//! is one query. The file and its schema are [`super::db`]'s; the files
//! already handled are [`super::ledger`]'s.

use super::db::{Db, OpenError};
use super::ledger::FileLedger;
use crate::sbom_diff::Versions;
use crate::summary::Summary;
use rusqlite::{params, OptionalExtension, MAIN_DB};
use srp_daemon::sqlite::SqliteError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

pub use super::db::DB_FILE;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Reader(#[from] SqliteError),
    #[error("stored summary is unreadable: {0}")]
    Json(#[from] serde_json::Error),
}

/// Where a report came from and what it is about.
#[derive(Debug, Clone)]
pub struct IngestMeta {
    pub pipeline: String,
    pub build: String,
    pub target: String,
    /// `http` or the file's path.
    pub source: String,
}

/// Counts of one scanner's latest report for a target, by (class, severity).
pub type ClassCounts = BTreeMap<(String, String), u64>;

/// The figures behind the gauges.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// (scanner, target) → scanned_at and counts by (class, severity).
    pub findings: BTreeMap<(String, String), (f64, ClassCounts)>,
    /// (pipeline, target) → passed.
    pub gates: BTreeMap<(String, String), bool>,
    /// (target, type) → components.
    pub sbom: BTreeMap<(String, String), u64>,
    /// target → expiry dates of its waivers (deduplicated by waiver).
    pub waivers: BTreeMap<String, Vec<chrono::NaiveDate>>,
    /// (target, change) → components added, removed, upgraded or
    /// downgraded between the target's latest two SBOMs with components.
    pub sbom_changes: BTreeMap<(String, String), u64>,
}

/// The `change` values of srp_scan_sbom_changes.
pub const SBOM_CHANGES: [&str; 4] = ["added", "removed", "upgraded", "downgraded"];

#[derive(Debug, serde::Serialize)]
pub struct Diff {
    pub pipeline: String,
    pub target: String,
    pub build: Option<String>,
    pub previous_build: Option<String>,
    /// The first [`MAX_DIFF_KEYS`] new and fixed keys; the totals count
    /// them all, and `truncated` says whether a list was cut.
    pub new: Vec<String>,
    pub fixed: Vec<String>,
    pub new_total: usize,
    pub fixed_total: usize,
    pub truncated: bool,
    pub unchanged: u64,
}

/// Keys listed per side of a diff: a million-finding build must not become
/// a million-entry answer.
pub const MAX_DIFF_KEYS: usize = 1000;

/// The keys in stored key texts (one per line); borrowed, so the texts are
/// the only copy.
fn key_set(texts: &[String]) -> BTreeSet<&str> {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The first [`MAX_DIFF_KEYS`] keys, owned, and how many there are.
fn first_of<'a>(keys: impl Iterator<Item = &'a &'a str>) -> (Vec<String>, usize) {
    let mut first = Vec::new();
    let mut total = 0;
    for k in keys {
        if first.len() < MAX_DIFF_KEYS {
            first.push(k.to_string());
        }
        total += 1;
    }
    (first, total)
}

pub use super::page::{Page, DEFAULT_PAGE, MAX_PAGE};

pub struct Store {
    db: Arc<Db>,
    keep: u32,
}

fn parse_ts(s: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis() as f64 / 1000.0)
}

impl Store {
    /// Open (creating) the database under `data_dir`; `keep` is how many
    /// reports to keep per pipeline, target and scanner set.
    pub fn open(data_dir: &Path, keep: u32) -> Result<Store, StoreError> {
        Ok(Store {
            db: Arc::new(Db::open(data_dir)?),
            keep: keep.max(2),
        })
    }

    /// The ledger of handled files, in the same database.
    pub fn ledger(&self) -> FileLedger {
        FileLedger::new(self.db.clone())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.db.writer()
    }

    pub fn ping(&self) -> Result<(), StoreError> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Record one accepted report; returns its id. The summary's
    /// `finding_keys` are moved into the database (they can be large).
    /// `components` are a CycloneDX SBOM's (see [`crate::sbom_diff`]): kept,
    /// and diffed with the target's previous SBOM.
    pub fn insert(
        &self,
        meta: &IngestMeta,
        summary: &mut Summary,
        components: Option<&Versions>,
        now: f64,
    ) -> Result<i64, StoreError> {
        let mut scanners: BTreeMap<String, f64> = BTreeMap::new();
        for r in &summary.reports {
            if r.error.is_some() {
                continue;
            }
            let Some(s) = &r.scanner else { continue };
            let at = r.created_at.as_deref().and_then(parse_ts).unwrap_or(now);
            let e = scanners.entry(s.clone()).or_insert(at);
            *e = e.max(at);
        }
        let kind = if scanners.is_empty() {
            "none".to_string()
        } else {
            scanners.keys().cloned().collect::<Vec<_>>().join("+")
        };
        let keys = std::mem::take(&mut summary.finding_keys).join("\n");
        let json = serde_json::to_string(&summary)?;

        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO ingests (pipeline, build, build_group, target, kind, source, received_at, verdict, summary, keys)
             VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                meta.pipeline,
                meta.build,
                meta.target,
                kind,
                meta.source,
                now,
                summary.verdict.as_str(),
                json,
                keys
            ],
        )?;
        let id = tx.last_insert_rowid();
        let group = if meta.build.is_empty() {
            format!("#{id}")
        } else {
            meta.build.clone()
        };
        tx.execute(
            "UPDATE ingests SET build_group = ?1 WHERE id = ?2",
            params![group, id],
        )?;
        for (scanner, at) in &scanners {
            tx.execute(
                "INSERT INTO scanner_results (ingest_id, target, scanner, scanned_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, meta.target, scanner, at],
            )?;
        }
        let mut counts: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
        for c in &summary.counts {
            if scanners.contains_key(&c.scanner) {
                *counts
                    .entry((&c.scanner, &c.class, &c.severity))
                    .or_default() += c.count;
            }
        }
        for ((scanner, class, severity), n) in counts {
            tx.execute(
                "INSERT INTO counts (ingest_id, scanner, class, severity, count) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, scanner, class, severity, n as i64],
            )?;
        }
        let mut sbom: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &summary.sbom {
            for (t, n) in &s.counts.by_type {
                *sbom.entry(t).or_default() += n;
            }
        }
        for (t, n) in sbom {
            tx.execute(
                "INSERT INTO sbom (ingest_id, target, type, count) VALUES (?1, ?2, ?3, ?4)",
                params![id, meta.target, t, n as i64],
            )?;
        }
        let w = &summary.waivers;
        for e in w.used.iter().chain(&w.unused) {
            if let Some(exp) = &e.expires {
                tx.execute(
                    "INSERT INTO waivers (ingest_id, target, waiver, expires) VALUES (?1, ?2, ?3, ?4)",
                    params![id, meta.target, format!("{} {}", e.source, e.selector), exp],
                )?;
            }
        }
        if let Some(c) = components {
            record_sbom_changes(&tx, id, &meta.target, c)?;
        }
        prune(&tx, &meta.pipeline, &meta.target, &kind, self.keep)?;
        srp_daemon::sqlite::commit(tx)?;
        Ok(id)
    }

    /// Rebuild the gauge figures from the latest report per target.
    ///
    /// The gate result of a pipeline and target is the AND of the latest
    /// report of each scanner set in its latest build (so an SBOM pushed
    /// after a blocking Trivy report of the same build does not hide the
    /// block); reports without a build count as one open-ended build.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let conn = self.conn();
        let mut snap = Snapshot::default();
        {
            let mut st = conn.prepare(
                "SELECT s.scanner, s.target, s.scanned_at, c.class, c.severity, c.count
                 FROM scanner_results s
                 JOIN (SELECT target, scanner, MAX(ingest_id) AS id FROM scanner_results GROUP BY target, scanner) l
                   ON s.ingest_id = l.id AND s.scanner = l.scanner AND s.target = l.target
                 LEFT JOIN counts c ON c.ingest_id = s.ingest_id AND c.scanner = s.scanner",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            })?;
            for row in rows {
                let (scanner, target, at, class, sev, n) = row?;
                let e = snap
                    .findings
                    .entry((scanner, target))
                    .or_insert_with(|| (at, BTreeMap::new()));
                if let (Some(c), Some(s), Some(n)) = (class, sev, n) {
                    e.1.insert((c, s), n as u64);
                }
            }
        }
        {
            let mut st = conn.prepare(
                "WITH latest AS (SELECT pipeline, target, MAX(id) AS id FROM ingests GROUP BY pipeline, target),
                 grp AS (SELECT i.pipeline, i.target, i.build_group, i.build FROM ingests i JOIN latest l ON i.id = l.id),
                 perkind AS (SELECT i.pipeline, i.target, i.kind, MAX(i.id) AS id FROM ingests i
                             JOIN grp g ON i.pipeline = g.pipeline AND i.target = g.target
                              AND (i.build_group = g.build_group OR (g.build = '' AND i.build = ''))
                             GROUP BY i.pipeline, i.target, i.kind)
                 SELECT p.pipeline, p.target, MIN(CASE WHEN i.verdict = 'pass' THEN 1 ELSE 0 END)
                 FROM perkind p JOIN ingests i ON i.id = p.id GROUP BY p.pipeline, p.target",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (p, t, ok) = row?;
                snap.gates.insert((p, t), ok == 1);
            }
        }
        snap.sbom = latest_counts(&conn, "sbom", "type")?;
        {
            let mut st = conn.prepare(
                "SELECT DISTINCT w.target, w.waiver, w.expires FROM waivers w
                 JOIN (SELECT target, scanner, MAX(ingest_id) AS id FROM scanner_results GROUP BY target, scanner) l
                   ON w.ingest_id = l.id AND w.target = l.target",
            )?;
            let rows =
                st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(2)?)))?;
            for row in rows {
                let (t, exp) = row?;
                let e = snap.waivers.entry(t).or_default();
                if let Ok(d) = chrono::NaiveDate::parse_from_str(&exp, "%Y-%m-%d") {
                    e.push(d);
                }
            }
        }
        snap.sbom_changes = latest_counts(&conn, "sbom_changes", "change")?;
        // Targets with gates but no waivers still get a 0 series.
        for (_, t) in snap.gates.keys() {
            snap.waivers.entry(t.clone()).or_default();
        }
        Ok(snap)
    }

    /// The latest stored summary for a pipeline and target, with one page
    /// of its blocking findings (see [`super::page`]). The summary is
    /// streamed out of SQLite, on a connection of its own so ingests are not
    /// held up, and only the page is kept.
    pub fn latest(
        &self,
        pipeline: &str,
        target: &str,
        page: Page,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let conn = self.reader()?;
        // One read transaction: the row found is the row streamed, even if
        // an ingest prunes it meanwhile (WAL keeps the snapshot).
        let tx = conn.unchecked_transaction()?;
        let row: Option<(i64, String, String, f64)> = tx
            .query_row(
                "SELECT id, build, source, received_at FROM ingests
                 WHERE pipeline = ?1 AND target = ?2 ORDER BY id DESC LIMIT 1",
                params![pipeline, target],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((id, build, source, at)) = row else {
            return Ok(None);
        };
        let blob = tx.blob_open(MAIN_DB, c"ingests", c"summary", id, true)?;
        let mut v = super::page::read_paged(std::io::BufReader::new(blob), page)?;
        v["pipeline"] = pipeline.into();
        v["target"] = target.into();
        v["build"] = build.into();
        v["source"] = source.into();
        v["received_at"] = at.into();
        Ok(Some(v))
    }

    /// Findings new and fixed in the latest build compared with the one
    /// before it (each build's findings are the union of its latest report
    /// per scanner set).
    pub fn diff(&self, pipeline: &str, target: &str) -> Result<Option<Diff>, StoreError> {
        let conn = self.reader()?;
        let tx = conn.unchecked_transaction()?;
        let mut st = tx.prepare(
            "SELECT build_group, build, MAX(id) AS last FROM ingests
             WHERE pipeline = ?1 AND target = ?2 GROUP BY build_group ORDER BY last DESC LIMIT 2",
        )?;
        let groups: Vec<(String, String)> = st
            .query_map(params![pipeline, target], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if groups.is_empty() {
            return Ok(None);
        }
        let keys_of = |group: &str| -> Result<Vec<String>, StoreError> {
            let mut st = tx.prepare(
                "SELECT i.keys FROM ingests i JOIN
                   (SELECT kind, MAX(id) AS id FROM ingests WHERE pipeline = ?1 AND target = ?2 AND build_group = ?3 GROUP BY kind) k
                 ON i.id = k.id",
            )?;
            let texts = st
                .query_map(params![pipeline, target, group], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()?;
            Ok(texts)
        };
        let current_texts = keys_of(&groups[0].0)?;
        let previous_texts = match groups.get(1) {
            Some(g) => keys_of(&g.0)?,
            None => Vec::new(),
        };
        let current = key_set(&current_texts);
        let previous = key_set(&previous_texts);
        let label = |g: &(String, String)| {
            if g.1.is_empty() {
                g.0.clone()
            } else {
                g.1.clone()
            }
        };
        let (new, new_total) = first_of(current.difference(&previous));
        let (fixed, fixed_total) = first_of(previous.difference(&current));
        Ok(Some(Diff {
            pipeline: pipeline.into(),
            target: target.into(),
            build: Some(label(&groups[0])),
            previous_build: groups.get(1).map(label),
            truncated: new.len() < new_total || fixed.len() < fixed_total,
            new,
            fixed,
            new_total,
            fixed_total,
            unchanged: current.intersection(&previous).count() as u64,
        }))
    }

    fn reader(&self) -> Result<rusqlite::Connection, StoreError> {
        Ok(self.db.reader()?)
    }
}

/// `(target, key) -> count` from each target's latest ingest in `table`
/// (the SBOM sizes by type, the SBOM changes by kind). Both names are this
/// module's constants, never input.
fn latest_counts(
    conn: &rusqlite::Connection,
    table: &str,
    key: &str,
) -> rusqlite::Result<BTreeMap<(String, String), u64>> {
    let mut st = conn.prepare(&format!(
        "SELECT t.target, t.{key}, t.count FROM {table} t
         JOIN (SELECT target, MAX(ingest_id) AS id FROM {table} GROUP BY target) l
           ON t.ingest_id = l.id AND t.target = l.target"
    ))?;
    let rows = st.query_map([], |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            r.get::<_, i64>(2)? as u64,
        ))
    })?;
    rows.collect()
}

/// Store an SBOM's components and count the changes from the target's
/// previous SBOM with components (whatever its pipeline). The first SBOM of a
/// target has no pair, so no changes are recorded for it.
fn record_sbom_changes(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    target: &str,
    components: &Versions,
) -> Result<(), StoreError> {
    let previous: Option<String> = tx
        .query_row(
            "SELECT components FROM sbom_components WHERE target = ?1 AND ingest_id < ?2
             ORDER BY ingest_id DESC LIMIT 1",
            params![target, id],
            |r| r.get(0),
        )
        .optional()?;
    tx.execute(
        "INSERT INTO sbom_components (ingest_id, target, components) VALUES (?1, ?2, ?3)",
        params![id, target, serde_json::to_string(components)?],
    )?;
    let Some(previous) = previous else {
        return Ok(());
    };
    let previous: Versions = serde_json::from_str(&previous)?;
    let d = crate::sbom_diff::diff_versions(&previous, components, String::new(), String::new());
    let counts = [
        d.added.len(),
        d.removed.len(),
        d.upgraded.len(),
        d.downgraded.len(),
    ];
    for (change, n) in SBOM_CHANGES.iter().zip(counts) {
        tx.execute(
            "INSERT INTO sbom_changes (ingest_id, target, change, count) VALUES (?1, ?2, ?3, ?4)",
            params![id, target, change, n as i64],
        )?;
    }
    Ok(())
}

/// Keep the newest `keep` reports per pipeline, target and scanner set.
fn prune(
    tx: &rusqlite::Transaction<'_>,
    pipeline: &str,
    target: &str,
    kind: &str,
    keep: u32,
) -> Result<(), StoreError> {
    let old: Vec<i64> = {
        let mut st = tx.prepare(
            "SELECT id FROM ingests WHERE pipeline = ?1 AND target = ?2 AND kind = ?3
             ORDER BY id DESC LIMIT -1 OFFSET ?4",
        )?;
        let ids = st
            .query_map(params![pipeline, target, kind, keep], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids
    };
    for id in old {
        for table in [
            "scanner_results",
            "counts",
            "sbom",
            "waivers",
            "sbom_components",
            "sbom_changes",
        ] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE ingest_id = ?1"),
                params![id],
            )?;
        }
        tx.execute("DELETE FROM ingests WHERE id = ?1", params![id])?;
    }
    Ok(())
}

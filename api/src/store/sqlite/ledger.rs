//! The release ledger and the write tokens on SQLite. Writes go through the
//! one writer connection (foreign keys on, so deleting a project removes its
//! ledger); they are rare next to project reads, so no group commit here.

use super::{lock, parse_time, unavailable, SqliteStore};
use crate::store::ledger::*;
use crate::store::model::{format_timestamp, now};
use crate::store::{LedgerStore, StoreError, TokenStore};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};

/// The ledger's schema: migration 2 of the SQLite store.
pub const LEDGER_MIGRATION: &str = "
    CREATE TABLE api_tokens (
        name       TEXT PRIMARY KEY,
        scopes     TEXT NOT NULL,
        hash       TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE releases (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        build           INTEGER NOT NULL,
        commit_sha      TEXT NOT NULL,
        commit_time     TEXT NOT NULL,
        image           TEXT NOT NULL,
        digest          TEXT,
        sbom_components INTEGER,
        created_at      TEXT NOT NULL,
        UNIQUE (project_id, build)
    );
    CREATE TABLE verdicts (
        release_id  INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
        stage       TEXT NOT NULL,
        passed      INTEGER NOT NULL,
        waivers     TEXT NOT NULL,
        summary     TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (release_id, stage)
    );
    CREATE TABLE deployments (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        release_id   INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
        environment  TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        finished_at  TEXT NOT NULL,
        result       TEXT NOT NULL,
        smoke        TEXT NOT NULL,
        rollback     INTEGER NOT NULL,
        triggered_by TEXT NOT NULL,
        UNIQUE (project_id, environment, started_at)
    );
    CREATE INDEX deployments_by_env ON deployments (project_id, environment, finished_at);
    CREATE TABLE incidents (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        environment TEXT NOT NULL,
        key         TEXT NOT NULL,
        title       TEXT NOT NULL,
        opened_at   TEXT NOT NULL,
        closed_at   TEXT
    );
    CREATE UNIQUE INDEX incidents_open_key ON incidents (project_id, key) WHERE closed_at IS NULL;
";

const RELEASE_COLS: &str = "r.id, r.project_id, r.build, r.commit_sha, r.commit_time, r.image, \
                            r.digest, r.sbom_components, r.created_at";
/// The same columns unqualified, for RETURNING (which names no alias).
const RELEASE_RETURNING: &str = "id, project_id, build, commit_sha, commit_time, image, digest, \
                                 sbom_components, created_at";
const DEPLOY_FROM: &str = "SELECT d.id, d.project_id, d.environment, r.build, d.started_at, \
     d.finished_at, d.result, d.smoke, d.rollback, d.triggered_by \
     FROM deployments d JOIN releases r ON r.id = d.release_id";
const INCIDENT_COLS: &str = "id, project_id, environment, key, title, opened_at, closed_at";

fn ts(row: &Row<'_>, i: usize) -> rusqlite::Result<DateTime<Utc>> {
    parse_time(row.get_ref(i)?.as_str()?)
}

fn ts_opt(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    match row.get_ref(i)?.as_str_or_null()? {
        Some(s) => parse_time(s).map(Some),
        None => Ok(None),
    }
}

fn bad_text(i: usize, s: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        i,
        rusqlite::types::Type::Text,
        format!("unexpected value {s:?}").into(),
    )
}

/// (release row id, release without verdicts)
fn release_row(row: &Row<'_>) -> rusqlite::Result<(i64, Release)> {
    Ok((
        row.get(0)?,
        Release {
            project_id: row.get(1)?,
            build: row.get(2)?,
            commit_sha: row.get(3)?,
            commit_time: ts(row, 4)?,
            image: row.get(5)?,
            digest: row.get(6)?,
            sbom_components: row.get(7)?,
            created_at: ts(row, 8)?,
            verdicts: Vec::new(),
        },
    ))
}

fn deployment(row: &Row<'_>) -> rusqlite::Result<Deployment> {
    let result: String = row.get(6)?;
    let smoke: String = row.get(7)?;
    Ok(Deployment {
        id: row.get(0)?,
        project_id: row.get(1)?,
        environment: row.get(2)?,
        build: row.get(3)?,
        started_at: ts(row, 4)?,
        finished_at: ts(row, 5)?,
        result: DeployResult::parse(&result).ok_or_else(|| bad_text(6, &result))?,
        smoke: Smoke::parse(&smoke).ok_or_else(|| bad_text(7, &smoke))?,
        rollback: row.get(8)?,
        triggered_by: row.get(9)?,
    })
}

fn incident(row: &Row<'_>) -> rusqlite::Result<Incident> {
    Ok(Incident {
        id: row.get(0)?,
        project_id: row.get(1)?,
        environment: row.get(2)?,
        key: row.get(3)?,
        title: row.get(4)?,
        opened_at: ts(row, 5)?,
        closed_at: ts_opt(row, 6)?,
    })
}

fn token_info(row: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    let scopes: String = row.get(1)?;
    Ok(TokenInfo {
        name: row.get(0)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: ts(row, 2)?,
        revoked_at: ts_opt(row, 3)?,
    })
}

fn is_constraint(e: &rusqlite::Error, extended: i32) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.code == ErrorCode::ConstraintViolation && f.extended_code == extended)
}

fn is_unique(e: &rusqlite::Error) -> bool {
    is_constraint(e, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
        || is_constraint(e, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

fn is_foreign_key(e: &rusqlite::Error) -> bool {
    is_constraint(e, rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

fn verdicts(conn: &Connection, release_id: i64) -> rusqlite::Result<Vec<Verdict>> {
    let mut stmt = conn.prepare_cached(
        "SELECT stage, passed, waivers, summary, recorded_at FROM verdicts
         WHERE release_id = ?1 ORDER BY stage",
    )?;
    let rows = stmt.query_map([release_id], |row| {
        let waivers: String = row.get(2)?;
        Ok(Verdict {
            stage: row.get(0)?,
            passed: row.get(1)?,
            waivers: serde_json::from_str(&waivers).map_err(|_| bad_text(2, &waivers))?,
            summary: row.get(3)?,
            recorded_at: ts(row, 4)?,
        })
    })?;
    rows.collect()
}

fn with_verdicts(
    conn: &Connection,
    (id, mut release): (i64, Release),
) -> rusqlite::Result<Release> {
    release.verdicts = verdicts(conn, id)?;
    Ok(release)
}

fn release_by_build(
    conn: &Connection,
    project_id: i64,
    build: i64,
) -> rusqlite::Result<Option<(i64, Release)>> {
    conn.prepare_cached(&format!(
        "SELECT {RELEASE_COLS} FROM releases r WHERE r.project_id = ?1 AND r.build = ?2"
    ))?
    .query_row(params![project_id, build], release_row)
    .optional()
}

fn current_in(
    conn: &Connection,
    project_id: i64,
    environment: &str,
) -> rusqlite::Result<Option<Current>> {
    let deployment = conn
        .prepare_cached(&format!(
            "{DEPLOY_FROM} WHERE d.project_id = ?1 AND d.environment = ?2
             AND d.result = 'succeeded' AND d.smoke <> 'failed'
             ORDER BY d.finished_at DESC, d.id DESC LIMIT 1"
        ))?
        .query_row(params![project_id, environment], deployment)
        .optional()?;
    let Some(deployment) = deployment else {
        return Ok(None);
    };
    let Some(row) = release_by_build(conn, project_id, deployment.build)? else {
        return Ok(None);
    };
    Ok(Some(Current {
        environment: environment.to_string(),
        release: with_verdicts(conn, row)?,
        deployment,
    }))
}

fn page(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

impl LedgerStore for SqliteStore {
    async fn create_release(
        &self,
        project_id: i64,
        new: NewRelease,
    ) -> Result<Release, StoreError> {
        let created = format_timestamp(&now());
        let conn = lock(&self.writer);
        let row = conn
            .prepare_cached(&format!(
                "INSERT INTO releases (project_id, build, commit_sha, commit_time, image,
                     digest, sbom_components, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING {RELEASE_RETURNING}"
            ))
            .map_err(unavailable)?
            .query_row(
                params![
                    project_id,
                    new.build,
                    new.commit_sha,
                    format_timestamp(&new.commit_time),
                    new.image,
                    new.digest,
                    new.sbom_components,
                    created
                ],
                release_row,
            )
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateRelease(new.build)
                } else if is_foreign_key(&e) {
                    StoreError::ProjectGone(project_id)
                } else {
                    unavailable(e)
                }
            })?;
        Ok(row.1)
    }

    async fn list_releases(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Release>, StoreError> {
        let conn = self.reader();
        let rows = conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLS} FROM releases r WHERE r.project_id = ?1
                 ORDER BY r.build DESC LIMIT ?2 OFFSET ?3"
            ))
            .map_err(unavailable)?
            .query_map(params![project_id, limit, page(offset)], release_row)
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        rows.into_iter()
            .map(|row| with_verdicts(&conn, row).map_err(unavailable))
            .collect()
    }

    async fn get_release(
        &self,
        project_id: i64,
        build: i64,
    ) -> Result<Option<Release>, StoreError> {
        let conn = self.reader();
        match release_by_build(&conn, project_id, build).map_err(unavailable)? {
            Some(row) => with_verdicts(&conn, row).map(Some).map_err(unavailable),
            None => Ok(None),
        }
    }

    async fn record_verdict(
        &self,
        project_id: i64,
        build: i64,
        new: NewVerdict,
    ) -> Result<Option<Verdict>, StoreError> {
        let recorded = now();
        let conn = lock(&self.writer);
        let Some((release_id, _)) =
            release_by_build(&conn, project_id, build).map_err(unavailable)?
        else {
            return Ok(None);
        };
        let waivers = serde_json::to_string(&new.waivers).expect("strings serialize");
        conn.prepare_cached(
            "INSERT INTO verdicts (release_id, stage, passed, waivers, summary, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (release_id, stage) DO UPDATE SET passed = excluded.passed,
                 waivers = excluded.waivers, summary = excluded.summary,
                 recorded_at = excluded.recorded_at",
        )
        .map_err(unavailable)?
        .execute(params![
            release_id,
            new.stage,
            new.passed,
            waivers,
            new.summary,
            format_timestamp(&recorded)
        ])
        .map_err(|e| {
            if is_foreign_key(&e) {
                StoreError::UnknownRelease(build)
            } else {
                unavailable(e)
            }
        })?;
        Ok(Some(Verdict {
            stage: new.stage,
            passed: new.passed,
            waivers: new.waivers,
            summary: new.summary,
            recorded_at: recorded,
        }))
    }

    async fn create_deployment(
        &self,
        project_id: i64,
        new: NewDeployment,
    ) -> Result<Deployment, StoreError> {
        let conn = lock(&self.writer);
        let Some((release_id, _)) =
            release_by_build(&conn, project_id, new.build).map_err(unavailable)?
        else {
            return Err(StoreError::UnknownRelease(new.build));
        };
        let id: i64 = conn
            .prepare_cached(
                "INSERT INTO deployments (project_id, release_id, environment, started_at,
                     finished_at, result, smoke, rollback, triggered_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            )
            .map_err(unavailable)?
            .query_row(
                params![
                    project_id,
                    release_id,
                    new.environment,
                    format_timestamp(&new.started_at),
                    format_timestamp(&new.finished_at),
                    new.result.as_str(),
                    new.smoke.as_str(),
                    new.rollback,
                    new.triggered_by
                ],
                |r| r.get(0),
            )
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateDeployment
                } else if is_foreign_key(&e) {
                    StoreError::ProjectGone(project_id)
                } else {
                    unavailable(e)
                }
            })?;
        Ok(Deployment {
            id,
            project_id,
            environment: new.environment,
            build: new.build,
            started_at: new.started_at,
            finished_at: new.finished_at,
            result: new.result,
            smoke: new.smoke,
            rollback: new.rollback,
            triggered_by: new.triggered_by,
        })
    }

    async fn list_deployments(
        &self,
        project_id: i64,
        environment: Option<String>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Deployment>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{DEPLOY_FROM} WHERE d.project_id = ?1 AND (?2 IS NULL OR d.environment = ?2)
                 ORDER BY d.finished_at DESC, d.id DESC LIMIT ?3 OFFSET ?4"
            ))
            .map_err(unavailable)?;
        let rows = stmt
            .query_map(
                params![project_id, environment, limit, page(offset)],
                deployment,
            )
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    async fn current(
        &self,
        project_id: i64,
        environment: String,
    ) -> Result<Option<Current>, StoreError> {
        current_in(&self.reader(), project_id, &environment).map_err(unavailable)
    }

    async fn environments(&self, project_id: i64) -> Result<Vec<Current>, StoreError> {
        let conn = self.reader();
        let names = conn
            .prepare_cached(
                "SELECT DISTINCT environment FROM deployments WHERE project_id = ?1
                 ORDER BY environment",
            )
            .map_err(unavailable)?
            .query_map([project_id], |r| r.get::<_, String>(0))
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let mut out = Vec::new();
        for name in names {
            if let Some(c) = current_in(&conn, project_id, &name).map_err(unavailable)? {
                out.push(c);
            }
        }
        Ok(out)
    }

    async fn open_incident(&self, project_id: i64, new: NewIncident) -> Result<Opened, StoreError> {
        let conn = lock(&self.writer);
        let open = conn
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents
                 WHERE project_id = ?1 AND key = ?2 AND closed_at IS NULL"
            ))
            .map_err(unavailable)?
            .query_row(params![project_id, new.key], incident)
            .optional()
            .map_err(unavailable)?;
        if let Some(open) = open {
            return Ok(Opened::AlreadyOpen(open));
        }
        let inserted = conn
            .prepare_cached(&format!(
                "INSERT INTO incidents (project_id, environment, key, title, opened_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {INCIDENT_COLS}"
            ))
            .map_err(unavailable)?
            .query_row(
                params![
                    project_id,
                    new.environment,
                    new.key,
                    new.title,
                    format_timestamp(&new.opened_at)
                ],
                incident,
            )
            .map(Opened::New)
            .map_err(|e| {
                if is_foreign_key(&e) {
                    StoreError::ProjectGone(project_id)
                } else {
                    unavailable(e)
                }
            });
        inserted
    }

    async fn close_incident(
        &self,
        project_id: i64,
        key: String,
        closed_at: DateTime<Utc>,
    ) -> Result<Option<Incident>, StoreError> {
        let conn = lock(&self.writer);
        let closed = conn
            .prepare_cached(&format!(
                "UPDATE incidents SET closed_at = MAX(opened_at, ?3)
                 WHERE project_id = ?1 AND key = ?2 AND closed_at IS NULL
                 RETURNING {INCIDENT_COLS}"
            ))
            .map_err(unavailable)?
            .query_row(
                params![project_id, key, format_timestamp(&closed_at)],
                incident,
            )
            .optional()
            .map_err(unavailable)?;
        if closed.is_some() {
            return Ok(closed);
        }
        // Closing twice (a resolve notification sent again) answers the last close.
        let last = conn
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE project_id = ?1 AND key = ?2
                 ORDER BY opened_at DESC, id DESC LIMIT 1"
            ))
            .map_err(unavailable)?
            .query_row(params![project_id, key], incident)
            .optional()
            .map_err(unavailable);
        last
    }

    async fn list_incidents(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Incident>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE project_id = ?1
                 ORDER BY opened_at DESC, id DESC LIMIT ?2 OFFSET ?3"
            ))
            .map_err(unavailable)?;
        let rows = stmt
            .query_map(params![project_id, limit, page(offset)], incident)
            .map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    async fn facts(&self) -> Result<Facts, StoreError> {
        let conn = self.reader();
        let deployments = conn
            .prepare_cached(
                "SELECT p.name, d.environment, r.build, r.commit_time, d.finished_at,
                        d.result, d.smoke, d.rollback
                 FROM deployments d JOIN releases r ON r.id = d.release_id
                 JOIN projects p ON p.id = d.project_id",
            )
            .map_err(unavailable)?
            .query_map([], |row| {
                let result: String = row.get(5)?;
                let smoke: String = row.get(6)?;
                Ok(DeploymentFact {
                    project: row.get(0)?,
                    environment: row.get(1)?,
                    build: row.get(2)?,
                    commit_time: ts(row, 3)?,
                    finished_at: ts(row, 4)?,
                    result: DeployResult::parse(&result).ok_or_else(|| bad_text(5, &result))?,
                    smoke: Smoke::parse(&smoke).ok_or_else(|| bad_text(6, &smoke))?,
                    rollback: row.get(7)?,
                })
            })
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        let incidents = conn
            .prepare_cached(
                "SELECT p.name, i.environment, i.opened_at, i.closed_at
                 FROM incidents i JOIN projects p ON p.id = i.project_id",
            )
            .map_err(unavailable)?
            .query_map([], |row| {
                Ok(IncidentFact {
                    project: row.get(0)?,
                    environment: row.get(1)?,
                    opened_at: ts(row, 2)?,
                    closed_at: ts_opt(row, 3)?,
                })
            })
            .map_err(unavailable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unavailable)?;
        Ok(Facts {
            deployments,
            incidents,
        })
    }
}

impl TokenStore for SqliteStore {
    async fn create_token(
        &self,
        name: String,
        scopes: Vec<String>,
        hash: String,
    ) -> Result<TokenInfo, StoreError> {
        let created = format_timestamp(&now());
        let mut conn = lock(&self.writer);
        let tx = conn.transaction().map_err(unavailable)?;
        // A revoked token's name may be given to its replacement.
        tx.execute(
            "DELETE FROM api_tokens WHERE name = ?1 AND revoked_at IS NOT NULL",
            [&name],
        )
        .map_err(unavailable)?;
        let info = tx
            .query_row(
                "INSERT INTO api_tokens (name, scopes, hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 RETURNING name, scopes, created_at, revoked_at",
                params![name, scopes.join(" "), hash, created],
                token_info,
            )
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateToken(name.clone())
                } else {
                    unavailable(e)
                }
            })?;
        tx.commit().map_err(unavailable)?;
        Ok(info)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT name, scopes, created_at, revoked_at FROM api_tokens ORDER BY name",
            )
            .map_err(unavailable)?;
        let rows = stmt.query_map([], token_info).map_err(unavailable)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
    }

    async fn revoke_token(&self, name: String) -> Result<bool, StoreError> {
        let conn = lock(&self.writer);
        let n = conn
            .execute(
                "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, format_timestamp(&now())],
            )
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn token_scopes(&self, hash: String) -> Result<Option<Vec<String>>, StoreError> {
        let conn = self.reader();
        let scopes: Option<String> = conn
            .prepare_cached("SELECT scopes FROM api_tokens WHERE hash = ?1 AND revoked_at IS NULL")
            .map_err(unavailable)?
            .query_row([hash], |r| r.get(0))
            .optional()
            .map_err(unavailable)?;
        Ok(scopes.map(|s| s.split_whitespace().map(str::to_string).collect()))
    }
}

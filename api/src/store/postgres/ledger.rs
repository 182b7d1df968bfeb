//! The release ledger and the write tokens on PostgreSQL: the same contract
//! as the SQLite side (the store suite runs against both).

use super::{unavailable, PgStore};
use crate::store::ledger::*;
use crate::store::model::now;
use crate::store::{LedgerStore, StoreError, TokenStore};
use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

/// The ledger's schema: migration 2 of the PostgreSQL store.
pub const LEDGER_MIGRATION: &str = "
    CREATE TABLE api_tokens (
        name       TEXT PRIMARY KEY,
        scopes     TEXT NOT NULL,
        hash       TEXT NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ
    );
    CREATE TABLE releases (
        id              BIGSERIAL PRIMARY KEY,
        project_id      BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        build           BIGINT NOT NULL,
        commit_sha      TEXT NOT NULL,
        commit_time     TIMESTAMPTZ NOT NULL,
        image           TEXT NOT NULL,
        digest          TEXT,
        sbom_components BIGINT,
        created_at      TIMESTAMPTZ NOT NULL,
        UNIQUE (project_id, build)
    );
    CREATE TABLE verdicts (
        release_id  BIGINT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
        stage       TEXT NOT NULL,
        passed      BOOLEAN NOT NULL,
        waivers     TEXT NOT NULL,
        summary     TEXT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (release_id, stage)
    );
    CREATE TABLE deployments (
        id           BIGSERIAL PRIMARY KEY,
        project_id   BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        release_id   BIGINT NOT NULL REFERENCES releases(id) ON DELETE CASCADE,
        environment  TEXT NOT NULL,
        started_at   TIMESTAMPTZ NOT NULL,
        finished_at  TIMESTAMPTZ NOT NULL,
        result       TEXT NOT NULL,
        smoke        TEXT NOT NULL,
        rollback     BOOLEAN NOT NULL,
        triggered_by TEXT NOT NULL,
        UNIQUE (project_id, environment, started_at)
    );
    CREATE INDEX deployments_by_env ON deployments (project_id, environment, finished_at);
    CREATE TABLE incidents (
        id          BIGSERIAL PRIMARY KEY,
        project_id  BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        environment TEXT NOT NULL,
        key         TEXT NOT NULL,
        title       TEXT NOT NULL,
        opened_at   TIMESTAMPTZ NOT NULL,
        closed_at   TIMESTAMPTZ
    );
    CREATE UNIQUE INDEX incidents_open_key ON incidents (project_id, key) WHERE closed_at IS NULL;
";

const RELEASE_COLS: &str = "id, project_id, build, commit_sha, commit_time, image, digest, \
                            sbom_components, created_at";
const DEPLOY_FROM: &str = "SELECT d.id, d.project_id, d.environment, r.build, d.started_at, \
     d.finished_at, d.result, d.smoke, d.rollback, d.triggered_by \
     FROM deployments d JOIN releases r ON r.id = d.release_id";
const INCIDENT_COLS: &str = "id, project_id, environment, key, title, opened_at, closed_at";

fn sql_state(e: &tokio_postgres::Error) -> Option<&SqlState> {
    e.code()
}

fn is_unique(e: &tokio_postgres::Error) -> bool {
    sql_state(e) == Some(&SqlState::UNIQUE_VIOLATION)
}

fn is_foreign_key(e: &tokio_postgres::Error) -> bool {
    sql_state(e) == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Unavailable(format!("unexpected {what} {value:?} in the database"))
}

fn release_row(row: &Row) -> (i64, Release) {
    (
        row.get(0),
        Release {
            project_id: row.get(1),
            build: row.get(2),
            commit_sha: row.get(3),
            commit_time: row.get(4),
            image: row.get(5),
            digest: row.get(6),
            sbom_components: row.get(7),
            created_at: row.get(8),
            verdicts: Vec::new(),
        },
    )
}

fn deployment(row: &Row) -> Result<Deployment, StoreError> {
    let result: String = row.get(6);
    let smoke: String = row.get(7);
    Ok(Deployment {
        id: row.get(0),
        project_id: row.get(1),
        environment: row.get(2),
        build: row.get(3),
        started_at: row.get(4),
        finished_at: row.get(5),
        result: DeployResult::parse(&result).ok_or_else(|| corrupt("result", &result))?,
        smoke: Smoke::parse(&smoke).ok_or_else(|| corrupt("smoke", &smoke))?,
        rollback: row.get(8),
        triggered_by: row.get(9),
    })
}

fn incident(row: &Row) -> Incident {
    Incident {
        id: row.get(0),
        project_id: row.get(1),
        environment: row.get(2),
        key: row.get(3),
        title: row.get(4),
        opened_at: row.get(5),
        closed_at: row.get(6),
    }
}

fn token_info(row: &Row) -> TokenInfo {
    let scopes: String = row.get(1);
    TokenInfo {
        name: row.get(0),
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_at: row.get(2),
        revoked_at: row.get(3),
    }
}

async fn verdicts(c: &Object, release_id: i64) -> Result<Vec<Verdict>, StoreError> {
    let stmt = c
        .prepare_cached(
            "SELECT stage, passed, waivers, summary, recorded_at FROM verdicts
             WHERE release_id = $1 ORDER BY stage",
        )
        .await
        .map_err(unavailable)?;
    let rows = c.query(&stmt, &[&release_id]).await.map_err(unavailable)?;
    rows.iter()
        .map(|row| {
            let waivers: String = row.get(2);
            Ok(Verdict {
                stage: row.get(0),
                passed: row.get(1),
                waivers: serde_json::from_str(&waivers)
                    .map_err(|_| corrupt("waivers", &waivers))?,
                summary: row.get(3),
                recorded_at: row.get(4),
            })
        })
        .collect()
}

async fn with_verdicts(
    c: &Object,
    (id, mut release): (i64, Release),
) -> Result<Release, StoreError> {
    release.verdicts = verdicts(c, id).await?;
    Ok(release)
}

async fn release_by_build(
    c: &Object,
    project_id: i64,
    build: i64,
) -> Result<Option<(i64, Release)>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {RELEASE_COLS} FROM releases WHERE project_id = $1 AND build = $2"
        ))
        .await
        .map_err(unavailable)?;
    let row = c
        .query_opt(&stmt, &[&project_id, &build])
        .await
        .map_err(unavailable)?;
    Ok(row.as_ref().map(release_row))
}

async fn current_in(
    c: &Object,
    project_id: i64,
    environment: &str,
) -> Result<Option<Current>, StoreError> {
    let stmt = c
        .prepare_cached(&format!(
            "{DEPLOY_FROM} WHERE d.project_id = $1 AND d.environment = $2
             AND d.result = 'succeeded' AND d.smoke <> 'failed'
             ORDER BY d.finished_at DESC, d.id DESC LIMIT 1"
        ))
        .await
        .map_err(unavailable)?;
    let Some(row) = c
        .query_opt(&stmt, &[&project_id, &environment])
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let deployment = deployment(&row)?;
    let Some(release) = release_by_build(c, project_id, deployment.build).await? else {
        return Ok(None);
    };
    Ok(Some(Current {
        environment: environment.to_string(),
        release: with_verdicts(c, release).await?,
        deployment,
    }))
}

fn page(limit: u32, offset: u64) -> (i64, i64) {
    (i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX))
}

impl LedgerStore for PgStore {
    async fn create_release(
        &self,
        project_id: i64,
        new: NewRelease,
    ) -> Result<Release, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "INSERT INTO releases (project_id, build, commit_sha, commit_time, image,
                     digest, sbom_components, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {RELEASE_COLS}"
            ))
            .await
            .map_err(unavailable)?;
        let row = c
            .query_one(
                &stmt,
                &[
                    &project_id,
                    &new.build,
                    &new.commit_sha,
                    &new.commit_time,
                    &new.image,
                    &new.digest,
                    &new.sbom_components,
                    &now(),
                ],
            )
            .await
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateRelease(new.build)
                } else if is_foreign_key(&e) {
                    StoreError::ProjectGone(project_id)
                } else {
                    unavailable(e)
                }
            })?;
        Ok(release_row(&row).1)
    }

    async fn list_releases(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Release>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLS} FROM releases WHERE project_id = $1
                 ORDER BY build DESC LIMIT $2 OFFSET $3"
            ))
            .await
            .map_err(unavailable)?;
        let (limit, offset) = page(limit, offset);
        let rows = c
            .query(&stmt, &[&project_id, &limit, &offset])
            .await
            .map_err(unavailable)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(with_verdicts(&c, release_row(row)).await?);
        }
        Ok(out)
    }

    async fn get_release(
        &self,
        project_id: i64,
        build: i64,
    ) -> Result<Option<Release>, StoreError> {
        let c = self.client().await?;
        match release_by_build(&c, project_id, build).await? {
            Some(row) => with_verdicts(&c, row).await.map(Some),
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
        let c = self.client().await?;
        let Some((release_id, _)) = release_by_build(&c, project_id, build).await? else {
            return Ok(None);
        };
        let waivers = serde_json::to_string(&new.waivers).expect("strings serialize");
        let stmt = c
            .prepare_cached(
                "INSERT INTO verdicts (release_id, stage, passed, waivers, summary, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (release_id, stage) DO UPDATE SET passed = excluded.passed,
                     waivers = excluded.waivers, summary = excluded.summary,
                     recorded_at = excluded.recorded_at",
            )
            .await
            .map_err(unavailable)?;
        c.execute(
            &stmt,
            &[
                &release_id,
                &new.stage,
                &new.passed,
                &waivers,
                &new.summary,
                &recorded,
            ],
        )
        .await
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
        let c = self.client().await?;
        let Some((release_id, _)) = release_by_build(&c, project_id, new.build).await? else {
            return Err(StoreError::UnknownRelease(new.build));
        };
        let stmt = c
            .prepare_cached(
                "INSERT INTO deployments (project_id, release_id, environment, started_at,
                     finished_at, result, smoke, rollback, triggered_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .await
            .map_err(unavailable)?;
        let row = c
            .query_one(
                &stmt,
                &[
                    &project_id,
                    &release_id,
                    &new.environment,
                    &new.started_at,
                    &new.finished_at,
                    &new.result.as_str(),
                    &new.smoke.as_str(),
                    &new.rollback,
                    &new.triggered_by,
                ],
            )
            .await
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateDeployment
                } else if is_foreign_key(&e) {
                    StoreError::UnknownRelease(new.build)
                } else {
                    unavailable(e)
                }
            })?;
        Ok(Deployment {
            id: row.get(0),
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
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "{DEPLOY_FROM} WHERE d.project_id = $1
                 AND ($2::TEXT IS NULL OR d.environment = $2::TEXT)
                 ORDER BY d.finished_at DESC, d.id DESC LIMIT $3 OFFSET $4"
            ))
            .await
            .map_err(unavailable)?;
        let (limit, offset) = page(limit, offset);
        let rows = c
            .query(&stmt, &[&project_id, &environment, &limit, &offset])
            .await
            .map_err(unavailable)?;
        rows.iter().map(deployment).collect()
    }

    async fn current(
        &self,
        project_id: i64,
        environment: String,
    ) -> Result<Option<Current>, StoreError> {
        let c = self.client().await?;
        current_in(&c, project_id, &environment).await
    }

    async fn environments(&self, project_id: i64) -> Result<Vec<Current>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT DISTINCT environment FROM deployments WHERE project_id = $1
                 ORDER BY environment",
            )
            .await
            .map_err(unavailable)?;
        let rows = c.query(&stmt, &[&project_id]).await.map_err(unavailable)?;
        let mut out = Vec::new();
        for row in rows {
            let name: String = row.get(0);
            if let Some(current) = current_in(&c, project_id, &name).await? {
                out.push(current);
            }
        }
        Ok(out)
    }

    async fn open_incident(&self, project_id: i64, new: NewIncident) -> Result<Opened, StoreError> {
        let c = self.client().await?;
        // ON CONFLICT on the partial unique index makes a concurrent open of
        // the same alert a no-op instead of an error.
        let stmt = c
            .prepare_cached(&format!(
                "INSERT INTO incidents (project_id, environment, key, title, opened_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (project_id, key) WHERE closed_at IS NULL DO NOTHING
                 RETURNING {INCIDENT_COLS}"
            ))
            .await
            .map_err(unavailable)?;
        let inserted = c
            .query_opt(
                &stmt,
                &[
                    &project_id,
                    &new.environment,
                    &new.key,
                    &new.title,
                    &new.opened_at,
                ],
            )
            .await
            .map_err(|e| {
                if is_foreign_key(&e) {
                    StoreError::ProjectGone(project_id)
                } else {
                    unavailable(e)
                }
            })?;
        if let Some(row) = inserted {
            return Ok(Opened::New(incident(&row)));
        }
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents
                 WHERE project_id = $1 AND key = $2 AND closed_at IS NULL"
            ))
            .await
            .map_err(unavailable)?;
        let row = c
            .query_one(&stmt, &[&project_id, &new.key])
            .await
            .map_err(unavailable)?;
        Ok(Opened::AlreadyOpen(incident(&row)))
    }

    async fn close_incident(
        &self,
        project_id: i64,
        key: String,
        closed_at: DateTime<Utc>,
    ) -> Result<Option<Incident>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "UPDATE incidents SET closed_at = GREATEST(opened_at, $3)
                 WHERE project_id = $1 AND key = $2 AND closed_at IS NULL
                 RETURNING {INCIDENT_COLS}"
            ))
            .await
            .map_err(unavailable)?;
        if let Some(row) = c
            .query_opt(&stmt, &[&project_id, &key, &closed_at])
            .await
            .map_err(unavailable)?
        {
            return Ok(Some(incident(&row)));
        }
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE project_id = $1 AND key = $2
                 ORDER BY opened_at DESC, id DESC LIMIT 1"
            ))
            .await
            .map_err(unavailable)?;
        let row = c
            .query_opt(&stmt, &[&project_id, &key])
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(incident))
    }

    async fn list_incidents(
        &self,
        project_id: i64,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Incident>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE project_id = $1
                 ORDER BY opened_at DESC, id DESC LIMIT $2 OFFSET $3"
            ))
            .await
            .map_err(unavailable)?;
        let (limit, offset) = page(limit, offset);
        let rows = c
            .query(&stmt, &[&project_id, &limit, &offset])
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(incident).collect())
    }

    async fn facts(&self) -> Result<Facts, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT p.name, d.environment, r.build, r.commit_time, d.finished_at,
                        d.result, d.smoke, d.rollback
                 FROM deployments d JOIN releases r ON r.id = d.release_id
                 JOIN projects p ON p.id = d.project_id",
                &[],
            )
            .await
            .map_err(unavailable)?;
        let deployments = rows
            .iter()
            .map(|row| {
                let result: String = row.get(5);
                let smoke: String = row.get(6);
                Ok(DeploymentFact {
                    project: row.get(0),
                    environment: row.get(1),
                    build: row.get(2),
                    commit_time: row.get(3),
                    finished_at: row.get(4),
                    result: DeployResult::parse(&result)
                        .ok_or_else(|| corrupt("result", &result))?,
                    smoke: Smoke::parse(&smoke).ok_or_else(|| corrupt("smoke", &smoke))?,
                    rollback: row.get(7),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows = c
            .query(
                "SELECT p.name, i.environment, i.opened_at, i.closed_at
                 FROM incidents i JOIN projects p ON p.id = i.project_id",
                &[],
            )
            .await
            .map_err(unavailable)?;
        let incidents = rows
            .iter()
            .map(|row| IncidentFact {
                project: row.get(0),
                environment: row.get(1),
                opened_at: row.get(2),
                closed_at: row.get(3),
            })
            .collect();
        Ok(Facts {
            deployments,
            incidents,
        })
    }
}

impl TokenStore for PgStore {
    async fn create_token(
        &self,
        name: String,
        scopes: Vec<String>,
        hash: String,
    ) -> Result<TokenInfo, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        // A revoked token's name may be given to its replacement.
        tx.execute(
            "DELETE FROM api_tokens WHERE name = $1 AND revoked_at IS NOT NULL",
            &[&name],
        )
        .await
        .map_err(unavailable)?;
        let row = tx
            .query_one(
                "INSERT INTO api_tokens (name, scopes, hash, created_at) VALUES ($1, $2, $3, $4)
                 RETURNING name, scopes, created_at, revoked_at",
                &[&name, &scopes.join(" "), &hash, &now()],
            )
            .await
            .map_err(|e| {
                if is_unique(&e) {
                    StoreError::DuplicateToken(name.clone())
                } else {
                    unavailable(e)
                }
            })?;
        tx.commit().await.map_err(unavailable)?;
        Ok(token_info(&row))
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name, scopes, created_at, revoked_at FROM api_tokens ORDER BY name",
                &[],
            )
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(token_info).collect())
    }

    async fn revoke_token(&self, name: String) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                &[&name, &now()],
            )
            .await
            .map_err(unavailable)?;
        Ok(n > 0)
    }

    async fn token_scopes(&self, hash: String) -> Result<Option<Vec<String>>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT scopes FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL")
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&hash]).await.map_err(unavailable)?;
        Ok(row.map(|r| {
            let s: String = r.get(0);
            s.split_whitespace().map(str::to_string).collect()
        }))
    }
}

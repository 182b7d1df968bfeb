//! The dead-letter table of the shared outbox, for `srp-slack-relay dlq`
//! with `--database-url`: the same listing, replay and purge as on the
//! SQLite file (see `store::dead_letters`).

use super::{pg_error, PgStore};
use crate::store::{now, DeadRow, Kind, StoreError};

impl PgStore {
    /// Every dead letter, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, source, route, kind, title, attempts, COALESCE(last_error, ''),
                        received_at, COALESCE(finished_at, 0)
                 FROM outbox WHERE state = 'dead' ORDER BY id",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| DeadRow {
                id: r.get(0),
                source: r.get(1),
                route: r.get(2),
                kind: Kind::parse(r.get::<_, &str>(3)).as_str(),
                title: r.get(4),
                attempts: r.get::<_, i32>(5).max(0) as u32,
                last_error: r.get(6),
                received_at: r.get(7),
                dead_at: r.get(8),
            })
            .collect())
    }

    /// Queue dead letters again as if just received, with no lease: any
    /// relay may take them. `ids` empty means all.
    pub async fn replay(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let t = now();
        let n = client
            .execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, queued_at = $1,
                        next_attempt_at = $1, finished_at = NULL,
                        lease_owner = NULL, lease_until = NULL
                 WHERE state = 'dead' AND (cardinality($2::int8[]) = 0 OR id = ANY($2))",
                &[&t, &ids],
            )
            .await
            .map_err(pg_error)?;
        Ok(n as usize)
    }

    /// Delete dead letters for good; `ids` empty means all.
    pub async fn purge(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "DELETE FROM outbox
                 WHERE state = 'dead' AND (cardinality($1::int8[]) = 0 OR id = ANY($1))",
                &[&ids],
            )
            .await
            .map_err(pg_error)?;
        Ok(n as usize)
    }
}

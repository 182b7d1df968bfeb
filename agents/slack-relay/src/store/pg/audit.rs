//! Slack actions and used signatures in the shared outbox (see
//! `store::audit`): a press replayed to another relay is refused too.

use super::{pg_error, PgStore};
use crate::store::{AuditEntry, StoreError};

impl PgStore {
    pub async fn first_use(&self, signature: &str, at: f64) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute(
                "INSERT INTO interactions_seen (signature, seen_at) VALUES ($1, $2)
                 ON CONFLICT (signature) DO NOTHING",
                &[&signature, &at],
            )
            .await
            .map_err(pg_error)?;
        Ok(n == 1)
    }

    pub async fn record_action(&self, e: &AuditEntry) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO audit (at, actor, action, detail, silence_id) VALUES ($1, $2, $3, $4, $5)",
                &[&e.at, &e.user, &e.action, &e.detail, &e.silence_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub async fn audit_list(&self) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT at, actor, action, detail, silence_id FROM audit ORDER BY id",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                at: r.get(0),
                user: r.get(1),
                action: r.get(2),
                detail: r.get(3),
                silence_id: r.get(4),
            })
            .collect())
    }
}

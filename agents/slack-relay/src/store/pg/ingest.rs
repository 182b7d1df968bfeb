//! Storing a notification in the shared outbox: one transaction, committed
//! before the relay answers 2xx.
//!
//! The dedupe key is claimed with an `INSERT … ON CONFLICT DO UPDATE …
//! WHERE` (the old mark has expired): when two relays store the same
//! notification at once, the second waits on the first's row lock and then
//! sees a fresh mark, so it is stored once and the other answers
//! "duplicate".

use super::{pg_error, PgStore};
use crate::store::{now, Accepted, NewNotification, StoreError};
use std::time::Duration;

impl PgStore {
    pub async fn submit(
        &self,
        n: &NewNotification,
        window: Duration,
    ) -> Result<Accepted, StoreError> {
        let t = now();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let mark = tx
            .prepare_cached(
                "INSERT INTO dedupe (key, seen_at) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET seen_at = excluded.seen_at
                 WHERE dedupe.seen_at < $3
                 RETURNING key",
            )
            .await
            .map_err(pg_error)?;
        let fresh = tx
            .query_opt(&mark, &[&n.dedupe_key, &t, &(t - window.as_secs_f64())])
            .await
            .map_err(pg_error)?;
        if fresh.is_none() {
            return Ok(Accepted::Duplicate);
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO outbox (source, route, kind, group_key, title, message,
                                     received_at, queued_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)",
            )
            .await
            .map_err(pg_error)?;
        for m in &n.messages {
            tx.execute(
                &insert,
                &[
                    &n.source,
                    &m.route,
                    &m.kind.as_str(),
                    &m.group_key,
                    &m.title,
                    &m.message,
                    &t,
                ],
            )
            .await
            .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(Accepted::Stored {
            messages: n.messages.len(),
        })
    }
}

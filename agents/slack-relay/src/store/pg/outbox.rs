//! The dispatcher's side of the shared outbox.
//!
//! Delivery is by lease: [`PgStore::claim`] takes the oldest pending
//! message of each route that is due and not leased by a live relay
//! (`FOR UPDATE SKIP LOCKED`, so two relays claiming at once never get the
//! same row), and marks it this relay's until the lease expires. Every
//! outcome is written only while this relay still holds the lease; a relay
//! killed mid-delivery leaves its leases to expire, and another relay takes
//! the messages over (the one on the wire at the crash may be posted twice:
//! at least once, never lost).
//!
//! Lease and pacing times are the database's clock, so relays on hosts
//! whose clocks disagree still agree on who holds what.

use super::{pg_error, PgStore};
use crate::store::{Kind, MessageRef, OutboxRow, QueueStats, StoreError};
use std::time::Duration;
use tokio_postgres::Row;

/// The database's clock, in epoch seconds.
const DB_NOW: &str = "EXTRACT(EPOCH FROM clock_timestamp())::float8";

fn row_to_outbox(r: &Row) -> OutboxRow {
    OutboxRow {
        id: r.get(0),
        source: r.get(1),
        route: r.get(2),
        kind: Kind::parse(r.get::<_, &str>(3)),
        group_key: r.get(4),
        title: r.get(5),
        message: r.get(6),
        attempts: r.get::<_, i32>(7).max(0) as u32,
        received_at: r.get(8),
        queued_at: r.get(9),
        next_attempt_at: r.get(10),
    }
}

impl PgStore {
    /// Lease the due head of every route that no live relay holds. The
    /// heads are found by skipping from route to route on the partial
    /// index (one probe per route), not by reading the whole queue, which
    /// can be long while Slack is down.
    pub async fn claim(&self, now: f64) -> Result<Vec<OutboxRow>, StoreError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(&format!(
                "WITH RECURSIVE heads AS (
                    (SELECT route, id FROM outbox WHERE state = 'pending'
                     ORDER BY route, id LIMIT 1)
                    UNION ALL
                    SELECT n.route, n.id FROM heads h, LATERAL (
                        SELECT route, id FROM outbox
                        WHERE state = 'pending' AND route > h.route
                        ORDER BY route, id LIMIT 1) n
                 ), due AS (
                    SELECT o.id FROM outbox o JOIN heads h ON o.id = h.id
                    WHERE o.state = 'pending' AND o.next_attempt_at <= $1
                      AND (o.lease_until IS NULL OR o.lease_until < {DB_NOW})
                    FOR UPDATE OF o SKIP LOCKED
                 )
                 UPDATE outbox SET lease_owner = $2, lease_until = {DB_NOW} + $3::float8
                 FROM due WHERE outbox.id = due.id
                 RETURNING outbox.id, source, route, kind, group_key, title, message,
                           attempts, received_at, queued_at, next_attempt_at"
            ))
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&st, &[&now, &self.owner, &self.lease.as_secs_f64()])
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(row_to_outbox).collect())
    }

    /// Give a claimed message back untouched (it was not sent).
    pub async fn release(&self, id: i64) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_owner = $2",
                &[&id, &self.owner],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub async fn message_ref(
        &self,
        target: &str,
        group_key: &str,
    ) -> Result<Option<MessageRef>, StoreError> {
        let client = self.client().await?;
        let st = client
            .prepare_cached(
                "SELECT channel, ts FROM message_refs WHERE target = $1 AND group_key = $2",
            )
            .await
            .map_err(pg_error)?;
        let row = client
            .query_opt(&st, &[&target, &group_key])
            .await
            .map_err(pg_error)?;
        Ok(row.map(|r| MessageRef {
            channel: r.get(0),
            ts: r.get(1),
        }))
    }

    /// Write an outcome if this relay still holds the lease; a lost lease is
    /// logged (another relay took the message over and may post it again).
    async fn finish(
        &self,
        id: i64,
        set: &str,
        extra: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "UPDATE outbox SET {set}, lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND lease_owner = $2"
        );
        let st = client.prepare_cached(&sql).await.map_err(pg_error)?;
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&id, &self.owner];
        params.extend_from_slice(extra);
        let n = client.execute(&st, &params).await.map_err(pg_error)?;
        if n == 0 {
            tracing::warn!(
                id,
                "lease on message {id} was lost before its outcome was recorded"
            );
        }
        Ok(())
    }

    pub async fn delivered(
        &self,
        id: i64,
        remember: Option<(String, String, MessageRef)>,
        t: f64,
    ) -> Result<(), StoreError> {
        if let Some((target, group_key, r)) = remember {
            let client = self.client().await?;
            client
                .execute(
                    "INSERT INTO message_refs (target, group_key, channel, ts, updated_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (target, group_key) DO UPDATE SET
                        channel = excluded.channel, ts = excluded.ts,
                        updated_at = excluded.updated_at",
                    &[&target, &group_key, &r.channel, &r.ts, &t],
                )
                .await
                .map_err(pg_error)?;
        }
        self.finish(
            id,
            "state = 'delivered', finished_at = $3, last_error = NULL, attempts = attempts + 1",
            &[&t],
        )
        .await
    }

    pub async fn retry_at(
        &self,
        id: i64,
        next_at: f64,
        count_attempt: bool,
        error: &str,
    ) -> Result<(), StoreError> {
        let add = count_attempt as i32;
        self.finish(
            id,
            "next_attempt_at = $3, last_error = $4, attempts = attempts + $5",
            &[&next_at, &error, &add],
        )
        .await
    }

    pub async fn dead(&self, id: i64, error: &str, t: f64) -> Result<(), StoreError> {
        self.finish(
            id,
            "state = 'dead', finished_at = $3, last_error = $4, attempts = attempts + 1",
            &[&t, &error],
        )
        .await
    }

    /// Take the next send slot of a destination, shared by every relay:
    /// `None` when this relay may send now, else how long to wait.
    pub async fn take_slot(
        &self,
        rate_key: &str,
        interval: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let client = self.client().await?;
        let take = client
            .prepare_cached(&format!(
                "INSERT INTO pacing (rate_key, next_at) VALUES ($1, {DB_NOW} + $2::float8)
                 ON CONFLICT (rate_key) DO UPDATE SET next_at = excluded.next_at
                 WHERE pacing.next_at <= {DB_NOW}
                 RETURNING next_at"
            ))
            .await
            .map_err(pg_error)?;
        if client
            .query_opt(&take, &[&rate_key, &interval.as_secs_f64()])
            .await
            .map_err(pg_error)?
            .is_some()
        {
            return Ok(None);
        }
        let wait: Option<f64> = client
            .query_opt(
                &format!("SELECT GREATEST(next_at - {DB_NOW}, 0) FROM pacing WHERE rate_key = $1"),
                &[&rate_key],
            )
            .await
            .map_err(pg_error)?
            .map(|r| r.get(0));
        Ok(Some(Duration::from_secs_f64(wait.unwrap_or(0.0))))
    }

    /// Keep every relay off a destination for `wait` (Slack's Retry-After).
    pub async fn hold_destination(&self, rate_key: &str, wait: Duration) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &format!(
                    "INSERT INTO pacing (rate_key, next_at) VALUES ($1, {DB_NOW} + $2::float8)
                     ON CONFLICT (rate_key) DO UPDATE
                     SET next_at = GREATEST(pacing.next_at, excluded.next_at)"
                ),
                &[&rate_key, &wait.as_secs_f64()],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub async fn stats(&self) -> Result<QueueStats, StoreError> {
        let client = self.client().await?;
        // Each part on an index: delivered rows (most of the table) are
        // never read.
        let r = client
            .query_one(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE state = 'pending'),
                        (SELECT received_at FROM outbox WHERE id =
                            (SELECT MIN(id) FROM outbox WHERE state = 'pending')),
                        (SELECT COUNT(*) FROM outbox WHERE state = 'dead')",
                &[],
            )
            .await
            .map_err(pg_error)?;
        Ok(QueueStats {
            pending: r.get(0),
            oldest_received_at: r.get(1),
            dead: r.get(2),
        })
    }

    pub async fn prune(
        &self,
        keep: Duration,
        dedupe_window: Duration,
        t: f64,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM outbox WHERE state = 'delivered' AND finished_at < $1",
                &[&(t - keep.as_secs_f64())],
            )
            .await
            .map_err(pg_error)?;
        client
            .execute(
                "DELETE FROM dedupe WHERE seen_at < $1",
                &[&(t - dedupe_window.as_secs_f64())],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }
}

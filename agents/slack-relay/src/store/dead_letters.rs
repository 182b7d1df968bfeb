//! The dead-letter table (rows in state `dead`), for `srp-slack-relay dlq`.

use super::{now, Kind, StoreError};
use rusqlite::{params, Connection};

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadRow {
    pub id: i64,
    pub source: String,
    pub route: String,
    pub kind: &'static str,
    pub title: String,
    pub attempts: u32,
    pub last_error: String,
    pub received_at: f64,
    pub dead_at: f64,
}

/// Every dead letter, oldest first.
pub fn dead_letters(c: &Connection) -> Result<Vec<DeadRow>, StoreError> {
    let mut st = c.prepare(
        "SELECT id, source, route, kind, title, attempts, COALESCE(last_error, ''),
                received_at, COALESCE(finished_at, 0)
         FROM outbox WHERE state = 'dead' ORDER BY id",
    )?;
    let rows = st.query_map([], |r| {
        Ok(DeadRow {
            id: r.get(0)?,
            source: r.get(1)?,
            route: r.get(2)?,
            kind: Kind::parse(&r.get::<_, String>(3)?).as_str(),
            title: r.get(4)?,
            attempts: r.get(5)?,
            last_error: r.get(6)?,
            received_at: r.get(7)?,
            dead_at: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Put dead letters back in the queue as if just received (fresh attempts
/// and age); `ids` empty means all. Returns how many were requeued.
pub fn replay(c: &Connection, ids: &[i64]) -> Result<usize, StoreError> {
    let t = now();
    let sql = "UPDATE outbox SET state = 'pending', attempts = 0, queued_at = ?1,
                      next_attempt_at = ?1, finished_at = NULL
               WHERE state = 'dead'";
    if ids.is_empty() {
        return Ok(c.execute(sql, params![t])?);
    }
    let mut n = 0;
    for id in ids {
        n += c.execute(&format!("{sql} AND id = ?2"), params![t, id])?;
    }
    Ok(n)
}

/// Delete dead letters for good; `ids` empty means all. Returns how many.
pub fn purge(c: &Connection, ids: &[i64]) -> Result<usize, StoreError> {
    let sql = "DELETE FROM outbox WHERE state = 'dead'";
    if ids.is_empty() {
        return Ok(c.execute(sql, [])?);
    }
    let mut n = 0;
    for id in ids {
        n += c.execute(&format!("{sql} AND id = ?1"), params![id])?;
    }
    Ok(n)
}

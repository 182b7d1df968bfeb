//! Actions taken from Slack (who, what, when, silence id), for
//! `srp-slack-relay audit list`, and the signatures already used, so a
//! re-played request creates nothing.

use super::StoreError;
use rusqlite::{params, Connection};

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct AuditEntry {
    pub at: f64,
    pub user: String,
    /// `silence`, `acknowledge` or `expire`.
    pub action: String,
    /// The matchers and duration, or what was acknowledged.
    pub detail: String,
    pub silence_id: Option<String>,
}

/// Whether `signature` is new (and now used); false for a replay.
pub fn first_use(c: &Connection, signature: &str, at: f64) -> Result<bool, StoreError> {
    let n = c.execute(
        "INSERT INTO interactions_seen (signature, seen_at) VALUES (?1, ?2)
         ON CONFLICT(signature) DO NOTHING",
        params![signature, at],
    )?;
    Ok(n == 1)
}

pub fn record(c: &Connection, e: &AuditEntry) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit (at, user, action, detail, silence_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![e.at, e.user, e.action, e.detail, e.silence_id],
    )?;
    Ok(())
}

/// Every action, oldest first.
pub fn list(c: &Connection) -> Result<Vec<AuditEntry>, StoreError> {
    let mut st = c.prepare("SELECT at, user, action, detail, silence_id FROM audit ORDER BY id")?;
    let rows = st.query_map([], |r| {
        Ok(AuditEntry {
            at: r.get(0)?,
            user: r.get(1)?,
            action: r.get(2)?,
            detail: r.get(3)?,
            silence_id: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

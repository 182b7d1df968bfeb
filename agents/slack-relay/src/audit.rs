//! `srp-slack-relay audit list`: the actions taken from Slack, read from the
//! relay's SQLite file or the shared PostgreSQL outbox.

use crate::cli::{AuditAction, AuditArgs};
use crate::store::{self, pg::PgStore, AuditEntry};
use anyhow::Context;
use std::time::Duration;

fn entries(args: &AuditArgs) -> anyhow::Result<Vec<AuditEntry>> {
    if let Some(url) = &args.database_url {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(async {
            // The lease is not used: this process delivers nothing.
            let pg = PgStore::connect(url, Duration::from_secs(30))
                .await
                .context("opening the shared outbox (--database-url)")?;
            Ok(pg.audit_list().await?)
        });
    }
    let path = store::db_path(&args.data_dir);
    if !path.exists() {
        anyhow::bail!(
            "no relay database at {} (is --data-dir right?)",
            path.display()
        );
    }
    let conn = store::open(&args.data_dir).context("opening the relay database")?;
    Ok(store::audit::list(&conn)?)
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let AuditAction::List { json } = args.action;
    let rows = entries(&args)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no actions recorded");
        return Ok(());
    }
    println!(
        "{:<20} {:<16} {:<12} {:<38} DETAIL",
        "AT (UTC)", "WHO", "ACTION", "SILENCE"
    );
    for r in rows {
        let when = chrono::DateTime::from_timestamp(r.at as i64, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:<20} {:<16} {:<12} {:<38} {}",
            when,
            r.user,
            r.action,
            r.silence_id.as_deref().unwrap_or("-"),
            r.detail
        );
    }
    Ok(())
}

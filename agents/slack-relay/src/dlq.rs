//! `srp-slack-relay dlq list|replay`: works on the database directly, so it
//! runs beside a live relay (SQLite WAL allows it) or without one.

use crate::cli::{DlqAction, DlqArgs};
use crate::store;
use anyhow::Context;

pub fn run(args: DlqArgs) -> anyhow::Result<()> {
    let path = store::db_path(&args.data_dir);
    if !path.exists() {
        anyhow::bail!(
            "no relay database at {} (is --data-dir right?)",
            path.display()
        );
    }
    // The error names the file.
    let conn = store::open(&args.data_dir).context("opening the relay database")?;
    match args.action {
        DlqAction::List { json } => {
            let rows = store::dead_letters(&conn)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if rows.is_empty() {
                println!("no dead letters");
                return Ok(());
            }
            println!(
                "{:<8} {:<20} {:<14} {:<7} {:>8}  {:<40}  LAST ERROR",
                "ID", "DEAD AT (UTC)", "ROUTE", "KIND", "ATTEMPTS", "TITLE"
            );
            for r in rows {
                let when = chrono::DateTime::from_timestamp(r.dead_at as i64, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                println!(
                    "{:<8} {:<20} {:<14} {:<7} {:>8}  {:<40}  {}",
                    r.id,
                    when,
                    r.route,
                    r.kind,
                    r.attempts,
                    crate::format::truncate(&r.title, 40),
                    r.last_error
                );
            }
        }
        DlqAction::Replay { ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            let n = store::replay(&conn, &ids)?;
            if !all && n < ids.len() {
                println!(
                    "requeued {n} of {} (the others are not dead letters)",
                    ids.len()
                );
                if n == 0 {
                    anyhow::bail!("no dead letter with id {:?}", ids);
                }
            } else {
                println!("requeued {n} dead letters");
            }
        }
    }
    Ok(())
}

//! `srp-slack-relay dlq list|replay|purge`: works on the database directly,
//! the relay's SQLite file (WAL lets it run beside a live relay) or the
//! shared PostgreSQL outbox (`--database-url`), with or without a relay
//! running.

use crate::cli::{DlqAction, DlqArgs};
use crate::store::{self, pg::PgStore, DeadRow};
use anyhow::Context;
use std::time::Duration;

/// The database the command works on.
enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(tokio::runtime::Runtime, PgStore),
}

impl Db {
    fn open(args: &DlqArgs) -> anyhow::Result<Db> {
        if let Some(url) = &args.database_url {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // The lease is not used: this process delivers nothing.
            let pg = rt
                .block_on(PgStore::connect(url, Duration::from_secs(30)))
                .context("opening the shared outbox (--database-url)")?;
            return Ok(Db::Postgres(rt, pg));
        }
        let path = store::db_path(&args.data_dir);
        if !path.exists() {
            anyhow::bail!(
                "no relay database at {} (is --data-dir right?)",
                path.display()
            );
        }
        // The error names the file.
        let conn = store::open(&args.data_dir).context("opening the relay database")?;
        Ok(Db::Sqlite(conn))
    }

    fn list(&self) -> anyhow::Result<Vec<DeadRow>> {
        Ok(match self {
            Db::Sqlite(c) => store::dead_letters(c)?,
            Db::Postgres(rt, pg) => rt.block_on(pg.dead_letters())?,
        })
    }

    fn replay(&self, ids: &[i64]) -> anyhow::Result<usize> {
        Ok(match self {
            Db::Sqlite(c) => store::replay(c, ids)?,
            Db::Postgres(rt, pg) => rt.block_on(pg.replay(ids))?,
        })
    }

    fn purge(&self, ids: &[i64]) -> anyhow::Result<usize> {
        Ok(match self {
            Db::Sqlite(c) => store::purge(c, ids)?,
            Db::Postgres(rt, pg) => rt.block_on(pg.purge(ids))?,
        })
    }
}

/// Report how many of the asked ids were acted on; an error when none was.
fn report(verb: &str, n: usize, ids: &[i64], all: bool) -> anyhow::Result<()> {
    if !all && n < ids.len() {
        println!(
            "{verb} {n} of {} (the others are not dead letters)",
            ids.len()
        );
        if n == 0 {
            anyhow::bail!("no dead letter with id {:?}", ids);
        }
    } else {
        println!("{verb} {n} dead letters");
    }
    Ok(())
}

pub fn run(args: DlqArgs) -> anyhow::Result<()> {
    let db = Db::open(&args)?;
    match args.action {
        DlqAction::List { json } => {
            let rows = db.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(());
            }
            if rows.is_empty() {
                println!("no dead letters");
                return Ok(());
            }
            println!(
                "{:<8} {:<20} {:<14} {:<14} {:>8}  {:<40}  LAST ERROR",
                "ID", "DEAD AT (UTC)", "ROUTE", "KIND", "ATTEMPTS", "TITLE"
            );
            for r in rows {
                let when = chrono::DateTime::from_timestamp(r.dead_at as i64, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                println!(
                    "{:<8} {:<20} {:<14} {:<14} {:>8}  {:<40}  {}",
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
            let n = db.replay(&ids)?;
            report("requeued", n, &ids, all)?;
        }
        DlqAction::Purge { ids, all } => {
            let ids = if all { Vec::new() } else { ids };
            let n = db.purge(&ids)?;
            report("purged", n, &ids, all)?;
        }
    }
    Ok(())
}

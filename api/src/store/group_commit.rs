//! Group commit for `POST /projects` on SQLite: inserts that arrive while a
//! transaction is being written wait for it, then share the next one. SQLite
//! has one writer; under concurrent POSTs each request otherwise pays a whole
//! transaction (write lock, WAL frames for the same pages, commit) alone.
//!
//! A failing insert (a duplicate name) fails alone: SQLite undoes just that
//! statement and the transaction goes on. If the commit itself fails, every
//! insert of the batch is answered "unavailable" and none of them is stored.

use super::model::{NewProject, Project};
use super::StoreError;
use rusqlite::{params, Connection, TransactionBehavior};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Bounds the time the first insert of a batch waits behind the others.
const MAX_BATCH: usize = 256;

struct Job {
    new: NewProject,
    timestamp: String,
    reply: oneshot::Sender<Result<Project, StoreError>>,
}

/// The handle the store keeps; dropping it ends the writer thread.
pub struct Inserter {
    jobs: mpsc::Sender<Job>,
}

type RowFn = fn(&rusqlite::Row<'_>) -> rusqlite::Result<Project>;
type ErrorFn = fn(rusqlite::Error, Option<&str>) -> StoreError;

impl Inserter {
    /// Start the writer thread. `insert_sql` returns the new row through
    /// `row`; `write_error` maps a failed insert (duplicate name or not).
    pub fn spawn(
        writer: Arc<Mutex<Connection>>,
        insert_sql: String,
        row: RowFn,
        write_error: ErrorFn,
    ) -> std::io::Result<Inserter> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-insert".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    batch.extend(queue.try_iter().take(MAX_BATCH - 1));
                    commit(&writer, &insert_sql, batch, row, write_error);
                }
            })?;
        Ok(Inserter { jobs })
    }

    pub async fn insert(&self, new: NewProject, timestamp: String) -> Result<Project, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("the SQLite writer thread stopped".into());
        self.jobs
            .send(Job {
                new,
                timestamp,
                reply,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn commit(
    writer: &Mutex<Connection>,
    insert_sql: &str,
    batch: Vec<Job>,
    row: RowFn,
    write_error: ErrorFn,
) {
    let unavailable = |e: &rusqlite::Error| StoreError::Unavailable(e.to_string());
    let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                let _ = job.reply.send(Err(unavailable(&e)));
            }
            return;
        }
    };
    let results: Vec<Result<Project, StoreError>> = {
        let mut stmt = match tx.prepare_cached(insert_sql) {
            Ok(s) => s,
            Err(e) => {
                for job in batch {
                    let _ = job.reply.send(Err(unavailable(&e)));
                }
                return;
            }
        };
        batch
            .iter()
            .map(|job| {
                stmt.query_row(
                    params![job.new.name, job.new.description, job.timestamp],
                    row,
                )
                .map_err(|e| write_error(e, Some(&job.new.name)))
            })
            .collect()
    };
    match srp_daemon::sqlite::commit(tx) {
        Ok(()) => {
            for (job, result) in batch.into_iter().zip(results) {
                let _ = job.reply.send(result);
            }
        }
        Err(e) => {
            // Nothing of the batch is stored: say so to every one of them.
            for job in batch {
                let _ = job.reply.send(Err(unavailable(&e)));
            }
        }
    }
}

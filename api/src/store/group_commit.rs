//! Group commit for `POST /projects` on SQLite: inserts that arrive while a
//! transaction is being written wait for it, then share the next one. SQLite
//! has one writer; under concurrent POSTs each request otherwise pays a whole
//! transaction (write lock, WAL frames for the same pages, commit) alone.
//!
//! The commit runs on a request's own thread, not on a writer thread of its
//! own: the first insert that finds nobody committing leads; it lets the
//! other requests ready on its thread run first, commits every insert queued
//! by then and, when more have queued meanwhile, hands the lead to the oldest
//! of them. On a 2-core host a dedicated writer thread is one
//! more runnable thread than there are cores; when the scheduler preempted
//! it, every waiting insert stalled for a whole time slice (the p99 of issue
//! 13). A request that leads pays its batch's commit (tens of microseconds
//! with `synchronous=NORMAL`) inline, as every other SQLite query here does.
//!
//! A failing insert (a duplicate name) fails alone: SQLite undoes just that
//! statement and the transaction goes on. If the commit itself fails, every
//! insert of the batch is answered "unavailable" and none of them is stored.
//! Nothing is answered before its transaction committed.

use super::model::{NewProject, Project};
use super::StoreError;
use rusqlite::{params, Connection, TransactionBehavior};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// Bounds how long the leader's own request waits behind the others (and
/// how long one batch holds its thread).
const MAX_BATCH: usize = 64;

/// One insert to make.
struct Work {
    new: NewProject,
    timestamp: String,
}

/// An insert waiting for someone to commit it.
struct Job {
    work: Work,
    reply: oneshot::Sender<Turn>,
}

/// What a waiting insert is told.
enum Turn {
    /// Its transaction committed (or failed): the answer.
    Done(Result<Project, StoreError>),
    /// It leads now: commit its own work and `others`, then hand over.
    Lead { own: Work, others: Vec<Job> },
}

#[derive(Default)]
struct Queue {
    /// Inserts queued behind the batch being committed, oldest first.
    waiting: VecDeque<Job>,
    /// Someone is committing. While it is false, `waiting` is empty.
    leading: bool,
}

type RowFn = fn(&rusqlite::Row<'_>) -> rusqlite::Result<Project>;
type ErrorFn = fn(rusqlite::Error, Option<&str>) -> StoreError;

/// The group committer the store keeps.
pub struct Inserter {
    writer: Arc<Mutex<Connection>>,
    insert_sql: String,
    row: RowFn,
    write_error: ErrorFn,
    queue: Mutex<Queue>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing below leaves the queue or the connection half-changed on a
    // panic (rusqlite rolls an open transaction back on drop).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inserter {
    /// `insert_sql` returns the new row through `row`; `write_error` maps a
    /// failed insert (duplicate name or not).
    pub fn new(
        writer: Arc<Mutex<Connection>>,
        insert_sql: String,
        row: RowFn,
        write_error: ErrorFn,
    ) -> Inserter {
        Inserter {
            writer,
            insert_sql,
            row,
            write_error,
            queue: Mutex::new(Queue::default()),
        }
    }

    pub async fn insert(&self, new: NewProject, timestamp: String) -> Result<Project, StoreError> {
        let work = Work { new, timestamp };
        let (own, others) = match self.enqueue(work) {
            Ok(own) => (own, Vec::new()),
            Err(answer) => {
                let mut waiting = Waiting {
                    inserter: self,
                    answer,
                };
                match (&mut waiting.answer).await {
                    Ok(Turn::Done(result)) => return result,
                    Ok(Turn::Lead { own, others }) => (own, others),
                    // Only a panic in a leader drops a sender unanswered.
                    Err(_) => {
                        return Err(StoreError::Unavailable(
                            "the SQLite insert was abandoned by a failed commit".into(),
                        ))
                    }
                }
            }
        };
        let mut lead = Lead {
            inserter: self,
            own: Some(own),
            others,
        };
        // Let the requests that are ready on this thread reach their insert
        // first: they queue behind this one and share its transaction. Without
        // it a batch is the one or two inserts the other thread queued during
        // the last commit, and a commit per request costs CPU.
        tokio::task::yield_now().await;
        lead.top_up();
        lead.commit()
    }

    /// Lead (`Ok`, with the work back) when nobody is committing; otherwise
    /// queue the work and wait on the receiver.
    fn enqueue(&self, work: Work) -> Result<Work, oneshot::Receiver<Turn>> {
        let mut queue = lock(&self.queue);
        if !queue.leading {
            queue.leading = true;
            return Ok(work);
        }
        let (reply, answer) = oneshot::channel();
        queue.waiting.push_back(Job { work, reply });
        Err(answer)
    }

    /// Commit `own` (answered through the return value) and `others`
    /// (answered through their channels) in one transaction.
    fn commit(&self, own: Option<Work>, others: Vec<Job>) -> Option<Result<Project, StoreError>> {
        let n = usize::from(own.is_some()) + others.len();
        let works = own.iter().chain(others.iter().map(|j| &j.work));
        let mut results = commit_batch(
            &self.writer,
            &self.insert_sql,
            n,
            works,
            self.row,
            self.write_error,
        )
        .into_iter();
        let own_result = own.map(|_| results.next().expect("one result per insert"));
        for (job, result) in others.into_iter().zip(results) {
            // A waiter that went away (its request was abandoned) has
            // nobody to tell; its row is stored all the same.
            let _ = job.reply.send(Turn::Done(result));
        }
        own_result
    }

    /// The leader is done: pass the lead to the oldest waiting insert with
    /// the next batch, or stand down when nobody waits.
    fn hand_over(&self) {
        loop {
            let (first, others) = {
                let mut queue = lock(&self.queue);
                let Some(first) = queue.waiting.pop_front() else {
                    queue.leading = false;
                    return;
                };
                let n = queue.waiting.len().min(MAX_BATCH - 1);
                let others: Vec<Job> = queue.waiting.drain(..n).collect();
                (first, others)
            };
            let turn = Turn::Lead {
                own: first.work,
                others,
            };
            match first.reply.send(turn) {
                Ok(()) => return,
                // Its request is gone: commit its batch here and try the next.
                Err(Turn::Lead { own, others }) => {
                    self.commit(Some(own), others);
                }
                Err(Turn::Done(_)) => unreachable!("a lead was sent"),
            }
        }
    }
}

/// The lead and the batch it is to commit. Dropped before its commit (the
/// request was cancelled during the yield), it commits the batch anyway;
/// either way it hands the lead over, even on a panic.
struct Lead<'a> {
    inserter: &'a Inserter,
    own: Option<Work>,
    others: Vec<Job>,
}

impl Lead<'_> {
    /// Add the inserts queued since the lead was taken, up to [`MAX_BATCH`].
    fn top_up(&mut self) {
        let mut queue = lock(&self.inserter.queue);
        let room = MAX_BATCH.saturating_sub(1 + self.others.len());
        let n = queue.waiting.len().min(room);
        self.others.extend(queue.waiting.drain(..n));
    }

    /// Commit the batch: the leader's own answer.
    fn commit(&mut self) -> Result<Project, StoreError> {
        let others = std::mem::take(&mut self.others);
        self.inserter
            .commit(self.own.take(), others)
            .expect("the leader's own insert is answered")
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if self.own.is_some() || !self.others.is_empty() {
            let others = std::mem::take(&mut self.others);
            self.inserter.commit(self.own.take(), others);
        }
        self.inserter.hand_over();
    }
}

/// A queued insert's wait. If its request is dropped (client gone, request
/// timeout) just after the lead was handed to it, the lead would be lost
/// and every later insert would wait forever: the drop takes it up instead.
struct Waiting<'a> {
    inserter: &'a Inserter,
    answer: oneshot::Receiver<Turn>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        // No lead can arrive after this; one that already did is taken up.
        self.answer.close();
        if let Ok(Turn::Lead { own, others }) = self.answer.try_recv() {
            // Committed and handed over by the drop.
            drop(Lead {
                inserter: self.inserter,
                own: Some(own),
                others,
            });
        }
    }
}

/// One transaction for the `n` inserts of `works`, a result per insert in
/// their order.
fn commit_batch<'w>(
    writer: &Mutex<Connection>,
    insert_sql: &str,
    n: usize,
    works: impl Iterator<Item = &'w Work>,
    row: RowFn,
    write_error: ErrorFn,
) -> Vec<Result<Project, StoreError>> {
    let unavailable = |e: &rusqlite::Error| {
        (0..n)
            .map(|_| Err(StoreError::Unavailable(e.to_string())))
            .collect()
    };
    let mut conn = lock(writer);
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return unavailable(&e),
    };
    let results: Vec<Result<Project, StoreError>> = {
        let mut stmt = match tx.prepare_cached(insert_sql) {
            Ok(s) => s,
            Err(e) => return unavailable(&e),
        };
        works
            .map(|w| {
                stmt.query_row(params![w.new.name, w.new.description, w.timestamp], row)
                    .map_err(|e| write_error(e, Some(&w.new.name)))
            })
            .collect()
    };
    match srp_daemon::sqlite::commit(tx) {
        Ok(()) => results,
        // Nothing of the batch is stored: say so to every one of them.
        Err(e) => unavailable(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{format_timestamp, now, parse_timestamp};
    use std::time::Duration;

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
        let time = |i| -> rusqlite::Result<_> {
            let text: String = r.get(i)?;
            Ok(parse_timestamp(&text).expect("the test stores RFC 3339"))
        };
        Ok(Project {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            created_at: time(3)?,
            updated_at: time(4)?,
        })
    }

    fn error(e: rusqlite::Error, _: Option<&str>) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }

    fn inserter() -> (Arc<Mutex<Connection>>, Arc<Inserter>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
             description TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        )
        .unwrap();
        let writer = Arc::new(Mutex::new(conn));
        let sql = "INSERT INTO projects (name, description, created_at, updated_at)
                   VALUES (?1, ?2, ?3, ?3) RETURNING id, name, description, created_at, updated_at";
        let inserter = Inserter::new(writer.clone(), sql.into(), row, error);
        (writer, Arc::new(inserter))
    }

    fn spawn_insert(
        inserter: &Arc<Inserter>,
        name: &str,
    ) -> tokio::task::JoinHandle<Result<Project, StoreError>> {
        let (inserter, new) = (
            inserter.clone(),
            NewProject {
                name: name.into(),
                description: String::new(),
            },
        );
        tokio::spawn(async move { inserter.insert(new, format_timestamp(&now())).await })
    }

    async fn until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }

    /// A queued insert whose request is dropped (client gone, request
    /// timeout) before the lead reaches it must not take the lead with it:
    /// the inserts behind it are still committed and answered.
    // The connection's lock is held across awaits on purpose: it is the long
    // commit. This future runs on the test's own thread, not on a worker.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_waiter_does_not_strand_the_queue() {
        let (writer, inserter) = inserter();
        // A long commit: the leader blocks on the connection until released.
        let held = writer.lock().unwrap();
        let a = spawn_insert(&inserter, "a");
        until("a leads", || lock(&inserter.queue).leading).await;
        // Past its yield and into the commit, so b queues behind it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b = spawn_insert(&inserter, "b");
        until("b waits", || lock(&inserter.queue).waiting.len() == 1).await;
        b.abort();
        assert!(b.await.unwrap_err().is_cancelled());
        let c = spawn_insert(&inserter, "c");
        until("c waits", || lock(&inserter.queue).waiting.len() == 2).await;
        drop(held);
        let answered = |h| tokio::time::timeout(Duration::from_secs(10), h);
        assert_eq!(answered(a).await.unwrap().unwrap().unwrap().name, "a");
        assert_eq!(answered(c).await.unwrap().unwrap().unwrap().name, "c");
        assert!(!lock(&inserter.queue).leading, "the lead was not given up");
        // b's request went away, but its row was committed with the rest.
        let n: i64 = lock(&writer)
            .query_row("SELECT count(*) FROM projects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    /// Every insert of a burst queued behind a long commit is answered with
    /// its own row, across several batches ([`MAX_BATCH`] bounds each).
    // The connection's lock is held across awaits on purpose: it is the long
    // commit. This future runs on the test's own thread, not on a worker.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_is_answered_in_shared_batches() {
        let (writer, inserter) = inserter();
        let held = writer.lock().unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| spawn_insert(&inserter, &format!("p{i}")))
            .collect();
        // The leader may have taken up to MAX_BATCH - 1 of them into its own
        // batch before blocking.
        until("the burst is queued", || {
            lock(&inserter.queue).waiting.len() >= 100
        })
        .await;
        drop(held);
        let mut ids = std::collections::BTreeSet::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let p = tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(p.name, format!("p{i}"));
            assert!(ids.insert(p.id));
        }
        let changes = lock(&writer).total_changes();
        assert_eq!(changes, 200);
    }
}

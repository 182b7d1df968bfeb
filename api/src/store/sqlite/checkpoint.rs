//! The background checkpointer: it copies the WAL into the database file
//! every [`INTERVAL`], so that commits never do it (nor wait for its fsyncs).
//!
//! A PASSIVE checkpoint never blocks the writer, but under sustained writes
//! it never completes either: frames are appended while it copies, so the
//! WAL is never wholly copied when the next transaction starts, the writer
//! never starts it over, and it grows without bound (425 MB after 10 s of
//! 21,000 `POST /projects` a second, measured before this). So when a pass
//! leaves more than [`MAX_WAL_FRAMES`] in the WAL, a second pass runs while
//! holding the writer's lock: it only copies what came in during the first
//! one, nothing can be appended meanwhile, and the next commit starts the WAL
//! over (`journal_size_limit` then shrinks the file). Commits wait for that
//! short pass and its fsyncs; it only happens under sustained write load, at
//! most once an interval.

use rusqlite::Connection;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the WAL is copied into the database file.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// 64 MB of 4 KB pages: past this, a pass that could not finish is finished
/// under the writer's lock. Below it the WAL is left to the next pass.
pub const MAX_WAL_FRAMES: i64 = 16_384;

/// What the WAL file is cut back to when it starts over (bytes).
pub const JOURNAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Frames in the WAL and frames copied by the checkpoint just run.
fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// One round: a pass beside the writer, then, if the WAL holds more than
/// `max_frames`, a pass the writer waits for. Returns the frames left.
pub fn run_once(
    conn: &Connection,
    writer: &Mutex<Connection>,
    max_frames: i64,
) -> rusqlite::Result<i64> {
    let (frames, copied) = passive(conn)?;
    // `frames` is the WAL as the pass found it: even when it copied all of
    // them, more were likely appended meanwhile, and the WAL only starts over
    // when a commit finds every frame copied.
    if frames <= max_frames {
        return Ok(frames - copied);
    }
    let _writer = writer.lock().unwrap_or_else(|p| p.into_inner());
    let (frames, copied) = passive(conn)?;
    Ok(frames - copied)
}

/// Start the thread; dropping the returned sender stops it.
pub fn spawn(conn: Connection, writer: Arc<Mutex<Connection>>) -> std::io::Result<Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                if let Err(e) = run_once(&conn, &writer, MAX_WAL_FRAMES) {
                    tracing::debug!(error = %e, "SQLite checkpoint failed; retrying later");
                }
            }
        })?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn wal_bytes(db: &std::path::Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// Under writes that never pause, the WAL still starts over: it stays
    /// far below what was written. Without the pass under the writer's lock
    /// every PASSIVE pass finds new frames and the WAL only grows (88 MB
    /// for the 64 MB written here, against 18 MB with it).
    #[test]
    fn the_wal_stays_bounded_under_sustained_writes() {
        const LIMIT: i64 = 1024 * 1024;
        const WRITTEN: usize = 64 * 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer
            .execute_batch(
                "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (b BLOB NOT NULL);",
            )
            .unwrap();
        writer
            .pragma_update(None, "journal_size_limit", LIMIT)
            .unwrap();
        let writer = Arc::new(Mutex::new(writer));
        let done = Arc::new(AtomicBool::new(false));
        let (w, d) = (writer.clone(), done.clone());
        // One 64 KB row per transaction, back to back, replacing the last so
        // that the database file itself stays small.
        let writing = std::thread::spawn(move || {
            let blob = vec![7u8; 64 * 1024];
            for i in 0..WRITTEN / blob.len() {
                let conn = w.lock().unwrap();
                conn.execute("DELETE FROM t WHERE rowid < ?1", [i as i64])
                    .unwrap();
                conn.execute("INSERT INTO t (b) VALUES (?1)", [&blob])
                    .unwrap();
                // Out of the lock between transactions, as the API's
                // writers are between batches: std's Mutex is not fair, and
                // a writer that takes it back at once starves the
                // checkpointer's locked pass (the WAL then reached 88 MB).
                drop(conn);
                std::thread::sleep(Duration::from_micros(50));
            }
            d.store(true, Ordering::Release);
        });
        let checkpointer = Connection::open(&db).unwrap();
        let mut largest = 0;
        while !done.load(Ordering::Acquire) {
            run_once(&checkpointer, &writer, LIMIT / 4096).unwrap();
            largest = largest.max(wal_bytes(&db));
            std::thread::sleep(Duration::from_millis(20));
        }
        writing.join().unwrap();
        // Without the bound the WAL keeps every frame written (more than
        // WRITTEN: 88 MB here). With it: 18 MB on a quiet machine, up to 44 MB
        // seen on a loaded machine.
        assert!(
            largest < 56 * 1024 * 1024,
            "the WAL reached {largest} bytes of the {WRITTEN} written"
        );
    }
}

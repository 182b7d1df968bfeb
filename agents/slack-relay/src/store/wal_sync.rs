//! Pipelined durability: commits are written into the WAL without an fsync
//! (`synchronous=NORMAL` on the writing connections) and this thread makes
//! them durable with one `fdatasync` of the WAL file, then releases what
//! waited on them. While one fsync runs, the writer already writes the next
//! batch into the WAL, so fsyncs no longer serialise the batches.
//!
//! Exactness: a waiter is released only after an fsync that *started* after
//! its commit returned (the commit's `write`s are in the page cache by then,
//! and `fdatasync` of the file flushes every dirty page of it, whichever
//! descriptor wrote them). NORMAL still syncs the WAL header when the WAL
//! restarts and syncs before and after every checkpoint, so a checkpoint
//! only ever copies synced frames and an out-of-order write after a restart
//! cannot corrupt the file (SQLite ticket ff5be73dee; that is why this is
//! NORMAL and not OFF). After a failed fsync nothing is acknowledged any
//! more: Linux may have dropped the pages it could not write, so a later
//! fsync that succeeds would prove nothing. The relay then answers 503
//! until it is restarted, and SQLite's recovery reads what is really on
//! disk.

use super::{DbHealth, StoreError};
use prometheus::Histogram;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Something waiting for its commit to be on disk.
pub(super) type Waiter = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The first fsync failure: once set, nothing is acknowledged any more.
#[derive(Default)]
pub(super) struct Poison(Mutex<Option<String>>);

impl Poison {
    pub(super) fn check(&self) -> Result<(), StoreError> {
        match &*self.0.lock().expect("poison lock") {
            Some(e) => Err(StoreError::NotSynced(e.clone())),
            None => Ok(()),
        }
    }
    fn set(&self, e: &str) -> String {
        let mut g = self.0.lock().expect("poison lock");
        g.get_or_insert_with(|| e.to_string()).clone()
    }
}

/// The syncer thread's handle: [`WalSync::after_commit`] queues a waiter
/// for the next fsync.
#[derive(Clone)]
pub struct WalSync {
    tx: mpsc::Sender<Waiter>,
    poison: Arc<Poison>,
}

impl WalSync {
    /// Start the thread for the WAL of `db` (the file must exist: a
    /// connection in WAL mode is open on it). `fsyncs` times each fsync.
    pub fn start(db: &Path, health: Arc<DbHealth>, fsyncs: Histogram) -> Result<Self, StoreError> {
        let mut wal = WalFile::open(wal_path(db))?;
        Self::start_with(move || wal.sync(), health, fsyncs)
    }

    /// [`WalSync::start`] with another way to sync (tests: slow, failing).
    pub(super) fn start_with(
        sync: impl FnMut() -> Result<(), String> + Send + 'static,
        health: Arc<DbHealth>,
        fsyncs: Histogram,
    ) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Waiter>();
        let poison = Arc::new(Poison::default());
        let p = poison.clone();
        // Detached: it ends with the last handle (the writer and the
        // dispatcher hold one each), after answering everything queued.
        std::thread::Builder::new()
            .name("relay-wal-sync".into())
            .spawn(move || run(sync, rx, &p, &health, &fsyncs))
            .map_err(|e| StoreError::Join(format!("cannot start the WAL sync thread: {e}")))?;
        Ok(WalSync { tx, poison })
    }

    /// Wait until everything committed so far is on disk.
    pub async fn synced(&self) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.after_commit(Box::new(move |r| {
            let _ = tx.send(r);
        }));
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::NotSynced(e)),
            Err(_) => Err(StoreError::NotSynced(
                "the WAL sync thread has stopped".into(),
            )),
        }
    }

    /// Refuse work once an fsync failed.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        self.poison.check()
    }

    /// Call `done` once a commit that already returned is on disk (or with
    /// the reason it may not be).
    pub(super) fn after_commit(&self, done: Waiter) {
        if let Err(mpsc::SendError(done)) = self.tx.send(done) {
            done(Err("the WAL sync thread has stopped".into()));
        }
    }
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// The WAL, opened by path. SQLite keeps the file (and its inode) while any
/// connection is open, and the writer's connection is open as long as this
/// thread runs; the inode is checked before every fsync all the same, so a
/// replaced file is reopened rather than a stale one synced.
struct WalFile {
    path: PathBuf,
    file: File,
    ino: (u64, u64),
}

impl WalFile {
    fn open(path: PathBuf) -> Result<Self, StoreError> {
        let err = |e: std::io::Error| StoreError::NotSynced(format!("{}: {e}", path.display()));
        let file = File::open(&path).map_err(err)?;
        let m = file.metadata().map_err(err)?;
        Ok(WalFile {
            ino: (m.dev(), m.ino()),
            file,
            path,
        })
    }

    fn sync(&mut self) -> Result<(), String> {
        let now =
            std::fs::metadata(&self.path).map_err(|e| format!("{}: {e}", self.path.display()))?;
        if (now.dev(), now.ino()) != self.ino {
            *self = WalFile::open(self.path.clone()).map_err(|e| e.to_string())?;
        }
        self.file
            .sync_data()
            .map_err(|e| format!("fsync of {}: {e}", self.path.display()))
    }
}

fn run(
    mut sync: impl FnMut() -> Result<(), String>,
    rx: mpsc::Receiver<Waiter>,
    poison: &Poison,
    health: &DbHealth,
    fsyncs: &Histogram,
) {
    // Ends when every sender is gone and the queue is empty: all answered.
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        waiting.extend(rx.try_iter());
        let outcome = match poison.check() {
            Err(e) => Err(e.to_string()),
            Ok(()) => {
                let started = Instant::now();
                let r = sync();
                fsyncs.observe(started.elapsed().as_secs_f64());
                r.map_err(|e| {
                    tracing::error!("{e}; no more acknowledgements until restarted");
                    poison.set(&e)
                })
            }
        };
        if let Err(e) = &outcome {
            health.record_ingest::<()>(&Err(StoreError::NotSynced(e.clone())));
        }
        for w in waiting {
            w(outcome.clone());
        }
    }
}

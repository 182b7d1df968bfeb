//! statfs(2) with a time bound, so a stuck NFS/CIFS/FUSE mount cannot hang a
//! scrape, and without piling up threads scrape after scrape.
//!
//! Calls run on one reusable worker thread. When a call outlives the timeout,
//! the scrape abandons that worker (it stays blocked in the kernel) and starts
//! a fresh one for the remaining mounts. While a mount's call is still in
//! flight, later scrapes do not call it again; they report it as failed
//! straight away. So at most one thread is ever parked per stuck mount.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The fields of `struct statfs` node_exporter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsStats {
    pub bsize: u64,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
}

/// The statfs call, injectable so tests can simulate a hung mount.
pub trait StatFs: Send + Sync + 'static {
    fn statfs(&self, path: &Path) -> io::Result<FsStats>;
}

/// The real system call.
pub struct SysStatFs;

impl StatFs for SysStatFs {
    fn statfs(&self, path: &Path) -> io::Result<FsStats> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: `s` is plain old data and statfs fills it on success.
        let mut s: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FsStats {
            bsize: s.f_bsize as u64,
            blocks: s.f_blocks,
            bfree: s.f_bfree,
            bavail: s.f_bavail,
            files: s.f_files,
            ffree: s.f_ffree,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("statfs did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("an earlier statfs on this mount is still stuck; not retried")]
    StillStuck,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A batch of paths for one worker; results go back one by one, in order.
struct Job {
    batch: Vec<(usize, PathBuf)>,
    reply: mpsc::Sender<(usize, io::Result<FsStats>)>,
}

pub struct Prober {
    statfs: Arc<dyn StatFs>,
    timeout: Duration,
    /// Paths whose statfs call is running right now.
    in_flight: Arc<Mutex<HashSet<PathBuf>>>,
    /// The current worker's job queue; `None` until first use or after the
    /// worker was abandoned on a stuck call. Held for a whole collection, so
    /// concurrent scrapes take turns.
    worker: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Prober {
    pub fn new(statfs: Arc<dyn StatFs>, timeout: Duration) -> Self {
        Self {
            statfs,
            timeout,
            in_flight: Arc::new(Mutex::new(HashSet::new())),
            worker: Mutex::new(None),
        }
    }

    /// Paths whose statfs is currently blocked (or running).
    pub fn in_flight(&self) -> usize {
        lock(&self.in_flight).len()
    }

    /// Stat every path in order, each bounded by the timeout. The whole list
    /// goes to the worker at once (one wake-up per scrape, not per mount).
    pub fn stat_all<'a>(
        &self,
        paths: impl IntoIterator<Item = &'a Path>,
    ) -> Vec<Result<FsStats, ProbeError>> {
        let paths: Vec<&Path> = paths.into_iter().collect();
        let mut results: Vec<Option<Result<FsStats, ProbeError>>> =
            paths.iter().map(|_| None).collect();
        let mut worker = lock(&self.worker);
        {
            let stuck = lock(&self.in_flight);
            for (r, p) in results.iter_mut().zip(&paths) {
                if stuck.contains(*p) {
                    *r = Some(Err(ProbeError::StillStuck));
                }
            }
        }
        let mut pending: Vec<usize> = (0..paths.len()).filter(|&i| results[i].is_none()).collect();
        while !pending.is_empty() {
            let batch: Vec<(usize, PathBuf)> = pending
                .iter()
                .map(|&i| (i, paths[i].to_path_buf()))
                .collect();
            let (reply, answers) = mpsc::channel();
            if let Err(e) = self.send(&mut worker, Job { batch, reply }) {
                for &i in &pending {
                    results[i] = Some(Err(io::Error::new(e.kind(), e.to_string()).into()));
                }
                break;
            }
            let mut done = 0;
            while done < pending.len() {
                let i = pending[done];
                done += 1;
                match answers.recv_timeout(self.timeout) {
                    Ok((j, r)) => results[j] = Some(r.map_err(ProbeError::from)),
                    Err(e) => {
                        // Leave the blocked worker behind; the rest of the list
                        // goes to a new one.
                        *worker = None;
                        results[i] = Some(Err(match e {
                            mpsc::RecvTimeoutError::Timeout => ProbeError::TimedOut(self.timeout),
                            mpsc::RecvTimeoutError::Disconnected => {
                                io::Error::other("statfs worker exited").into()
                            }
                        }));
                        break;
                    }
                }
            }
            pending.drain(..done);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(io::Error::other("not probed").into())))
            .collect()
    }

    fn send(&self, worker: &mut Option<mpsc::Sender<Job>>, job: Job) -> io::Result<()> {
        let unsent = match worker.as_ref() {
            Some(tx) => tx.send(job).err().map(|mpsc::SendError(job)| job),
            None => Some(job),
        };
        if let Some(job) = unsent {
            let tx = self.spawn_worker()?;
            tx.send(job)
                .map_err(|_| io::Error::other("statfs worker exited"))?;
            *worker = Some(tx);
        }
        Ok(())
    }

    fn spawn_worker(&self) -> io::Result<mpsc::Sender<Job>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let statfs = Arc::clone(&self.statfs);
        let in_flight = Arc::clone(&self.in_flight);
        std::thread::Builder::new()
            .name("statfs".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for job in rx {
                    for (i, path) in job.batch {
                        lock(&in_flight).insert(path.clone());
                        let r = statfs.statfs(&path);
                        lock(&in_flight).remove(&path);
                        if job.reply.send((i, r)).is_err() {
                            // The scrape gave up on us; it already runs a new worker.
                            return;
                        }
                    }
                }
            })?;
        Ok(tx)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Condvar;

    /// Answers every path at once, except `stuck`, which blocks until released.
    pub struct HangingStatFs {
        pub stuck: PathBuf,
        pub calls_on_stuck: AtomicUsize,
        released: Mutex<bool>,
        cv: Condvar,
    }

    impl HangingStatFs {
        pub fn new(stuck: impl Into<PathBuf>) -> Arc<Self> {
            Arc::new(Self {
                stuck: stuck.into(),
                calls_on_stuck: AtomicUsize::new(0),
                released: Mutex::new(false),
                cv: Condvar::new(),
            })
        }

        pub fn release(&self) {
            *self.released.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }

    impl StatFs for HangingStatFs {
        fn statfs(&self, path: &Path) -> io::Result<FsStats> {
            if path == self.stuck {
                self.calls_on_stuck.fetch_add(1, Ordering::SeqCst);
                let mut r = self.released.lock().unwrap();
                while !*r {
                    r = self.cv.wait(r).unwrap();
                }
            }
            Ok(FsStats {
                bsize: 4096,
                blocks: 100,
                bfree: 50,
                bavail: 40,
                files: 10,
                ffree: 5,
            })
        }
    }

    #[test]
    fn real_statfs_of_root() {
        let s = SysStatFs.statfs(Path::new("/")).unwrap();
        assert!(s.blocks > 0 && s.bsize > 0);
        assert!(SysStatFs.statfs(Path::new("/does/not/exist")).is_err());
    }

    #[test]
    fn stuck_mount_times_out_once_then_is_not_retried() {
        let fs = HangingStatFs::new("/stuck");
        let p = Prober::new(fs.clone(), Duration::from_millis(100));
        let paths = [Path::new("/a"), Path::new("/stuck"), Path::new("/b")];

        let first = p.stat_all(paths);
        assert!(first[0].is_ok());
        assert!(matches!(first[1], Err(ProbeError::TimedOut(_))));
        assert!(first[2].is_ok(), "mounts after the stuck one still answer");

        for _ in 0..5 {
            let again = p.stat_all(paths);
            assert!(matches!(again[1], Err(ProbeError::StillStuck)));
            assert!(again[0].is_ok() && again[2].is_ok());
        }
        assert_eq!(fs.calls_on_stuck.load(Ordering::SeqCst), 1, "no pile-up");
        assert_eq!(p.in_flight(), 1);

        // Once the mount answers again, it is probed normally.
        fs.release();
        for _ in 0..100 {
            if p.in_flight() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(p.in_flight(), 0);
        assert!(p.stat_all(paths).iter().all(|r| r.is_ok()));
    }
}

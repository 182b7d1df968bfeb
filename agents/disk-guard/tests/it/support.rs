//! Shared helpers: building a Guard in-process, ages, metric reading, the
//! binary under test, and a real tmpfs mount.

use srp_disk_guard::config::Config;
use srp_disk_guard::guard::Guard;
use srp_disk_guard::journal::Journal;
use srp_disk_guard::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

pub const DAY: u64 = 86_400;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_srp-disk-guard"))
}

pub fn ago(secs: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs)
}

/// Set mtime (and atime) of one entry without following a symlink.
pub fn set_age(path: &Path, secs: u64) {
    let t = ago(secs).duration_since(SystemTime::UNIX_EPOCH).unwrap();
    let ts = rustix::fs::Timespec {
        tv_sec: t.as_secs() as i64,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: ts,
        last_modification: ts,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("utimensat {}: {e}", path.display()));
}

/// Age a whole tree, children before parents (creating a child touches the parent).
pub fn age_tree(path: &Path, secs: u64) {
    let md = std::fs::symlink_metadata(path).unwrap();
    if md.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            age_tree(&e.unwrap().path(), secs);
        }
    }
    set_age(path, secs);
}

pub fn write_file(path: &Path, bytes: usize, age_secs: u64) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, vec![0x5au8; bytes]).unwrap();
    set_age(path, age_secs);
}

/// A guard built from config text, for in-process tests (hooks, fakes).
pub fn guard(config: &str, data_dir: &Path) -> Guard {
    let cfg = Config::parse(config).unwrap_or_else(|e| panic!("test config: {e}\n{config}"));
    let journal = Journal::open_in(data_dir).unwrap();
    let registry = srp_daemon::metrics::registry();
    let metrics = Metrics::register(&registry).unwrap();
    Guard::new(
        cfg,
        false,
        journal,
        metrics,
        tokio::runtime::Handle::current(),
    )
}

/// Run a pass on a blocking thread (policies block on Docker calls).
pub async fn pass(g: Guard) -> (Guard, srp_disk_guard::guard::PassReport) {
    tokio::task::spawn_blocking(move || {
        let mut g = g;
        let r = g.pass();
        (g, r)
    })
    .await
    .unwrap()
}

pub fn skipped(g: &Guard, policy: &str, reason: &str) -> u64 {
    g.metrics
        .skipped
        .get_metric_with_label_values(&[policy, reason])
        .map(|c| c.get())
        .unwrap_or(0)
}

/// Thresholds that a test mount can never reach: every candidate is processed.
pub const UNREACHABLE: &str = "act_below = 0.9998\ntarget = 0.9999\ncritical = 0.0001\n";

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A real tmpfs of `size` mounted on a temp dir, unmounted on drop.
pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after saying so loudly) when mounting is not permitted here;
    /// under CI (env CI set) that is a failure instead.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        let problem = match out {
            Ok(o) if o.status.success() => return Some(Tmpfs { dir }),
            Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
            Err(e) => e.to_string(),
        };
        let msg = format!("cannot mount a tmpfs for the disk-filling test (needs root): {problem}");
        if std::env::var_os("CI").is_some() {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        None
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

pub fn usage(path: &Path) -> (u64, u64) {
    let u = srp_disk_guard::fs_usage::usage(path).unwrap();
    (u.free_bytes, u.size_bytes)
}

//! Watching the reports directory. Writers are not assumed to be careful:
//! events are debounced per file (a file is read once it has been quiet for
//! `debounce`), a file that fails to parse is re-read once more after it
//! has stayed unchanged for another `debounce` (it may have been caught
//! half-written) before it counts as an ingest error, atomic renames are seen
//! as the destination appearing, and each file version is handled once
//! (recorded in SQLite, so not again after a restart).
//!
//! Layout: `<dir>/<pipeline>/<file>`, `<dir>/<pipeline>/<target>/<file>` or
//! `<dir>/<pipeline>/<target>/<build>/<file>`; a file directly in `<dir>`
//! belongs to pipeline `default`. Without a target directory the target is
//! the report's own artifact (Trivy ArtifactName, CycloneDX
//! metadata.component.name) or else the file name without extension.
//! Hidden files and `*.tmp`, `*.part`, `*.swp`, `*~` are ignored, so a writer
//! can write `.x.tmp` and rename it into place.

use super::ingest::{IngestError, Origin, Shared};
use super::labels::for_log;
use super::liveness::Liveness;
use super::open::{read_bounded, OpenError, Opened, ReportsDir};
use crate::input::InputError;
use notify::{RecursiveMode, Watcher};
use srp_daemon::Shutdown;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};
use tokio::sync::mpsc;

/// A file's version: size and modification time in nanoseconds.
type Version = (u64, i64);

struct Pending {
    due: Instant,
    /// The version that already failed once (a possible partial write).
    failed: Option<Version>,
}

enum Outcome {
    Done,
    Retry(Version),
    Enqueue(Vec<PathBuf>),
}

pub fn ignored_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    name.starts_with('.')
        || name.ends_with('~')
        || [".tmp", ".part", ".swp", ".crdownload"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// Pipeline, target and build from the path under the reports directory.
pub fn origin_for(dir: &Path, path: &Path) -> Origin {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let dirs = &parts[..parts.len().saturating_sub(1)];
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.split('.').next().unwrap_or(&stem).to_string();
    Origin {
        pipeline: dirs.first().cloned().unwrap_or_else(|| "default".into()),
        target: dirs.get(1).cloned(),
        build: dirs.get(2).cloned().unwrap_or_default(),
        source: path.display().to_string(),
        fallback_target: stem,
    }
}

fn version(meta: &std::fs::Metadata) -> Version {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    (meta.len(), mtime)
}

/// The watcher's view of the reports directory: the path it was given (for
/// names in the store and the logs) and a descriptor every open is
/// relative to.
struct Root {
    path: PathBuf,
    dir: ReportsDir,
}

impl Root {
    fn absolute(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }
}

/// Count a refused entry once per version (so a restart does not count it
/// again), and log it.
fn refuse(state: &Shared, key: &str, ver: Version, err: &IngestError) {
    state.record_error(err, key);
    if let Err(e) = state
        .ledger
        .mark(key, ver.0, ver.1, None, Some(&err.to_string()))
    {
        tracing::error!(path = %for_log(key), error = %e, "cannot record file");
    }
}

fn seen(state: &Shared, key: &str, ver: Version) -> bool {
    match state.ledger.seen(key, ver.0, ver.1) {
        Ok(seen) => seen,
        Err(e) => {
            tracing::error!(path = %for_log(key), error = %e, "cannot check file history");
            true
        }
    }
}

fn process(state: &Shared, root: &Root, path: &Path, failed: Option<Version>) -> Outcome {
    if ignored_name(path) {
        return Outcome::Done;
    }
    // Events name absolute paths under the watched directory; anything else
    // is not ours to open.
    let Ok(rel) = path.strip_prefix(&root.path) else {
        tracing::warn!(path = %for_log(&path.display().to_string()), "event outside the reports directory ignored");
        return Outcome::Done;
    };
    let key = path.display().to_string();
    let (file, meta) = match root.dir.open_entry(rel) {
        Ok(Opened::File(f, m)) => (f, m),
        Ok(Opened::Dir(_)) => {
            return match root.dir.list(rel) {
                Ok(rels) => Outcome::Enqueue(rels.iter().map(|r| root.absolute(r)).collect()),
                Err(e) => {
                    tracing::warn!(path = %for_log(&key), error = %e, "cannot list directory");
                    Outcome::Done
                }
            };
        }
        Err(OpenError::Gone) => return Outcome::Done, // renamed away or deleted
        Err(OpenError::Refused(r)) => {
            // The entry's own stat (a link's, not its target's) versions it.
            let ver = root
                .dir
                .stat_entry(rel)
                .map(|m| version(&m))
                .unwrap_or((0, 0));
            if !seen(state, &key, ver) {
                refuse(state, &key, ver, &IngestError::Refused(r));
            }
            return Outcome::Done;
        }
        Err(OpenError::Io(e)) => {
            let ver = root
                .dir
                .stat_entry(rel)
                .map(|m| version(&m))
                .unwrap_or((0, 0));
            if !seen(state, &key, ver) {
                refuse(state, &key, ver, &IngestError::Input(InputError::Io(e)));
            }
            return Outcome::Done;
        }
    };
    let ver = version(&meta);
    if seen(state, &key, ver) {
        return Outcome::Done;
    }
    let origin = origin_for(&root.path, path);
    tracing::debug!(path = %for_log(&key), "reading report");
    let result = read_bounded(file, &meta, state.max_bytes)
        .map_err(IngestError::from)
        .and_then(|bytes| state.ingest(bytes, &origin));
    match result {
        Ok((id, _)) => {
            if let Err(e) = state.ledger.mark(&key, ver.0, ver.1, Some(id), None) {
                tracing::error!(path = %for_log(&key), error = %e, "cannot record file");
            }
            Outcome::Done
        }
        Err(IngestError::Store(e)) => {
            tracing::error!(path = %for_log(&key), error = %e, "cannot store report");
            Outcome::Done
        }
        Err(e) => {
            let now_ver = root.dir.stat_entry(rel).map(|m| version(&m)).ok();
            let may_be_partial = !matches!(
                e,
                IngestError::Input(InputError::TooLarge { .. }) | IngestError::Field(_)
            );
            if now_ver != Some(ver) || (may_be_partial && failed != Some(ver)) {
                tracing::debug!(path = %for_log(&key), error = %for_log(&e.to_string()), "unreadable, will look again once it stops changing");
                return Outcome::Retry(ver);
            }
            refuse(state, &key, ver, &e);
            Outcome::Done
        }
    }
}

/// Watch `dir` until shutdown. Files already there are handled first.
///
/// Each file is handled on the blocking pool as a task of `shutdown`, while
/// the loop still listens for the stop: the stop waits for a step in
/// progress (so its ingest and ledger row are written) within srp-daemon's
/// drain bound, and no longer, so a step that never returns cannot keep the
/// process from stopping; `liveness` shows in `/health` whether the loop
/// goes round.
pub async fn run(
    state: Shared,
    dir: PathBuf,
    debounce: Duration,
    shutdown: Shutdown,
    liveness: Arc<Liveness>,
) -> anyhow::Result<()> {
    let r = watch(state, dir, debounce, shutdown, &liveness).await;
    match &r {
        Ok(()) => liveness.stopped("shut down"),
        Err(e) => liveness.stopped(format!("{e:#}")),
    }
    r
}

async fn watch(
    state: Shared,
    dir: PathBuf,
    debounce: Duration,
    shutdown: Shutdown,
    liveness: &Liveness,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let path = dir.canonicalize()?;
    let root = Arc::new(Root {
        dir: ReportsDir::open(&path)?,
        path,
    });
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let events = tx.clone();
    // A symlinked directory inside must not be watched (and walked) either.
    let config = notify::Config::default().with_follow_symlinks(false);
    let mut watcher = notify::RecommendedWatcher::new(
        move |res: notify::Result<notify::Event>| match res {
            Ok(ev) => {
                if ev.kind.is_access() {
                    return;
                }
                for p in ev.paths {
                    let _ = events.send(p);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reports directory watch error"),
        },
        config,
    )?;
    watcher.watch(&root.path, RecursiveMode::Recursive)?;
    for rel in root.dir.list(Path::new(""))? {
        let _ = tx.send(root.absolute(&rel));
    }
    tracing::info!(dir = %for_log(&root.path.display().to_string()), "watching reports directory");

    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    let mut tick = tokio::time::interval((debounce / 4).max(Duration::from_millis(25)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'outer: loop {
        liveness.beat();
        tokio::select! {
            _ = shutdown.wait() => break,
            Some(p) = rx.recv() => {
                let due = Instant::now() + debounce;
                pending
                    .entry(p)
                    .and_modify(|x| x.due = due)
                    .or_insert(Pending { due, failed: None });
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let mut due: Vec<PathBuf> = pending
                    .iter()
                    .filter(|(_, x)| x.due <= now)
                    .map(|(p, _)| p.clone())
                    .collect();
                due.sort();
                for p in due {
                    let failed = pending.remove(&p).and_then(|x| x.failed);
                    let st = state.clone();
                    let r = root.clone();
                    let path = p.clone();
                    liveness.working_on(Some(for_log(&p.display().to_string())));
                    let step = shutdown.spawn_blocking(move || process(&st, &r, &path, failed));
                    let outcome = tokio::select! {
                        // The stop waits for the step (it is tracked), up to
                        // the drain bound.
                        _ = shutdown.wait() => break 'outer,
                        o = step => o,
                    };
                    liveness.working_on(None);
                    liveness.beat();
                    match outcome {
                        Ok(Outcome::Done) => {}
                        Ok(Outcome::Retry(ver)) => {
                            pending.insert(p, Pending { due: Instant::now() + debounce, failed: Some(ver) });
                        }
                        Ok(Outcome::Enqueue(files)) => {
                            let due = Instant::now() + debounce;
                            for f in files {
                                pending.entry(f).or_insert(Pending { due, failed: None });
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "ingest task failed"),
                    }
                    if shutdown.is_triggered() {
                        break;
                    }
                }
            }
        }
    }
    drop(watcher);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_gives_pipeline_target_build() {
        let d = Path::new("/r");
        let o = origin_for(d, Path::new("/r/trivy.json"));
        assert_eq!(
            (o.pipeline.as_str(), o.target.as_deref(), o.build.as_str()),
            ("default", None, "")
        );
        assert_eq!(o.fallback_target, "trivy");
        let o = origin_for(d, Path::new("/r/srp/api/42/trivy.json"));
        assert_eq!(
            (o.pipeline.as_str(), o.target.as_deref(), o.build.as_str()),
            ("srp", Some("api"), "42")
        );
        let o = origin_for(d, Path::new("/r/srp/gitleaks.json"));
        assert_eq!((o.pipeline.as_str(), o.target.as_deref()), ("srp", None));
    }

    #[test]
    fn temporary_names_are_ignored() {
        for n in [".x.json", "x.json.tmp", "x.part", "x~", "x.swp"] {
            assert!(ignored_name(Path::new(n)), "{n}");
        }
        assert!(!ignored_name(Path::new("trivy.json")));
    }
}

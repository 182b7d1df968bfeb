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
use crate::input::{self, InputError};
use notify::{RecursiveMode, Watcher};
use srp_daemon::Shutdown;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out),
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
}

fn process(state: &Shared, dir: &Path, path: &Path, failed: Option<Version>) -> Outcome {
    if ignored_name(path) {
        return Outcome::Done;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return Outcome::Done; // gone (renamed away or deleted)
    };
    if meta.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files);
        return Outcome::Enqueue(files);
    }
    if !meta.is_file() {
        return Outcome::Done;
    }
    let ver = version(&meta);
    let key = path.display().to_string();
    match state.store.file_seen(&key, ver.0, ver.1) {
        Ok(true) => return Outcome::Done,
        Ok(false) => {}
        Err(e) => {
            tracing::error!(path = %key, error = %e, "cannot check file history");
            return Outcome::Done;
        }
    }
    let origin = origin_for(dir, path);
    let result = input::read_report_file(path, state.max_bytes)
        .map_err(IngestError::from)
        .and_then(|bytes| state.ingest(bytes, &origin));
    match result {
        Ok((id, _)) => {
            if let Err(e) = state.store.mark_file(&key, ver.0, ver.1, Some(id), None) {
                tracing::error!(path = %key, error = %e, "cannot record file");
            }
            Outcome::Done
        }
        Err(IngestError::Store(e)) => {
            tracing::error!(path = %key, error = %e, "cannot store report");
            Outcome::Done
        }
        Err(e) => {
            let now_ver = std::fs::metadata(path).map(|m| version(&m)).ok();
            let may_be_partial = !matches!(e, IngestError::Input(InputError::TooLarge { .. }));
            if now_ver != Some(ver) || (may_be_partial && failed != Some(ver)) {
                tracing::debug!(path = %key, error = %e, "unreadable, will look again once it stops changing");
                return Outcome::Retry(ver);
            }
            state.record_error(&e, &key);
            if let Err(e) = state
                .store
                .mark_file(&key, ver.0, ver.1, None, Some(&e.to_string()))
            {
                tracing::error!(path = %key, error = %e, "cannot record file");
            }
            Outcome::Done
        }
    }
}

/// Watch `dir` until shutdown. Files already there are handled first.
pub async fn run(
    state: Shared,
    dir: PathBuf,
    debounce: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let events = tx.clone();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) => {
                if ev.kind.is_access() {
                    return;
                }
                for p in ev.paths {
                    let _ = events.send(p);
                }
            }
            Err(e) => tracing::warn!(error = %e, "reports directory watch error"),
        })?;
    watcher.watch(&dir, RecursiveMode::Recursive)?;
    let mut existing = Vec::new();
    walk(&dir, &mut existing);
    for p in existing {
        let _ = tx.send(p);
    }
    tracing::info!(dir = %dir.display(), "watching reports directory");

    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    let mut tick = tokio::time::interval((debounce / 4).max(Duration::from_millis(25)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
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
                    let d = dir.clone();
                    let path = p.clone();
                    let outcome = tokio::task::spawn_blocking(move || process(&st, &d, &path, failed)).await;
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

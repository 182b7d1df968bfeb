//! Docker policy, through the Engine API on its unix socket, in this order:
//! 1. dangling (untagged) images;
//! 2. the build cache (`POST /build/prune`, entries unused for `min_age`);
//! 3. per repository, images older than the newest `keep_tags` (by `Created`;
//!    the pipeline tags every build with BUILD_NUMBER).
//!
//! Never an image a container uses, running or stopped (`GET
//! /containers/json?all=1`); removals are never forced, so the engine's own
//! conflict check (409) backs that up. An image that also carries a tag of a
//! repository outside `repositories` is kept. Before a tag is removed, the
//! guard checks it still names the selected image.

use crate::cleanup::{Pass, PolicyError};
use crate::config::DockerPolicy;
use crate::docker_client::{images_in_use, split_tag, DockerClient, DockerError, Image};
use crate::skip::{Skip, SkipReason};
use hyper::StatusCode;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

fn failed(e: DockerError) -> PolicyError {
    PolicyError::Failed(e.to_string())
}

fn to_skip(what: &str, e: DockerError) -> Skip {
    match e.status() {
        Some(StatusCode::CONFLICT) => {
            Skip::new(what, SkipReason::InUse, format!("engine refused: {e}"))
        }
        Some(StatusCode::NOT_FOUND) => {
            Skip::new(what, SkipReason::ChangedDuringRun, "no longer exists")
        }
        _ => Skip::new(what, SkipReason::Error, e.to_string()),
    }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

pub fn run(name: &str, cfg: &DockerPolicy, pass: &mut Pass) -> Result<(), PolicyError> {
    let client = DockerClient::new(&cfg.socket);
    let rt = pass.rt.clone();
    let containers = rt.block_on(client.containers()).map_err(failed)?;
    let images = rt.block_on(client.images()).map_err(failed)?;
    let used = images_in_use(&containers, &images);
    let age_cutoff = pass.now - cfg.min_age.get().as_secs() as i64;

    if cfg.dangling {
        let mut dangling: Vec<&Image> = images.iter().filter(|i| i.tags().is_empty()).collect();
        dangling.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        for img in dangling {
            if pass.done() {
                return Ok(());
            }
            let what = format!("docker image {}", short(&img.id));
            if used.contains(&img.id) {
                pass.skip(
                    name,
                    Skip::new(&what, SkipReason::InUse, "used by a container"),
                );
                continue;
            }
            if img.created > age_cutoff {
                continue;
            }
            let bytes = img.unique_bytes();
            pass.delete(name, &what, bytes, "dangling image (no tag)", || {
                let items = rt
                    .block_on(client.remove_image(&img.id))
                    .map_err(|e| to_skip(&what, e))?;
                Ok(if items.iter().any(|i| i.deleted.is_some()) {
                    bytes
                } else {
                    0
                })
            })?;
        }
    }

    if cfg.build_cache && !pass.done() {
        let estimate = match rt.block_on(client.build_cache_usage()) {
            Ok((unused, in_use)) => {
                for id in in_use {
                    pass.skip(
                        name,
                        Skip::new(
                            format!("docker build cache {id}"),
                            SkipReason::InUse,
                            "held by a running build; the prune leaves it",
                        ),
                    );
                }
                unused
            }
            Err(e) => {
                tracing::warn!(policy = name, "cannot size the build cache: {e}");
                0
            }
        };
        let older: Duration = cfg.min_age.0;
        let reason = format!(
            "build cache unused for {}",
            crate::policy::files::humanize(older.as_secs())
        );
        pass.delete(name, "docker build cache", estimate, &reason, || {
            rt.block_on(client.prune_build_cache(older))
                .map_err(|e| to_skip("docker build cache", e))
        })?;
    }

    if pass.done() {
        return Ok(());
    }
    let managed =
        |repo: &str| cfg.repositories.is_empty() || cfg.repositories.iter().any(|r| r == repo);
    // repository -> its images, newest first.
    let mut repos: BTreeMap<&str, Vec<&Image>> = BTreeMap::new();
    for img in &images {
        for t in img.tags() {
            if let Some((repo, _)) = split_tag(t) {
                let list = repos.entry(repo).or_default();
                if !list.iter().any(|i| i.id == img.id) {
                    list.push(img);
                }
            }
        }
    }
    let mut keep: HashSet<&str> = HashSet::new();
    for (repo, list) in repos.iter_mut() {
        list.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
        let n = if managed(repo) {
            cfg.keep_tags
        } else {
            list.len()
        };
        keep.extend(list.iter().take(n).map(|i| i.id.as_str()));
    }
    let mut old: Vec<&Image> = images
        .iter()
        .filter(|i| !i.tags().is_empty() && !keep.contains(i.id.as_str()))
        .collect();
    old.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    for img in old {
        if pass.done() {
            break;
        }
        let tags = img.tags();
        let what = format!("docker image {} ({})", tags.join(","), short(&img.id));
        if used.contains(&img.id) {
            pass.skip(
                name,
                Skip::new(&what, SkipReason::InUse, "used by a container"),
            );
            continue;
        }
        if img.created > age_cutoff {
            continue;
        }
        let bytes = img.unique_bytes();
        let reason = format!(
            "older than the newest {} images of its repository",
            cfg.keep_tags
        );
        pass.delete(name, &what, bytes, &reason, || {
            let mut freed = 0;
            for t in &tags {
                match rt.block_on(client.image_id(t)) {
                    Ok(id) if id == img.id => {}
                    Ok(_) => {
                        return Err(Skip::new(
                            &what,
                            SkipReason::ChangedDuringRun,
                            format!("{t} now names another image"),
                        ))
                    }
                    Err(e) => return Err(to_skip(&what, e)),
                }
                let items = rt
                    .block_on(client.remove_image(t))
                    .map_err(|e| to_skip(&what, e))?;
                if items.iter().any(|i| i.deleted.is_some()) {
                    freed = bytes;
                }
            }
            Ok(freed)
        })?;
    }
    Ok(())
}

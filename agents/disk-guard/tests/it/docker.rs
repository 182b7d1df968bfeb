//! The Docker policy against a fake Docker Engine: a real HTTP/1.1 server on
//! a unix socket answering the endpoints the guard uses, with the engine's
//! own rules (409 for an image a container uses, 409 for removing a
//! multi-tagged image by id). The fake records every mutating call.

use crate::support::*;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
struct Img {
    id: String,
    tags: Vec<String>,
    created: i64,
    size: i64,
}

#[derive(Default)]
struct Engine {
    images: Vec<Img>,
    containers: Vec<(String, String)>, // (image name, image id)
    mutations: Vec<String>,
    violations: Vec<String>,
}

impl Engine {
    fn used(&self, id: &str) -> bool {
        self.containers.iter().any(|(_, i)| i == id)
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("api-version", "1.45")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn handle(engine: &Mutex<Engine>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut e = engine.lock().unwrap();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/containers/json") => {
            assert_eq!(query, "all=1", "stopped containers must be listed too");
            let list: Vec<Value> = e
                .containers
                .iter()
                .enumerate()
                .map(|(n, (name, id))| json!({"Id": format!("c{n}"), "Image": name, "ImageID": id, "State": if n % 2 == 0 {"running"} else {"exited"}}))
                .collect();
            reply(StatusCode::OK, json!(list))
        }
        (Method::GET, "/images/json") => {
            let list: Vec<Value> = e
                .images
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    // Engines report untagged images as ["<none>:<none>"] (old) or [] / null (new).
                    let tags = if !i.tags.is_empty() {
                        json!(i.tags)
                    } else if n % 2 == 0 {
                        json!(["<none>:<none>"])
                    } else {
                        Value::Null
                    };
                    json!({"Id": i.id, "RepoTags": tags, "Created": i.created, "Size": i.size, "SharedSize": -1, "Containers": -1})
                })
                .collect();
            reply(StatusCode::OK, json!(list))
        }
        (Method::GET, "/system/df") => reply(
            StatusCode::OK,
            json!({"BuildCache": [
                {"ID": "a", "InUse": false, "Shared": false, "Size": 3000},
                {"ID": "b", "InUse": true, "Shared": false, "Size": 999}
            ]}),
        ),
        (Method::POST, "/build/prune") => {
            e.mutations.push(format!("POST /build/prune?{query}"));
            reply(
                StatusCode::OK,
                json!({"CachesDeleted": ["a"], "SpaceReclaimed": 3000}),
            )
        }
        (m, p) if p.starts_with("/images/") => {
            let name = p.trim_start_matches("/images/");
            let (name, inspect) = match name.strip_suffix("/json") {
                Some(n) if m == Method::GET => (n.to_string(), true),
                _ => (name.to_string(), false),
            };
            let Some(pos) = e
                .images
                .iter()
                .position(|i| i.id == name || i.tags.contains(&name))
            else {
                return reply(
                    StatusCode::NOT_FOUND,
                    json!({"message": format!("No such image: {name}")}),
                );
            };
            let img = e.images[pos].clone();
            if inspect {
                return reply(StatusCode::OK, json!({"Id": img.id, "RepoTags": img.tags}));
            }
            assert_eq!(m, Method::DELETE);
            assert!(
                query.contains("force=false"),
                "removal must never be forced: {query}"
            );
            e.mutations.push(format!("DELETE {p}"));
            if e.used(&img.id) {
                e.violations
                    .push(format!("asked to remove {name}, used by a container"));
                return reply(
                    StatusCode::CONFLICT,
                    json!({"message": "conflict: image is being used by a container"}),
                );
            }
            if name == img.id && img.tags.len() > 1 {
                return reply(
                    StatusCode::CONFLICT,
                    json!({"message": "conflict: image is referenced in multiple repositories"}),
                );
            }
            let mut out = Vec::new();
            if name != img.id {
                e.images[pos].tags.retain(|t| *t != name);
                out.push(json!({"Untagged": name}));
            }
            if e.images[pos].tags.is_empty() {
                e.images.remove(pos);
                out.push(json!({"Deleted": img.id}));
            }
            reply(StatusCode::OK, json!(out))
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"message": "page not found"})),
    }
}

async fn serve(socket: &Path, engine: Arc<Mutex<Engine>>) {
    let listener = tokio::net::UnixListener::bind(socket).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let engine = engine.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let r = handle(&engine, req);
                    async move { Ok::<_, std::convert::Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

fn engine() -> Engine {
    let old = now() - 20 * DAY as i64;
    let img = |id: &str, tags: &[&str], created: i64, size: i64| Img {
        id: format!("sha256:{id}"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        created,
        size,
    };
    let mut images = vec![
        img("d1", &[], old, 100),
        img("d2", &[], old + 1, 200), // dangling but used by a stopped container
        img("d3", &[], now() - 60, 300), // dangling but younger than min_age
        img("d4", &[], old + 2, 400),
        img("a0", &["app:0", "app:old-0"], old, 1000),
        img("lib1", &["lib:1"], old, 5000), // not a managed repository
    ];
    for n in 1..=8 {
        let tag = format!("app:{n}");
        let mut tags = vec![tag.as_str()];
        if n == 4 {
            tags.push("other:4"); // also in an unmanaged repository: kept
        }
        images.push(img(&format!("a{n}"), &tags, old + n * 3600, 1000 * (n + 1)));
    }
    Engine {
        images,
        containers: vec![
            ("app:2".into(), "sha256:a2".into()),
            ("sha256:d2".into(), "sha256:d2".into()),
        ],
        ..Default::default()
    }
}

fn config(dir: &Path, socket: &Path, dry_run: bool) -> String {
    format!(
        "dry_run = {dry_run}\n[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"docker\"]\n\
         [policy.docker]\nkind = \"docker\"\nsocket = \"{}\"\nkeep_tags = 3\nrepositories = [\"app\"]\nmin_age = \"1h\"\n",
        dir.display(),
        socket.display()
    )
}

const EXPECTED_DELETES: [&str; 7] = [
    "DELETE /images/sha256:d1",
    "DELETE /images/sha256:d4",
    "DELETE /images/app:0",
    "DELETE /images/app:old-0",
    "DELETE /images/app:1",
    "DELETE /images/app:3",
    "DELETE /images/app:5",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removes_only_dangling_old_and_unused_images_and_prunes_the_build_cache() {
    let t = tempfile::tempdir().unwrap();
    let socket = t.path().join("docker.sock");
    let state = Arc::new(Mutex::new(engine()));
    serve(&socket, state.clone()).await;

    // Dry run first: nothing mutates, the same set is reported.
    let (_, dry) = pass(guard(
        &config(t.path(), &socket, true),
        &t.path().join("dry"),
    ))
    .await;
    assert!(
        dry.mounts[0].errors.is_empty(),
        "{:?}",
        dry.mounts[0].errors
    );
    assert!(state.lock().unwrap().mutations.is_empty());
    let would: BTreeSet<String> = dry.mounts[0]
        .actions
        .iter()
        .map(|a| a.path.clone())
        .collect();
    assert_eq!(would.len(), 6 + 1, "{would:?}");
    assert!(would.contains("docker build cache"));

    let (g, report) = pass(guard(
        &config(t.path(), &socket, false),
        &t.path().join("data"),
    ))
    .await;
    let m = &report.mounts[0];
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let e = state.lock().unwrap();
    assert!(e.violations.is_empty(), "{:?}", e.violations);
    let deletes: BTreeSet<&str> = e
        .mutations
        .iter()
        .filter(|c| c.starts_with("DELETE"))
        .map(|c| c.split('?').next().unwrap())
        .collect();
    assert_eq!(deletes, EXPECTED_DELETES.into_iter().collect());
    let prune: Vec<&String> = e
        .mutations
        .iter()
        .filter(|c| c.starts_with("POST"))
        .collect();
    assert_eq!(prune.len(), 1);
    assert!(
        prune[0].contains("until") && prune[0].contains("3600s"),
        "{}",
        prune[0]
    );

    let left: BTreeSet<String> = e.images.iter().map(|i| i.id.clone()).collect();
    let expect_left: BTreeSet<String> = ["d2", "d3", "a2", "a4", "a6", "a7", "a8", "lib1"]
        .iter()
        .map(|s| format!("sha256:{s}"))
        .collect();
    assert_eq!(left, expect_left);

    // Same set as the dry run reported; bytes as the engine sized them.
    let done: BTreeSet<String> = m
        .actions
        .iter()
        .filter(|a| a.outcome == "deleted")
        .map(|a| a.path.clone())
        .collect();
    assert_eq!(done, would);
    // d1 100 + d4 400 + a0 1000 + a1 2000 + a3 4000 + a5 6000 + cache 3000
    assert_eq!(m.reclaimed_bytes, 16_500);
    assert_eq!(
        g.metrics.reclaimed.with_label_values(&["docker"]).get(),
        16_500
    );
    assert_eq!(
        skipped(&g, "docker", "in_use"),
        3,
        "d2, app:2 and build-cache record b (held by a running build)"
    );
    assert_eq!(
        g.metrics
            .cleanup_runs
            .with_label_values(&["docker", "success"])
            .get(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_is_a_policy_error_not_a_crash() {
    let t = tempfile::tempdir().unwrap();
    let socket = t.path().join("missing.sock");
    let (g, report) = pass(guard(
        &config(t.path(), &socket, false),
        &t.path().join("data"),
    ))
    .await;
    let m = &report.mounts[0];
    assert_eq!(m.errors.len(), 1);
    assert!(m.errors[0].contains("missing.sock"), "{:?}", m.errors);
    assert_eq!(
        g.metrics
            .cleanup_runs
            .with_label_values(&["docker", "error"])
            .get(),
        1
    );
    // Still low (target unreachable) outranks the error in the exit status.
    assert_eq!(report.exit_code(), 3);
}

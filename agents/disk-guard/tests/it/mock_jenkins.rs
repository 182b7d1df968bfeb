//! A mock Jenkins controller on a real socket (127.0.0.1, port 0) that speaks
//! the REST calls the guard makes: the computer API with running builds, the
//! crumb issuer, a node's state and toggleOffline. It checks HTTP basic auth
//! with the user's API token and refuses a POST without the crumb (403), as
//! Jenkins does with CSRF protection on.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const USER: &str = "srp-disk-guard";
pub const TOKEN: &str = "11aa22bb33cc44dd55ee66ff77889900";
const CRUMB: &str = "c0ffee-crumb";

#[derive(Default)]
pub struct Jenkins {
    /// (node, build URL path like "job/app/12/", number)
    pub running: Vec<(String, String, u64)>,
    /// node → (offline, message)
    pub nodes: HashMap<String, (bool, String)>,
    /// Every toggleOffline that was accepted: (node, message).
    pub toggles: Vec<(String, String)>,
    /// Requests refused for a missing/bad crumb or credentials.
    pub refused: Vec<String>,
    pub computer_calls: u64,
}

pub type Shared = Arc<Mutex<Jenkins>>;

pub struct MockJenkins {
    pub url: String,
    pub state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockJenkins {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn authorized(h: &HeaderMap) -> bool {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"))
    );
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

fn refuse(s: &Shared, what: &str, status: StatusCode) -> Response {
    s.lock().unwrap().refused.push(what.to_string());
    status.into_response()
}

async fn computers(State(s): State<(Shared, String)>, h: HeaderMap) -> Response {
    let (s, base) = s;
    if !authorized(&h) {
        return refuse(&s, "computer: bad credentials", StatusCode::UNAUTHORIZED);
    }
    let mut j = s.lock().unwrap();
    j.computer_calls += 1;
    let mut nodes: Vec<String> = j.nodes.keys().cloned().collect();
    nodes.sort();
    let computer: Vec<_> = nodes
        .iter()
        .map(|n| {
            let busy: Vec<_> = j
                .running
                .iter()
                .filter(|(node, _, _)| node == n)
                .map(|(_, url, number)| {
                    json!({"currentExecutable": {"_class": "hudson.model.FreeStyleBuild", "url": format!("{base}/{url}"), "number": number}})
                })
                .collect();
            json!({"_class": "hudson.model.Hudson$MasterComputer", "displayName": n,
                   "executors": busy, "oneOffExecutors": [{"currentExecutable": null}]})
        })
        .collect();
    Json(json!({"_class": "hudson.model.ComputerSet", "computer": computer})).into_response()
}

async fn crumb(State((s, _)): State<(Shared, String)>, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return refuse(&s, "crumb: bad credentials", StatusCode::UNAUTHORIZED);
    }
    Json(json!({"_class": "hudson.security.csrf.DefaultCrumbIssuer", "crumb": CRUMB, "crumbRequestField": "Jenkins-Crumb"}))
        .into_response()
}

async fn node(
    State((s, _)): State<(Shared, String)>,
    Path(name): Path<String>,
    h: HeaderMap,
) -> Response {
    if !authorized(&h) {
        return refuse(&s, "node: bad credentials", StatusCode::UNAUTHORIZED);
    }
    let j = s.lock().unwrap();
    match j.nodes.get(&name) {
        Some((off, msg)) => Json(json!({"displayName": name, "offline": off, "temporarilyOffline": off, "offlineCauseReason": msg})).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn toggle(
    State((s, _)): State<(Shared, String)>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    if !authorized(&h) {
        return refuse(
            &s,
            "toggleOffline: bad credentials",
            StatusCode::UNAUTHORIZED,
        );
    }
    if h.get("jenkins-crumb").and_then(|v| v.to_str().ok()) != Some(CRUMB) {
        return refuse(&s, "toggleOffline: no valid crumb", StatusCode::FORBIDDEN);
    }
    let mut j = s.lock().unwrap();
    let msg = q.get("offlineMessage").cloned().unwrap_or_default();
    let Some(entry) = j.nodes.get_mut(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    entry.0 = !entry.0;
    entry.1 = msg.clone();
    j.toggles.push((name.clone(), msg));
    (
        StatusCode::FOUND,
        [("location", format!("/computer/{name}/"))],
    )
        .into_response()
}

impl MockJenkins {
    pub async fn start(nodes: &[&str]) -> MockJenkins {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::default();
        for n in nodes {
            state
                .lock()
                .unwrap()
                .nodes
                .insert(n.to_string(), (false, String::new()));
        }
        let app = Router::new()
            .route("/computer/api/json", get(computers))
            .route("/crumbIssuer/api/json", get(crumb))
            .route("/computer/{name}/api/json", get(node))
            .route("/computer/{name}/toggleOffline", post(toggle))
            .with_state((state.clone(), url.clone()));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        MockJenkins { url, state, task }
    }

    /// A `[jenkins]` config section pointing here, with the token in `dir`.
    pub fn config(&self, dir: &std::path::Path) -> String {
        let token = dir.join("jenkins-token");
        std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
        format!(
            "[jenkins]\nurl = \"{}\"\nuser = \"{USER}\"\ntoken_file = \"{}\"\ntimeout = \"2s\"\n",
            self.url,
            token.display()
        )
    }

    pub fn run_build(&self, node: &str, job_url: &str, number: u64) {
        self.state
            .lock()
            .unwrap()
            .running
            .push((node.into(), job_url.into(), number));
    }
}

//! Drain before full, on a real tmpfs that cleaning cannot fix: the guard
//! takes its Jenkins agent offline on the mock Jenkins (toggleOffline with
//! the crumb), tells the real srp-slack-relay binary at `/jenkins` (its
//! log sink must show the drain, then the undrain), shows
//! `srp_disk_agent_drained 1` and journals it; holds it while still low
//! (no second toggle); brings it back once above target. An agent an
//! operator took offline is never brought back by the guard.

use crate::mock_jenkins::MockJenkins;
use crate::real_relay::RealRelay;
use crate::support::*;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use std::path::Path;
use std::sync::{Arc, Mutex};

const MIB: usize = 1 << 20;
pub const RELAY_TOKEN: &str = "relay-secret-token";

/// What the relay was sent: (authorization header, body).
pub type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A stand-in for srp-slack-relay's `/jenkins`: the fields it requires
/// (job, build, result in its vocabulary) or 400, and its bearer token.
pub async fn relay() -> (String, Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/jenkins",
        post(move |h: HeaderMap, Json(body): Json<serde_json::Value>| {
            let s = s.clone();
            async move {
                let auth = h
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let ok = body["job"].is_string()
                    && body["build"].is_u64()
                    && [
                        "STARTED",
                        "SUCCESS",
                        "FAILURE",
                        "UNSTABLE",
                        "ABORTED",
                        "NOT_BUILT",
                    ]
                    .contains(&body["result"].as_str().unwrap_or(""));
                s.lock().unwrap().push((auth.clone(), body));
                if auth != format!("Bearer {RELAY_TOKEN}") {
                    axum::http::StatusCode::UNAUTHORIZED
                } else if ok {
                    axum::http::StatusCode::ACCEPTED
                } else {
                    axum::http::StatusCode::BAD_REQUEST
                }
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, seen, task)
}

fn config(root: &Path, jenkins: &str, relay_url: &str, token: &Path) -> String {
    format!(
        "[defaults]\nact_below = 0.20\ntarget = 0.30\ncritical = 0.10\n\
         [[mount]]\npath = \"{}\"\npolicies = [\"logs\"]\n\
         [policy.logs]\nkind = \"files\"\nroots = [\"{}/logs\"]\nglobs = [\"*.log\"]\nmin_age = \"1d\"\n\
         [drain]\nnode = \"agent-1\"\nhorizon = \"2h\"\nrelay_url = \"{relay_url}\"\nrelay_token_file = \"{}\"\n{jenkins}",
        root.display(),
        root.display(),
        token.display()
    )
}

fn drained(g: &srp_disk_guard::guard::Guard) -> i64 {
    g.metrics
        .agent_drained
        .with_label_values(&["agent-1"])
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_cleaning_cannot_fix_drains_the_agent_and_undrains_it_once_above_target() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let root = fs.path();
    write_file(&root.join("logs/old.log"), MIB / 2, 10 * DAY);
    // Fresh: nothing may delete it. ~95 % full.
    write_file(&root.join("build-output"), 15 * MIB, 0);
    let jenkins = MockJenkins::start(&["agent-1"]).await;
    let relay = RealRelay::start(RELAY_TOKEN);
    let data = tempfile::tempdir().unwrap();
    let token = data.path().join("relay-token");
    std::fs::write(&token, format!("{RELAY_TOKEN}\n")).unwrap();
    let cfg = config(root, &jenkins.config(data.path()), &relay.url(), &token);

    let (g, r1) = pass(guard(&cfg, &data.path().join("db"))).await;
    let m = &r1.mounts[0];
    assert!(m.free_ratio_after < 0.10, "set-up: cleaning cannot fix it");
    assert_eq!(m.drain, "drained", "{m:#?}");
    assert!(!root.join("logs/old.log").exists(), "cleaned first");
    {
        let j = jenkins.state.lock().unwrap();
        assert_eq!(j.toggles.len(), 1);
        assert!(j.nodes["agent-1"].0, "offline in Jenkins");
        assert!(j.toggles[0].1.contains("after cleaning"), "{:?}", j.toggles);
        assert!(j.refused.is_empty(), "{:?}", j.refused);
    }
    assert_eq!(drained(&g), 1);
    // The relay accepted it (token, payload), stored it and delivered it.
    let sink = relay.wait_for(1).await;
    assert_eq!(sink.len(), 1, "{sink:?}");
    let text = sink[0]["text"].as_str().unwrap();
    assert!(text.contains("srp-disk-guard/agent-1"), "{text}");
    assert!(text.contains("UNSTABLE"), "{text}");
    assert!(text.contains("after cleaning"), "the drain message: {text}");
    assert_eq!(relay.received_from_jenkins().await, 1.0);

    // Still full: held, not toggled again (toggleOffline flips).
    let (g, r2) = pass(g).await;
    assert_eq!(r2.mounts[0].drain, "held");
    assert_eq!(jenkins.state.lock().unwrap().toggles.len(), 1);
    assert_eq!(drained(&g), 1);

    // Space comes back (the build output is archived elsewhere).
    std::fs::remove_file(root.join("build-output")).unwrap();
    let (g, r3) = pass(g).await;
    assert_eq!(r3.undrain, "undrained");
    {
        let j = jenkins.state.lock().unwrap();
        assert_eq!(j.toggles.len(), 2);
        assert!(!j.nodes["agent-1"].0, "back online");
    }
    assert_eq!(drained(&g), 0);
    let sink = relay.wait_for(2).await;
    let text = sink[1]["text"].as_str().unwrap();
    assert!(
        text.contains("SUCCESS") && text.contains("back above its target"),
        "{text}"
    );
    let rows = g.journal.drains(10).unwrap();
    let actions: Vec<_> = rows
        .iter()
        .map(|r| (r.action.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(actions, [("undrain", "done"), ("drain", "done")]);

    // A fourth pass has nothing to bring back.
    let (_g, r4) = pass(g).await;
    assert_eq!(r4.undrain, "held");
    assert_eq!(jenkins.state.lock().unwrap().toggles.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_an_operator_took_offline_is_left_to_the_operator() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let root = fs.path();
    write_file(&root.join("build-output"), 15 * MIB, 0);
    let jenkins = MockJenkins::start(&["agent-1"]).await;
    jenkins
        .state
        .lock()
        .unwrap()
        .nodes
        .insert("agent-1".into(), (true, "maintenance".into()));
    let (relay_url, seen, _relay) = relay().await;
    let data = tempfile::tempdir().unwrap();
    let token = data.path().join("relay-token");
    std::fs::write(&token, RELAY_TOKEN).unwrap();
    let cfg = config(root, &jenkins.config(data.path()), &relay_url, &token);
    let (g, r1) = pass(guard(&cfg, &data.path().join("db"))).await;
    assert_eq!(r1.mounts[0].drain, "already_offline");
    std::fs::remove_file(root.join("build-output")).unwrap();
    let (g, _r2) = pass(g).await;
    let j = jenkins.state.lock().unwrap();
    assert!(j.toggles.is_empty(), "never toggled: {:?}", j.toggles);
    assert!(j.nodes["agent-1"].0, "still offline for the operator");
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(drained(&g), 0);
}

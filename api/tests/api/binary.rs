//! The real `srp-api` binary: flags and environment, logs, SIGTERM.

use crate::helpers::{finish_request, start_request};
use srp_testkit::Daemon;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_srp-api");

#[test]
fn help_explains_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "SRP_LISTEN",
        "--database-url",
        "DATABASE_URL",
        "--request-timeout",
        "--max-body-bytes",
        "--log-format",
        "--log-level",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn bad_database_url_is_refused_by_name() {
    let out = Command::new(BIN)
        .args(["--database-url", "mysql://u:secret@db/srp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--database-url") && err.contains("mysql://u:***@db/srp"),
        "{err}"
    );
    assert!(!err.contains("secret"), "password leaked: {err}");
    // srp-daemon's one main edge: `error: ` and the causes, said once.
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.matches("mysql://u:***@db/srp").count(), 1, "{err}");
}

#[test]
fn unusable_sqlite_path_fails_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir/srp.db");
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite:{}", path.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_from_env_config_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // The CLI makes the token the POST below needs, in the same default file.
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args([
            "token",
            "create",
            "--name",
            "sigterm",
            "--scope",
            "projects:write",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let mut running = Daemon::spawn(
        Command::new(BIN)
            .current_dir(dir.path())
            .env("SRP_LISTEN", "127.0.0.1:0")
            .env_remove("DATABASE_URL")
            .env("SRP_LOG_FORMAT", "json")
            .env_remove("RUST_LOG"),
    );
    let addr = running.addr;
    // DATABASE_URL unset: the default SQLite file in the working directory.
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(dir.path().join("srp.db").exists());
    let version: serde_json::Value = client
        .get(format!("http://{addr}/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    // A request in flight when SIGTERM arrives still completes.
    let body = br#"{"name": "sigterm"}"#;
    let s = start_request(
        addr,
        "POST",
        "/projects",
        &format!(
            "Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        &body[..3],
    )
    .await;
    let in_flight = crate::helpers::eventually(Duration::from_secs(10), || async {
        let m = client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        crate::helpers::sample(&m, "http_requests_in_flight") == Some(2.0)
    })
    .await;
    assert!(in_flight, "the POST never reached the server");
    running.terminate();
    // Wait until the server has started draining before sending the rest.
    let line = running.expect_line("saying srp-api is draining", Duration::from_secs(30), |l| {
        l.contains("draining")
    });
    // JSON logs on request: every line is a JSON object.
    serde_json::from_str::<serde_json::Value>(&line).expect("JSON log line");
    let (status, text) = finish_request(s, &body[3..]).await;
    assert_eq!(status, 201, "{text}");

    let exit = tokio::task::spawn_blocking(move || running.wait())
        .await
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
}

/// `srp-api token create|list|revoke`: the token is the last stdout line,
/// the list never shows a secret, a bad scope creates nothing.
#[test]
fn token_commands_create_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("srp.db").display());
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(["--database-url", &db])
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, out, err) = run(&[
        "token",
        "create",
        "--name",
        "jenkins",
        "--scope",
        "releases:write",
    ]);
    assert!(ok, "{err}");
    let token = out.lines().last().unwrap();
    assert!(token.starts_with("srp_") && token.len() == 68, "{out}");

    let (ok, _, err) = run(&["token", "create", "--name", "bad", "--scope", "releases:rw"]);
    assert!(!ok);
    assert!(err.contains("unknown scope"), "{err}");
    let (ok, _, err) = run(&["token", "create", "--name", "jenkins", "--scope", "admin"]);
    assert!(!ok, "an active name is not taken twice");
    assert!(err.contains("jenkins"), "{err}");

    let (ok, list, _) = run(&["token", "list"]);
    assert!(ok);
    assert!(list.contains("jenkins\treleases:write"), "{list}");
    assert!(!list.contains("bad") && !list.contains(token), "{list}");

    let (ok, out, _) = run(&["token", "revoke", "jenkins"]);
    assert!(ok, "{out}");
    let (ok, _, err) = run(&["token", "revoke", "jenkins"]);
    assert!(!ok && err.contains("no active token"), "{err}");
    let (_, list, _) = run(&["token", "list"]);
    let line = list.lines().find(|l| l.starts_with("jenkins")).unwrap();
    assert!(!line.ends_with("\t-"), "revocation date shown: {line}");
}

/// Nothing answered 201 is lost when the process is killed (kill -9, as a
/// crash or the OOM killer would) in the middle of a stream of concurrent
/// creates: the group commit answers only after its transaction committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9() {
    use srp_api::store::{ProjectStore, Store};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("srp.db").display());
    let db: srp_api::DatabaseUrl = url.parse().unwrap();
    let token = crate::helpers::create_token(&db, "crash", &["projects:write"]).await;
    let mut running = Daemon::spawn(
        Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--database-url", &url])
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG"),
    );
    let addr = running.addr;
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16 {
        let (acked, token) = (acked.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let name = format!("crash-{w}-{i}");
                let sent = client
                    .post(format!("http://{addr}/projects"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "name": name }))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != 201 {
                    break;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    break;
                };
                let id = body["id"].as_i64().expect("a created project has an id");
                acked.lock().unwrap().push((name, id));
            }
        }));
    }
    // Kill it while the writers are still going.
    let enough = crate::helpers::eventually(Duration::from_secs(30), || async {
        acked.lock().unwrap().len() >= 400
    })
    .await;
    assert!(enough, "the server did not acknowledge 400 creates in 30 s");
    running.kill();
    for w in writers {
        w.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let store = Store::open(&db)
        .await
        .expect("the database opens after the crash");
    for (name, id) in &acked {
        let found = store.by_name(name).await.unwrap();
        assert_eq!(
            found.map(|p| p.id),
            Some(*id),
            "{name} was answered 201 (id {id}) and is lost"
        );
    }
}

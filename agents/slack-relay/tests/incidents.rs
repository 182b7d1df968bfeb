//! Incidents from real alerts against the real srp-api binary: a firing
//! alert with a `project` label opens an incident in the ledger, its
//! resolve closes it (times from startsAt/endsAt); an alert for a project
//! the API does not know is dropped and counted; an API that is down at
//! first still ends with the incident recorded, and Slack delivery goes on
//! meanwhile. On the SQLite file and on the shared PostgreSQL outbox.

mod common;

use common::*;
use serde_json::{json, Value};
use srp_testkit::Daemon;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// The srp-api binary: `SRP_API_BIN`, or this workspace's, built once per
/// test binary (cargo only names its own crate's binaries to tests). When
/// the build fails (another crate mid-edit) an existing binary is used.
fn api_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(b) = std::env::var_os("SRP_API_BIN") {
            return PathBuf::from(b);
        }
        // target/debug/deps/incidents-… → target/debug/srp-api
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let bin = dir.join("srp-api");
        let built = Command::new(env!("CARGO"))
            .args(["build", "-p", "srp-api", "--bin", "srp-api"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status();
        if !matches!(built, Ok(s) if s.success()) {
            eprintln!("cargo build -p srp-api failed; using {}", bin.display());
        }
        assert!(bin.exists(), "no srp-api binary at {}", bin.display());
        bin
    })
}

/// A real srp-api on a SQLite file, with a project and a relay token.
struct Api {
    daemon: Option<Daemon>,
    db: String,
    listen: String,
    project_id: i64,
    token_file: PathBuf,
}

fn token(db: &str, name: &str, scope: &str) -> String {
    let out = Command::new(api_bin())
        .args(["token", "create", "--name", name, "--scope", scope])
        .args(["--database-url", db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_string()
}

impl Api {
    /// Start on `port` (0: any), create project `shop` and the relay's
    /// token (scope incidents:write).
    async fn start(dir: &Path, port: u16) -> Api {
        let db = format!("sqlite:{}", dir.join("api.db").display());
        let relay_token = token(&db, "slack-relay", "incidents:write");
        let token_file = write_file(dir, "api-token", &format!("{relay_token}\n"));
        let admin = token(&db, "test-admin", "projects:write");
        let mut api = Api {
            daemon: None,
            db,
            listen: format!("127.0.0.1:{port}"),
            project_id: 0,
            token_file,
        };
        api.run();
        let r = reqwest::Client::new()
            .post(api.url("/projects"))
            .bearer_auth(&admin)
            .json(&json!({"name": "shop", "description": "incident test"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        api.project_id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
        api
    }

    fn run(&mut self) {
        let d = Daemon::spawn(
            Command::new(api_bin())
                .args(["--listen", &self.listen, "--database-url", &self.db])
                .env("SRP_LOG_LEVEL", "info"),
        );
        self.listen = d.addr.to_string();
        self.daemon = Some(d);
    }

    fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.kill();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.listen)
    }

    async fn incidents(&self) -> Vec<Value> {
        let v: Value = reqwest::get(self.url(&format!("/projects/{}/incidents", self.project_id)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// Wait until the incident `key` satisfies `ok`.
    async fn wait_incident(&self, what: &str, key: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            let all = self.incidents().await;
            if let Some(i) = all.iter().find(|i| i["key"] == key && ok(i)) {
                return i.clone();
            }
            assert!(Instant::now() < end, "{what}: {all:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn alert(status: &str, project: &str, fingerprint: &str, ends: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": "APIDown", "severity": "critical",
                   "project": project, "environment": "staging"},
        "annotations": {"summary": "srp-api is down"},
        "startsAt": "2026-12-01T10:00:00Z",
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint
    })
}

fn notification(status: &str, alerts: Vec<Value>) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"APIDown\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "relay",
        "groupLabels": {"alertname": "APIDown"},
        "commonLabels": {"alertname": "APIDown"},
        "commonAnnotations": {"summary": "srp-api is down"},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts
    })
}

async fn send(relay: &Relay, body: &Value) {
    let r = reqwest::Client::new()
        .post(relay.url("/alertmanager"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn relay_args(
    slack: &MockSlack,
    api_url: &str,
    token: &Path,
    db: Option<&common::pg::PgSchema>,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "--slack-webhook-url",
        &slack.webhook_url(),
        "--per-destination-interval",
        "10ms",
        "--retry-base",
        "100ms",
        "--retry-max",
        "300ms",
        "--max-attempts",
        "1000",
        "--api-url",
        api_url,
        "--api-token-file",
        token.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(db) = db {
        a.extend(["--database-url".into(), db.url.clone()]);
    }
    a
}

async fn opens_and_closes(db: Option<&common::pg::PgSchema>) {
    let dir = tempfile::tempdir().unwrap();
    let api = Api::start(dir.path(), 0).await;
    let slack = MockSlack::start().await;
    let args = relay_args(&slack, &api.url(""), &api.token_file, db);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let relay = Relay::start(&dir.path().join("data"), &args);

    send(
        &relay,
        &notification(
            "firing",
            vec![
                alert("firing", "shop", "fp0001", "0001-01-01T00:00:00Z"),
                alert(
                    "firing",
                    "not-in-the-ledger",
                    "fp0002",
                    "0001-01-01T00:00:00Z",
                ),
            ],
        ),
    )
    .await;
    let open = api
        .wait_incident("the incident opens", "fp0001", |i| i["closed_at"].is_null())
        .await;
    assert_eq!(open["environment"], "staging");
    assert_eq!(open["title"], "APIDown: srp-api is down");
    let opened = chrono::DateTime::parse_from_rfc3339(open["opened_at"].as_str().unwrap()).unwrap();
    assert_eq!(opened.to_rfc3339(), "2026-12-01T10:00:00+00:00");

    // Alertmanager repeats the firing notification: still one incident.
    let mut again = notification(
        "firing",
        vec![alert("firing", "shop", "fp0001", "0001-01-01T00:00:00Z")],
    );
    again["groupKey"] = "{}:{alertname=\"APIDown\"}:repeat".into();
    send(&relay, &again).await;
    wait_metric(
        &relay,
        r#"srp_relay_incidents_forwarded_total{action="open"}"#,
        2.0,
    )
    .await;

    send(
        &relay,
        &notification(
            "resolved",
            vec![alert("resolved", "shop", "fp0001", "2026-12-01T10:30:00Z")],
        ),
    )
    .await;
    let closed = api
        .wait_incident("the incident closes", "fp0001", |i| {
            !i["closed_at"].is_null()
        })
        .await;
    let at = chrono::DateTime::parse_from_rfc3339(closed["closed_at"].as_str().unwrap()).unwrap();
    assert_eq!(at.to_rfc3339(), "2026-12-01T10:30:00+00:00");
    assert_eq!(
        api.incidents().await.len(),
        1,
        "the repeat opened nothing new"
    );

    let m = wait_metric(
        &relay,
        r#"srp_relay_incidents_forwarded_total{action="close"}"#,
        1.0,
    )
    .await;
    assert_eq!(
        metric(&m, r#"srp_relay_incidents_dropped_total{action="open"}"#),
        Some(1.0),
        "the unknown project is dropped: {m}"
    );
    // Slack got its messages as usual, and no incident call went there.
    slack
        .wait_for("slack messages", WAIT, |d| d.len() == 3)
        .await;
    assert!(slack
        .delivered()
        .iter()
        .all(|r| !r.body.to_string().contains("incident_open")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_alert_opens_and_its_resolve_closes_an_incident_in_srp_api() {
    opens_and_closes(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_shared_outbox_a_project_alert_opens_and_closes_an_incident() {
    let Some(db) = common::pg::PgSchema::create("incidents").await else {
        return;
    };
    opens_and_closes(Some(&db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_that_is_down_at_first_still_gets_the_incident_and_slack_does_not_wait() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut api = Api::start(dir.path(), port).await;
    api.stop();
    let slack = MockSlack::start().await;
    let args = relay_args(&slack, &api.url(""), &api.token_file, None);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut relay = Relay::start(&dir.path().join("data"), &args);

    send(
        &relay,
        &notification(
            "firing",
            vec![alert("firing", "shop", "fpdown", "0001-01-01T00:00:00Z")],
        ),
    )
    .await;
    // Slack is not held up by the API being down.
    slack
        .wait_for("the slack message", WAIT, |d| d.len() == 1)
        .await;
    let end = Instant::now() + WAIT;
    loop {
        let m = relay.metrics().await;
        if metric(&m, r#"srp_relay_incident_failures_total{reason="network"}"#)
            .is_some_and(|n| n >= 2.0)
        {
            assert_eq!(
                metric(&m, r#"srp_relay_incidents_forwarded_total{action="open"}"#),
                Some(0.0)
            );
            break;
        }
        assert!(Instant::now() < end, "no failed attempt counted: {m}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A crash while the API is down loses nothing either.
    relay.crash_and_restart();
    api.run();
    api.wait_incident("the incident opens once the API is back", "fpdown", |i| {
        i["closed_at"].is_null()
    })
    .await;
    wait_metric(
        &relay,
        r#"srp_relay_incidents_forwarded_total{action="open"}"#,
        1.0,
    )
    .await;
    assert_eq!(api.incidents().await.len(), 1);
}

#[test]
fn api_flags_go_together() {
    let (ok, _, err) = run_cli(&["--api-url", "http://127.0.0.1:1"]);
    assert!(!ok && err.contains("--api-token-file"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let empty = write_file(dir.path(), "t", "\n");
    let (ok, _, err) = run_cli(&[
        "--api-url",
        "http://127.0.0.1:1",
        "--api-token-file",
        empty.to_str().unwrap(),
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("srp-api token"), "{err}");
}

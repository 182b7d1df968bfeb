//! Test helpers: a mock Slack on a real loopback socket, and the relay binary
//! started as a real process (so kill -9 and restarts are real).
#![allow(dead_code)]

pub mod am;
pub mod pg;

use axum::body::Bytes;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use srp_testkit::Daemon;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the mock answers one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    Ok,
    /// 429 with this Retry-After (seconds).
    RateLimit(u64),
    ServerError,
    /// Never answer (until the client gives up).
    Hang,
    /// Answer ok after this many milliseconds.
    Delay(u64),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    /// `chat.postMessage`, `chat.update` or `webhook`.
    pub method: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub at: Instant,
    pub answered: Behaviour,
    /// The ts the mock gave a successful postMessage.
    pub ts: Option<String>,
}

#[derive(Default)]
struct MockState {
    script: VecDeque<Behaviour>,
    /// Probabilities of 429 and 500 when the script is empty.
    random: Option<(f64, f64)>,
    /// Answer for everything when the script is empty and not random.
    fallback: Option<Behaviour>,
    log: Vec<Recorded>,
    next_ts: u64,
    /// Accepted answers take this long (deliveries stay on the wire).
    ok_delay_ms: u64,
}

#[derive(Clone)]
pub struct MockSlack {
    pub addr: SocketAddr,
    state: Arc<Mutex<MockState>>,
}

impl MockSlack {
    pub async fn start() -> MockSlack {
        let state = Arc::new(Mutex::new(MockState {
            next_ts: 1_700_000_000,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/api/{method}", post(api))
            .route("/hooks/{*rest}", post(hook))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockSlack { addr, state }
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }
    pub fn webhook_url(&self) -> String {
        format!("http://{}/hooks/T000/B000/XXXX", self.addr)
    }
    pub fn script(&self, b: &[Behaviour]) {
        self.state.lock().unwrap().script.extend(b.iter().copied());
    }
    pub fn set_random(&self, p429: f64, p500: f64) {
        self.state.lock().unwrap().random = Some((p429, p500));
    }
    pub fn set_fallback(&self, b: Option<Behaviour>) {
        let mut s = self.state.lock().unwrap();
        s.fallback = b;
        s.random = None;
    }
    /// Make every accepted answer take `ms` milliseconds.
    pub fn set_ok_delay(&self, ms: u64) {
        self.state.lock().unwrap().ok_delay_ms = ms;
    }
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }
    /// Requests that Slack accepted.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.answered.accepts())
            .collect()
    }

    /// Wait until `pred` holds on the accepted requests.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> Vec<Recorded> {
        let end = Instant::now() + timeout;
        loop {
            let d = self.delivered();
            if pred(&d) {
                return d;
            }
            if Instant::now() > end {
                panic!(
                    "timed out waiting for {what}; mock saw: {:#?}",
                    self.requests()
                        .iter()
                        .map(|r| (&r.method, r.answered, title_of(&r.body)))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The header text of a message body as sent to Slack.
pub fn title_of(body: &Value) -> String {
    body["attachments"][0]["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn decide(s: &mut MockState) -> Behaviour {
    match decide_plain(s) {
        Behaviour::Ok if s.ok_delay_ms > 0 => Behaviour::Delay(s.ok_delay_ms),
        b => b,
    }
}

fn decide_plain(s: &mut MockState) -> Behaviour {
    if let Some(b) = s.script.pop_front() {
        return b;
    }
    if let Some((p429, p500)) = s.random {
        let x = fastrand::f64();
        return if x < p429 {
            Behaviour::RateLimit(1)
        } else if x < p429 + p500 {
            Behaviour::ServerError
        } else {
            Behaviour::Ok
        };
    }
    s.fallback.unwrap_or(Behaviour::Ok)
}

async fn answer(
    state: Arc<Mutex<MockState>>,
    method: String,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (behaviour, ts) = {
        let mut s = state.lock().unwrap();
        let b = decide(&mut s);
        let ts = if b.accepts() && method == "chat.postMessage" {
            s.next_ts += 1;
            Some(format!("{}.000100", s.next_ts))
        } else {
            None
        };
        s.log.push(Recorded {
            method: method.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
            body: parsed.clone(),
            at: Instant::now(),
            answered: b,
            ts: ts.clone(),
        });
        (b, ts)
    };
    match behaviour {
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Behaviour::RateLimit(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", secs.to_string())],
            if method == "webhook" {
                "rate_limited".to_string()
            } else {
                json!({"ok": false, "error": "ratelimited"}).to_string()
            },
        )
            .into_response(),
        Behaviour::ServerError => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Behaviour::Delay(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ok_answer(&method, &parsed, ts)
        }
        Behaviour::Ok => ok_answer(&method, &parsed, ts),
    }
}

fn ok_answer(method: &str, parsed: &Value, ts: Option<String>) -> Response {
    match method {
        "webhook" => (StatusCode::OK, [("content-type", "text/plain")], "ok").into_response(),
        "chat.postMessage" => {
            let ts = ts.unwrap();
            let channel = parsed["channel"].as_str().unwrap_or("C0").to_string();
            json_ok(json!({"ok": true, "channel": channel, "ts": ts,
                    "message": {"type": "message", "ts": ts, "text": parsed["text"]}}))
        }
        "chat.update" => json_ok(json!({"ok": true, "channel": parsed["channel"],
                "ts": parsed["ts"], "text": parsed["text"],
                "message": {"text": parsed["text"]}})),
        _ => json_ok(json!({"ok": false, "error": "unknown_method"})),
    }
}

impl Behaviour {
    /// Whether the request ends accepted by Slack.
    pub fn accepts(self) -> bool {
        matches!(self, Behaviour::Ok | Behaviour::Delay(_))
    }
}

fn json_ok(v: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

async fn api(
    State(s): State<Arc<Mutex<MockState>>>,
    AxPath(method): AxPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(s, method, headers, body).await
}

async fn hook(State(s): State<Arc<Mutex<MockState>>>, headers: HeaderMap, body: Bytes) -> Response {
    answer(s, "webhook".into(), headers, body).await
}

/// The relay as a child process (killed by its pid when dropped).
pub struct Relay {
    pub daemon: Daemon,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub args: Vec<String>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_srp-slack-relay")
}

impl Relay {
    /// Start with `--listen 127.0.0.1:0` unless `args` has a --listen.
    pub fn start(data_dir: &Path, args: &[&str]) -> Relay {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if !all.iter().any(|a| a == "--listen") {
            all.extend(["--listen".into(), "127.0.0.1:0".into()]);
        }
        all.extend(["--data-dir".into(), data_dir.display().to_string()]);
        Self::spawn(data_dir, all)
    }

    fn spawn(data_dir: &Path, args: Vec<String>) -> Relay {
        let daemon = Daemon::spawn(
            Command::new(bin())
                .args(&args)
                .env_remove("SRP_SLACK_TOKEN")
                .env_remove("SRP_SLACK_WEBHOOK_URL")
                .env_remove("SRP_RELAY_TOKEN")
                .env("SRP_LOG_LEVEL", "info"),
        );
        Relay {
            addr: daemon.addr,
            daemon,
            data_dir: data_dir.to_path_buf(),
            args,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// kill -9, like a crash.
    pub fn kill9(&mut self) {
        self.daemon.kill();
    }

    /// kill -9 and start again with the same arguments and data.
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        let args = self.args.clone();
        let fresh = Relay::spawn(&self.data_dir, args);
        drop(std::mem::replace(self, fresh));
    }

    pub fn logs(&self) -> String {
        self.daemon.log()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// The value of one sample line (`name{labels} value`) in a scrape.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// An Alertmanager webhook body.
pub fn am_payload(group: &str, status: &str, alertname: &str, summary: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": group,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "slack",
        "groupLabels": {"alertname": alertname},
        "commonLabels": {"alertname": alertname, "severity": "critical"},
        "commonAnnotations": {"summary": summary},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{
            "status": status,
            "labels": {"alertname": alertname, "severity": "critical", "instance": "web-1"},
            "annotations": {"summary": summary, "description": "details here"},
            "startsAt": "2026-11-28T10:00:00Z",
            "endsAt": if status == "resolved" { "2026-11-28T10:05:00Z" } else { "0001-01-01T00:00:00Z" },
            "generatorURL": "http://prometheus.example:9090/graph",
            "fingerprint": format!("fp-{group}")
        }]
    })
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Rows in the outbox and dedupe tables, read with SQLite directly.
pub fn stored_rows(data_dir: &Path) -> (i64, i64) {
    let c = rusqlite::Connection::open(data_dir.join("relay.db")).unwrap();
    let o = c
        .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    let d = c
        .query_row("SELECT COUNT(*) FROM dedupe", [], |r| r.get(0))
        .unwrap();
    (o, d)
}

pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Wait until a series reaches `want`; returns the scrape.
pub async fn wait_metric(relay: &Relay, series: &str, want: f64) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let m = relay.metrics().await;
        if metric(&m, series) == Some(want) {
            return m;
        }
        assert!(
            Instant::now() < end,
            "{series} never became {want}: {:?}",
            metric(&m, series)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

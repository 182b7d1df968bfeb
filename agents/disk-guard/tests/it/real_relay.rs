//! The real srp-slack-relay binary, in log-sink mode with `--sink-file`, an
//! inbound bearer token and a SQLite outbox in a temp dir: what the guard's
//! drain notice becomes once the relay has stored and "delivered" it.
//!
//! The binary is the workspace's `target/debug/srp-slack-relay` (or
//! `SRP_SLACK_RELAY_BIN`); when it is missing the test builds it with
//! `cargo build -p srp-slack-relay`.

use srp_testkit::daemon::Daemon;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct RealRelay {
    pub daemon: Daemon,
    pub sink: PathBuf,
    _dir: tempfile::TempDir,
}

fn relay_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SRP_SLACK_RELAY_BIN") {
        return PathBuf::from(p);
    }
    // The test binary lives in target/<profile>/deps; the relay beside deps.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("srp-slack-relay");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "srp-slack-relay"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cannot run cargo to build srp-slack-relay");
        assert!(status.success(), "cargo build -p srp-slack-relay failed");
    }
    assert!(
        bin.exists(),
        "no srp-slack-relay at {} (set SRP_SLACK_RELAY_BIN)",
        bin.display()
    );
    bin
}

impl RealRelay {
    pub fn start(token: &str) -> RealRelay {
        let dir = tempfile::tempdir().unwrap();
        let sink = dir.path().join("sink.jsonl");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, token).unwrap();
        let daemon = Daemon::spawn(
            Command::new(relay_bin())
                .arg("--listen")
                .arg("127.0.0.1:0")
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .arg("--auth-token-file")
                .arg(&token_file)
                .arg("--sink-file")
                .arg(&sink)
                // Nothing from the environment may turn Slack on.
                .env_remove("SRP_SLACK_WEBHOOK_URL")
                .env_remove("SRP_SLACK_TOKEN")
                .env_remove("SRP_SLACK_TOKEN_FILE")
                .env_remove("SRP_DATABASE_URL"),
        );
        RealRelay {
            daemon,
            sink,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        self.daemon.url("")
    }

    /// The sink's lines once there are at least `n` (the relay delivers
    /// from its outbox a moment after it acknowledged).
    pub async fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines: Vec<serde_json::Value> = std::fs::read_to_string(&self.sink)
                .unwrap_or_default()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "the relay's sink has {} of {n} messages after 30 s: {lines:?}\nrelay log:\n{}",
                lines.len(),
                self.daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// srp_relay_received_total{source="jenkins"} from its /metrics.
    pub async fn received_from_jenkins(&self) -> f64 {
        let text = reqwest::get(self.daemon.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("srp_relay_received_total{source=\"jenkins\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

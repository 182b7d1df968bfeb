//! The real Alertmanager (Debian's prometheus-alertmanager) with a webhook
//! receiver pointing at the relay, bearer token included: an alert posted to
//! Alertmanager's API reaches the mock Slack as FIRING, and as RESOLVED (a
//! thread reply plus an edit of the original) when it ends.

mod common;

use common::*;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Alertmanager {
    child: Child,
    url: String,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        // Stop only the process we started, by its pid.
        terminate(self.child.id());
        let _ = self.child.wait();
    }
}

fn terminate(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

fn alertmanager_bin() -> Option<&'static str> {
    ["/usr/bin/prometheus-alertmanager", "/usr/bin/alertmanager"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

async fn start_alertmanager(
    dir: &std::path::Path,
    relay_url: &str,
    token_file: &str,
) -> Alertmanager {
    let config = format!(
        r#"
route:
  receiver: relay
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: {relay_url}/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
"#
    );
    let cfg = write_file(dir, "alertmanager.yml", &config);
    let storage = dir.join("am-data");
    std::fs::create_dir_all(&storage).unwrap();
    let port = free_port();
    let bin = alertmanager_bin().expect("prometheus-alertmanager is installed (scripts/setup.sh)");
    let log = std::fs::File::create(dir.join("am.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", storage.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.external-url=http://127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/-/ready", am.url)).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < end,
            "alertmanager not ready: {}",
            std::fs::read_to_string(dir.join("am.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    am
}

#[tokio::test]
async fn alert_through_real_alertmanager_fires_and_resolves_in_slack() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = write_file(dir.path(), "relay-token", "am-to-relay-secret\n");
    let relay = Relay::start(
        &dir.path().join("relay-data"),
        &[
            "--auth-token-file",
            token.to_str().unwrap(),
            "--slack-token",
            "xoxb-test",
            "--slack-channel",
            "C0ALERTS",
            "--slack-api-url",
            &slack.api_url(),
            "--per-destination-interval",
            "100ms",
        ],
    );
    let am = start_alertmanager(
        dir.path(),
        &format!("http://{}", relay.addr),
        token.to_str().unwrap(),
    )
    .await;

    let starts = chrono::Utc::now();
    let alert = |ends: Option<chrono::DateTime<chrono::Utc>>| {
        let mut a = json!({
            "labels": {"alertname": "APIDown", "severity": "critical", "instance": "api-1:8000", "job": "srp-api"},
            "annotations": {
                "summary": "srp-api on api-1:8000 is down",
                "description": "The API has not answered scrapes for 1 minute.",
                "runbook_url": "https://runbooks.example/APIDown"
            },
            "startsAt": starts.to_rfc3339(),
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22srp-api%22%7D+%3D%3D+0"
        });
        if let Some(e) = ends {
            a["endsAt"] = e.to_rfc3339().into();
        }
        json!([a])
    };
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{}/api/v2/alerts", am.url))
        .json(&alert(None))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let d = slack
        .wait_for("FIRING from Alertmanager", Duration::from_secs(60), |d| {
            d.iter()
                .any(|r| title_of(&r.body).starts_with("[FIRING:1] APIDown"))
        })
        .await;
    let firing = d
        .iter()
        .find(|r| title_of(&r.body).starts_with("[FIRING:1] APIDown"))
        .unwrap();
    assert_eq!(firing.method, "chat.postMessage");
    let body = firing.body.to_string();
    assert!(body.contains("srp-api on api-1:8000 is down"), "{body}");
    assert!(body.contains("https://runbooks.example/APIDown"), "{body}");
    assert!(
        body.contains(&format!(
            "{}/#/silences/new?filter=%7Balertname%3D%22APIDown%22",
            am.url
        )),
        "{body}"
    );
    let ts = firing.ts.clone().unwrap();
    let m = relay.metrics().await;
    assert!(metric(&m, "srp_relay_received_total{source=\"alertmanager\"}").unwrap() >= 1.0);

    // End it: the same alert with endsAt in the past.
    let r = c
        .post(format!("{}/api/v2/alerts", am.url))
        .json(&alert(Some(
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let d = slack
        .wait_for("RESOLVED from Alertmanager", Duration::from_secs(60), |d| {
            d.iter().any(|r| r.method == "chat.update")
                && d.iter()
                    .any(|r| title_of(&r.body).starts_with("[RESOLVED] APIDown"))
        })
        .await;
    let reply = d
        .iter()
        .find(|r| r.method == "chat.postMessage" && title_of(&r.body).starts_with("[RESOLVED]"))
        .unwrap();
    assert_eq!(reply.body["thread_ts"], ts.as_str());
    let update = d.iter().find(|r| r.method == "chat.update").unwrap();
    assert_eq!(update.body["ts"], ts.as_str());
    drop(am);
}

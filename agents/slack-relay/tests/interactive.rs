//! Interactive messages against the real Alertmanager: a firing message in
//! bot-token mode carries silence buttons with the matchers shown; a signed
//! press creates the silence (amtool sees it), the next notification of the
//! group is suppressed, the message is edited and the action is in the
//! audit list; an unsigned, stale, wrongly signed, malformed or re-played
//! press creates nothing and is counted.

mod common;

use common::am::{amtool_bin, Alertmanager};
use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn silences(am: &Alertmanager) -> Vec<Value> {
    let out = Command::new(amtool_bin())
        .args(["silence", "query", "-o", "json"])
        .arg(format!("--alertmanager.url={}", am.url))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn form(payload: &Value) -> String {
    let enc: String =
        url::form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect();
    format!("payload={enc}")
}

async fn press(relay: &Relay, body: &str, ts: i64, secret: Option<&str>) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new()
        .post(relay.url("/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(s) = secret {
        let t = ts.to_string();
        req = req.header("x-slack-request-timestamp", &t).header(
            "x-slack-signature",
            srp_slack_relay::signature::sign(s.as_bytes(), &t, body.as_bytes()),
        );
    }
    req.send().await.unwrap().status()
}

fn actions(body: &Value) -> Option<Value> {
    body["attachments"][0]["blocks"]
        .as_array()?
        .iter()
        .find(|b| b["block_id"] == "srp_actions")
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_press_silences_in_the_real_alertmanager_and_nothing_else_does() {
    press_scenario(None).await;
}

/// The same on the shared outbox: used signatures and the audit list live
/// in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_shared_outbox_a_signed_press_silences_and_nothing_else_does() {
    let Some(db) = common::pg::PgSchema::create("interactive").await else {
        return;
    };
    press_scenario(Some(&db)).await;
}

async fn press_scenario(db: Option<&common::pg::PgSchema>) {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = write_file(dir.path(), "signing-secret", &format!("{SECRET}\n"));
    // The relay needs the Alertmanager's URL and the Alertmanager the
    // relay's: fix the relay's port first.
    let listen = format!("127.0.0.1:{}", free_port());
    let am_port = free_port();
    let am_url = format!("http://127.0.0.1:{am_port}");
    let data = dir.path().join("data");
    let mut shared = Vec::new();
    if let Some(db) = db {
        shared.extend(["--database-url", db.url.as_str()]);
    }
    let relay = Relay::start(
        &data,
        &[
            &shared[..],
            &[
                "--listen",
                &listen,
                "--slack-token",
                "xoxb-test",
                "--slack-channel",
                "C0ALERTS",
                "--slack-api-url",
                &slack.api_url(),
                "--per-destination-interval",
                "100ms",
                "--slack-signing-secret-file",
                secret.to_str().unwrap(),
                "--alertmanager-url",
                &am_url,
            ],
        ]
        .concat(),
    );
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
      - url: http://{listen}/alertmanager
"#
    );
    let am = Alertmanager::start_on(dir.path(), "am", &config, am_port).await;
    let alert = |instance: &str| {
        json!([{
            "labels": {"alertname": "Interact", "severity": "critical", "instance": instance},
            "annotations": {"summary": format!("{instance} is down")}
        }])
    };
    am.post_alerts(&alert("web-1")).await;
    let posted = slack
        .wait_for("the firing message", Duration::from_secs(30), |d| {
            d.iter().any(|r| r.method == "chat.postMessage")
        })
        .await;
    let parent = posted
        .iter()
        .find(|r| r.method == "chat.postMessage")
        .unwrap();
    let text = parent.body.to_string();
    assert!(
        text.contains(r#"Silence matches: `alertname=\"Interact\"`"#),
        "the matchers are shown before the silence exists: {text}"
    );
    let buttons = actions(&parent.body).expect("buttons on the firing message");
    let silence_1h = buttons["elements"][0].clone();
    assert_eq!(silence_1h["action_id"], "silence_1h");

    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice"},
        "channel": {"id": "C0ALERTS"},
        "container": {"type": "message", "channel_id": "C0ALERTS", "message_ts": parent.ts},
        "message": {"ts": parent.ts, "text": parent.body["text"],
                    "attachments": parent.body["attachments"]},
        "actions": [{"action_id": "silence_1h", "block_id": "srp_actions",
                     "value": silence_1h["value"], "type": "button"}]
    });
    let body = form(&payload);
    let now = chrono::Utc::now().timestamp();
    use reqwest::StatusCode as S;
    assert_eq!(
        press(&relay, &body, now, None).await,
        S::UNAUTHORIZED,
        "unsigned"
    );
    assert_eq!(
        press(&relay, &body, now - 301, Some(SECRET)).await,
        S::UNAUTHORIZED,
        "stale"
    );
    assert_eq!(
        press(&relay, &body, now, Some("not-the-secret")).await,
        S::UNAUTHORIZED,
        "wrong secret"
    );
    let mut bad = payload.clone();
    bad["actions"][0]["value"] = json!({"m": {}, "d": "1h"}).to_string().into();
    assert_eq!(
        press(&relay, &form(&bad), now, Some(SECRET)).await,
        S::BAD_REQUEST,
        "malformed"
    );
    assert!(
        silences(&am).is_empty(),
        "nothing created by refused presses"
    );

    // The signed press, then the very same request again.
    let t = now.to_string();
    let sig = srp_slack_relay::signature::sign(SECRET.as_bytes(), &t, body.as_bytes());
    let send = || {
        reqwest::Client::new()
            .post(relay.url("/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &t)
            .header("x-slack-signature", &sig)
            .body(body.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), S::OK);
    assert_eq!(send().await.unwrap().status(), S::CONFLICT, "replayed");
    let made = silences(&am);
    assert_eq!(made.len(), 1, "{made:?}");
    let id = made[0]["id"].as_str().unwrap().to_string();
    assert_eq!(made[0]["createdBy"], "alice");
    assert_eq!(made[0]["matchers"][0]["name"], "alertname");
    assert_eq!(made[0]["matchers"][0]["value"], "Interact");

    // The message now says who silenced it and offers to expire it.
    let edited = slack
        .wait_for("the edit", Duration::from_secs(10), |d| {
            d.iter().any(|r| r.method == "chat.update")
        })
        .await;
    let update = edited.iter().find(|r| r.method == "chat.update").unwrap();
    let text = update.body.to_string();
    assert!(text.contains("Silenced by <@U0ALICE> for 1h"), "{text}");
    assert!(text.contains(&id), "{text}");
    assert_eq!(
        actions(&update.body).unwrap()["elements"][0]["action_id"],
        "expire"
    );
    assert_eq!(update.body["ts"].as_str(), parent.ts.as_deref());

    // The next notification of the group is suppressed.
    let posts = |d: &[Recorded]| d.iter().filter(|r| r.method == "chat.postMessage").count();
    let before = posts(&slack.delivered());
    am.post_alerts(&alert("web-2")).await;
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = reqwest::get(format!(
            "{}/api/v2/alerts?filter=instance%3D%22web-2%22",
            am.url
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        if v[0]["status"]["state"] == "suppressed" {
            assert_eq!(v[0]["status"]["silencedBy"][0], id.as_str());
            break;
        }
        assert!(Instant::now() < end, "web-2 never suppressed: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Past group_wait and group_interval: nothing new was posted.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(posts(&slack.delivered()), before, "{:?}", slack.requests());

    // Audit list and counters.
    let (ok, out, err) = run_cli(
        &[
            &[
                "audit",
                "list",
                "--json",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &shared[..],
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let audit: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(audit.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(audit[0]["user"], "alice");
    assert_eq!(audit[0]["action"], "silence");
    assert_eq!(audit[0]["silence_id"], id.as_str());
    let m = relay.metrics().await;
    for (series, want) in [
        (
            r#"srp_relay_interactions_total{action="silence",result="done"}"#,
            1.0,
        ),
        (
            r#"srp_relay_interactions_total{action="silence",result="replayed"}"#,
            1.0,
        ),
        (
            r#"srp_relay_interactions_total{action="unknown",result="unsigned"}"#,
            1.0,
        ),
        (
            r#"srp_relay_interactions_total{action="unknown",result="stale"}"#,
            1.0,
        ),
        (
            r#"srp_relay_interactions_total{action="unknown",result="bad_signature"}"#,
            1.0,
        ),
        (
            r#"srp_relay_interactions_total{action="unknown",result="malformed"}"#,
            1.0,
        ),
    ] {
        assert_eq!(metric(&m, series), Some(want), "{series}\n{m}");
    }
}

//! The relay as a process against a mock Slack: delivery modes, threads
//! across restarts, retries, pacing, dead letters, bad input, metrics.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// One way to break a good payload.
type Mutation = Box<dyn Fn(&mut Value)>;

async fn post(url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn webhook_mode_delivers_once_and_posts_resolve_as_new_message() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let token = write_file(dir.path(), "token", "s3cret\n");
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-webhook-url",
            &slack.webhook_url(),
            "--auth-token-file",
            token.to_str().unwrap(),
        ],
    );
    let url = relay.url("/alertmanager");
    let firing = am_payload(
        "{}:{alertname=\"DiskSpaceWarning\"}",
        "firing",
        "DiskSpaceWarning",
        "Disk almost full",
    );

    let (s, b) = post(&url, Some("s3cret"), &firing).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("accepted")), "{b}");
    // An Alertmanager retry / the HA peer's copy.
    let (s, b) = post(&url, Some("s3cret"), &firing).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("duplicate")), "{b}");

    let d = slack
        .wait_for("the firing message", WAIT, |d| !d.is_empty())
        .await;
    assert_eq!(d[0].method, "webhook");
    assert_eq!(title_of(&d[0].body), "[FIRING:1] DiskSpaceWarning");
    assert_eq!(d[0].body["attachments"][0]["color"], "#E01E5A");
    assert!(d[0].body["text"]
        .as_str()
        .unwrap()
        .contains("Disk almost full"));

    let mut resolved = firing.clone();
    resolved["status"] = "resolved".into();
    resolved["alerts"][0]["status"] = "resolved".into();
    let (s, _) = post(&url, Some("s3cret"), &resolved).await;
    assert_eq!(s, 200);
    let d = slack
        .wait_for("the resolved message", WAIT, |d| d.len() >= 2)
        .await;
    assert_eq!(title_of(&d[1].body), "[RESOLVED] DiskSpaceWarning");
    assert_eq!(d[1].method, "webhook");

    // Nothing else arrives: the duplicate was not delivered.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.delivered().len(), 2);
    let m = relay.metrics().await;
    assert_eq!(metric(&m, "srp_relay_duplicates_total"), Some(1.0));
    assert_eq!(
        metric(&m, "srp_relay_received_total{source=\"alertmanager\"}"),
        Some(3.0)
    );
    assert_eq!(
        metric(&m, "srp_relay_delivered_total{destination=\"default\"}"),
        Some(2.0)
    );
}

#[tokio::test]
async fn inbound_auth_bearer_and_basic() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "hunter2");
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--auth-token",
            "tok",
            "--basic-auth-user",
            "am",
            "--basic-auth-password-file",
            pw.to_str().unwrap(),
        ],
    );
    let url = relay.url("/alertmanager");
    let body = am_payload("g", "firing", "A", "s");
    let c = reqwest::Client::new();
    let none = c.post(&url).json(&body).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().get("www-authenticate").is_some());
    assert_eq!(post(&url, Some("wrong"), &body).await.0, 401);
    let basic_bad = c
        .post(&url)
        .basic_auth("am", Some("nope"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(basic_bad.status(), 401);
    assert_eq!(post(&url, Some("tok"), &body).await.0, 200);
    let basic = c
        .post(&url)
        .basic_auth("am", Some("hunter2"))
        .json(&am_payload("g2", "firing", "B", "s"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    // /health and /metrics stay open for probes and Prometheus.
    assert_eq!(
        reqwest::get(relay.url("/health")).await.unwrap().status(),
        200
    );
    assert_eq!(
        reqwest::get(relay.url("/metrics")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn malformed_payloads_get_4xx_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let relay = Relay::start(&data, &["--max-body-bytes", "65536"]);
    let good = am_payload("g", "firing", "A", "s");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", vec![]),
        ("not JSON", b"hello".to_vec()),
        ("truncated JSON", b"{\"version\":\"4\",".to_vec()),
        ("invalid UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
        ("JSON array", b"[]".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("too large", {
            let mut v = good.clone();
            v["commonAnnotations"]["description"] = "x".repeat(70_000).into();
            v.to_string().into_bytes()
        }),
    ];
    let mut variants: Vec<(&str, Mutation)> = vec![
        ("wrong version", Box::new(|v| v["version"] = "3".into())),
        ("version as number", Box::new(|v| v["version"] = 4.into())),
        (
            "missing groupKey",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("groupKey");
            }),
        ),
        ("empty groupKey", Box::new(|v| v["groupKey"] = "".into())),
        (
            "unknown status",
            Box::new(|v| v["status"] = "burning".into()),
        ),
        (
            "missing alerts",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("alerts");
            }),
        ),
        ("empty alerts", Box::new(|v| v["alerts"] = json!([]))),
        (
            "alerts not a list",
            Box::new(|v| v["alerts"] = json!({"a": 1})),
        ),
        (
            "alert without labels",
            Box::new(|v| {
                v["alerts"][0].as_object_mut().unwrap().remove("labels");
            }),
        ),
        (
            "alert with empty labels",
            Box::new(|v| v["alerts"][0]["labels"] = json!({})),
        ),
        (
            "label value not a string",
            Box::new(|v| v["alerts"][0]["labels"]["x"] = 5.into()),
        ),
        (
            "bad startsAt",
            Box::new(|v| v["alerts"][0]["startsAt"] = "yesterday".into()),
        ),
        (
            "missing startsAt",
            Box::new(|v| {
                v["alerts"][0].as_object_mut().unwrap().remove("startsAt");
            }),
        ),
        (
            "bad alert status",
            Box::new(|v| v["alerts"][0]["status"] = "on".into()),
        ),
        (
            "negative truncatedAlerts",
            Box::new(|v| v["truncatedAlerts"] = (-1).into()),
        ),
    ];
    for (name, f) in variants.drain(..) {
        let mut v = good.clone();
        f(&mut v);
        cases.push((name, v.to_string().into_bytes()));
    }
    let c = reqwest::Client::new();
    for (name, body) in &cases {
        let r = c
            .post(relay.url("/alertmanager"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!((400..500).contains(&status), "{name}: got {status} {text}");
        if *name != "too large" {
            assert_eq!(status, 400, "{name}: {text}");
            assert!(text.contains("error"), "{name}: {text}");
        } else {
            assert_eq!(status, 413, "{name}");
        }
    }
    let jenkins_bad: Vec<(&str, &str)> = vec![
        ("missing result", r#"{"job":"srp","build":1}"#),
        ("bad result", r#"{"job":"srp","build":1,"result":"MAYBE"}"#),
        (
            "build not a number",
            r#"{"job":"srp","build":"one","result":"SUCCESS"}"#,
        ),
        ("empty job", r#"{"job":"","build":1,"result":"SUCCESS"}"#),
        (
            "bad url",
            r#"{"job":"srp","build":1,"result":"SUCCESS","url":"::"}"#,
        ),
        (
            "unknown field",
            r#"{"job":"srp","build":1,"result":"SUCCESS","stgae":"x"}"#,
        ),
    ];
    for (name, body) in jenkins_bad {
        let r = c
            .post(relay.url("/jenkins"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "jenkins {name}");
    }
    let get = c.get(relay.url("/alertmanager")).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(stored_rows(&data), (0, 0), "nothing stored");
    let m = relay.metrics().await;
    assert_eq!(
        metric(&m, "srp_relay_received_total{source=\"alertmanager\"}"),
        Some(0.0)
    );
    // And the good payload is accepted, so the cases above failed for their own reason.
    assert_eq!(post(&relay.url("/alertmanager"), None, &good).await.0, 200);
    assert_eq!(stored_rows(&data), (1, 1));
}

#[tokio::test]
async fn bot_mode_threads_the_resolve_and_edits_the_original_across_a_crash() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--slack-token",
        "xoxb-test",
        "--slack-channel",
        "C0ALERTS",
        "--slack-api-url",
        &slack.api_url(),
    ];
    let mut relay = Relay::start(&dir.path().join("data"), &args);
    let firing = am_payload("grp-1", "firing", "APIDown", "API is down");
    assert_eq!(
        post(&relay.url("/alertmanager"), None, &firing).await.0,
        200
    );
    let d = slack.wait_for("postMessage", WAIT, |d| !d.is_empty()).await;
    assert_eq!(d[0].method, "chat.postMessage");
    assert_eq!(d[0].authorization.as_deref(), Some("Bearer xoxb-test"));
    assert_eq!(d[0].body["channel"], "C0ALERTS");
    let ts = d[0].ts.clone().unwrap();
    // Crash only once the relay has recorded the delivery (a crash between
    // Slack's answer and that commit means one repeat: at-least-once).
    wait_metric(
        &relay,
        "srp_relay_delivered_total{destination=\"default\"}",
        1.0,
    )
    .await;

    // The message reference survives a crash.
    relay.crash_and_restart();
    let mut resolved = firing.clone();
    resolved["status"] = "resolved".into();
    resolved["alerts"][0]["status"] = "resolved".into();
    assert_eq!(
        post(&relay.url("/alertmanager"), None, &resolved).await.0,
        200
    );
    let d = slack
        .wait_for("reply and update", WAIT, |d| d.len() >= 3)
        .await;
    let reply = &d[1];
    assert_eq!(reply.method, "chat.postMessage");
    assert_eq!(reply.body["thread_ts"], ts.as_str());
    assert_eq!(title_of(&reply.body), "[RESOLVED] APIDown");
    let update = &d[2];
    assert_eq!(update.method, "chat.update");
    assert_eq!(update.body["ts"], ts.as_str());
    assert_eq!(update.body["channel"], "C0ALERTS");
    assert_eq!(update.body["attachments"][0]["color"], "#2EB67D");
}

#[tokio::test]
async fn retries_429_after_retry_after_and_5xx_and_hangs_with_backoff() {
    let slack = MockSlack::start().await;
    slack.script(&[
        Behaviour::RateLimit(1),
        Behaviour::ServerError,
        Behaviour::Hang,
        Behaviour::Ok,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-webhook-url",
            &slack.webhook_url(),
            "--retry-base",
            "100ms",
            "--slack-timeout",
            "1s",
            "--per-destination-interval",
            "10ms",
        ],
    );
    assert_eq!(
        post(
            &relay.url("/alertmanager"),
            None,
            &am_payload("g", "firing", "A", "s")
        )
        .await
        .0,
        200
    );
    slack
        .wait_for("delivery after failures", WAIT, |d| d.len() == 1)
        .await;
    let all = slack.requests();
    assert_eq!(all.len(), 4, "{all:#?}");
    // Retry-After: 1 was honoured (a lower bound, so load cannot break it).
    let gap = all[1].at.duration_since(all[0].at);
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    let m = wait_metric(&relay, "srp_relay_delivery_latency_seconds_count", 1.0).await;
    assert_eq!(metric(&m, "srp_relay_rate_limited_total"), Some(1.0));
    assert_eq!(
        metric(&m, "srp_relay_failed_total{reason=\"server_error\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "srp_relay_failed_total{reason=\"timeout\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&m, "srp_relay_retries_total"), Some(3.0));
    assert_eq!(
        metric(&m, "srp_relay_delivery_latency_seconds_count"),
        Some(1.0)
    );
}

#[tokio::test]
async fn paces_each_destination_and_keeps_order() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-webhook-url",
            &slack.webhook_url(),
            "--per-destination-interval",
            "300ms",
        ],
    );
    for i in 0..4 {
        let p = am_payload(&format!("g{i}"), "firing", &format!("Alert{i}"), "s");
        assert_eq!(post(&relay.url("/alertmanager"), None, &p).await.0, 200);
    }
    let d = slack
        .wait_for("four messages", WAIT, |d| d.len() == 4)
        .await;
    for (i, r) in d.iter().enumerate() {
        assert_eq!(
            title_of(&r.body),
            format!("[FIRING:1] Alert{i}"),
            "in order"
        );
    }
    for w in d.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(
            gap >= Duration::from_millis(250),
            "burst not paced: {gap:?}"
        );
    }
}

#[tokio::test]
async fn dead_letters_are_listed_replayed_and_purged_from_the_cli() {
    dead_letter_cli(None).await;
}

/// The same commands on the shared outbox (`--database-url`), on the real
/// PostgreSQL.
#[tokio::test]
async fn dead_letters_on_the_shared_outbox_are_listed_replayed_and_purged() {
    let Some(db) = common::pg::PgSchema::create("dlq").await else {
        return;
    };
    dead_letter_cli(Some(&db)).await;
}

async fn dead_letter_cli(db: Option<&common::pg::PgSchema>) {
    let slack = MockSlack::start().await;
    slack.set_fallback(Some(Behaviour::ServerError));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut args = vec![
        "--slack-webhook-url".to_string(),
        slack.webhook_url(),
        "--retry-base".into(),
        "50ms".into(),
        "--max-attempts".into(),
        "3".into(),
        "--per-destination-interval".into(),
        "10ms".into(),
    ];
    // Where the CLI finds the outbox.
    let data_s = data.to_str().unwrap().to_string();
    let at: Vec<&str> = match db {
        Some(db) => {
            args.extend(["--database-url".into(), db.url.clone()]);
            vec!["--database-url", db.url.as_str()]
        }
        None => vec!["--data-dir", data_s.as_str()],
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let relay = Relay::start(&data, &args);
    let cli = |cmd: &[&str]| {
        let mut all = cmd.to_vec();
        all.extend(&at);
        run_cli(&all)
    };
    let p = am_payload("dl", "firing", "HighMemoryUsage", "memory");
    assert_eq!(post(&relay.url("/alertmanager"), None, &p).await.0, 200);
    let p = am_payload("dl2", "firing", "DiskFull", "disk");
    assert_eq!(post(&relay.url("/alertmanager"), None, &p).await.0, 200);
    let end = std::time::Instant::now() + WAIT;
    let listing = loop {
        let (ok, out, err) = cli(&["dlq", "list"]);
        assert!(ok, "{err}");
        if out.contains("HighMemoryUsage") && out.contains("DiskFull") {
            break out;
        }
        assert!(
            std::time::Instant::now() < end,
            "never dead-lettered: {out}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(listing.contains("HTTP 500"), "{listing}");
    assert!(listing.contains("after 3 attempts"), "{listing}");
    assert_eq!(slack.requests().len(), 6);
    let (_, json_out, _) = cli(&["dlq", "list", "--json"]);
    let rows: Value = serde_json::from_str(&json_out).unwrap();
    let id_of = |title: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["title"].as_str().unwrap().contains(title))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (replayed, purged) = (id_of("HighMemoryUsage"), id_of("DiskFull"));
    let end = std::time::Instant::now() + WAIT;
    while metric(&relay.metrics().await, "srp_relay_dead_letters") != Some(2.0) {
        assert!(
            std::time::Instant::now() < end,
            "srp_relay_dead_letters never became 2"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (ok, _, err) = cli(&["dlq", "replay"]);
    assert!(!ok && err.contains("--all"), "needs ids or --all: {err}");
    let (ok, _, err) = cli(&["dlq", "replay", "999999"]);
    assert!(!ok && err.contains("999999"), "{err}");
    let (ok, _, err) = cli(&["dlq", "purge"]);
    assert!(!ok && err.contains("--all"), "needs ids or --all: {err}");
    let (ok, _, err) = cli(&["dlq", "purge", "999999"]);
    assert!(!ok && err.contains("999999"), "{err}");

    slack.set_fallback(Some(Behaviour::Ok));
    let (ok, out, err) = cli(&["dlq", "replay", &replayed.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("requeued 1"), "{out}");
    let delivered = slack
        .wait_for("replayed delivery", WAIT, |d| d.len() == 1)
        .await;
    assert!(delivered[0].body.to_string().contains("HighMemoryUsage"));
    let (ok, out, err) = cli(&["dlq", "purge", &purged.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("purged 1"), "{out}");
    let (_, out, _) = cli(&["dlq", "list"]);
    assert!(out.contains("no dead letters"), "{out}");
    // Purged is gone, not delivered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.delivered().len(), 1);
    wait_metric(&relay, "srp_relay_dead_letters", 0.0).await;
}

#[tokio::test]
async fn rejected_by_slack_goes_straight_to_the_dead_letters() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An API base the mock does not serve: every call is a 404, which no
    // retry can fix, so the message is dead-lettered at once.
    let relay = Relay::start(
        &data,
        &[
            "--slack-token",
            "xoxb",
            "--slack-channel",
            "C1",
            "--slack-api-url",
            &format!("http://{}/nothing-here", slack.addr),
        ],
    );
    assert_eq!(
        post(
            &relay.url("/alertmanager"),
            None,
            &am_payload("r", "firing", "A", "s")
        )
        .await
        .0,
        200
    );
    let end = std::time::Instant::now() + WAIT;
    loop {
        let (_, out, _) = run_cli(&["dlq", "list", "--data-dir", data.to_str().unwrap()]);
        if out.contains("HTTP 404") {
            break;
        }
        assert!(std::time::Instant::now() < end, "{out}\n{}", relay.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = relay.metrics().await;
    assert_eq!(
        metric(&m, "srp_relay_failed_total{reason=\"rejected\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn routes_choose_the_channel_by_labels() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let routes = write_file(
        dir.path(),
        "routes.toml",
        r##"
[default]
channel = "C0DEFAULT"

[[routes]]
name = "critical"
matchers = ['severity="critical"']
channel = "C0CRIT"

[[routes]]
name = "builds"
matchers = ['__source__="jenkins"', 'result=~"FAILURE|UNSTABLE"']
webhook_url = "WEBHOOK"
"##
        .replace("WEBHOOK", &slack.webhook_url())
        .as_str(),
    );
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-token",
            "xoxb",
            "--slack-api-url",
            &slack.api_url(),
            "--routes",
            routes.to_str().unwrap(),
            "--per-destination-interval",
            "10ms",
        ],
    );
    let crit = am_payload("c", "firing", "APIDown", "down");
    let mut warn = am_payload("w", "firing", "DiskSpaceWarning", "disk");
    warn["commonLabels"]["severity"] = "warning".into();
    assert_eq!(post(&relay.url("/alertmanager"), None, &crit).await.0, 200);
    assert_eq!(post(&relay.url("/alertmanager"), None, &warn).await.0, 200);
    let fail = json!({"job": "srp", "build": 42, "result": "FAILURE", "stage": "Security Container",
                      "url": "http://jenkins:8080/job/srp/42/"});
    let (s, _) = post(&relay.url("/jenkins"), None, &fail).await;
    assert_eq!(s, 200);
    let d = slack
        .wait_for("three messages", WAIT, |d| d.len() == 3)
        .await;
    let channel_of = |title: &str| {
        d.iter()
            .find(|r| title_of(&r.body).contains(title))
            .map(|r| {
                (
                    r.method.clone(),
                    r.body["channel"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap()
    };
    assert_eq!(
        channel_of("APIDown"),
        ("chat.postMessage".into(), "C0CRIT".into())
    );
    assert_eq!(
        channel_of("DiskSpaceWarning"),
        ("chat.postMessage".into(), "C0DEFAULT".into())
    );
    assert_eq!(
        channel_of("srp #42 FAILURE in Security Container"),
        ("webhook".into(), "".into())
    );
    let m = wait_metric(
        &relay,
        "srp_relay_delivered_total{destination=\"critical\"}",
        1.0,
    )
    .await;
    assert_eq!(
        metric(&m, "srp_relay_delivered_total{destination=\"critical\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "srp_relay_received_total{source=\"jenkins\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn log_sink_mode_writes_formatted_messages() {
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sink.jsonl");
    let relay = Relay::start(
        &dir.path().join("data"),
        &["--sink-file", sink.to_str().unwrap()],
    );
    assert!(relay.logs().contains("log sink"), "{}", relay.logs());
    let p = am_payload("ls", "firing", "AgentDown", "srp-disk-guard is down");
    assert_eq!(post(&relay.url("/alertmanager"), None, &p).await.0, 200);
    let started = json!({"job": "srp", "build": 7, "result": "STARTED"});
    assert_eq!(post(&relay.url("/jenkins"), None, &started).await.0, 200);
    let end = std::time::Instant::now() + WAIT;
    let text = loop {
        let t = std::fs::read_to_string(&sink).unwrap_or_default();
        // Only whole lines: the sink may be caught in the middle of writing one.
        if t.ends_with('\n') && t.lines().count() >= 2 {
            break t;
        }
        assert!(std::time::Instant::now() < end, "sink has: {t}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["title"], "[FIRING:1] AgentDown");
    assert!(first["text"]
        .as_str()
        .unwrap()
        .contains("srp-disk-guard is down"));
    assert!(text.contains("srp #7 STARTED"));
}

#[tokio::test]
async fn metrics_pass_promtool_and_health_reports_the_database() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &dir.path().join("data"),
        &["--slack-webhook-url", &slack.webhook_url()],
    );
    post(
        &relay.url("/alertmanager"),
        None,
        &am_payload("m", "firing", "A", "s"),
    )
    .await;
    slack.wait_for("delivery", WAIT, |d| d.len() == 1).await;
    let text = relay.metrics().await;
    for name in [
        "srp_relay_received_total",
        "srp_relay_delivered_total",
        "srp_relay_failed_total",
        "srp_relay_retries_total",
        "srp_relay_rate_limited_total",
        "srp_relay_duplicates_total",
        "srp_relay_dead_letters",
        "srp_relay_queue_depth",
        "srp_relay_oldest_pending_seconds",
        "srp_relay_delivery_latency_seconds_bucket",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
    srp_testkit::promtool::assert_clean(&text);

    let h: Value = reqwest::get(relay.url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["checks"]["database"]["ok"], true);
}

#[test]
fn bad_configuration_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, _, err) = run_cli(&["--data-dir", d, "--slack-token", "x"]);
    assert!(!ok && err.contains("--slack-channel"), "{err}");
    let (ok, _, err) = run_cli(&["--data-dir", d, "--auth-token-file", "/nonexistent/token"]);
    assert!(!ok && err.contains("/nonexistent/token"), "{err}");
    let routes = write_file(
        dir.path(),
        "r.toml",
        "[[routes]]\nname = \"x\"\nchannel = \"#a\"\n",
    );
    let (ok, _, err) = run_cli(&["--data-dir", d, "--routes", routes.to_str().unwrap()]);
    assert!(!ok && err.contains("--slack-token"), "{err}");
    let (ok, _, err) = run_cli(&["--data-dir", d, "--max-age", "10"]);
    assert!(!ok && err.contains("unit"), "{err}");
    let (ok, out, _) = run_cli(&["--help"]);
    assert!(
        ok && out.contains("--auth-token-file") && out.contains("dlq"),
        "{out}"
    );
    let (ok, _, err) = run_cli(&["dlq", "list", "--data-dir", d]);
    assert!(!ok && err.contains("no relay database"), "{err}");
}

#[tokio::test]
async fn undeliverable_messages_expire_into_the_dead_letters() {
    let slack = MockSlack::start().await;
    slack.set_fallback(Some(Behaviour::ServerError));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let relay = Relay::start(
        &data,
        &[
            "--slack-webhook-url",
            &slack.webhook_url(),
            "--retry-base",
            "400ms",
            "--max-age",
            "1s",
        ],
    );
    let p = am_payload("old", "firing", "PostgreSQLDown", "db down");
    assert_eq!(post(&relay.url("/alertmanager"), None, &p).await.0, 200);
    wait_metric(&relay, "srp_relay_failed_total{reason=\"expired\"}", 1.0).await;
    let (_, out, _) = run_cli(&["dlq", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(
        out.contains("PostgreSQLDown") && out.contains("max age"),
        "{out}"
    );
}

#[tokio::test]
async fn jenkins_build_threads_its_result_under_the_start() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-token",
            "xoxb",
            "--slack-channel",
            "C0BUILDS",
            "--slack-api-url",
            &slack.api_url(),
            "--per-destination-interval",
            "10ms",
        ],
    );
    let started = json!({"job": "srp", "build": 9, "result": "STARTED", "branch": "main"});
    assert_eq!(post(&relay.url("/jenkins"), None, &started).await.0, 200);
    let d = slack.wait_for("start", WAIT, |d| d.len() == 1).await;
    let ts = d[0].ts.clone().unwrap();
    let done = json!({"job": "srp", "build": 9, "result": "SUCCESS", "duration_seconds": 312.0,
                      "url": "http://jenkins:8080/job/srp/9/"});
    assert_eq!(post(&relay.url("/jenkins"), None, &done).await.0, 200);
    let d = slack.wait_for("result", WAIT, |d| d.len() == 3).await;
    assert_eq!(d[1].body["thread_ts"], ts.as_str());
    assert_eq!(title_of(&d[1].body), "srp #9 SUCCESS");
    assert_eq!(d[2].method, "chat.update");
    assert_eq!(d[2].body["ts"], ts.as_str());
}

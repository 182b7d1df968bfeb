//! Whole groups: groups of 1, 50, 500 and 2,000 alerts through the relay in
//! bot-token mode; every alert's fingerprint is found in the messages Slack
//! accepted, every message stays within Slack's limits, and the alerts of a
//! large group are thread replies under its summary.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn group(size: usize) -> Value {
    let alerts: Vec<Value> = (0..size)
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {"alertname": "Big", "instance": format!("host-{i}"),
                           "severity": if i % 3 == 0 { "critical" } else { "warning" }},
                "annotations": {"summary": format!("host-{i} is unwell"),
                                "description": "a sentence or two of description"},
                "startsAt": "2026-11-28T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": format!("fp-{size}-{i}")
            })
        })
        .collect();
    json!({
        "version": "4", "groupKey": format!("big/{size}"), "truncatedAlerts": 0,
        "status": "firing", "receiver": "slack",
        "groupLabels": {"alertname": "Big"},
        "commonLabels": {"alertname": "Big"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts
    })
}

fn within_limits(body: &Value) {
    let blocks = body["attachments"][0]["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "{} blocks", blocks.len());
    let mut total = 0;
    for b in blocks {
        let t = b["text"]["text"].as_str().unwrap_or("");
        assert!(t.chars().count() <= 3000, "section of {}", t.len());
        total += t.len();
    }
    assert!(total <= 12_500, "{total} characters in one message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_of_1_50_500_and_2000_alerts_are_posted_whole() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(
        &dir.path().join("data"),
        &[
            "--slack-token",
            "xoxb-test",
            "--slack-channel",
            "C0ALERTS",
            "--slack-api-url",
            &slack.api_url(),
            "--per-destination-interval",
            "5ms",
        ],
    );
    let client = reqwest::Client::new();
    for size in [1usize, 50, 500, 2000] {
        let before = slack.requests().len();
        let r = client
            .post(relay.url("/alertmanager"))
            .json(&group(size))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{size}: {}", r.status());
        let want: BTreeSet<String> = (0..size).map(|i| format!("`fp-{size}-{i}`")).collect();
        let found = |d: &[Recorded]| -> BTreeSet<String> {
            let text: String = d[before.min(d.len())..]
                .iter()
                .map(|r| r.body.to_string())
                .collect();
            want.iter()
                .filter(|f| text.contains(f.as_str()))
                .cloned()
                .collect()
        };
        let delivered = slack
            .wait_for(
                &format!("every alert of {size}"),
                Duration::from_secs(60),
                |d| found(d).len() == want.len(),
            )
            .await;
        let mine = &delivered[before.min(delivered.len())..];
        for m in mine {
            within_limits(&m.body);
        }
        let parent = &mine[0];
        assert!(
            parent.body["thread_ts"].is_null(),
            "the first is the parent"
        );
        if size > 1 {
            let ts = parent.ts.clone().unwrap();
            for reply in &mine[1..] {
                assert_eq!(reply.body["thread_ts"].as_str(), Some(ts.as_str()));
            }
        }
        if size >= 500 {
            let text = title_of(&parent.body);
            assert_eq!(text, format!("[FIRING:{size}] Big"));
            let summary = parent.body.to_string();
            assert!(summary.contains(&format!("*{size} alerts*")), "{summary}");
            assert!(mine.len() > 2, "{size} alerts in {} messages", mine.len());
        }
        println!(
            "group of {size}: {} messages, every fingerprint found",
            mine.len()
        );
    }
}

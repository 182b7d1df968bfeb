//! High availability on the shared PostgreSQL outbox (one schema per test
//! on the real server at 127.0.0.1:5432): two relays, each message posted
//! by exactly one of them, the dedupe key unique across relays, and a
//! relay killed with SIGKILL whose leases another relay takes over; the
//! storm goes through two real Alertmanagers clustered on loopback.

mod common;

use common::am::Alertmanager;
use common::pg::PgSchema;
use common::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const SHARDS: usize = 4;
const STORM: usize = 500;

fn storm_id(body: &serde_json::Value) -> Option<String> {
    let s = body["text"].as_str()?;
    let i = s.find("storm-id-")?;
    Some(s[i..].split_whitespace().next()?.to_string())
}

/// Four webhook destinations chosen by the `shard` label.
fn shard_routes(dir: &std::path::Path, slack: &MockSlack) -> String {
    let mut routes = String::new();
    for shard in 0..SHARDS {
        routes.push_str(&format!(
            "[[routes]]\nname = \"shard{shard}\"\nmatchers = ['shard=\"{shard}\"']\nwebhook_url = \"{}/{shard}\"\n\n",
            slack.webhook_url()
        ));
    }
    write_file(dir, "routes.toml", &routes)
        .display()
        .to_string()
}

fn shared_relay(dir: &std::path::Path, name: &str, db: &PgSchema, extra: &[&str]) -> Relay {
    let defaults = [
        ("--slack-timeout", "1s"),
        ("--lease-duration", "3s"),
        ("--retry-base", "50ms"),
        ("--retry-max", "400ms"),
        ("--max-attempts", "1000"),
    ];
    let mut args = vec!["--database-url", db.url.as_str()];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args.extend_from_slice(extra);
    Relay::start(&dir.join(name), &args)
}

async fn post(relay: &Relay, body: &serde_json::Value) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(relay.url("/alertmanager"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_notification_into_two_relays_is_stored_and_posted_once() {
    let Some(db) = PgSchema::create("dedupe").await else {
        return;
    };
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hook = slack.webhook_url();
    let a = shared_relay(dir.path(), "a", &db, &["--slack-webhook-url", &hook]);
    let b = shared_relay(dir.path(), "b", &db, &["--slack-webhook-url", &hook]);
    let body = am_payload("g/once", "firing", "Once", "storm-id-once");
    // Both Alertmanagers of a pair sent it, each to its own relay.
    let (ra, rb) = tokio::join!(post(&a, &body), post(&b, &body));
    let statuses: BTreeSet<String> = [ra, rb]
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["accepted".to_string(), "duplicate".to_string()])
    );
    slack
        .wait_for("the message", Duration::from_secs(20), |d| !d.is_empty())
        .await;
    // Give the other relay every chance to post it a second time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(slack.delivered().len(), 1, "{:?}", slack.requests());
    let rows = db.query("SELECT COUNT(*) FROM outbox").await;
    assert_eq!(rows[0].get::<_, i64>(0), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_relays_lease_is_taken_over_after_it_expires() {
    let Some(db) = PgSchema::create("takeover").await else {
        return;
    };
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hook = slack.webhook_url();
    // The first attempt never gets an answer: the relay dies holding it.
    slack.script(&[Behaviour::Hang]);
    let mut a = shared_relay(
        dir.path(),
        "a",
        &db,
        &[
            "--slack-webhook-url",
            &hook,
            "--slack-timeout",
            "20s",
            "--lease-duration",
            "30s",
        ],
    );
    post(&a, &am_payload("g/t", "firing", "Takeover", "storm-id-t")).await;
    let end = Instant::now() + Duration::from_secs(10);
    while slack.requests().is_empty() {
        assert!(Instant::now() < end, "relay a never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a_pid = a.daemon.pid();
    a.kill9();
    let leased = db
        .query("SELECT lease_owner FROM outbox WHERE state = 'pending'")
        .await;
    let owner: String = leased[0].get(0);
    assert!(owner.contains(&format!("-{a_pid}-")), "{owner}");
    // Shorten the dead relay's lease so the test need not wait 30 s; the
    // takeover itself is what is under test.
    db.query("UPDATE outbox SET lease_until = EXTRACT(EPOCH FROM clock_timestamp()) + 2")
        .await;
    let started = Instant::now();
    let _b = shared_relay(dir.path(), "b", &db, &["--slack-webhook-url", &hook]);
    slack
        .wait_for("the takeover", Duration::from_secs(20), |d| !d.is_empty())
        .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "taken before the lease expired: {:?}",
        started.elapsed()
    );
    // Slack answered before relay b records the outcome: wait for it.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = db.query("SELECT state, lease_owner FROM outbox").await;
        if rows[0].get::<_, &str>(0) == "delivered" {
            assert_eq!(rows[0].get::<_, Option<&str>>(1), None);
            break;
        }
        assert!(Instant::now() < end, "never recorded as delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_alertmanagers_two_relays_one_killed_mid_storm_every_alert_once() {
    let Some(db) = PgSchema::create("storm").await else {
        return;
    };
    let slack = MockSlack::start().await;
    // 25 % of Slack calls fail (10 % 429 with Retry-After, 15 % 500), and
    // accepted ones take 20 ms, so deliveries are on the wire at the kill.
    slack.set_random(0.10, 0.15);
    slack.set_ok_delay(20);
    let dir = tempfile::tempdir().unwrap();
    let routes = shard_routes(dir.path(), &slack);
    let hook = slack.webhook_url();
    let pacing = [
        "--slack-webhook-url",
        &hook,
        "--routes",
        &routes,
        "--per-destination-interval",
        "5ms",
    ];
    let mut relay0 = shared_relay(dir.path(), "relay0", &db, &pacing);
    let relay1 = shared_relay(dir.path(), "relay1", &db, &pacing);

    let am_config = |relay: &Relay| {
        format!(
            r#"
route:
  receiver: relay
  group_by: ['...']
  group_wait: 1s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: relay
    webhook_configs:
      - url: {}
        send_resolved: false
"#,
            relay.url("/alertmanager")
        )
    };
    let am0 = Alertmanager::start(dir.path(), "am0", &am_config(&relay0), &[]).await;
    let am1 =
        Alertmanager::start(dir.path(), "am1", &am_config(&relay1), &[&am0.cluster_addr]).await;
    let end = Instant::now() + Duration::from_secs(20);
    while am0.peers().await < 2 || am1.peers().await < 2 {
        assert!(
            Instant::now() < end,
            "no cluster: {}\n{}",
            am0.log(),
            am1.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Like Prometheus: every alert to every member, in five waves.
    let starts_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for wave in 0..5 {
        let alerts: Vec<_> = (wave * STORM / 5..(wave + 1) * STORM / 5)
            .map(|n| {
                json!({
                    "labels": {"alertname": "Storm", "n": n.to_string(),
                               "shard": (n % SHARDS).to_string(), "severity": "warning"},
                    "annotations": {"summary": format!("storm-id-{n}")},
                    // Prometheus stamps the start, the same for every
                    // member; without it each member would use its own
                    // clock and the notifications would differ.
                    "startsAt": starts_at,
                    "generatorURL": "http://prometheus.example:9090/graph"
                })
            })
            .collect();
        let alerts = serde_json::Value::Array(alerts);
        tokio::join!(am0.post_alerts(&alerts), am1.post_alerts(&alerts));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Kill relay0 while it holds a lease (a delivery on the wire).
    let pid0 = relay0.daemon.pid();
    let held_by_0 =
        format!("SELECT id FROM outbox WHERE state = 'pending' AND lease_owner LIKE '%-{pid0}-%'");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered = slack.delivered().len();
        if delivered >= 50 && !db.query(&held_by_0).await.is_empty() {
            break;
        }
        assert!(
            Instant::now() < end,
            "relay0 never held a lease mid-storm ({delivered} delivered)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay0.kill9();
    let orphaned: Vec<i64> = db
        .query(&held_by_0)
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();

    let want: BTreeSet<String> = (0..STORM).map(|n| format!("storm-id-{n}")).collect();
    let end = Instant::now() + Duration::from_secs(150);
    let counts = loop {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in slack.delivered() {
            if let Some(id) = storm_id(&r.body) {
                *counts.entry(id).or_default() += 1;
            }
        }
        if want.iter().all(|id| counts.contains_key(id)) || Instant::now() > end {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let lost: Vec<&String> = want.iter().filter(|id| !counts.contains_key(*id)).collect();
    let duplicated: usize = counts.values().map(|c| c - 1).sum();
    let attempts = slack.requests().len();
    let failed = slack
        .requests()
        .iter()
        .filter(|r| !r.answered.accepts())
        .count();
    let taken_over = if orphaned.is_empty() {
        0
    } else {
        let list = orphaned
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        db.query(&format!(
            "SELECT id FROM outbox WHERE id IN ({list}) AND state = 'delivered'"
        ))
        .await
        .len()
    };
    println!(
        "HA storm: alerts {STORM} posted {} duplicated {duplicated} lost {} \
         (relay0 killed holding {} leases, {taken_over} taken over; Slack attempts {attempts}, \
         of which 429/500 {failed})",
        counts.len(),
        lost.len(),
        orphaned.len()
    );
    assert!(failed > 0, "the mock must have failed some requests");
    assert!(lost.is_empty(), "lost: {lost:?}\n{}", relay1.logs());
    assert!(!orphaned.is_empty(), "relay0 died holding no lease");
    assert_eq!(
        taken_over,
        orphaned.len(),
        "the dead relay's leases are taken over"
    );
    // Only what relay0 had on the wire when it died can be posted twice.
    assert!(
        duplicated <= orphaned.len(),
        "{duplicated} duplicates, {} leases held at the kill",
        orphaned.len()
    );
    let pending = db
        .query("SELECT COUNT(*) FROM outbox WHERE state <> 'delivered'")
        .await;
    assert_eq!(pending[0].get::<_, i64>(0), 0);
}

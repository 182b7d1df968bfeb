//! Crash test: a storm of notifications while the mock Slack answers 429 and
//! 500 at random, and the relay is killed with SIGKILL several times. Every
//! acknowledged notification must reach Slack; duplicates may only come from
//! a message that was on the wire when the process died.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SENDERS: usize = 8;
const PER_SENDER: usize = 30;
const KILLS: usize = 4;
const SHARDS: usize = 4;

fn storm_id(body: &serde_json::Value) -> Option<String> {
    let s = body["text"].as_str()?;
    let i = s.find("storm-id-")?;
    Some(s[i..].split_whitespace().next()?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_storm_loses_nothing_acknowledged() {
    let slack = MockSlack::start().await;
    slack.set_random(0.1, 0.15);
    let dir = tempfile::tempdir().unwrap();
    // Four destinations (shards), so Retry-After pauses overlap and four
    // messages can be on the wire when the process dies.
    let mut routes = String::new();
    for shard in 0..SHARDS {
        routes.push_str(&format!(
            "[[routes]]\nname = \"shard{shard}\"\nmatchers = ['shard=\"{shard}\"']\nwebhook_url = \"{}/{shard}\"\n\n",
            slack.webhook_url()
        ));
    }
    let routes = write_file(dir.path(), "routes.toml", &routes);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let relay = Arc::new(Mutex::new(Relay::start(
        &dir.path().join("data"),
        &[
            "--listen",
            &listen,
            "--slack-webhook-url",
            &slack.webhook_url(),
            "--routes",
            routes.to_str().unwrap(),
            "--per-destination-interval",
            "5ms",
            "--retry-base",
            "50ms",
            "--retry-max",
            "400ms",
            "--max-attempts",
            "1000",
        ],
    )));
    let url = format!("http://{listen}/alertmanager");
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sending = Arc::new(std::sync::atomic::AtomicUsize::new(SENDERS));

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let url = url.clone();
        let acked = acked.clone();
        let sending = sending.clone();
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            for n in 0..PER_SENDER {
                let id = format!("storm-id-{s}-{n}");
                let mut body = am_payload(&format!("storm/{s}/{n}"), "firing", "Storm", &id);
                body["commonLabels"]["shard"] = (n % SHARDS).to_string().into();
                // Like Alertmanager: resend until acknowledged (a few tries).
                for _ in 0..50 {
                    match client.post(&url).json(&body).send().await {
                        Ok(r) if r.status().is_success() => {
                            acked.lock().unwrap().insert(id.clone());
                            break;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                tokio::time::sleep(Duration::from_millis(fastrand::u64(20..80))).await;
            }
            sending.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }

    // The killer: SIGKILL at random moments while the storm runs.
    let mut kills = 0;
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..900))).await;
        let r = relay.clone();
        tokio::task::spawn_blocking(move || r.lock().unwrap().crash_and_restart())
            .await
            .unwrap();
        kills += 1;
    }
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Let the relay drain through the 429s and 500s.
    let end = Instant::now() + Duration::from_secs(120);
    let counts = loop {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in slack.delivered() {
            if let Some(id) = storm_id(&r.body) {
                *counts.entry(id).or_default() += 1;
            }
        }
        if acked.iter().all(|id| counts.contains_key(id)) || Instant::now() > end {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let delivered = acked.iter().filter(|id| counts.contains_key(*id)).count();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    let duplicated: usize = counts.values().map(|c| c - 1).sum();
    let attempts = slack.requests().len();
    let rejected = slack
        .requests()
        .iter()
        .filter(|r| r.answered != Behaviour::Ok)
        .count();
    println!(
        "crash test: sent {} accepted {} delivered {} duplicated {} lost {} \
         (kills {KILLS}, Slack attempts {attempts}, of which 429/500 {rejected})",
        SENDERS * PER_SENDER,
        acked.len(),
        delivered,
        duplicated,
        lost.len()
    );
    assert!(rejected > 0, "the mock must have failed some requests");
    assert!(lost.is_empty(), "lost acknowledged notifications: {lost:?}");
    // One message per destination is in flight at a time, so each kill can
    // at most repeat one per destination.
    assert!(
        duplicated <= KILLS * SHARDS,
        "{duplicated} duplicates for {KILLS} kills"
    );
    assert!(
        acked.len() >= SENDERS * PER_SENDER * 9 / 10,
        "most notifications should be acknowledged: {}",
        acked.len()
    );
}

/// The pipelined commit under full load: 16 senders as fast as the relay
/// answers, Slack unreachable (so nothing leaves the outbox), kill -9 in the
/// middle. Every notification that got a 2xx must be a row after the
/// restart, read from the file by SQLite's own recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_storm_keeps_every_acknowledged_notification_in_the_outbox() {
    const FAST_SENDERS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut relay = Relay::start(
        &data,
        &[
            "--slack-webhook-url",
            "http://127.0.0.1:9/closed",
            "--retry-base",
            "1h",
        ],
    );
    let url = relay.url("/alertmanager");
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for s in 0..FAST_SENDERS {
        let (url, acked, stop) = (url.clone(), acked.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let id = format!("storm-id-{s}-{n}");
                let body = am_payload(&format!("fast/{s}/{n}"), "firing", "Storm", &id);
                match client.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().insert(id);
                    }
                    // Killed mid-request: not acknowledged, nothing owed.
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(fastrand::u64(1200..2000))).await;
    tokio::task::spawn_blocking(move || {
        relay.kill9();
        relay
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for s in senders {
        s.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    // Restart on the same file: it recovers the WAL and serves again.
    let relay = Relay::start(&data, &["--slack-webhook-url", "http://127.0.0.1:9/closed"]);
    let h = reqwest::get(relay.url("/health")).await.unwrap();
    assert_eq!(h.status(), 200);
    let c = rusqlite::Connection::open(data.join("relay.db")).unwrap();
    let mut st = c.prepare("SELECT message FROM outbox").unwrap();
    let stored: BTreeSet<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .filter_map(|m| {
            let m = m.unwrap();
            let i = m.find("storm-id-")?;
            let id: String = m[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            Some(id)
        })
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    println!(
        "kill -9 mid-storm: {} acknowledged, {} rows with a storm id, {} lost",
        acked.len(),
        stored.len(),
        lost.len()
    );
    assert!(
        acked.len() > 100,
        "the storm was too small: {}",
        acked.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged but not in the outbox: {lost:?}"
    );
    drop(relay);
}

//! A relay.db written by the releases before schema versioning (tables made
//! with `CREATE TABLE IF NOT EXISTS`, `user_version` 0) is opened by this
//! release, migrated in place and used: pending rows are delivered, thread
//! references still anchor replies, dedupe keys still dedupe, dead letters
//! are still listed. A file from a newer release is refused, naming it.

mod common;

use common::*;
use rusqlite::{params, Connection};
use serde_json::Value;
use srp_slack_relay::payload::AlertmanagerPayload;
use srp_slack_relay::store;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schema exactly as main wrote it before versioning (store.rs SCHEMA).
const OLD_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS dedupe (
    key      TEXT PRIMARY KEY,
    seen_at  REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY,
    source          TEXT NOT NULL,
    route           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    group_key       TEXT NOT NULL,
    title           TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    received_at     REAL NOT NULL,
    queued_at       REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT,
    finished_at     REAL
);
CREATE INDEX IF NOT EXISTS outbox_state_route ON outbox(state, route, id);
CREATE TABLE IF NOT EXISTS message_refs (
    target     TEXT NOT NULL,
    group_key  TEXT NOT NULL,
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (target, group_key)
) WITHOUT ROWID;
"#;

// The statements main's writer and dispatcher ran.
const OLD_INSERT_OUTBOX: &str =
    "INSERT INTO outbox (source, route, kind, group_key, title, message,
                                 received_at, queued_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?7)";
const OLD_MARK_DEDUPE: &str = "INSERT INTO dedupe (key, seen_at) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET seen_at = excluded.seen_at";
const OLD_DELIVERED: &str =
    "UPDATE outbox SET state = 'delivered', finished_at = ?2, last_error = NULL,
                        attempts = attempts + 1 WHERE id = ?1";
const OLD_REMEMBER: &str = "INSERT INTO message_refs (target, group_key, channel, ts, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(target, group_key) DO UPDATE SET
                        channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at";
const OLD_DEAD: &str = "UPDATE outbox SET state = 'dead', finished_at = ?2, last_error = ?3,
                        attempts = attempts + 1 WHERE id = ?1";

const THREAD_TS: &str = "1600000000.000100";

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The notification whose dedupe key the old file holds.
fn seen_payload() -> Value {
    am_payload("old/seen", "firing", "OldSeen", "seen before the upgrade")
}

/// A data dir as the old relay left it (bot mode, channel `#alerts`): one
/// delivered post that started a thread, its pending reply, one dead letter.
fn old_data_dir(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let c = Connection::open(dir.join("relay.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.execute_batch(OLD_SCHEMA).unwrap();
    let t = now();
    let msg = |text: &str| serde_json::json!({ "text": text }).to_string();
    let row = |kind: &str, group: &str, title: &str| {
        c.execute(
            OLD_INSERT_OUTBOX,
            params!["alertmanager", "default", kind, group, title, msg(title), t],
        )
        .unwrap();
        c.last_insert_rowid()
    };
    let posted = row("post", "old/group", "old-firing");
    c.execute(OLD_DELIVERED, params![posted, t]).unwrap();
    c.execute(
        OLD_REMEMBER,
        params!["channel:#alerts", "old/group", "C0ALERTS", THREAD_TS, t],
    )
    .unwrap();
    let dead = row("post", "old/dead", "old-dead-letter");
    c.execute(OLD_DEAD, params![dead, t, "HTTP 500 (after 12 attempts)"])
        .unwrap();
    row("reply", "old/group", "old-pending-reply");
    let key = AlertmanagerPayload::parse(seen_payload().to_string().as_bytes())
        .unwrap()
        .dedupe_key();
    c.execute(OLD_MARK_DEDUPE, params![key, t]).unwrap();
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0, "the old relay never set a schema version");
}

#[test]
fn the_store_migrates_an_old_file_in_place_and_keeps_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    old_data_dir(&data);
    let c = store::open(&data).unwrap();
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, store::MIGRATIONS.len());
    let states: Vec<(String, String)> = c
        .prepare("SELECT title, state FROM outbox ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let pairs: Vec<(&str, &str)> = states
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("old-firing", "delivered"),
            ("old-dead-letter", "dead"),
            ("old-pending-reply", "pending")
        ]
    );
    let dead = store::dead_letters(&c).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error, "HTTP 500 (after 12 attempts)");
    let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    assert_eq!(sync, 2, "the outbox stays synchronous=FULL");
}

#[tokio::test]
async fn the_relay_runs_on_an_old_file_and_delivers_what_it_held() {
    let slack = MockSlack::start().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    old_data_dir(&data);
    let relay = Relay::start(
        &data,
        &[
            "--slack-token",
            "xoxb-test",
            "--slack-channel",
            "#alerts",
            "--slack-api-url",
            &slack.api_url(),
        ],
    );
    // The pending reply goes out in the thread the old relay remembered.
    let got = slack
        .wait_for("the old pending reply", Duration::from_secs(20), |d| {
            d.iter().any(|r| r.body["text"] == "old-pending-reply")
        })
        .await;
    let reply = got
        .iter()
        .find(|r| r.body["text"] == "old-pending-reply")
        .unwrap();
    assert_eq!(reply.method, "chat.postMessage");
    assert_eq!(reply.body["thread_ts"], THREAD_TS, "{:#}", reply.body);
    // Its dedupe key still counts.
    let r = reqwest::Client::new()
        .post(relay.url("/alertmanager"))
        .json(&seen_payload())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "duplicate");
    // And the dead letter is listed by the CLI beside the running relay.
    let (ok, out, err) = run_cli(&[
        "dlq",
        "list",
        "--json",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let rows: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["title"], "old-dead-letter");
}

fn set_user_version(path: &Path, v: u32) {
    let c = Connection::open(path).unwrap();
    c.pragma_update(None, "user_version", v).unwrap();
}

#[test]
fn a_file_from_a_newer_release_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    old_data_dir(&data);
    let db = data.join("relay.db");
    set_user_version(&db, store::MIGRATIONS.len() as u32 + 1);
    let e = store::open(&data).unwrap_err().to_string();
    assert!(
        e.contains(db.to_str().unwrap()) && e.contains("newer"),
        "{e}"
    );
    for args in [
        vec!["--data-dir", data.to_str().unwrap()],
        vec!["dlq", "list", "--data-dir", data.to_str().unwrap()],
    ] {
        let (ok, _, err) = run_cli(&args);
        assert!(!ok, "{args:?} ran on a newer schema");
        assert!(
            err.lines()
                .any(|l| l.starts_with("error: ") && l.contains(db.to_str().unwrap())),
            "{args:?}: {err}"
        );
    }
    // Nothing was written to it.
    let c = Connection::open(&db).unwrap();
    let v: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v as usize, store::MIGRATIONS.len() + 1);
}

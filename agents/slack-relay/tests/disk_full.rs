//! When the outbox cannot commit (here: its filesystem is full) the relay
//! answers 503, so Alertmanager retries, and /health says degraded; once
//! space is back the retry is accepted. Needs root for a small tmpfs; skipped
//! (with a message) where mounting is not allowed.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test]
async fn full_disk_means_503_and_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _mount = Mount(mnt.clone());
    let data = mnt.join("data");
    let relay = Relay::start(&data, &["--slack-webhook-url", "http://127.0.0.1:9/closed"]);

    // Fill the filesystem, leaving the database in place.
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 1024 * 1024]);

    let c = reqwest::Client::new();
    let mut got_503 = None;
    for i in 0..50 {
        let mut p = am_payload(&format!("full-{i}"), "firing", "DiskSpaceCritical", "disk");
        p["commonAnnotations"]["description"] = "x".repeat(60_000).into();
        let r = c
            .post(relay.url("/alertmanager"))
            .json(&p)
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            got_503 = Some((i, p, r.text().await.unwrap()));
            break;
        }
        assert_eq!(r.status(), 200);
    }
    let (i, payload, text) = got_503.expect("a full disk must turn into 503");
    assert!(text.contains("retry"), "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"]["code"], "not_stored", "{text}");
    let h = reqwest::get(relay.url("/health")).await.unwrap();
    assert_eq!(h.status(), 503);

    // Space comes back; Alertmanager's retry of the same notification is
    // accepted (it was not stored the first time, so it is no duplicate).
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = c
        .post(relay.url("/alertmanager"))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "retry #{i} after space came back");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "accepted");
    drop(relay);
}

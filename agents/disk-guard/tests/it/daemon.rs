//! The daemon as users run it: the real binary on port 0, /metrics checked by
//! the real promtool, config reload by file change and by SIGHUP, a bad
//! config kept out (old one stays, metric and /health say so), SIGTERM.

use crate::support::*;
use srp_testkit::{promtool, Daemon};
use std::process::Command;
use std::time::{Duration, Instant};

fn start(cfg: &std::path::Path, data: &std::path::Path) -> Daemon {
    Daemon::spawn(
        Command::new(bin())
            .args(["--listen", "127.0.0.1:0", "--config"])
            .arg(cfg)
            .arg("--data-dir")
            .arg(data),
    )
}

async fn get(d: &Daemon, path: &str) -> (u16, String) {
    let r = reqwest::get(d.url(path)).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn wait_for(d: &Daemon, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = get(d, "/metrics").await;
        if check(&body) {
            return body;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}\n{body}\nlog:\n{}", d.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A sample line exactly (HELP texts mention values too, so `contains` would lie).
fn has(body: &str, line: &str) -> bool {
    body.lines().any(|l| l == line)
}

fn config(mount: &std::path::Path, dry_run: bool) -> String {
    format!(
        "interval = \"1s\"\ndry_run = {dry_run}\n[[mount]]\npath = \"{m}\"\npolicies = [\"logs\"]\n\
         [policy.logs]\nkind = \"files\"\nroots = [\"{m}/logs\"]\nglobs = [\"*.log\"]\n",
        m = mount.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_clean_metrics_and_reloads_config_safely() {
    let t = tempfile::tempdir().unwrap();
    let etc = t.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let cfg = etc.join("disk-guard.toml");
    std::fs::write(&cfg, config(t.path(), false)).unwrap();
    let d = start(&cfg, &t.path().join("data"));

    let label = format!("mountpoint=\"{}\"", t.path().display());
    // The first pass sets the gauges one after the other: wait for all of them.
    let body = wait_for(&d, "free bytes and ratio", |b| {
        b.contains(&format!("srp_disk_free_bytes{{{label}}}"))
            && b.contains(&format!("srp_disk_free_ratio{{{label}}}"))
    })
    .await;
    assert!(has(&body, "srp_disk_dry_run 0"));
    assert!(has(&body, "srp_disk_escalations_total 0"));
    assert!(has(&body, "srp_disk_config_last_reload_successful 1"));
    assert!(body.contains("process_resident_memory_bytes"));
    // Flat or no trend yet: the prediction is absent, never a fake number.
    assert!(!body.contains("srp_disk_predicted_full_seconds{"), "{body}");
    promtool::assert_clean(&body);
    let (code, health) = get(&d, "/health").await;
    assert_eq!(code, 200, "{health}");

    // A broken file (as an editor might save half-way) is refused; the old config stays.
    std::fs::write(&cfg, "interval = \"1s\"\n[[mount]]\npath = \"relative\"\n").unwrap();
    wait_for(&d, "reload failure", |b| {
        has(b, "srp_disk_config_last_reload_successful 0")
    })
    .await;
    let (code, health) = get(&d, "/health").await;
    assert_eq!(code, 503);
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert!(
        h["checks"]["config"]["detail"]
            .as_str()
            .unwrap()
            .contains("absolute"),
        "{h}"
    );
    // Still watching the old mount with the old settings.
    let body = wait_for(&d, "old mount still exported", |b| b.contains(&label)).await;
    assert!(has(&body, "srp_disk_dry_run 0"));
    assert!(d.log().contains("keeping the running configuration"));

    // Fixed and switched to dry-run; picked up by SIGHUP even if the watcher missed it.
    std::fs::write(&cfg, config(t.path(), true)).unwrap();
    d.signal(libc::SIGHUP);
    let body = wait_for(&d, "dry-run after reload", |b| {
        has(b, "srp_disk_dry_run 1") && has(b, "srp_disk_config_last_reload_successful 1")
    })
    .await;
    promtool::assert_clean(&body);
    let (code, health) = get(&d, "/health").await;
    assert_eq!(code, 200, "{health}\nlog:\n{}", d.log());

    // SIGTERM: a clean, prompt exit.
    let mut d = d;
    d.terminate();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_config_at_start_names_the_problem_and_exits_1() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("bad.toml");
    std::fs::write(&cfg, "[[mount]]\npath = \"/\"\npolicies = [\"nope\"]\n").unwrap();
    let out = Command::new(bin())
        .args(["--once", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(t.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown policy \"nope\"") && err.contains("bad.toml"),
        "{err}"
    );
    assert!(
        !t.path().join("data").exists(),
        "nothing created for a bad config"
    );

    let help = Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--listen",
        "--config",
        "--data-dir",
        "--once",
        "--dry-run",
        "--log-format",
        "journal",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

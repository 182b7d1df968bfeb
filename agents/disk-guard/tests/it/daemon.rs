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

    // srp-daemon's shared layer: every answer counted under its route
    // template, errors in the one JSON shape, the build and the runtime.
    let (code, missing) = get(&d, "/no-such-page").await;
    assert_eq!(code, 404);
    let missing: serde_json::Value = serde_json::from_str(&missing).unwrap();
    assert_eq!(missing["error"]["code"], "not_found", "{missing}");
    let body = wait_for(&d, "RED metrics of /health", |b| {
        has(
            b,
            r#"http_requests_total{method="GET",route="/health",status="200"} 1"#,
        )
    })
    .await;
    assert!(
        has(
            &body,
            r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"http_requests_total{method="GET",route="/metrics",status="200"}"#),
        "{body}"
    );
    assert!(
        body.lines().any(
            |l| l.starts_with(r#"srp_build_info{binary="srp-disk-guard","#) && l.ends_with(" 1")
        ),
        "{body}"
    );
    for family in [
        "srp_tokio_workers",
        "srp_tokio_alive_tasks",
        "srp_tokio_global_queue_depth",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(&format!("{family} "))),
            "{family} missing:\n{body}"
        );
    }
    promtool::assert_clean(&body);

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

/// Kills the escalation command the test started (by its pid), whatever the
/// test's outcome.
struct KillPid(Option<libc::pid_t>);

impl Drop for KillPid {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) on the pid the test's own script wrote.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The guard loop is one of the daemon's tracked background tasks: SIGTERM
/// while a pass is busy (here, in an escalation command that would run for
/// a minute) stops the process within srp-daemon's drain bound, below
/// Docker's 10 s stop timeout and the unit's TimeoutStopSec, instead of
/// waiting for the pass.
#[test]
fn sigterm_during_a_busy_pass_stops_within_the_drain_bound() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let pidfile = t.path().join("escalation.pid");
    let script = t.path().join("grow.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 60\n",
            pidfile.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A free ratio no real filesystem with data on it is above: the first
    // pass escalates.
    let cfg = t.path().join("disk-guard.toml");
    std::fs::write(
        &cfg,
        format!(
            "interval = \"1s\"\n[defaults]\nact_below = 0.9998\ntarget = 0.9999\ncritical = 0.9997\n\
             [[mount]]\npath = \"{}\"\n[escalation]\ncommand = [\"{}\"]\n",
            t.path().display(),
            script.display()
        ),
    )
    .unwrap();
    let mut d = start(&cfg, &t.path().join("data"));
    let mut escalation = KillPid(None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while escalation.0.is_none() {
        assert!(
            Instant::now() < deadline,
            "the escalation never started\n{}",
            d.log()
        );
        escalation.0 = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|p| p.trim().parse().ok());
        std::thread::sleep(Duration::from_millis(50));
    }

    let asked = Instant::now();
    d.terminate();
    let status = loop {
        if let Some(s) = d.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "still running 10 s after SIGTERM with a pass busy\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", d.log());
    assert!(
        d.log().contains("after the drain timeout"),
        "the stop should have waited for the busy pass first\n{}",
        d.log()
    );
}

//! The daemon as users run it: the real binary on port 0, /metrics checked by
//! the real promtool, config reload by file change and by SIGHUP, a bad
//! config kept out (old one stays, metric and /health say so), SIGTERM.

use crate::support::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Daemon {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(cfg: &std::path::Path, data: &std::path::Path) -> Daemon {
    let mut child = Command::new(bin())
        .args(["--listen", "127.0.0.1:0", "--config"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let l2 = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
            l2.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("daemon did not start: {}", log.lock().unwrap()));
    Daemon { child, addr, log }
}

async fn get(d: &Daemon, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{}{path}", d.addr))
        .await
        .unwrap();
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
            panic!(
                "timed out waiting for {what}\n{body}\nlog:\n{}",
                d.log.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A sample line exactly (HELP texts mention values too, so `contains` would lie).
fn has(body: &str, line: &str) -> bool {
    body.lines().any(|l| l == line)
}

fn promtool_check(text: &str) {
    use std::io::Write;
    let mut p = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) must be installed");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
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
    promtool_check(&body);
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
    assert!(d
        .log
        .lock()
        .unwrap()
        .contains("keeping the running configuration"));

    // Fixed and switched to dry-run; picked up by SIGHUP even if the watcher missed it.
    std::fs::write(&cfg, config(t.path(), true)).unwrap();
    unsafe { libc::kill(d.child.id() as i32, libc::SIGHUP) };
    let body = wait_for(&d, "dry-run after reload", |b| {
        has(b, "srp_disk_dry_run 1") && has(b, "srp_disk_config_last_reload_successful 1")
    })
    .await;
    promtool_check(&body);
    let (code, health) = get(&d, "/health").await;
    assert_eq!(code, 200, "{health}\nlog:\n{}", d.log.lock().unwrap());

    // SIGTERM: a clean, prompt exit.
    let mut d = d;
    unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) };
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

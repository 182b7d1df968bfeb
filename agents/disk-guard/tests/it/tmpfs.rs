//! On a real 16 MiB tmpfs filled to 92 %: the files policy brings it back
//! above its target, deleting the oldest matching files first; a dry run
//! before deletes nothing and reports exactly the same set. And when nothing
//! can be cleaned, the escalation command runs once per cooldown.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const MIB: usize = 1 << 20;

fn config(mount: &Path, extra: &str) -> String {
    format!(
        r#"
grace_period = "15m"
[[mount]]
path = "{m}"
policies = ["logs"]
[policy.logs]
kind = "files"
roots = ["{m}/logs"]
globs = ["**/*.log"]
min_age = "7d"
{extra}
"#,
        m = mount.display()
    )
}

/// Fill with a file nobody may delete until `used_ratio` of the filesystem is used.
fn fill_to(mount: &Path, used_ratio: f64) {
    let (free, size) = usage(mount);
    let want_free = ((1.0 - used_ratio) * size as f64) as u64;
    let filler = (free - want_free) as usize / 4096 * 4096;
    write_file(&mount.join("data/filler.bin"), filler, 30 * DAY);
    let (free, size) = usage(mount);
    let ratio = free as f64 / size as f64;
    assert!(
        (0.07..0.09).contains(&ratio),
        "free ratio after filling: {ratio}"
    );
}

fn once(args: &[&str], cfg: &Path, data: &Path) -> (i32, Value, String) {
    let out = Command::new(bin())
        .args(["--once", "--report-json", "--config"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}): {stdout}\nstderr: {stderr}"));
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn paths(report: &Value, outcome: &str) -> BTreeSet<String> {
    report["mounts"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"] == outcome)
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn files_policy_brings_a_92_percent_full_tmpfs_above_target_and_dry_run_reports_the_same_set() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let m = fs.path();
    // Ten old logs (10..19 days), one young log, one old non-matching file.
    for i in 0..10u64 {
        write_file(
            &m.join(format!("logs/app/build-{i:02}.log")),
            MIB,
            (10 + i) * DAY,
        );
    }
    write_file(&m.join("logs/app/recent.log"), MIB, DAY);
    write_file(&m.join("logs/keep.txt"), MIB, 30 * DAY);
    fill_to(m, 0.92);

    let side = tempfile::tempdir().unwrap();
    let cfg = side.path().join("guard.toml");
    std::fs::write(&cfg, config(m, "")).unwrap();
    let data = side.path().join("data");

    // Dry run: nothing deleted, a set reported.
    let before = usage(m).0;
    let (code, dry, stderr) = once(&["--dry-run"], &cfg, &data);
    assert_eq!(code, 0, "{dry}\n{stderr}");
    assert_eq!(dry["dry_run"], true);
    let would = paths(&dry, "would_delete");
    assert!(!would.is_empty());
    assert_eq!(usage(m).0, before, "dry run changed the filesystem");
    for i in 0..10 {
        assert!(m.join(format!("logs/app/build-{i:02}.log")).exists());
    }
    assert!(dry["mounts"][0]["free_ratio_after"].as_f64().unwrap() >= 0.30);

    // The oldest first, and no more than needed: 1.3 MiB free, 4.8 MiB needed.
    let expected: BTreeSet<String> = (6..10)
        .map(|i| {
            m.join(format!("logs/app/build-{i:02}.log"))
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(would, expected);

    // Real run: exactly the reported set goes, and the target is reached.
    let (code, real, stderr) = once(&[], &cfg, &data);
    assert_eq!(code, 0, "{real}\n{stderr}");
    assert_eq!(real["dry_run"], false);
    assert_eq!(paths(&real, "deleted"), would);
    let (free, size) = usage(m);
    assert!(free as f64 / size as f64 >= 0.30, "free {free} of {size}");
    for p in &would {
        assert!(!Path::new(p).exists(), "{p} still there");
    }
    for i in 0..6 {
        assert!(m.join(format!("logs/app/build-{i:02}.log")).exists());
    }
    assert!(m.join("logs/app/recent.log").exists());
    assert!(m.join("logs/keep.txt").exists());
    assert!(m.join("data/filler.bin").exists());
    let reclaimed = real["mounts"][0]["reclaimed_bytes"].as_u64().unwrap();
    assert_eq!(reclaimed, 4 * MIB as u64);

    // The journal lists both runs, newest first, with bytes and reasons.
    let out = Command::new(bin())
        .args(["journal", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 8);
    let deleted: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["outcome"] == "deleted")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    let journaled_would: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["outcome"] == "would_delete")
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deleted, would);
    assert_eq!(journaled_would, would);
    assert!(rows
        .iter()
        .all(|r| r["bytes"] == MIB as u64 && r["policy"] == "logs"));
    assert!(rows[0]["reason"].as_str().unwrap().contains("**/*.log"));

    // Now above the act threshold: a further pass does nothing.
    let (code, idle, _) = once(&[], &cfg, &data);
    assert_eq!(code, 0);
    assert_eq!(idle["mounts"][0]["cleaned"], false);
}

#[test]
fn escalates_once_per_cooldown_when_cleanup_cannot_reach_critical() {
    let Some(fs) = Tmpfs::mount("8m") else { return };
    let m = fs.path();
    std::fs::create_dir_all(m.join("logs")).unwrap();
    fill_to(m, 0.92);

    let side = tempfile::tempdir().unwrap();
    let args_file = side.path().join("args");
    let script = side.path().join("grow.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", args_file.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = side.path().join("guard.toml");
    std::fs::write(
        &cfg,
        config(
            m,
            &format!(
                "[escalation]\ncommand = [\"{}\", \"--volume\", \"vol-1\"]\ncooldown = \"1h\"\n",
                script.display()
            ),
        ),
    )
    .unwrap();
    let data = side.path().join("data");

    // Dry run: reports it would escalate, runs nothing.
    let (code, dry, _) = once(&["--dry-run"], &cfg, &data);
    assert_eq!(code, 3, "{dry}");
    assert_eq!(dry["mounts"][0]["escalation"], "would_run");
    assert!(!args_file.exists());

    let (code, first, stderr) = once(&[], &cfg, &data);
    assert_eq!(code, 4, "{first}\n{stderr}");
    assert_eq!(first["mounts"][0]["escalation"], "ran");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let words: Vec<&str> = args.split_whitespace().collect();
    let mount = m.display().to_string();
    assert_eq!(words[..3], ["--volume", "vol-1", mount.as_str()]);
    let (free, size) = usage(m);
    assert_eq!(words[4], size.to_string());
    assert!(words[3].parse::<u64>().unwrap() <= free + 4096);
    assert_eq!(words[6], "0.1000");

    // Within the cooldown: not again, and the status says "still low".
    let (code, second, _) = once(&[], &cfg, &data);
    assert_eq!(code, 3, "{second}");
    assert_eq!(second["mounts"][0]["escalation"], "cooling_down");
    assert_eq!(
        std::fs::read_to_string(&args_file).unwrap().lines().count(),
        1
    );
}

/// The prediction gauge follows the real filesystem: present while free space
/// falls, gone (not a sentinel) once it stops falling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicted_full_follows_a_filling_filesystem() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let m = fs.path().to_path_buf();
    let side = tempfile::tempdir().unwrap();
    let cfg = format!(
        "trend_window = \"1h\"\n[[mount]]\npath = \"{}\"\n",
        m.display()
    );
    let mut g = guard(&cfg, side.path());
    let label = m.display().to_string();
    // Read through collect(): get_metric_with_label_values would create the series.
    let predicted = |g: &srp_disk_guard::guard::Guard| {
        use prometheus::core::Collector;
        g.metrics.predicted_full.collect()[0]
            .get_metric()
            .iter()
            .find(|m| m.get_label()[0].value() == label)
            .map(|m| m.get_gauge().value())
    };
    let mut seen = Vec::new();
    for i in 0..5 {
        write_file(&m.join(format!("grow-{i}")), MIB, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (g2, _) = pass(g).await;
        g = g2;
        seen.push(predicted(&g));
    }
    // Fewer than 3 samples: no prediction yet; then a finite, positive one.
    assert_eq!(seen[0], None);
    let last = seen[4].expect("a falling filesystem has a prediction");
    assert!(last.is_finite() && last > 0.0, "{last}");
    // Free space comes back: the series goes away instead of showing a fake number.
    for i in 0..5 {
        std::fs::remove_file(m.join(format!("grow-{i}"))).unwrap();
    }
    for _ in 0..10 {
        let (g2, _) = pass(g).await;
        g = g2;
    }
    assert_eq!(predicted(&g), None);
}

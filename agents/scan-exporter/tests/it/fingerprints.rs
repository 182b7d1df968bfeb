//! Stable secret fingerprints against a real git history: the history is
//! squashed and the secret's line moved, and the baseline and the
//! `.gitleaksignore` entry still match; a second secret added on the ignored
//! line is caught. The reports are written in Gitleaks' JSON format from the
//! repository as it stands (Gitleaks itself is not installable here).

use crate::gate;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const RULE: &str = "aws-access-token";

/// Built at run time so this file holds no literal key for scanners to flag.
fn key_a() -> String {
    format!("AKIA{}", "IOSFODNN7EXAMPLE")
}
fn key_b() -> String {
    format!("AKIA{}", "I44QH8DHBEXAMPLE")
}

fn git(repo: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What Gitleaks reports for HEAD: each AKIA key in the tracked files, with
/// HEAD's commit, its line and Gitleaks' own fingerprint.
fn gitleaks_report(repo: &Path, out: &Path) {
    let commit = git(repo, &["rev-parse", "HEAD"]).trim().to_string();
    let mut findings = Vec::new();
    for file in git(repo, &["ls-files"]).lines() {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("AKIA") {
                let secret = &rest[at..at + 20];
                let n = i + 1;
                findings.push(json!({
                    "Description": "AWS", "StartLine": n, "EndLine": n,
                    "StartColumn": 1, "EndColumn": 20, "Match": secret, "Secret": secret,
                    "File": file, "SymlinkFile": "", "Commit": commit, "Entropy": 3.6,
                    "Author": "t", "Email": "t@example.org", "Date": "2026-12-01T00:00:00Z",
                    "Message": "config", "Tags": [], "RuleID": RULE,
                    "Fingerprint": format!("{commit}:{file}:{RULE}:{n}"),
                }));
                rest = &rest[at + 20..];
            }
        }
    }
    std::fs::write(out, Value::Array(findings).to_string()).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

struct Repo {
    _dir: tempfile::TempDir,
    root: PathBuf,
    work: PathBuf,
    key: PathBuf,
}

fn repo() -> Repo {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("repo");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("config.py"),
        format!("import os\n\nAWS_KEY = \"{}\"\n", key_a()),
    )
    .unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "config"]);
    std::fs::write(work.join("README"), "x\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "readme"]);
    let key = dir.path().join("fingerprint.key");
    std::fs::write(&key, "pipeline-fingerprint-key\n").unwrap();
    Repo {
        root: dir.path().to_path_buf(),
        _dir: dir,
        work,
        key,
    }
}

/// Squash the history into one new commit and move the secret's line down.
fn rewrite(r: &Repo) {
    let text = std::fs::read_to_string(r.work.join("config.py")).unwrap();
    std::fs::write(
        r.work.join("config.py"),
        format!("# settings\n# read from the environment\n\n\n{text}"),
    )
    .unwrap();
    let root = git(&r.work, &["rev-list", "--max-parents=0", "HEAD"]);
    git(&r.work, &["reset", "-q", "--soft", root.trim()]);
    git(&r.work, &["add", "."]);
    git(&r.work, &["commit", "-q", "--amend", "-m", "squashed"]);
}

#[test]
fn baseline_and_ignore_survive_a_squash_that_moves_the_line() {
    let r = repo();
    let (before, after) = (r.root.join("before.json"), r.root.join("after.json"));
    gitleaks_report(&r.work, &before);
    let first = gate(&["--fingerprint-key-file".to_string(), s(&r.key), s(&before)]);
    assert_eq!(first.code, 1, "{}", first.debug());
    let fp = first.summary["blocking"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fp.starts_with("config.py:aws-access-token:hmac-"), "{fp}");
    assert!(
        !fp.contains("AKIA"),
        "the fingerprint holds no secret: {fp}"
    );
    let baseline = r.root.join("baseline.json");
    std::fs::write(&baseline, first.summary.to_string()).unwrap();

    let old_commit = git(&r.work, &["rev-parse", "HEAD"]);
    rewrite(&r);
    assert_ne!(git(&r.work, &["rev-parse", "HEAD"]), old_commit);
    gitleaks_report(&r.work, &after);
    let moved: Value = serde_json::from_slice(&std::fs::read(&after).unwrap()).unwrap();
    assert_eq!(moved[0]["StartLine"], 7, "the line moved");

    // Gitleaks' line-based identity: the squashed secret looks new.
    let run = gate(&[
        "--baseline".to_string(),
        s(&before),
        "--block-new-only".into(),
        s(&after),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    // The stable fingerprint: still the known secret.
    let run = gate(&[
        "--fingerprint-key-file".to_string(),
        s(&r.key),
        "--baseline".into(),
        s(&baseline),
        "--block-new-only".into(),
        s(&after),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["baseline"]["known"], 1, "{}", run.debug());
    assert_eq!(run.summary["baseline"]["new"], 0);
    // A report as baseline works the same way.
    let run = gate(&[
        "--fingerprint-key-file".to_string(),
        s(&r.key),
        "--baseline".into(),
        s(&before),
        "--block-new-only".into(),
        s(&after),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());

    // .gitleaksignore with the stable entry waives it after the rewrite.
    let ignore = r.root.join(".gitleaksignore");
    std::fs::write(&ignore, format!("{fp}\n")).unwrap();
    let run = gate(&[
        "--fingerprint-key-file".to_string(),
        s(&r.key),
        "--gitleaksignore".into(),
        s(&ignore),
        s(&after),
    ]);
    assert_eq!(run.code, 0, "{}", run.debug());
    assert_eq!(run.summary["waived"], 1);
}

#[test]
fn a_second_secret_on_an_ignored_line_is_caught() {
    let r = repo();
    let before = r.root.join("before.json");
    gitleaks_report(&r.work, &before);
    let first = gate(&["--fingerprint-key-file".to_string(), s(&r.key), s(&before)]);
    let fp = first.summary["blocking"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    // A second key lands on the same line.
    std::fs::write(
        r.work.join("config.py"),
        format!(
            "import os\n\nAWS_KEY = \"{}\"; BACKUP_KEY = \"{}\"\n",
            key_a(),
            key_b()
        ),
    )
    .unwrap();
    git(&r.work, &["commit", "-q", "-am", "backup key"]);
    let after = r.root.join("after.json");
    gitleaks_report(&r.work, &after);

    // Upstream's global form ignores the whole line: the new secret hides.
    let line_ignore = r.root.join("line.gitleaksignore");
    std::fs::write(&line_ignore, format!("config.py:{RULE}:3\n")).unwrap();
    let run = gate(&["--gitleaksignore".to_string(), s(&line_ignore), s(&after)]);
    assert_eq!(run.code, 0, "upstream form, as Gitleaks: {}", run.debug());
    // The stable entry ignores the known secret only.
    let ignore = r.root.join(".gitleaksignore");
    std::fs::write(&ignore, format!("# known, revoked\n{fp}\n")).unwrap();
    let run = gate(&[
        "--fingerprint-key-file".to_string(),
        s(&r.key),
        "--gitleaksignore".into(),
        s(&ignore),
        s(&after),
    ]);
    assert_eq!(run.code, 1, "{}", run.debug());
    assert_eq!(run.summary["waived"], 1);
    assert_eq!(run.blocking(), 1);
    let other = run.summary["blocking"][0]["fingerprint"].as_str().unwrap();
    assert_ne!(other, fp);
    assert!(!run.stdout.contains("AKIA") && !run.stderr.contains("AKIA"));
    let summary = run.summary.to_string();
    assert!(!summary.contains(&key_b()), "no secret in the summary");
}

#[test]
fn an_empty_or_missing_key_file_is_exit_2() {
    let r = repo();
    let before = r.root.join("before.json");
    gitleaks_report(&r.work, &before);
    let empty = r.root.join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    for k in [empty, r.root.join("absent.key"), r.root.clone()] {
        let run = gate(&["--fingerprint-key-file".to_string(), s(&k), s(&before)]);
        assert_eq!(run.code, 2, "{}", run.debug());
        assert!(run.stderr.contains("fingerprint key"), "{}", run.stderr);
    }
}

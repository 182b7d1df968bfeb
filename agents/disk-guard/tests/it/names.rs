//! Hostile file names, through the real binary: a newline or tab in a name
//! cannot forge or split lines of the `--once` report, the journal listing or
//! the log, and a name that is not UTF-8 is selected like any other (matched
//! byte-wise) and shown escaped.

use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

/// Starts a line of its own if a name is printed raw.
const FORGED: &str = "FORGED deleted\tpasswd";

fn run(args: &[&str], cfg: &Path, data: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .arg("--config")
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("human-readable output must be UTF-8")
}

fn assert_not_forged(what: &str, out: &str) {
    assert!(
        out.lines().all(|l| !l.starts_with("FORGED")),
        "{what}: a file name started a line of its own:\n{out}"
    );
}

#[test]
fn names_with_newlines_tabs_or_bad_utf8_are_escaped_and_selected() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let old = 30 * DAY;
    let newline = format!("evil\n{FORGED}.log");
    write_file(&root.join(&newline), 100, old);
    write_file(&root.join("tab\there.log"), 100, old);
    let latin1 = root.join(OsStr::from_bytes(b"caf\xe9.log"));
    write_file(&latin1, 100, old);
    write_file(&root.join("plain.log"), 100, old);
    write_file(&root.join(OsStr::from_bytes(b"keep\xff.txt")), 100, old);

    let cfg = t.path().join("guard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"files\"]\n\
             [policy.files]\nkind = \"files\"\nroots = [\"{}\"]\nglobs = [\"*.log\"]\nmin_age = \"1d\"\n",
            t.path().display(),
            root.display()
        ),
    )
    .unwrap();
    let data = t.path().join("data");

    // --once report (text): one line per action, five tab-separated fields.
    let out = run(&["--once"], &cfg, &data);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert_not_forged("report", &stdout);
    assert_not_forged("log", &stderr);
    let actions: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("mount "))
        .collect();
    assert_eq!(actions.len(), 4, "{stdout}");
    for l in &actions {
        assert_eq!(l.split('\t').count(), 5, "{l:?}");
        assert!(l.starts_with("deleted\t"), "{l:?}");
    }
    let r = root.display();
    for shown in [
        format!("{r}/evil\\nFORGED deleted\\tpasswd.log"),
        format!("{r}/tab\\there.log"),
        format!("{r}/caf\\xe9.log"),
        format!("{r}/plain.log"),
    ] {
        assert!(
            actions.iter().any(|l| l.split('\t').nth(1) == Some(&shown)),
            "{shown} not in\n{stdout}"
        );
    }
    // Log lines name the path escaped too.
    assert!(stderr.contains("caf\\xe9.log"), "{stderr}");

    // Selected and deleted, not silently passed over; the .txt did not match.
    assert!(!latin1.exists(), "a non-UTF-8 name was not selected");
    assert!(!root.join(&newline).exists());
    assert!(root.join(OsStr::from_bytes(b"keep\xff.txt")).exists());

    // Journal listing (text): a header and one line per row, six fields each.
    let out = Command::new(bin())
        .args(["journal", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert_not_forged("journal", &listing);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 5, "{listing}");
    for l in &lines {
        assert_eq!(l.split('\t').count(), 6, "{l:?}");
    }
    assert!(listing.contains("/caf\\xe9.log\t"), "{listing}");
    assert!(listing.contains("/tab\\there.log\t"), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jenkins_job_and_workspace_names_are_escaped_in_paths_and_reasons() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    let job = format!("evil\n{FORGED}");
    for n in 1..=2 {
        write_file(&home.join(format!("jobs/{job}/builds/{n}/log")), 100, 0);
    }
    write_file(&home.join(format!("workspace/{job}/src")), 100, 0);
    age_tree(&home, 30 * DAY);
    let cfg = format!(
        "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"jenkins\"]\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{}\"\nkeep_builds = 1\n",
        t.path().display(),
        home.display()
    );
    let (_g, report) = pass(guard(&cfg, &t.path().join("data"))).await;
    let actions = &report.mounts[0].actions;
    assert_eq!(actions.len(), 2, "{actions:?}");
    let shown = "evil\\nFORGED deleted\\tpasswd";
    for a in actions {
        assert_eq!(a.outcome, "deleted", "{a:?}");
        for field in [&a.path, &a.reason] {
            assert!(!field.contains(['\n', '\t']), "{field:?}");
        }
        assert!(a.path.contains(shown), "{a:?}");
    }
    assert!(actions[0].reason.contains(shown), "{:?}", actions[0]);
}

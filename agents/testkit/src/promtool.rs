//! The real `promtool check metrics` (Debian package `prometheus`) run on an
//! exposition text given on its stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const HINT: &str = "promtool comes with Debian's prometheus package (apt-get install prometheus; scripts/setup.sh installs it)";

fn run(text: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}; {HINT}"));
    // Written before reading: promtool reads all of stdin before it prints.
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("writing the metrics to promtool");
    child.wait_with_output().expect("waiting for promtool")
}

/// What promtool says about `text`: its non-blank stdout and stderr lines,
/// sorted. promtool exits non-zero on lint findings, so the exit status is not
/// looked at; an empty list is a clean check.
pub fn findings(text: &str) -> Vec<String> {
    let out = run(text);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    lines.sort();
    lines
}

/// Panics unless promtool accepts `text` silently: exit status 0 and nothing
/// at all on stdout or stderr. The panic shows what promtool said and the text.
pub fn assert_clean(text: &str) {
    let out = run(text);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics is not clean ({}):\n{}{}\n({HINT})\n--- checked text ---\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
}

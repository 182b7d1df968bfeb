//! The helpers themselves must be able to fail: promtool rejects bad text,
//! and a daemon that never says where it listens is reported with its log.

use srp_testkit::{promtool, Daemon};
use std::process::Command;
use std::time::Duration;

const CLEAN: &str = "# HELP srp_up Whether it is up.\n# TYPE srp_up gauge\nsrp_up 1\n";

#[test]
fn promtool_accepts_clean_text_and_finds_lint() {
    promtool::assert_clean(CLEAN);
    assert!(promtool::findings(CLEAN).is_empty());
    // A counter without _total and no HELP: promtool's linter speaks.
    let lint = "# TYPE srp_things counter\nsrp_things 1\n";
    let found = promtool::findings(lint);
    assert!(!found.is_empty(), "{found:?}");
    let panic = std::panic::catch_unwind(|| promtool::assert_clean(lint)).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("srp_things") && msg.contains("prometheus"),
        "{msg}"
    );
}

#[test]
fn promtool_rejects_unparsable_text() {
    let bad = "srp_up{ 1\n";
    assert!(!promtool::findings(bad).is_empty());
    assert!(std::panic::catch_unwind(|| promtool::assert_clean(bad)).is_err());
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", script]);
    c
}

#[test]
fn daemon_address_log_and_signals() {
    let mut d = Daemon::spawn(&mut sh(
        "echo starting >&2; echo 'INFO listening on http://127.0.0.1:4321' >&2; \
         trap 'echo got term >&2; exit 0' TERM; while :; do sleep 0.1; done",
    ));
    assert_eq!(d.addr, "127.0.0.1:4321".parse().unwrap());
    assert_eq!(d.url("/metrics"), "http://127.0.0.1:4321/metrics");
    assert!(d.log().starts_with("starting\n"), "{}", d.log());
    d.terminate();
    let line = d.expect_line("saying it got SIGTERM", Duration::from_secs(30), |l| {
        l.contains("got term")
    });
    assert_eq!(line, "got term");
    assert!(d.wait().success());
}

#[test]
fn daemon_that_exits_early_is_reported_with_its_stderr() {
    let panic = std::panic::catch_unwind(|| {
        Daemon::spawn(&mut sh("echo 'bad flag --nope' >&2; exit 2"));
    })
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("exited before") && msg.contains("bad flag --nope"),
        "{msg}"
    );
}

#[test]
fn expect_line_times_out_with_the_log() {
    let d = Daemon::spawn(&mut sh(
        "echo 'listening on https://127.0.0.1:9' >&2; exec sleep 30",
    ));
    assert_eq!(d.scheme, "https");
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        d.expect_line("never", Duration::from_millis(200), |l| l == "never")
    }))
    .unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(msg.contains("listening on https://127.0.0.1:9"), "{msg}");
}

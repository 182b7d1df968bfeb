//! Build-aware cleanup: before the Jenkins policy deletes anything, it asks a
//! (mock) Jenkins on a real socket what is running, and looks for processes
//! whose cwd or open files lie inside a candidate. What is in use survives a
//! pass that deletes its idle neighbours; Jenkins unreachable means the pass
//! only reports.

use crate::mock_jenkins::MockJenkins;
use crate::support::*;
use std::path::Path;
use std::process::{Child, Command};

/// A process started by the test, killed (by pid) and reaped on drop.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace(home: &Path, name: &str, age_days: u64) {
    write_file(
        &home.join(format!("workspace/{name}/src/a.c")),
        4000,
        age_days * DAY,
    );
    age_tree(&home.join(format!("workspace/{name}")), age_days * DAY);
}

fn old_build(home: &Path, job: &str, n: u32, age_days: u64) {
    let b = home.join(format!("jobs/{job}/builds/{n}"));
    write_file(&b.join("log"), 3000, age_days * DAY);
    age_tree(&b, age_days * DAY);
}

fn config(home: &Path, mount: &Path, jenkins: &str) -> String {
    format!(
        "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"jenkins\"]\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{}\"\nkeep_builds = 1\nworkspace_idle = \"3d\"\n{jenkins}",
        mount.display(),
        home.display()
    )
}

/// Waits until the kernel shows the child's cwd where it was started.
fn wait_cwd(p: &Child, dir: &Path) {
    for _ in 0..200 {
        if std::fs::read_link(format!("/proc/{}/cwd", p.id())).is_ok_and(|c| c == dir) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("process {} never showed its cwd", p.id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_builds_and_live_processes_keep_their_trees_while_idle_neighbours_go() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    // All old enough to be idle by mtime; only evidence of use can keep them.
    for ws in [
        "busy-job",
        "busy-job@tmp",
        "busy-job@libs",
        "held",
        "held@tmp",
        "idle-a",
        "idle-b",
        "file-open",
    ] {
        workspace(&home, ws, 10);
    }
    // A job in a folder whose build runs: workspace/team/svc (nested layout).
    workspace(&home, "team", 10);
    // `long` has an old build that is still running (keep_builds = 1).
    old_build(&home, "long", 1, 12);
    old_build(&home, "long", 2, 11);
    old_build(&home, "done", 1, 12);
    old_build(&home, "done", 2, 11);

    let jenkins = MockJenkins::start(&["(built-in)", "agent-1"]).await;
    jenkins.run_build("(built-in)", "job/busy-job/7/", 7);
    jenkins.run_build("agent-1", "job/team/job/svc/3/", 3);
    jenkins.run_build("agent-1", "job/long/1/", 1);

    // A live process inside `held` (its cwd), and one holding a file open in `file-open`.
    let held_dir = home.join("workspace/held");
    let sleeper = Proc(
        Command::new("sleep")
            .arg("60")
            .current_dir(held_dir.join("src"))
            .spawn()
            .unwrap(),
    );
    wait_cwd(&sleeper.0, &held_dir.join("src"));
    let open_file = home.join("workspace/file-open/src/a.c");
    let reader = Proc(
        Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$1\"; exec sleep 60")
            .arg("sh")
            .arg(&open_file)
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        let fds = std::fs::read_dir(format!("/proc/{}/fd", reader.0.id())).unwrap();
        if fds
            .flatten()
            .any(|f| std::fs::read_link(f.path()).is_ok_and(|p| p == open_file))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    let data = t.path().join("data");
    let cfg = config(&home, t.path(), &jenkins.config(t.path()));
    let (g, report) = pass(guard(&cfg, &data)).await;
    let m = &report.mounts[0];
    assert!(m.errors.is_empty(), "{:?}", m.errors);

    let ws = |n: &str| home.join(format!("workspace/{n}")).exists();
    for kept in [
        "busy-job",
        "busy-job@tmp",
        "busy-job@libs",
        "held",
        "held@tmp",
        "file-open",
        "team",
    ] {
        assert!(ws(kept), "workspace {kept} is in use and must survive");
    }
    assert!(!ws("idle-a") && !ws("idle-b"), "idle neighbours go");
    assert!(
        home.join("jobs/long/builds/1").exists(),
        "running build record kept"
    );
    assert!(
        !home.join("jobs/done/builds/1").exists(),
        "finished old build goes"
    );
    assert_eq!(skipped(&g, "jenkins", "in_use"), 8, "{:#?}", m.actions);
    assert!(jenkins.state.lock().unwrap().computer_calls >= 1);
    assert!(jenkins.state.lock().unwrap().refused.is_empty());
    drop((sleeper, reader));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jenkins_unreachable_means_the_pass_only_reports_and_says_so() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    workspace(&home, "idle-a", 10);
    old_build(&home, "done", 1, 12);
    old_build(&home, "done", 2, 11);
    // A port that was just free: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = t.path().join("token");
    std::fs::write(&token, "x").unwrap();
    let jenkins = format!(
        "[jenkins]\nurl = \"http://127.0.0.1:{port}\"\nuser = \"u\"\ntoken_file = \"{}\"\ntimeout = \"2s\"\n",
        token.display()
    );
    let data = t.path().join("data");
    let (g, report) = pass(guard(&config(&home, t.path(), &jenkins), &data)).await;
    let m = &report.mounts[0];
    assert!(home.join("workspace/idle-a").exists());
    assert!(home.join("jobs/done/builds/1").exists());
    assert!(
        m.errors
            .iter()
            .any(|e| e.contains("Jenkins could not be asked")),
        "{:?}",
        m.errors
    );
    let would: Vec<_> = m
        .actions
        .iter()
        .filter(|a| a.outcome == "would_delete")
        .collect();
    assert_eq!(would.len(), 2, "{:#?}", m.actions);
    assert!(would
        .iter()
        .all(|a| a.reason.contains("dry-run for this pass")));
    assert_eq!(m.reclaimed_bytes, 0);
    assert_eq!(report.exit_code(), 3, "still low, nothing deleted");
    let rows = g.journal.list(10).unwrap();
    assert!(rows.iter().all(|r| r.outcome == "would_delete"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_jenkins_not_asked_not_a_blind_delete() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    workspace(&home, "idle-a", 10);
    let jenkins = MockJenkins::start(&["(built-in)"]).await;
    let mut section = jenkins.config(t.path());
    std::fs::write(t.path().join("jenkins-token"), "wrong").unwrap();
    section.push('\n');
    let data = t.path().join("data");
    let (_g, report) = pass(guard(&config(&home, t.path(), &section), &data)).await;
    assert!(home.join("workspace/idle-a").exists());
    assert!(
        report.mounts[0].errors[0].contains("401"),
        "{:?}",
        report.mounts[0].errors
    );
    assert_eq!(jenkins.state.lock().unwrap().refused.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_process_keeps_its_workspace_without_jenkins_configured() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    workspace(&home, "held", 10);
    workspace(&home, "idle", 10);
    let held = home.join("workspace/held/src");
    let sleeper = Proc(
        Command::new("sleep")
            .arg("60")
            .current_dir(&held)
            .spawn()
            .unwrap(),
    );
    wait_cwd(&sleeper.0, &held);
    let data = t.path().join("data");
    let (g, report) = pass(guard(&config(&home, t.path(), ""), &data)).await;
    assert!(
        report.mounts[0].errors.is_empty(),
        "{:?}",
        report.mounts[0].errors
    );
    assert!(
        home.join("workspace/held").exists(),
        "a process is inside it"
    );
    assert!(!home.join("workspace/idle").exists());
    assert_eq!(skipped(&g, "jenkins", "in_use"), 1);
    drop(sleeper);
}

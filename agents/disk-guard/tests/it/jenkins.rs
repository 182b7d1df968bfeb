//! The Jenkins policy against a JENKINS_HOME laid out as Jenkins lays it out:
//! jobs/NAME/builds/N, folders (jobs/A/jobs/B), multibranch
//! (jobs/A/branches/B), permalinks in both layouts, keep-forever builds,
//! workspace/NAME and NAME@tmp.

use crate::support::*;
use std::os::unix::fs::symlink;
use std::path::Path;

fn build(job: &Path, n: u32, age_days: u64) {
    let b = job.join(format!("builds/{n}"));
    write_file(&b.join("build.xml"), 300, age_days * DAY);
    write_file(&b.join("log"), 5000, age_days * DAY);
    write_file(&b.join("archive/app.jar"), 20_000, age_days * DAY);
    age_tree(&b, age_days * DAY);
}

fn job_with_builds(job: &Path, count: u32) {
    for n in 1..=count {
        // Build n is (count - n + 10) days old: higher numbers are newer.
        build(job, n, (count - n) as u64 + 10);
    }
    std::fs::write(job.join("config.xml"), "<project/>").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_newest_permalinked_and_pinned_builds_and_busy_workspaces() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    let outside = t.path().join("outside");
    write_file(&outside.join("precious.txt"), 100, 40 * DAY);

    // A plain job with 30 builds; keep_builds = 20 leaves 1..10 as candidates.
    let app = home.join("jobs/app");
    job_with_builds(&app, 30);
    std::fs::write(
        app.join("builds/permalinks"),
        "lastCompletedBuild 30\nlastFailedBuild -1\nlastStableBuild 3\nlastSuccessfulBuild 3\n",
    )
    .unwrap();
    symlink("5", app.join("builds/lastUnstableBuild")).unwrap(); // the older layout
    std::fs::write(
        app.join("builds/7/build.xml"),
        "<build><keepLog>true</keepLog></build>",
    )
    .unwrap();
    // Something in build 9 was just written: inside the grace period.
    write_file(&app.join("builds/9/log"), 10, 0);
    // Build 1 has a symlink to outside: the link goes, the target stays.
    symlink(&outside, app.join("builds/1/archive/escape")).unwrap();
    // A hard link to something outside inside build 2.
    std::fs::hard_link(
        outside.join("precious.txt"),
        app.join("builds/2/precious-link"),
    )
    .unwrap();
    age_tree(&app.join("builds/1"), 29 * DAY + 3600);
    age_tree(&app.join("builds/2"), 28 * DAY + 3600);

    // A job in a folder and a multibranch branch.
    let svc = home.join("jobs/team/jobs/svc");
    job_with_builds(&svc, 23);
    let main = home.join("jobs/mb/branches/main");
    job_with_builds(&main, 21);
    // A job with fewer builds than keep_builds: untouched.
    let small = home.join("jobs/small");
    job_with_builds(&small, 5);

    // Workspaces: two idle ones, one busy, one symlink to outside.
    write_file(&home.join("workspace/app/src/main.rs"), 8000, 5 * DAY);
    write_file(&home.join("workspace/app@tmp/secret"), 100, 5 * DAY);
    age_tree(&home.join("workspace/app"), 5 * DAY);
    age_tree(&home.join("workspace/app@tmp"), 5 * DAY);
    write_file(&home.join("workspace/busy/old.txt"), 100, 9 * DAY);
    write_file(&home.join("workspace/busy/new.txt"), 100, DAY);
    symlink(&outside, home.join("workspace/evil")).unwrap();

    let data = t.path().join("data");
    let cfg = format!(
        "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"jenkins\"]\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{}\"\nkeep_builds = 20\nworkspace_idle = \"3d\"\n",
        t.path().display(),
        home.display()
    );
    let (g, report) = pass(guard(&cfg, &data)).await;
    let m = &report.mounts[0];
    assert!(m.errors.is_empty(), "{:?}", m.errors);

    let exists = |job: &Path, n: u32| job.join(format!("builds/{n}")).exists();
    for n in [1, 2, 4, 6, 8, 10] {
        assert!(!exists(&app, n), "app build {n} should be gone");
    }
    for n in [3, 5, 7, 9] {
        assert!(exists(&app, n), "app build {n} should be kept");
    }
    for n in 11..=30 {
        assert!(exists(&app, n));
    }
    for n in 1..=3 {
        assert!(!exists(&svc, n), "folder job build {n}");
    }
    for n in 4..=23 {
        assert!(exists(&svc, n));
    }
    assert!(!exists(&main, 1));
    for n in 2..=21 {
        assert!(exists(&main, n));
    }
    for n in 1..=5 {
        assert!(exists(&small, n));
    }
    assert!(app.join("builds/permalinks").exists());
    assert!(app.join("config.xml").exists());

    assert!(!home.join("workspace/app").exists());
    assert!(!home.join("workspace/app@tmp").exists());
    assert!(home.join("workspace/busy/old.txt").exists());
    assert!(std::fs::symlink_metadata(home.join("workspace/evil")).is_ok());

    // Outside untouched, even through the symlink and the hard link.
    assert_eq!(
        std::fs::read(outside.join("precious.txt")).unwrap().len(),
        100
    );

    // Reasons name the rule; skips are explained.
    let app1 = m
        .actions
        .iter()
        .find(|a| a.path.ends_with("jobs/app/builds/1"))
        .unwrap();
    assert_eq!(app1.outcome, "deleted");
    assert!(
        app1.reason.contains("build #1 of job app"),
        "{}",
        app1.reason
    );
    assert!(app1.bytes >= 25_000, "{}", app1.bytes);
    let svc1 = m
        .actions
        .iter()
        .find(|a| a.path.ends_with("jobs/team/jobs/svc/builds/1"))
        .unwrap();
    assert!(svc1.reason.contains("job team/svc"), "{}", svc1.reason);
    let ws = m
        .actions
        .iter()
        .find(|a| a.path.ends_with("workspace/app"))
        .unwrap();
    assert!(ws.reason.contains("idle for 5d"), "{}", ws.reason);
    assert_eq!(skipped(&g, "jenkins", "protected"), 3, "builds 3, 5, 7");
    assert!(skipped(&g, "jenkins", "grace_period") >= 1, "build 9");
    assert!(skipped(&g, "jenkins", "symlink") >= 1, "workspace/evil");
    let reclaimed = g.metrics.reclaimed.with_label_values(&["jenkins"]).get();
    assert_eq!(reclaimed, m.reclaimed_bytes);
    assert!(reclaimed > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_deletes_nothing_and_a_missing_home_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("jenkins");
    let app = home.join("jobs/app");
    job_with_builds(&app, 25);
    let cfg = format!(
        "dry_run = true\n[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{m}\"\npolicies = [\"jenkins\", \"gone\"]\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{h}\"\nkeep_builds = 20\n\
         [policy.gone]\nkind = \"jenkins\"\njenkins_home = \"{m}/nowhere\"\n",
        m = t.path().display(),
        h = home.display()
    );
    let (g, report) = pass(guard(&cfg, &t.path().join("data"))).await;
    let would: Vec<_> = report.mounts[0]
        .actions
        .iter()
        .filter(|a| a.outcome == "would_delete")
        .collect();
    assert_eq!(would.len(), 5);
    for n in 1..=25 {
        assert!(app.join(format!("builds/{n}")).exists());
    }
    assert_eq!(skipped(&g, "gone", "missing_root"), 1);
    assert_eq!(g.metrics.dry_run.get(), 1);
}

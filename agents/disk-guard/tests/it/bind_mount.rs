//! A bind mount of another directory *of the same filesystem* placed inside
//! an allowed root: it has the root's device number, so only the mount id
//! tells it apart. It must not be entered (files policy) or removed as part
//! of a tree (Jenkins policy), and it must show up as a counted skip. Both
//! sides live on one tmpfs mounted for the test, so the device really is the
//! same.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `mount --bind SOURCE TARGET`, lazily unmounted on drop (before the tmpfs
/// holding both goes: declare it after the [`Tmpfs`]).
struct BindMount {
    target: PathBuf,
}

impl BindMount {
    fn new(source: &Path, target: &Path) -> BindMount {
        let out = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount --bind {} {}: {}",
            source.display(),
            target.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        BindMount {
            target: target.to_path_buf(),
        }
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.target).status();
    }
}

fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(a).unwrap().dev() == std::fs::metadata(b).unwrap().dev()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_mount_of_the_same_filesystem_inside_a_root_is_not_entered() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let m = fs.path();
    let root = m.join("root");
    let outside = m.join("outside");
    let old = 30 * DAY;
    write_file(&outside.join("secret/old.log"), 100, old);
    write_file(&outside.join("single.log"), 100, old);
    write_file(&root.join("plain.log"), 100, old);
    std::fs::create_dir_all(root.join("bind")).unwrap();
    write_file(&root.join("file-bind.log"), 1, old);
    let _dir = BindMount::new(&outside.join("secret"), &root.join("bind"));
    let _file = BindMount::new(&outside.join("single.log"), &root.join("file-bind.log"));
    assert!(
        same_device(&root.join("bind"), &root),
        "not the same device"
    );
    assert!(root.join("bind/old.log").exists());

    let side = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"files\"]\n\
         [policy.files]\nkind = \"files\"\nroots = [\"{}\"]\nglobs = [\"**/*.log\"]\nmin_age = \"1d\"\n",
        m.display(),
        root.display()
    );
    let data = side.path().join("data");

    // The dry run reports exactly what the real run will do: neither the
    // directory nor the file mounted into the root is listed.
    let mut dry = guard(&cfg, &data);
    dry.force_dry_run = true;
    let (dry, dry_report) = pass(dry).await;
    let would: Vec<&str> = dry_report.mounts[0]
        .actions
        .iter()
        .map(|a| a.path.as_str())
        .collect();
    assert_eq!(would, [root.join("plain.log").display().to_string()]);
    assert!(skipped(&dry, "files", "other_filesystem") >= 2);
    drop(dry);

    let (g, report) = pass(guard(&cfg, &data)).await;

    assert!(
        outside.join("secret/old.log").exists(),
        "deleted through a bind mount, outside every root"
    );
    assert!(outside.join("single.log").exists());
    assert!(!root.join("plain.log").exists(), "the pass did not run");
    let mr = &report.mounts[0];
    assert!(mr.errors.is_empty(), "{:?}", mr.errors);
    let touched: Vec<_> = mr
        .actions
        .iter()
        .filter(|a| a.path.contains("/bind/") || a.outcome == "failed")
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
    // The directory (not entered) and the bind-mounted file (not unlinked).
    assert!(
        skipped(&g, "files", "other_filesystem") >= 2,
        "{:?}",
        mr.actions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_record_that_is_a_bind_mount_is_left_whole() {
    let Some(fs) = Tmpfs::mount("8m") else {
        return;
    };
    let m = fs.path();
    let home = m.join("jenkins");
    let outside = m.join("outside");
    let old = 30 * DAY;
    let builds = home.join("jobs/app/builds");
    for n in 1..=3 {
        write_file(&builds.join(format!("{n}/log")), 100, old);
    }
    write_file(&outside.join("precious/log"), 100, old);
    // Build 1 is the oldest record, so it would be the first to go.
    let _bind = BindMount::new(&outside.join("precious"), &builds.join("1"));
    age_tree(&home, old);
    age_tree(&outside, old);

    let side = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"jenkins\"]\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{}\"\nkeep_builds = 1\n",
        m.display(),
        home.display()
    );
    let (g, report) = pass(guard(&cfg, &side.path().join("data"))).await;

    assert!(
        outside.join("precious/log").exists(),
        "a build record bind-mounted from outside was emptied"
    );
    assert!(!builds.join("2").exists(), "the pass did not run");
    assert!(builds.join("3").exists());
    let mr = &report.mounts[0];
    assert!(
        mr.actions.iter().all(|a| !a.path.ends_with("/builds/1")),
        "{:?}",
        mr.actions
    );
    assert!(skipped(&g, "jenkins", "other_filesystem") >= 1);
}

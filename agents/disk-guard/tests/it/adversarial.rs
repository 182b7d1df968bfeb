//! An adversarial tree: symlinks and hard links pointing out of the root, a
//! directory swapped for a symlink while the guard runs (injected through the
//! hooks at the exact moment between check and use), a directory moved out of
//! the root, unreadable directories, files written during the run, and a FIFO.
//! Nothing outside the root is touched, the run completes, and every skip is
//! explained (counted by reason).

use crate::support::*;
use srp_disk_guard::safe_fs::Hooks;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Attacker {
    root: PathBuf,
    outside: PathBuf,
}

impl Hooks for Attacker {
    fn before_open_dir(&self, path: &Path) {
        // Listed as a directory, becomes a symlink to outside before it is opened.
        if path == self.root.join("walkout") {
            // Same trick during the walk: the directory itself, moved out and linked back.
            std::fs::rename(path, self.outside.join("walkout-moved")).unwrap();
            symlink(self.outside.join("walkout-moved"), path).unwrap();
        }
        if path == self.root.join("walkswap") {
            std::fs::rename(path, self.root.join("walkswap.orig")).unwrap();
            symlink(self.outside.join("walk"), path).unwrap();
        }
    }

    fn before_delete(&self, path: &Path) {
        if path == self.root.join("swap/old.log") {
            // Selected inside the root; by deletion time its directory is a
            // symlink to a look-alike outside.
            std::fs::rename(self.root.join("swap"), self.root.join("swap.orig")).unwrap();
            symlink(self.outside.join("swap"), self.root.join("swap")).unwrap();
        }
        if path == self.root.join("swapout/old.log") {
            // The very same directory (same inode, same file) moved outside and
            // linked back: only O_NOFOLLOW and the /proc location check stop this.
            std::fs::rename(
                self.root.join("swapout"),
                self.outside.join("swapout-moved"),
            )
            .unwrap();
            symlink(
                self.outside.join("swapout-moved"),
                self.root.join("swapout"),
            )
            .unwrap();
        }
        if path == self.root.join("moved/old.log") {
            // The directory leaves the root altogether.
            std::fs::rename(self.root.join("moved"), self.outside.join("moved")).unwrap();
        }
        if path == self.root.join("writing.log") {
            // Someone appends to it between selection and deletion.
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
            f.write_all(b"more").unwrap();
        }
        if path == self.root.join("replaced.log") {
            // Replaced by a symlink to a file outside, same name.
            std::fs::remove_file(path).unwrap();
            symlink(self.outside.join("secret.log"), path).unwrap();
        }
    }
}

fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_root_is_touched_and_every_skip_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    let old = 30 * DAY;

    // Outside: things an attacker would love the guard to delete.
    write_file(&outside.join("secret.log"), 100, old);
    write_file(&outside.join("dir/inner.log"), 100, old);
    write_file(&outside.join("hardtarget.log"), 5000, old);
    write_file(&outside.join("swap/old.log"), 100, old);
    write_file(&outside.join("walk/x.log"), 100, old);

    // Inside.
    write_file(&root.join("plain.log"), 4096, old);
    symlink(outside.join("secret.log"), root.join("link-to-secret.log")).unwrap();
    symlink(outside.join("dir"), root.join("linkdir")).unwrap();
    std::fs::hard_link(outside.join("hardtarget.log"), root.join("hard.log")).unwrap();
    write_file(&root.join("swap/old.log"), 100, old);
    write_file(&root.join("moved/old.log"), 100, old);
    write_file(&root.join("swapout/old.log"), 100, old);
    write_file(&root.join("walkout/z.log"), 100, old);
    write_file(&root.join("walkswap/y.log"), 100, old);
    write_file(&root.join("writing.log"), 100, old);
    write_file(&root.join("replaced.log"), 100, old);
    write_file(&root.join("fresh.log"), 100, 0); // being written right now
    write_file(&root.join("locked/old.log"), 100, old);
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        root.join("pipe.log"),
        rustix::fs::Mode::from_raw_mode(0o644),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let outside_before = snapshot(&outside);

    let data = t.path().join("data");
    let cfg = format!(
        "grace_period = \"15m\"\n[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"files\"]\n\
         [policy.files]\nkind = \"files\"\nroots = [\"{}\"]\nglobs = [\"**/*.log\"]\nmin_age = \"0s\"\n",
        t.path().display(),
        root.display()
    );
    let mut g = guard(&cfg, &data);
    g.hooks = Arc::new(Attacker {
        root: root.clone(),
        outside: outside.clone(),
    });
    let (g, report) = pass(g).await;
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();

    // Outside is byte-for-byte what it was (plus the directory moved there).
    let mut outside_after = snapshot(&outside);
    for moved in ["moved", "swapout-moved", "walkout-moved"] {
        outside_after.retain(|(p, _)| !p.starts_with(outside.join(moved)));
    }
    assert_eq!(outside_before, outside_after);
    assert!(
        outside.join("swapout-moved/old.log").exists(),
        "followed a symlink out of the root"
    );
    assert!(
        outside.join("walkout-moved/z.log").exists(),
        "walked through a symlink out of the root"
    );
    assert!(
        outside.join("moved/old.log").exists(),
        "moved-out directory was entered"
    );

    // The run completed, deleting what was plainly inside.
    let m = &report.mounts[0];
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert!(!root.join("plain.log").exists());
    assert!(
        !root.join("hard.log").exists(),
        "a hard link inside the root may go"
    );
    let hard = m
        .actions
        .iter()
        .find(|a| a.path.ends_with("/hard.log"))
        .unwrap();
    assert_eq!(hard.bytes, 0, "unlinking one of two links frees nothing");
    assert_eq!(
        std::fs::read(outside.join("hardtarget.log")).unwrap().len(),
        5000
    );

    // What was kept, and why.
    assert!(root.join("swap.orig/old.log").exists());
    assert!(root.join("walkswap.orig/y.log").exists());
    assert!(root.join("writing.log").exists());
    assert!(root.join("fresh.log").exists());
    assert!(std::fs::symlink_metadata(root.join("link-to-secret.log")).is_ok());
    assert!(std::fs::symlink_metadata(root.join("replaced.log"))
        .unwrap()
        .file_type()
        .is_symlink());
    let count = |reason| skipped(&g, "files", reason);
    assert!(count("symlink") >= 1, "link-to-secret.log");
    // swap/, swapout/, moved/, walkswap/, walkout/, writing.log, replaced.log
    assert!(
        count("changed_during_run") >= 7,
        "{}",
        count("changed_during_run")
    );
    assert!(count("grace_period") >= 1, "fresh.log");
    assert!(count("not_regular") >= 1, "pipe.log");
    if is_root() {
        // Root reads mode-000 directories, so the guard deletes inside them;
        // the unreadable case is covered by running the binary unprivileged.
        assert!(!root.join("locked/old.log").exists());
    } else {
        assert!(count("unreadable") >= 1);
        assert!(root.join("locked/old.log").exists());
    }
    // Every skip of a selected entry also got a journal row saying why.
    let rows = g.journal.list(100).unwrap();
    for name in [
        "swap/old.log",
        "swapout/old.log",
        "moved/old.log",
        "writing.log",
        "replaced.log",
    ] {
        let r = rows
            .iter()
            .find(|r| r.path.ends_with(name))
            .unwrap_or_else(|| panic!("no journal row for {name}"));
        assert!(r.outcome.starts_with("skipped: "), "{name}: {}", r.outcome);
    }
}

/// Unreadable directories need an unprivileged guard: run the binary as
/// `nobody` when the tests run as root.
#[test]
fn unreadable_directories_are_skipped_and_explained() {
    let t = tempfile::tempdir().unwrap();
    let base = t.path();
    let root = base.join("root");
    write_file(&root.join("ok.log"), 100, 30 * DAY);
    write_file(&root.join("locked/old.log"), 100, 30 * DAY);
    let data = base.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let cfg = base.join("guard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[defaults]\n{UNREACHABLE}[[mount]]\npath = \"{}\"\npolicies = [\"files\"]\n\
             [policy.files]\nkind = \"files\"\nroots = [\"{}\"]\nglobs = [\"**/*.log\"]\nmin_age = \"1d\"\n",
            base.display(),
            root.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mut cmd = std::process::Command::new(bin());
    if is_root() {
        // The binary and everything it needs must be reachable by nobody.
        let exe = base.join("srp-disk-guard");
        std::fs::copy(bin(), &exe).unwrap();
        for p in [base, &root, &data] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in [&root, &root.join("ok.log"), &root.join("locked"), &data] {
            std::os::unix::fs::chown(p, Some(65534), None).unwrap();
        }
        cmd = std::process::Command::new(&exe);
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = cmd
        .args(["--once", "--report-json", "--config"])
        .arg(&cfg)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Target unreachable: still low after cleaning.
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!root.join("ok.log").exists(), "{stderr}");
    assert!(root.join("locked/old.log").exists());
    assert!(
        stderr.contains("unreadable") && stderr.contains("locked"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["mounts"][0]["skipped"].as_u64().unwrap() >= 1);
}

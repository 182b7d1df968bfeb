//! The btrfs collector's ioctl branch on a real, mounted btrfs: two sparse
//! files on loop devices as a raid1 filesystem, with corruption errors on
//! one member (part of its image overwritten, then a scrub finds and repairs
//! them), scraped by srp-node-exporter and by Debian's node_exporter 1.5.0
//! side by side; every `node_btrfs_*` line must be identical, errors
//! included. Needs root, loop devices and `btrfs-progs` (DESIGN: tests run as
//! root and loop mounts work here).
//!
//! The mount point is under `/run/credentials/`, which both exporters'
//! filesystem collectors exclude by default, and loop devices are excluded
//! from diskstats by default, so parity tests running at the same time do
//! not see it. Everything set up is torn down by [`Btrfs`]'s `Drop`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (install btrfs-progs / util-linux)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A two-device raid1 btrfs, mounted; unmounted and detached on drop.
struct Btrfs {
    _dir: tempfile::TempDir,
    loops: Vec<String>,
    mnt: PathBuf,
}

impl Btrfs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let images: Vec<PathBuf> = ["a.img", "b.img"].map(|n| dir.path().join(n)).to_vec();
        for img in &images {
            let f = std::fs::File::create(img).unwrap();
            f.set_len(300 << 20).unwrap();
        }
        let img = |i: usize| images[i].to_str().unwrap().to_string();
        run(
            "mkfs.btrfs",
            &[
                "-q",
                "-L",
                "srp-test",
                "-d",
                "raid1",
                "-m",
                "raid1",
                &img(0),
                &img(1),
            ],
        );
        let mut me = Btrfs {
            mnt: PathBuf::from(format!(
                "/run/credentials/srp-btrfs-test-{}",
                std::process::id()
            )),
            _dir: dir,
            loops: Vec::new(),
        };
        for i in 0..2 {
            let l = run("losetup", &["--show", "-f", &img(i)])
                .trim()
                .to_string();
            me.loops.push(l);
        }
        std::fs::create_dir_all(&me.mnt).unwrap();
        let devices = format!("device={},device={}", me.loops[0], me.loops[1]);
        run(
            "mount",
            &[
                "-t",
                "btrfs",
                "-o",
                &devices,
                &me.loops[0],
                me.mnt.to_str().unwrap(),
            ],
        );
        me
    }

    /// Corrupt the second member's copy of a file and let a scrub count it.
    fn corrupt_and_scrub(&self, image: &Path) {
        let data = vec![0xA5u8; 64 << 20];
        std::fs::write(self.mnt.join("data"), &data).unwrap();
        run("sync", &[]);
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(image).unwrap();
        f.seek(SeekFrom::Start(40 << 20)).unwrap();
        f.write_all(&vec![0x5Au8; 200 << 20]).unwrap();
        f.sync_all().unwrap();
        // A scrub reads both copies, finds the bad checksums on one member,
        // repairs them from the other and counts them as corruption errors.
        let _ = Command::new("btrfs")
            .args(["scrub", "start", "-B", self.mnt.to_str().unwrap()])
            .output();
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mnt).status();
        let _ = std::fs::remove_dir(&self.mnt);
        for l in &self.loops {
            let _ = Command::new("losetup").args(["-d", l]).status();
        }
    }
}

fn btrfs_lines(scrape: &str) -> String {
    scrape
        .lines()
        .filter(|l| {
            l.starts_with("node_btrfs_")
                || l.starts_with("# HELP node_btrfs_")
                || l.starts_with("# TYPE node_btrfs_")
                || l.starts_with("node_scrape_collector_success{collector=\"btrfs\"}")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn mounted_btrfs_members_and_errors_match_debians_node_exporter() {
    let fs = Btrfs::new();
    fs.corrupt_and_scrub(&fs._dir.path().join("b.img"));
    let stats = run("btrfs", &["device", "stats", fs.mnt.to_str().unwrap()]);
    // `[/dev/loopN].corruption_errs  N` for the member whose image was hit.
    let member = format!("[{}].corruption_errs", fs.loops[1]);
    let corrupt: u64 = stats
        .lines()
        .find(|l| l.starts_with(&member))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or_else(|| panic!("no {member} in {stats}"));
    assert!(corrupt > 0, "the scrub counted no corruption: {stats}");

    let args = ["--collector.disable-defaults", "--collector.btrfs"];
    let peer = common::start_peer(&args.map(String::from));
    let theirs = btrfs_lines(&common::get(&format!("http://{}/metrics", peer.addr)).unwrap());
    drop(peer);
    let d = common::start_ours(&args);
    let ours = btrfs_lines(&common::get(&d.url("/metrics")).unwrap());
    drop(d);

    let loop_dev = fs.loops[1].trim_start_matches("/dev/");
    let errors = format!("device=\"{loop_dev}\",type=\"corruption\"");
    let line = ours
        .lines()
        .find(|l| l.starts_with("node_btrfs_device_errors_total{") && l.contains(&errors))
        .unwrap_or_else(|| panic!("no corruption series for {loop_dev}: {ours}"));
    assert!(line.ends_with(&format!(" {corrupt}")), "{line} vs {stats}");
    assert!(
        ours.contains("node_btrfs_device_unused_bytes{btrfs_dev_uuid="),
        "{ours}"
    );
    assert_eq!(ours, theirs);
}

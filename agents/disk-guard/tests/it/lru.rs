//! Least recently used first, across policies, to the target and no further:
//! on a real tmpfs, a files policy listed first and a Jenkins policy hand in
//! interleaved candidates; the pass takes the two oldest (one of each) and
//! stops at target, leaving the younger ones of both policies.

use crate::support::*;

const MIB: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_of_all_policies_go_oldest_first_and_the_pass_stops_at_target() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let root = fs.path();
    let logs = root.join("logs");
    let home = root.join("jenkins");
    write_file(&logs.join("oldest.log"), 2 * MIB, 30 * DAY);
    write_file(&logs.join("young.log"), 2 * MIB, 10 * DAY);
    write_file(&home.join("workspace/ws-old/blob"), 2 * MIB, 20 * DAY);
    age_tree(&home.join("workspace/ws-old"), 20 * DAY);
    write_file(&home.join("workspace/ws-young/blob"), 2 * MIB, 5 * DAY);
    age_tree(&home.join("workspace/ws-young"), 5 * DAY);
    // Fresh filler that nothing may delete: about 1.5 MiB stays free, so
    // one deletion is not enough for 30 % and two are.
    write_file(&root.join("filler"), 6 * MIB + MIB / 2, 0);
    let (free, size) = usage(root);
    assert!(
        free * 10 < size,
        "set-up: under 10 % free ({free} of {size})"
    );

    let data = tempfile::tempdir().unwrap();
    let cfg = format!(
        "[defaults]\nact_below = 0.20\ntarget = 0.30\ncritical = 0.05\n\
         [[mount]]\npath = \"{}\"\npolicies = [\"logs\", \"jenkins\"]\n\
         [policy.logs]\nkind = \"files\"\nroots = [\"{}\"]\nglobs = [\"*.log\"]\nmin_age = \"1d\"\n\
         [policy.jenkins]\nkind = \"jenkins\"\njenkins_home = \"{}\"\nworkspace_idle = \"1d\"\n",
        root.display(),
        logs.display(),
        home.display()
    );
    let (_g, report) = pass(guard(&cfg, data.path())).await;
    let m = &report.mounts[0];
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    let deleted: Vec<&str> = m
        .actions
        .iter()
        .filter(|a| a.outcome == "deleted")
        .map(|a| a.path.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(deleted, ["oldest.log", "ws-old"], "{:#?}", m.actions);
    assert!(logs.join("young.log").exists());
    assert!(home.join("workspace/ws-young").exists());
    assert!(m.free_ratio_after >= 0.30, "{}", m.free_ratio_after);
    assert!(
        m.free_ratio_after < 0.45,
        "stopped at target: {}",
        m.free_ratio_after
    );
}

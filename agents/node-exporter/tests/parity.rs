//! Parity against the real thing: Debian's prometheus-node-exporter and ours
//! on loopback, same collectors and the same (upstream) excludes, one scrape
//! each; names, label sets, types and HELP must match, and the stable values
//! must agree. Also the Node Exporter Full dashboard coverage, and promtool.

mod common;

use common::{get, parse, start_ours, start_peer, Scrape};
use srp_node_exporter::collector::{self, defaults};
use srp_testkit::promtool;
use std::collections::BTreeSet;

/// Flags both exporters get, so they look at the same things.
fn shared_args(textfile_dir: &str) -> Vec<String> {
    vec![
        format!(
            "--collector.filesystem.mount-points-exclude={}",
            defaults::MOUNT_POINTS_EXCLUDE
        ),
        format!(
            "--collector.filesystem.fs-types-exclude={}",
            defaults::FS_TYPES_EXCLUDE
        ),
        format!(
            "--collector.diskstats.device-exclude={}",
            defaults::DISKSTATS_DEVICE_EXCLUDE
        ),
        format!("--collector.textfile.directory={textfile_dir}"),
    ]
}

fn peer_args(textfile_dir: &str, only_ours: bool) -> Vec<String> {
    let mut a = shared_args(textfile_dir);
    // Debian's build excludes `lo`; upstream (and we) do not.
    a.push("--collector.netdev.device-exclude=".into());
    if only_ours {
        // Ours runs with its defaults, which are upstream's: the peer gets
        // the same set (collectors off by default upstream stay off).
        a.push("--collector.disable-defaults".into());
        a.extend(
            collector::ALL
                .iter()
                .filter(|s| s.default_enabled)
                .map(|s| format!("--collector.{}", s.name)),
        );
    }
    a
}

fn textfile_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("backup.prom"),
        "# HELP backup_last_success_timestamp_seconds Last successful backup.\n\
         # TYPE backup_last_success_timestamp_seconds gauge\n\
         backup_last_success_timestamp_seconds{job=\"db\"} 1.7e9\n",
    )
    .unwrap();
    d
}

/// Families that only the Go runtime, promhttp or the build have.
fn peer_only(name: &str) -> bool {
    name.starts_with("go_") || name.starts_with("promhttp_") || name == "node_exporter_build_info"
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn same_series_types_help_and_stable_values_as_node_exporter() {
    let tf = textfile_dir();
    let dir = tf.path().to_str().unwrap();
    let peer = start_peer(&peer_args(dir, true));
    let ours = start_ours(
        &shared_args(dir)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );

    // peer, ours, peer: a series counts as stable when both peer scrapes
    // have it (another test may mount a filesystem meanwhile), and counters
    // read by ours must lie between the two peer readings.
    let p1 = parse(&get(&format!("http://{}/metrics", peer.addr)).unwrap());
    let o_text = get(&format!("http://{}/metrics", ours.addr)).unwrap();
    let o = parse(&o_text);
    let p2 = parse(&get(&format!("http://{}/metrics", peer.addr)).unwrap());

    let mut missing = Vec::new();
    let mut checked = 0;
    for (key, _) in p1.series.iter().filter(|(k, _)| p2.series.contains_key(*k)) {
        let name = key.split('{').next().unwrap();
        if peer_only(name) {
            continue;
        }
        checked += 1;
        if !o.series.contains_key(key) {
            missing.push(key.clone());
        }
    }
    assert!(
        checked > 200,
        "too few series compared ({checked}); is the peer running the collectors?"
    );
    assert!(
        missing.is_empty(),
        "series node_exporter has and we lack:\n{}",
        missing.join("\n")
    );

    let mut wrong = Vec::new();
    for (name, t) in &p1.types {
        if peer_only(name) {
            continue;
        }
        match o.types.get(name) {
            None => wrong.push(format!("{name}: no family")),
            Some(ot) if ot != t => wrong.push(format!("{name}: type {ot}, node_exporter {t}")),
            _ => {}
        }
        if o.helps.get(name) != p1.helps.get(name) {
            wrong.push(format!(
                "{name}: HELP {:?} vs {:?}",
                o.helps.get(name),
                p1.helps.get(name)
            ));
        }
    }
    assert!(wrong.is_empty(), "families differ:\n{}", wrong.join("\n"));

    check_values(&p1, &o, &p2);
    println!("parity: {checked} node_exporter series compared, all present in ours with the same type and HELP");
}

fn check_values(p1: &Scrape, o: &Scrape, p2: &Scrape) {
    let exact = |key: &str| {
        let (a, b, c) = (p1.value(key), o.value(key), p2.value(key));
        if let (Some(a), Some(b), Some(c)) = (a, b, c) {
            if a == c {
                assert_eq!(b, a, "{key}");
            }
        }
    };
    exact("node_memory_MemTotal_bytes");
    assert!(o.value("node_memory_MemTotal_bytes").unwrap() > 0.0);
    let mut fs = 0;
    for (labels, _) in p1.of("node_filesystem_size_bytes") {
        exact(&format!("node_filesystem_size_bytes{labels}"));
        exact(&format!("node_filesystem_files{labels}"));
        exact(&format!("node_filesystem_readonly{labels}"));
        fs += 1;
    }
    assert!(fs > 0, "no filesystem to compare");
    let boot = |s: &Scrape| s.value("node_boot_time_seconds").unwrap();
    assert!(
        close(boot(o), boot(p1), 1.0),
        "boot time {} vs {}",
        boot(o),
        boot(p1)
    );
    // netclass reads rtnetlink here, node_exporter sysfs: same values.
    let mut links = 0;
    for name in [
        "node_network_mtu_bytes",
        "node_network_iface_id",
        "node_network_iface_link",
        "node_network_protocol_type",
        "node_network_flags",
        "node_network_up",
        "node_network_carrier",
        "node_network_transmit_queue_length",
        "node_network_address_assign_type",
    ] {
        for (labels, _) in p1.of(name) {
            exact(&format!("{name}{labels}"));
            links += 1;
        }
    }
    assert!(links > 0, "no network device to compare");
    exact("node_filefd_maximum");
    exact("node_entropy_pool_size_bits");
    exact("node_nf_conntrack_entries_limit");
    exact("node_os_version{id=\"debian\",id_like=\"\",name=\"Debian GNU/Linux\"}");

    // Counters: ours was read between the two peer scrapes.
    let mut cpus = 0;
    for (labels, a) in p1.of("node_cpu_seconds_total") {
        let key = format!("node_cpu_seconds_total{labels}");
        let (b, c) = (o.value(&key).unwrap(), p2.value(&key).unwrap());
        assert!(
            b >= a - 0.05 && b <= c + 0.05,
            "{key}: ours {b}, node_exporter {a}..{c}"
        );
        cpus += 1;
    }
    assert!(cpus >= 8);
    for (name, tol) in [
        ("node_disk_reads_completed_total", 0.0),
        ("node_disk_written_bytes_total", 0.0),
        ("node_network_receive_bytes_total", 0.0),
        ("node_context_switches_total", 0.0),
        ("node_forks_total", 0.0),
    ] {
        for (labels, a) in p1.of(name) {
            let key = format!("{name}{labels}");
            let (b, c) = (o.value(&key).unwrap(), p2.value(&key).unwrap());
            assert!(
                b >= a - tol && b <= c + tol,
                "{key}: ours {b}, node_exporter {a}..{c}"
            );
        }
    }
    let tz = |s: &Scrape| {
        s.of("node_time_zone_offset_seconds")
            .map(|(l, v)| format!("{l}{v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(tz(o), tz(p1));
}

#[test]
fn dashboard_coverage_and_promtool() {
    let dash =
        std::fs::read_to_string(srp_testkit::fixtures().join("dashboards/node-exporter-full.json"))
            .expect("../shared/fixtures/dashboards/node-exporter-full.json");
    let re = regex::Regex::new(r"node_[a-zA-Z0-9_]+").unwrap();
    let queried: BTreeSet<&str> = re.find_iter(&dash).map(|m| m.as_str()).collect();

    let tf = textfile_dir();
    let dir = tf.path().to_str().unwrap();
    // node_exporter with all its default collectors, and restricted to ours.
    let full = start_peer(&peer_args(dir, false));
    let same = start_peer(&peer_args(dir, true));
    let ours = start_ours(
        &shared_args(dir)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let full_s = parse(&get(&format!("http://{}/metrics", full.addr)).unwrap());
    let same_text = get(&format!("http://{}/metrics", same.addr)).unwrap();
    let same_s = parse(&same_text);
    let ours_text = get(&format!("http://{}/metrics", ours.addr)).unwrap();
    let ours_s = parse(&ours_text);

    let full_names = full_s.names();
    let same_names = same_s.names();
    let ours_names = ours_s.names();
    let exposed: Vec<&str> = queried
        .iter()
        .copied()
        .filter(|n| full_names.contains(n))
        .collect();
    let covered: Vec<&str> = exposed
        .iter()
        .copied()
        .filter(|n| ours_names.contains(n))
        .collect();
    let uncovered: Vec<&str> = exposed
        .iter()
        .copied()
        .filter(|n| !ours_names.contains(n))
        .collect();
    println!(
        "Node Exporter Full dashboard: queries {} node_* names; node_exporter exposes {} of them here; srp-node-exporter exposes {} ({:.1} %)",
        queried.len(),
        exposed.len(),
        covered.len(),
        100.0 * covered.len() as f64 / exposed.len().max(1) as f64
    );
    println!("not covered (collectors not implemented): {uncovered:?}");
    // Every dashboard metric from the collectors we implement must be there.
    let lacking: Vec<&&str> = queried
        .iter()
        .filter(|n| same_names.contains(*n) && !ours_names.contains(*n))
        .collect();
    assert!(
        lacking.is_empty(),
        "dashboard metrics of our collectors we lack: {lacking:?}"
    );
    assert!(
        covered.len() * 10 >= exposed.len() * 8,
        "coverage below 80 %"
    );

    // promtool: node_exporter's names (camelCase /proc fields, *_bits) draw
    // lint remarks by design and must be kept for a drop-in; anything else
    // (parse errors, duplicate or malformed families, other lint) fails.
    let ours_lint = promtool::findings(&ours_text);
    let peer_lint: BTreeSet<String> = promtool::findings(&same_text).into_iter().collect();
    let unexplained: Vec<&String> = ours_lint
        .iter()
        .filter(|l| !peer_lint.contains(*l))
        .collect();
    assert!(
        unexplained.is_empty(),
        "promtool findings node_exporter does not have: {unexplained:?}"
    );
    for l in &ours_lint {
        assert!(
            l.contains("should be written in 'snake_case'")
                || l.contains("use base unit \"bytes\" instead of \"bits\""),
            "unexpected promtool finding: {l}"
        );
    }
    println!(
        "promtool check metrics: {} findings, all node_exporter's own names",
        ours_lint.len()
    );
}

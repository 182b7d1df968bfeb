//! Property tests of the procfs/sysfs readers (issue 12): whatever a file
//! under `--path.procfs` / `--path.sysfs` holds — node_exporter's own recorded
//! fixtures mutated byte by byte and token by token, or arbitrary bytes — a
//! collector returns Ok or an error and never panics (a panic would take the
//! whole scrape down), and what it writes on Ok is well-formed exposition
//! text, so one odd line cannot make Prometheus drop every other series.
//!
//! Case counts are bounded so that each property runs in well under a few
//! seconds in a debug build.

use proptest::prelude::*;
use srp_node_exporter::collector::{self, filesystem, textfile, FieldFilter, Paths, Settings};
use srp_node_exporter::exposition::Exposition;
use std::path::{Path, PathBuf};

/// Cases per property in the ordinary suite; `PROPTEST_CASES=N` runs longer
/// (e.g. a nightly job), and `PROPTEST_RNG_SEED` replays a reported run.
const CASES: u32 = 96;

fn config(cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            base.cases
        } else {
            cases
        },
        // Found cases become named regression tests below instead of files
        // written into the shared tree.
        failure_persistence: None,
        ..base
    }
}

fn fixture_root() -> PathBuf {
    srp_testkit::fixtures().join("node_exporter-e2e/v1.5.0")
}

/// Seeds that node_exporter 1.5.0's fixtures do not have (it read these over
/// netlink or not at all).
fn inline_seed(rel: &str) -> Option<&'static str> {
    Some(match rel {
        "proc/net/dev" => {
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo: 1664039048 1566805    0    0    0     0          0         0 1664039048 1566805    0    0    0     0       0          0\n  \
             eth0: 874354587 1036395    0    0    0     0          0        11 563352563  732147    0    0    0     0       0          0\n"
        }
        "proc/net/udp6" => {
            "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n \
             1: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4137 2 0000000000000000 0\n"
        }
        "proc/net/stat/nf_conntrack" => {
            "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
             00000021  00000000 00000000 00000000 00000003 0000588a 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"
        }
        "sys/devices/system/clocksource/clocksource0/available_clocksource" => "tsc hpet acpi_pm\n",
        "sys/devices/system/clocksource/clocksource0/current_clocksource" => "tsc\n",
        "sys/fs/selinux/enforce" => "1\n",
        "etc/selinux/config" => "SELINUX=enforcing\nSELINUXTYPE=targeted\n",
        _ => return None,
    })
}

fn seed(rel: &str) -> Vec<u8> {
    if let Some(s) = inline_seed(rel) {
        return s.as_bytes().to_vec();
    }
    let p = fixture_root().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// One change to a seed file.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the n-th whitespace-separated token (modulo their number).
    Token(usize, String),
    /// Overwrite one byte.
    Byte(usize, u8),
    /// Insert text at an offset.
    Insert(usize, String),
    /// Remove a range.
    Delete(usize, usize),
    /// Repeat a line (duplicate keys, devices, CPUs).
    DupLine(usize),
    /// Cut the file short (a read racing the kernel, a truncated copy).
    Truncate(usize),
}

/// Tokens that break parsers: overflow, signs, special floats, separators,
/// octal escapes, quotes, non-ASCII, control characters.
fn nasty_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("-1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        Just("ffffffffffffffff".to_string()),
        Just("fffffffffffffffff".to_string()),
        Just("1e308".to_string()),
        Just("NaN".to_string()),
        Just("-inf".to_string()),
        Just("0x10".to_string()),
        Just("\\777".to_string()),
        Just("\\400".to_string()),
        Just("\\".to_string()),
        Just(":".to_string()),
        Just("a:b:c".to_string()),
        Just("(x)".to_string()),
        Just("\"".to_string()),
        Just("{}".to_string()),
        Just("é".to_string()),
        Just("a\nb".to_string()),
        Just("\0".to_string()),
        Just("kB".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), nasty_token()).prop_map(|(i, t)| Edit::Token(i, t)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
        2 => (any::<usize>(), nasty_token()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<usize>(), 0usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<usize>().prop_map(Edit::DupLine),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &mut Vec<u8>, e: &Edit) {
    let len = text.len();
    match e {
        Edit::Token(n, t) => {
            let s = String::from_utf8_lossy(text).into_owned();
            let spans: Vec<(usize, usize)> = s
                .split_whitespace()
                .map(|tok| {
                    let start = tok.as_ptr() as usize - s.as_ptr() as usize;
                    (start, start + tok.len())
                })
                .collect();
            if spans.is_empty() {
                text.extend_from_slice(t.as_bytes());
                return;
            }
            let (a, b) = spans[n % spans.len()];
            let mut out = s.as_bytes()[..a].to_vec();
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(&s.as_bytes()[b..]);
            *text = out;
        }
        Edit::Byte(i, b) if len > 0 => text[i % len] = *b,
        Edit::Byte(..) => text.push(b'x'),
        Edit::Insert(i, t) => {
            let at = i % (len + 1);
            text.splice(at..at, t.bytes());
        }
        Edit::Delete(i, n) if len > 0 => {
            let at = i % len;
            let end = (at + n).min(len);
            text.drain(at..end);
        }
        Edit::Delete(..) => {}
        Edit::DupLine(i) => {
            let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
            let line = lines[i % lines.len()].to_vec();
            text.push(b'\n');
            text.extend_from_slice(&line);
            text.push(b'\n');
        }
        Edit::Truncate(i) => text.truncate(i % (len + 1)),
    }
}

/// A file's bytes, shown as text when proptest reports a failing case.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

/// What one file of a case holds: a mutated seed, or arbitrary bytes.
fn contents(seed: Vec<u8>) -> impl Strategy<Value = Bytes> {
    let mutated = proptest::collection::vec(edit(), 1..6).prop_map(move |edits| {
        let mut t = seed.clone();
        for e in &edits {
            apply(&mut t, e);
        }
        t
    });
    prop_oneof![
        6 => mutated.prop_map(Bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(Bytes),
        1 => "[ -~\n]{0,256}".prop_map(|s| Bytes(s.into_bytes())),
    ]
}

/// Every seed file of a collector as it is, except the `which`-th, replaced.
fn files_for(rels: &'static [&'static str]) -> impl Strategy<Value = Vec<(&'static str, Bytes)>> {
    (0..rels.len()).prop_flat_map(move |which| {
        contents(seed(rels[which])).prop_map(move |changed| {
            rels.iter()
                .enumerate()
                .map(|(i, r)| {
                    let bytes = if i == which {
                        changed.clone()
                    } else {
                        Bytes(seed(r))
                    };
                    (*r, bytes)
                })
                .collect()
        })
    })
}

fn fake_root(dir: &Path, files: &[(&str, Bytes)]) -> Paths {
    for (rel, bytes) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, &bytes.0).unwrap();
    }
    Paths {
        procfs: dir.join("proc"),
        sysfs: dir.join("sys"),
        rootfs: dir.to_path_buf(),
        udev_data: dir.join("udev/data"),
    }
}

/// Run one collector over these files; its exposition text when it succeeds.
fn collect(name: &str, files: &[(&str, Bytes)]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        paths: fake_root(dir.path(), files),
        ..Settings::default()
    };
    let collectors = collector::build(&[name], &settings);
    assert_eq!(collectors.len(), 1, "collector {name} exists");
    let mut out = Exposition::default();
    collectors[0].collect(&mut out).ok()?;
    Some(out.into_string())
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(s: &str) -> bool {
    valid_metric_name(s) && !s.contains(':')
}

fn valid_value(s: &str) -> bool {
    matches!(s, "NaN" | "+Inf" | "-Inf") || s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// `{a="x",b="y\"z"}` → the rest after the closing brace, or why not.
fn labels_end(s: &str) -> Result<&str, String> {
    let mut rest = s.strip_prefix('{').ok_or("no '{'")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok(r);
        }
        let (name, r) = rest.split_once("=\"").ok_or("label without =\"")?;
        if !valid_label_name(name) {
            return Err(format!("label name {name:?}"));
        }
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\' | '"' | 'n')) => {}
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some(_) => {}
                None => return Err("unterminated label value".into()),
            }
        };
        rest = &r[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The line-level rules of the text format that Prometheus enforces.
fn check_exposition(text: &str) -> Result<(), String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    for line in text.lines() {
        let bad = |why: &str| Err(format!("{why}: {line:?}"));
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !valid_metric_name(name) {
                return bad("HELP of an invalid name");
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut f = rest.split(' ');
            let (name, kind) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            if !valid_metric_name(name)
                || !matches!(
                    kind,
                    "counter" | "gauge" | "untyped" | "histogram" | "summary"
                )
            {
                return bad("TYPE line");
            }
        } else if line.starts_with('#') {
            continue;
        } else {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            if !valid_metric_name(&line[..name_end]) {
                return bad("sample of an invalid name");
            }
            let mut rest = &line[name_end..];
            if rest.starts_with('{') {
                rest = labels_end(rest).map_err(|e| format!("{e}: {line:?}"))?;
            }
            let Some(value) = rest.strip_prefix(' ') else {
                return bad("no value");
            };
            let value = value.split(' ').next().unwrap_or("");
            if !valid_value(value) {
                return bad("value");
            }
        }
    }
    Ok(())
}

/// The property every procfs/sysfs collector must keep.
fn survives(name: &str, files: &[(&str, Bytes)]) -> Result<(), TestCaseError> {
    if let Some(text) = collect(name, files) {
        check_exposition(&text).map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
    }
    Ok(())
}

macro_rules! collector_props {
    ($($test:ident: $collector:literal => [$($file:literal),+ $(,)?];)*) => {$(
        proptest! {
            #![proptest_config(config(CASES))]
            #[test]
            fn $test(files in files_for(&[$($file),+])) {
                survives($collector, &files)?;
            }
        }
    )*};
}

collector_props! {
    stat_never_panics_and_writes_valid_text: "stat" => ["proc/stat"];
    cpu_never_panics_and_writes_valid_text: "cpu" => ["proc/stat"];
    meminfo_never_panics_and_writes_valid_text: "meminfo" => ["proc/meminfo"];
    loadavg_never_panics_and_writes_valid_text: "loadavg" => ["proc/loadavg"];
    vmstat_never_panics_and_writes_valid_text: "vmstat" => ["proc/vmstat"];
    diskstats_never_panics_and_writes_valid_text: "diskstats" =>
        ["proc/diskstats", "udev/data/b8:0", "udev/data/b252:0"];
    netdev_never_panics_and_writes_valid_text: "netdev" => ["proc/net/dev"];
    netstat_never_panics_and_writes_valid_text: "netstat" =>
        ["proc/net/netstat", "proc/net/snmp", "proc/net/snmp6"];
    sockstat_never_panics_and_writes_valid_text: "sockstat" =>
        ["proc/net/sockstat", "proc/net/sockstat6"];
    softnet_never_panics_and_writes_valid_text: "softnet" => ["proc/net/softnet_stat"];
    udp_queues_never_panics_and_writes_valid_text: "udp_queues" =>
        ["proc/net/udp", "proc/net/udp6"];
    arp_never_panics_and_writes_valid_text: "arp" => ["proc/net/arp"];
    conntrack_never_panics_and_writes_valid_text: "conntrack" => [
        "proc/sys/net/netfilter/nf_conntrack_count",
        "proc/sys/net/netfilter/nf_conntrack_max",
        "proc/net/stat/nf_conntrack",
    ];
    pressure_never_panics_and_writes_valid_text: "pressure" =>
        ["proc/pressure/cpu", "proc/pressure/io", "proc/pressure/memory"];
    entropy_never_panics_and_writes_valid_text: "entropy" =>
        ["proc/sys/kernel/random/entropy_avail", "proc/sys/kernel/random/poolsize"];
    filefd_never_panics_and_writes_valid_text: "filefd" => ["proc/sys/fs/file-nr"];
    time_never_panics_and_writes_valid_text: "time" => [
        "sys/devices/system/clocksource/clocksource0/available_clocksource",
        "sys/devices/system/clocksource/clocksource0/current_clocksource",
    ];
    os_never_panics_and_writes_valid_text: "os" => ["usr/lib/os-release"];
    selinux_never_panics_and_writes_valid_text: "selinux" =>
        ["sys/fs/selinux/enforce", "etc/selinux/config"];
    // Under --path.sysfs other than /sys, netclass reads sysfs, not netlink.
    netclass_never_panics_and_writes_valid_text: "netclass" => [
        "sys/class/net/int/address",
        "sys/class/net/int/broadcast",
        "sys/class/net/int/carrier",
        "sys/class/net/int/dev_id",
        "sys/class/net/int/duplex",
        "sys/class/net/int/flags",
        "sys/class/net/int/ifalias",
        "sys/class/net/int/mtu",
        "sys/class/net/int/operstate",
        "sys/class/net/int/speed",
        "sys/class/net/int/type",
    ];
}

fn default_filter(re: &str) -> FieldFilter {
    FieldFilter::new(regex::Regex::new(re).unwrap())
}

proptest! {
    #![proptest_config(config(128))]

    /// The mount table: its octal escapes are decoded without panicking
    /// whatever digits follow the backslash.
    #[test]
    fn mounts_parse_without_panicking(text in contents(seed("proc/1/mounts"))) {
        let text = String::from_utf8_lossy(&text.0);
        let none = default_filter("^$");
        for m in filesystem::parse_mounts(&text, &none, &none) {
            prop_assert!(!m.mountpoint.is_empty());
        }
    }

    /// Textfile `*.prom` files: parsed or refused, never a panic.
    #[test]
    fn textfile_parses_without_panicking(
        text in contents(seed("textfile/two_metric_files/metrics1.prom"))
    ) {
        let _ = textfile::parse(&String::from_utf8_lossy(&text.0));
    }
}

/// The seeds themselves pass the checks: the properties start from inputs
/// that work.
#[test]
fn unmutated_fixtures_are_collected_cleanly() {
    for (name, rels) in [
        ("stat", &["proc/stat"][..]),
        ("meminfo", &["proc/meminfo"]),
        ("diskstats", &["proc/diskstats"]),
        (
            "netstat",
            &["proc/net/netstat", "proc/net/snmp", "proc/net/snmp6"],
        ),
        ("netdev", &["proc/net/dev"]),
    ] {
        let files: Vec<_> = rels.iter().map(|r| (*r, Bytes(seed(r)))).collect();
        let text = collect(name, &files).unwrap_or_else(|| panic!("{name} failed on its fixture"));
        check_exposition(&text).unwrap();
        assert!(!text.is_empty(), "{name}");
    }
}

// Regressions: inputs the properties found, kept as plain tests.

fn text_files(files: &[(&'static str, &str)]) -> Vec<(&'static str, Bytes)> {
    files
        .iter()
        .map(|(r, t)| (*r, Bytes(t.as_bytes().to_vec())))
        .collect()
}

/// `\777` is not a byte: decoding it overflowed a u8 (a panic in debug
/// builds, a wrong character in release).
#[test]
fn regression_mount_escape_above_377_is_kept_literally() {
    let none = default_filter("^$");
    let m = filesystem::parse_mounts("/dev/sda1 /mnt/a\\777b\\040c ext4 rw 0 0\n", &none, &none);
    assert_eq!(m[0].mountpoint, "/mnt/a\\777b c");
}

/// A meminfo key that would make an invalid metric name is left out instead
/// of breaking the whole scrape.
#[test]
fn regression_meminfo_key_that_is_no_metric_name_is_skipped() {
    let text = collect(
        "meminfo",
        &text_files(&[(
            "proc/meminfo",
            "MemTotal: 1 kB\nZN{: 2 kB\nMem-Free: 3 kB\n",
        )]),
    )
    .unwrap();
    check_exposition(&text).unwrap();
    assert!(text.contains("node_memory_MemTotal_bytes 1024\n"), "{text}");
    assert!(!text.contains("ZN") && !text.contains("Mem-Free"), "{text}");
}

/// Same for a sockstat protocol or state name.
#[test]
fn regression_sockstat_name_that_is_no_metric_name_is_skipped() {
    let text = collect(
        "sockstat",
        &text_files(&[(
            "proc/net/sockstat",
            "sockets: used 5\nTCP: inuse 3 \"mem 1\nUD P: inuse 2\n",
        )]),
    )
    .unwrap();
    check_exposition(&text).unwrap();
    assert!(text.contains("node_sockstat_TCP_inuse 3\n"), "{text}");
    assert!(!text.contains("\"mem") && !text.contains("UD P"), "{text}");
}

/// vmstat fields pass the default filter by prefix, so `pgfault{x` did too.
#[test]
fn regression_vmstat_field_that_is_no_metric_name_is_skipped() {
    let text = collect(
        "vmstat",
        &text_files(&[("proc/vmstat", "pgfault 7\npgfault{x 8\n")]),
    )
    .unwrap();
    check_exposition(&text).unwrap();
    assert!(text.contains("node_vmstat_pgfault 7\n"), "{text}");
}

/// Per-CPU conntrack counters summed past u64 overflowed (a panic in debug).
#[test]
fn regression_conntrack_sums_do_not_overflow() {
    let text = collect(
        "conntrack",
        &text_files(&[
            ("proc/sys/net/netfilter/nf_conntrack_count", "1\n"),
            ("proc/sys/net/netfilter/nf_conntrack_max", "2\n"),
            (
                "proc/net/stat/nf_conntrack",
                "entries drop\nffffffffffffffff ffffffffffffffff\nffffffffffffffff 1\n",
            ),
        ]),
    )
    .unwrap();
    check_exposition(&text).unwrap();
}

/// Queue sizes summed over sockets past u64 overflowed (a panic in debug).
#[test]
fn regression_udp_queue_sums_do_not_overflow() {
    let header = "  sl  local_address rem_address   st tx_queue:rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
    let line = "   1: 00000000:0044 00000000:0000 07 ffffffffffffffff:ffffffffffffffff 00:00000000 00000000     0        0 1 2\n";
    let udp = format!("{header}{line}{line}");
    let text = collect("udp_queues", &text_files(&[("proc/net/udp", &udp)])).unwrap();
    check_exposition(&text).unwrap();
}

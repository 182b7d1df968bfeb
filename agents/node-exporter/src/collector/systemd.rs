//! `node_systemd_*`: unit states, the unit summary, whether the system is
//! running, the systemd version, and (behind upstream's flags) start times,
//! task counts and restarts, plus timer and socket figures. Off by default,
//! as upstream. Names, types, labels and HELP texts are node_exporter 1.5's.
//!
//! Source: `systemctl`, three calls per scrape — the manager's `Version` and
//! `SystemState`, `list-units --all` (what D-Bus `ListUnits` returns), and one
//! `show` of every selected unit's properties — instead of node_exporter's
//! one D-Bus round trip per unit and property. That keeps a D-Bus client
//! library out of the exporter; the price is the three process starts,
//! measured in the README.

use super::{CollectError, Collector, Families};
use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use regex::Regex;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// The defaults for `--collector.systemd.unit-include` / `-exclude` of the
/// parity peer, Debian's node_exporter 1.5.0 (targets excluded too: seen side
/// by side on a real systemd in the estate suite, deploy/estate/test.sh).
pub const UNIT_INCLUDE: &str = ".+";
pub const UNIT_EXCLUDE: &str = r".+\.(automount|device|mount|scope|slice|target)";

/// The states node_exporter reports for every unit, in its order.
const STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

/// SystemState and timers' LastTriggerUSec exist from this version on.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;

/// The collector's options (`--collector.systemd.*`).
#[derive(Clone)]
pub struct SystemdSettings {
    /// Anchored as upstream anchors them: `^(?:…)$`.
    pub unit_include: Regex,
    pub unit_exclude: Regex,
    pub start_time_metrics: bool,
    pub task_metrics: bool,
    pub restarts_metrics: bool,
    /// The `systemctl` to run (tests point it at recorded output).
    pub systemctl: PathBuf,
}

/// Upstream's anchoring of a unit regex.
pub fn anchored(re: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{re})$"))
}

impl Default for SystemdSettings {
    fn default() -> Self {
        Self {
            unit_include: anchored(UNIT_INCLUDE).expect("default include"),
            unit_exclude: anchored(UNIT_EXCLUDE).expect("default exclude"),
            start_time_metrics: false,
            task_metrics: false,
            restarts_metrics: false,
            systemctl: "systemctl".into(),
        }
    }
}

/// One line of `systemctl list-units`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub name: String,
    pub load: String,
    pub active: String,
}

pub struct Systemd {
    s: SystemdSettings,
    /// systemctl refused `--timestamp=` (systemd before 248): timestamps are
    /// then read in its default format, in UTC, to the second.
    no_timestamp_option: AtomicBool,
}

impl Systemd {
    pub fn new(s: &SystemdSettings) -> Self {
        Self {
            s: s.clone(),
            no_timestamp_option: AtomicBool::new(false),
        }
    }

    /// Run systemctl; its stdout, or an error carrying its stderr.
    fn systemctl(&self, args: &[&str]) -> Result<String, CollectError> {
        let what = || PathBuf::from(format!("{} {}", self.s.systemctl.display(), args[0]));
        let out = Command::new(&self.s.systemctl)
            .args(args)
            .env("LC_ALL", "C")
            // Timestamps in UTC whatever the host's zone (old systemctl has no --timestamp=).
            .env("TZ", "UTC")
            .env("SYSTEMD_COLORS", "0")
            .env_remove("SYSTEMD_PAGER")
            .output()
            .map_err(|source| CollectError::Io {
                path: what(),
                source,
            })?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(CollectError::Io {
                path: what(),
                source: std::io::Error::other(format!(
                    "{}: {}",
                    out.status,
                    err.trim().replace('\n', "; ")
                )),
            });
        }
        String::from_utf8(out.stdout)
            .map_err(|_| CollectError::parse(&what(), "output is not UTF-8"))
    }
}

/// `systemctl list-units --plain --no-legend` lines: UNIT LOAD ACTIVE SUB
/// DESCRIPTION (a leading `●` marks failed or missing units in some modes).
pub fn parse_units(text: &str) -> Vec<Unit> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace().skip_while(|t| *t == "●" || *t == "*");
            let (name, load, active) = (it.next()?, it.next()?, it.next()?);
            Some(Unit {
                name: name.into(),
                load: load.into(),
                active: active.into(),
            })
        })
        .collect()
}

/// `systemctl show` output: blocks of `Key=value` lines, one block per unit,
/// separated by blank lines; keyed by each block's `Id`.
pub fn parse_show(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut units = HashMap::new();
    for block in text.split("\n\n") {
        let p = props(block);
        if let Some(id) = p.get("Id").cloned() {
            units.insert(id, p);
        }
    }
    units
}

/// One block of `Key=value` lines.
pub fn props(block: &str) -> HashMap<String, String> {
    block
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// upstream's version: the first `NNN[.N]` of the Version property.
pub fn parse_version(v: &str) -> f64 {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start >= 3 {
            let mut end = i;
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                end = i + 1;
                while end < b.len() && b[end].is_ascii_digit() {
                    end += 1;
                }
            }
            return v[start..end].parse().unwrap_or(0.0);
        }
        i = i.max(start + 1);
    }
    0.0
}

/// A `--timestamp=us+utc` timestamp (`Tue 2026-12-01 14:02:11.482113 UTC`,
/// or `@seconds`) in microseconds since the epoch; empty and `n/a` are 0,
/// as D-Bus reports an unset timestamp.
pub fn parse_timestamp_us(v: &str) -> Option<u64> {
    let v = v.trim();
    if v.is_empty() || v == "n/a" || v == "0" {
        return Some(0);
    }
    if let Some(secs) = v.strip_prefix('@') {
        return secs.parse::<u64>().ok().map(|s| s * 1_000_000);
    }
    let parts: Vec<&str> = v.split_whitespace().collect();
    // [weekday] date time UTC
    let (date, time) = match parts.as_slice() {
        [_, d, t, "UTC"] | [d, t, "UTC"] => (*d, *t),
        _ => return None,
    };
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if frac.len() > 6 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let us: i64 = format!("{frac:0<6}").parse().ok()?;
    let secs = days_from_civil(y, mo, day) * 86_400 + h * 3600 + mi * 60 + s;
    u64::try_from(secs * 1_000_000 + us).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Collector for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError> {
        let manager = self.systemctl(&["show", "--property=Version,SystemState"])?;
        let manager = props(&manager);
        let version_full = manager.get("Version").cloned().unwrap_or_default();
        let version = parse_version(&version_full);

        let all = parse_units(&self.systemctl(&[
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--no-pager",
            "--full",
        ])?);
        let units: Vec<&Unit> = all
            .iter()
            .filter(|u| {
                self.s.unit_include.is_match(&u.name)
                    && !self.s.unit_exclude.is_match(&u.name)
                    && u.load == "loaded"
            })
            .collect();
        let props = if units.is_empty() {
            HashMap::new()
        } else {
            let mut args = vec![
                "show",
                "--timestamp=us+utc",
                "--property=Id,Type,NRestarts,TasksCurrent,TasksMax,ActiveEnterTimestamp,LastTriggerUSec,NAccepted,NConnections,NRefused",
                "--",
            ];
            args.extend(units.iter().map(|u| u.name.as_str()));
            if self.no_timestamp_option.load(Ordering::Relaxed) {
                args.remove(1);
            }
            let text = match self.systemctl(&args) {
                Err(e)
                    if args[1].starts_with("--timestamp")
                        && e.to_string().contains("timestamp") =>
                {
                    tracing::info!("systemctl has no --timestamp= (systemd < 248): unit timestamps are read to the second: {e}");
                    self.no_timestamp_option.store(true, Ordering::Relaxed);
                    args.remove(1);
                    self.systemctl(&args)?
                }
                r => r?,
            };
            parse_show(&text)
        };
        let none = HashMap::new();
        let prop = |u: &Unit, k: &str| -> Option<&str> {
            props
                .get(&u.name)
                .unwrap_or(&none)
                .get(k)
                .map(String::as_str)
        };
        let num = |u: &Unit, k: &str| prop(u, k).and_then(|v| v.parse::<u64>().ok());

        // Families: a family without samples (no timers, no sockets) is left
        // out, as client_golang leaves it out.
        let mut fam = Families::default();
        let name_label = |u: &Unit| vec![("name", u.name.clone())];
        fam.add(
            "node_systemd_version".into(),
            "Detected systemd version",
            Gauge,
            vec![("version", version_full.clone())],
            version,
        );

        // Summary over every unit systemd holds, as upstream (not filtered).
        let mut summary: BTreeMap<&str, f64> = STATES.iter().map(|s| (*s, 0.0)).collect();
        for u in &all {
            *summary.entry(u.active.as_str()).or_insert(0.0) += 1.0;
        }
        for (state, n) in summary {
            fam.add(
                "node_systemd_units".into(),
                "Summary of systemd unit states",
                Gauge,
                vec![("state", state.to_string())],
                n,
            );
        }

        for u in &units {
            let kind = if u.name.ends_with(".service") || u.name.ends_with(".mount") {
                prop(u, "Type").unwrap_or_default()
            } else {
                ""
            };
            for state in STATES {
                fam.add(
                    "node_systemd_unit_state".into(),
                    "Systemd unit",
                    Gauge,
                    vec![
                        ("name", u.name.clone()),
                        ("state", state.into()),
                        ("type", kind.into()),
                    ],
                    if u.active == state { 1.0 } else { 0.0 },
                );
            }
        }

        for u in units.iter().filter(|u| u.name.ends_with(".service")) {
            if self.s.restarts_metrics {
                if let Some(n) = num(u, "NRestarts") {
                    fam.add(
                        "node_systemd_service_restart_total".into(),
                        "Service unit count of Restart triggers",
                        Counter,
                        name_label(u),
                        n as f64,
                    );
                }
            }
            if self.s.task_metrics {
                // "[not set]" / "infinity" are D-Bus's UINT64_MAX, which upstream leaves out.
                for (key, suffix, help) in [
                    (
                        "TasksCurrent",
                        "current",
                        "Current number of tasks per Systemd unit",
                    ),
                    (
                        "TasksMax",
                        "max",
                        "Maximum number of tasks per Systemd unit",
                    ),
                ] {
                    if let Some(n) = num(u, key).filter(|n| *n != u64::MAX) {
                        fam.add(
                            format!("node_systemd_unit_tasks_{suffix}"),
                            help,
                            Gauge,
                            name_label(u),
                            n as f64,
                        );
                    }
                }
            }
        }
        if self.s.start_time_metrics {
            for u in &units {
                let us = if u.active != "active" {
                    Some(0)
                } else {
                    prop(u, "ActiveEnterTimestamp").and_then(parse_timestamp_us)
                };
                if let Some(us) = us {
                    fam.add(
                        "node_systemd_unit_start_time_seconds".into(),
                        "Start time of the unit since unix epoch in seconds.",
                        Gauge,
                        name_label(u),
                        us as f64 / 1e6,
                    );
                }
            }
        }
        if version >= MIN_VERSION_SYSTEM_STATE {
            for u in units.iter().filter(|u| u.name.ends_with(".timer")) {
                if let Some(us) = prop(u, "LastTriggerUSec").and_then(parse_timestamp_us) {
                    fam.add(
                        "node_systemd_timer_last_trigger_seconds".into(),
                        "Seconds since epoch of last trigger.",
                        Gauge,
                        name_label(u),
                        us as f64 / 1e6,
                    );
                }
            }
        }
        // As upstream: no NAccepted, nothing for the socket; no NConnections,
        // nothing more; NRefused (systemd 239+) when present. NRefused is a
        // gauge despite its name, as upstream.
        for u in units.iter().filter(|u| u.name.ends_with(".socket")) {
            let rows = [
                (
                    "NAccepted",
                    "accepted_connections_total",
                    "Total number of accepted socket connections",
                    Counter,
                ),
                (
                    "NConnections",
                    "current_connections",
                    "Current number of socket connections",
                    Gauge,
                ),
                (
                    "NRefused",
                    "refused_connections_total",
                    "Total number of refused socket connections",
                    Gauge,
                ),
            ];
            for (key, suffix, help, kind) in rows {
                let Some(n) = num(u, key) else { break };
                fam.add(
                    format!("node_systemd_socket_{suffix}"),
                    help,
                    kind,
                    name_label(u),
                    n as f64,
                );
            }
        }
        if version >= MIN_VERSION_SYSTEM_STATE {
            let state = manager.get("SystemState").ok_or_else(|| {
                CollectError::parse(
                    &self.s.systemctl,
                    "show --property=SystemState: no SystemState in the answer",
                )
            })?;
            fam.add(
                "node_systemd_system_running".into(),
                "Whether the system is operational (see 'systemctl is-system-running')",
                Gauge,
                Vec::new(),
                if state == "running" { 1.0 } else { 0.0 },
            );
        }
        fam.write(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testutil::render;
    use std::os::unix::fs::PermissionsExt;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/systemd");

    /// A stand-in `systemctl` that answers with the recorded output and
    /// logs its arguments.
    fn fake_systemctl(dir: &std::path::Path, fail: bool) -> PathBuf {
        let path = dir.join("systemctl");
        let body = if fail {
            "echo 'System has not been booted with systemd as init system (PID 1). Can'\"'\"'t operate.' >&2\nexit 1\n".to_string()
        } else {
            format!(
                "echo \"$@\" >> '{log}'\ncase \"$1 $2\" in\n  'show --property=Version,SystemState') cat '{f}/show-manager.txt' ;;\n  'show --timestamp=us+utc') cat '{f}/show-units.txt' ;;\n  list-units*) cat '{f}/list-units.txt' ;;\n  *) echo \"unexpected: $*\" >&2; exit 2 ;;\nesac\n",
                log = dir.join("args.log").display(),
                f = FIXTURES
            )
        };
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn collector(dir: &std::path::Path, f: impl FnOnce(&mut SystemdSettings)) -> Systemd {
        let mut s = SystemdSettings {
            systemctl: fake_systemctl(dir, false),
            ..Default::default()
        };
        f(&mut s);
        Systemd::new(&s)
    }

    #[test]
    fn default_metrics_from_recorded_output() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), |_| {}));
        for want in [
            "# HELP node_systemd_version Detected systemd version\n# TYPE node_systemd_version gauge\nnode_systemd_version{version=\"252.38-1~deb12u1\"} 252.38\n",
            // every unit counted, including the excluded and not-found ones
            "node_systemd_units{state=\"active\"} 11\n",
            "node_systemd_units{state=\"activating\"} 1\n",
            "node_systemd_units{state=\"deactivating\"} 0\n",
            "node_systemd_units{state=\"failed\"} 1\n",
            "node_systemd_units{state=\"inactive\"} 3\n",
            "node_systemd_unit_state{name=\"cron.service\",state=\"active\",type=\"simple\"} 1\n",
            "node_systemd_unit_state{name=\"cron.service\",state=\"failed\",type=\"simple\"} 0\n",
            "node_systemd_unit_state{name=\"failing.service\",state=\"failed\",type=\"simple\"} 1\n",
            "node_systemd_unit_state{name=\"dbus.socket\",state=\"active\",type=\"\"} 1\n",
            "# TYPE node_systemd_socket_accepted_connections_total counter\nnode_systemd_socket_accepted_connections_total{name=\"dbus.socket\"} 0\n",
            "# TYPE node_systemd_socket_refused_connections_total gauge\n",
            "node_systemd_timer_last_trigger_seconds{name=\"apt-daily.timer\"} 1.79610720244712e+09\n",
            "# TYPE node_systemd_system_running gauge\nnode_systemd_system_running 0\n",
        ] {
            assert!(t.contains(want), "{want}\n---\n{t}");
        }
        // the default exclude and the not-found unit
        for absent in [
            "multi-user.target",
            "-.mount",
            "eth0.device",
            "system.slice",
            "init.scope",
            "nonexistent",
            "binfmt",
        ] {
            assert!(!t.contains(absent), "{absent}: {t}");
        }
        let helps = t.matches("# HELP ").count();
        let samples_of = |f: &str| {
            t.lines()
                .filter(|l| l.starts_with(&format!("{f}{{")) || l.starts_with(&format!("{f} ")))
                .count()
        };
        for l in t.lines().filter_map(|l| l.strip_prefix("# HELP ")) {
            let f = l.split(' ').next().unwrap();
            assert!(samples_of(f) > 0, "{f} has no samples: {t}");
        }
        assert_eq!(helps, 8, "{t}");
        for off in ["start_time", "tasks", "restart"] {
            assert!(!t.contains(off), "{off} is behind a flag: {t}");
        }
        let args = std::fs::read_to_string(d.path().join("args.log")).unwrap();
        assert!(args.contains("-- apt-daily.service cron.service"), "{args}");
        assert!(
            !args.contains("system.slice") && !args.contains("nonexistent"),
            "{args}"
        );
    }

    #[test]
    fn flagged_metrics() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), |s| {
            s.start_time_metrics = true;
            s.task_metrics = true;
            s.restarts_metrics = true;
        }));
        for want in [
            "node_systemd_unit_start_time_seconds{name=\"cron.service\"} 1.796133731482113e+09\n",
            // not active: 0, as upstream
            "node_systemd_unit_start_time_seconds{name=\"failing.service\"} 0\n",
            "node_systemd_unit_start_time_seconds{name=\"apt-daily.service\"} 0\n",
            "# TYPE node_systemd_service_restart_total counter\n",
            "node_systemd_service_restart_total{name=\"prometheus-node-exporter.service\"} 7\n",
            "node_systemd_unit_tasks_current{name=\"cron.service\"} 1\n",
            "node_systemd_unit_tasks_max{name=\"cron.service\"} 4915\n",
        ] {
            assert!(t.contains(want), "{want}\n---\n{t}");
        }
        assert!(
            !t.contains("node_systemd_unit_tasks_current{name=\"apt-daily.service\"}"),
            "[not set]: {t}"
        );
        assert!(
            !t.contains("node_systemd_unit_tasks_max{name=\"systemd-journald.service\"}"),
            "infinity: {t}"
        );
    }

    #[test]
    fn systemctl_without_timestamp_option() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("systemctl");
        let body = format!(
            "#!/bin/sh\necho \"$@\" >> '{log}'\ncase \"$1 $2\" in\n  'show --property=Version,SystemState') echo Version=247.3-7; echo SystemState=running ;;\n  'show --timestamp=us+utc') echo \"systemctl: unrecognized option '--timestamp=us+utc'\" >&2; exit 1 ;;\n  'show --property=Id'*) [ \"$TZ\" = UTC ] || exit 3; sed -E 's/\\.[0-9]{{6}} UTC/ UTC/' '{f}/show-units.txt' ;;\n  list-units*) cat '{f}/list-units.txt' ;;\n  *) exit 2 ;;\nesac\n",
            log = d.path().join("args.log").display(),
            f = FIXTURES
        );
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let c = Systemd::new(&SystemdSettings {
            systemctl: path,
            start_time_metrics: true,
            ..Default::default()
        });
        for _ in 0..2 {
            let t = render(&c);
            assert!(
                t.contains("node_systemd_version{version=\"247.3-7\"} 247.3\n"),
                "{t}"
            );
            assert!(t.contains("node_systemd_system_running 1\n"), "{t}");
            assert!(
                t.contains(
                    "node_systemd_unit_start_time_seconds{name=\"cron.service\"} 1.796133731e+09\n"
                ),
                "{t}"
            );
        }
        let args = std::fs::read_to_string(d.path().join("args.log")).unwrap();
        assert_eq!(
            args.matches("--timestamp").count(),
            1,
            "tried once, then remembered: {args}"
        );
    }

    #[test]
    fn include_and_exclude() {
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), |s| {
            s.unit_include = anchored(r"(ssh|cron)\..+").unwrap();
            s.unit_exclude = anchored(r".+\.socket").unwrap();
        }));
        assert!(
            t.contains("name=\"ssh.service\"") && t.contains("name=\"cron.service\""),
            "{t}"
        );
        assert!(!t.contains("ssh.socket") && !t.contains("failing"), "{t}");
        // anchored: "cron" alone does not match "cron.service"
        let d = tempfile::tempdir().unwrap();
        let t = render(&collector(d.path(), |s| {
            s.unit_include = anchored("cron").unwrap()
        }));
        assert!(!t.contains("node_systemd_unit_state{"), "{t}");
    }

    #[test]
    fn without_systemd_the_error_says_why() {
        let d = tempfile::tempdir().unwrap();
        let c = Systemd::new(&SystemdSettings {
            systemctl: fake_systemctl(d.path(), true),
            ..Default::default()
        });
        let e = c.collect(&mut Exposition::default()).unwrap_err();
        assert!(!e.is_no_data());
        let e = e.to_string();
        assert!(
            e.contains("not been booted with systemd") && e.contains("show"),
            "{e}"
        );
        let c = Systemd::new(&SystemdSettings {
            systemctl: d.path().join("no-such-systemctl"),
            ..Default::default()
        });
        assert!(c.collect(&mut Exposition::default()).is_err());
    }

    #[test]
    fn parsers() {
        assert_eq!(parse_version("252.38-1~deb12u1"), 252.38);
        assert_eq!(parse_version("v249"), 249.0);
        assert_eq!(parse_version("v1.2 249.11"), 249.11);
        assert_eq!(parse_version(""), 0.0);
        assert_eq!(
            parse_timestamp_us("Tue 2026-12-01 14:02:11.482113 UTC"),
            Some(1_796_133_731_482_113)
        );
        assert_eq!(
            parse_timestamp_us("1970-01-01 00:00:01 UTC"),
            Some(1_000_000)
        );
        assert_eq!(
            parse_timestamp_us("@1796133731"),
            Some(1_796_133_731_000_000)
        );
        assert_eq!(parse_timestamp_us("n/a"), Some(0));
        assert_eq!(parse_timestamp_us("Tue 2026-12-01 15:02:11 CET"), None);
        let u = parse_units("● failing.service loaded failed failed A service\n\n");
        assert_eq!(u.len(), 1);
        assert_eq!(
            (u[0].name.as_str(), u[0].active.as_str()),
            ("failing.service", "failed")
        );
    }
}

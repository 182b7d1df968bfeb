//! Command line, compatible with node_exporter's where it matters for a
//! drop-in: the dotted flag names, `--collector.<name>` / `--no-collector.<name>`
//! switches (built programmatically from the collector list, so `--help`
//! lists them), `--web.listen-address`, `--web.config.file`, `--path.*`.

use crate::collector::{self, defaults, Paths, Settings};
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches, Parser};
use regex::Regex;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "srp-node-exporter",
    version,
    about = "A drop-in replacement for Prometheus node_exporter: the same node_* metrics at a fraction of the cost; no mount can hang a scrape.",
    after_help = "Collectors of node_exporter that are not implemented here are accepted as \
--[no-]collector.<name> (and --collector.<name>.* options) and ignored with a warning, so existing \
unit files keep working: see NOT IMPLEMENTED in the README."
)]
pub struct Cli {
    /// Address to serve /metrics and /health on.
    #[arg(long, env = "SRP_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,

    /// node_exporter's name for --listen (":9100" means all interfaces); wins over --listen.
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub web_listen_address: Option<String>,

    /// Path under which metrics are served.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,

    /// exporter-toolkit web config (YAML): tls_server_config (cert_file, key_file,
    /// min_version, max_version) and basic_auth_users (bcrypt hashes).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Leave out the exporter's own process_* metrics.
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,

    /// Start with every collector off; enable them one by one with --collector.<name>.
    #[arg(long = "collector.disable-defaults")]
    pub disable_defaults: bool,

    /// Regexp of mount points to exclude (node_exporter's upstream default).
    #[arg(long = "collector.filesystem.mount-points-exclude", default_value = defaults::MOUNT_POINTS_EXCLUDE)]
    pub mount_points_exclude: String,

    /// Regexp of filesystem types to exclude (node_exporter's default).
    #[arg(long = "collector.filesystem.fs-types-exclude", default_value = defaults::FS_TYPES_EXCLUDE)]
    pub fs_types_exclude: String,

    /// How long a statfs may take before the mount is reported with
    /// node_filesystem_device_error=1 (e.g. 5s, 500ms). A mount still stuck
    /// from an earlier scrape is not called again until it answers.
    #[arg(long = "collector.filesystem.mount-timeout", default_value = "5s", value_parser = srp_daemon::duration::parse_flag)]
    pub mount_timeout: Duration,

    /// Longest one collector may take in a scrape (e.g. 8s, 500ms). One that
    /// overruns is reported with node_scrape_collector_success 0 while the
    /// others still answer, and is not called again until its call returns.
    /// Keep it above --collector.filesystem.mount-timeout.
    #[arg(long = "collector.deadline", default_value = "8s", value_parser = srp_daemon::duration::parse_flag)]
    pub collector_deadline: Duration,

    /// Regexp of block devices to exclude from diskstats (node_exporter's default).
    #[arg(long = "collector.diskstats.device-exclude", default_value = defaults::DISKSTATS_DEVICE_EXCLUDE)]
    pub diskstats_device_exclude: String,

    /// Regexp of network devices to exclude from netdev (default: none).
    #[arg(long = "collector.netdev.device-exclude")]
    pub netdev_device_exclude: Option<String>,

    /// Regexp of network devices to include in netdev (default: all).
    #[arg(long = "collector.netdev.device-include")]
    pub netdev_device_include: Option<String>,

    /// Regexp of network devices to leave out of netclass.
    #[arg(long = "collector.netclass.ignored-devices", default_value = defaults::NETCLASS_IGNORED_DEVICES)]
    pub netclass_ignored_devices: String,

    /// Leave out node_network_speed_bytes for links reporting an invalid speed (-1).
    #[arg(long = "collector.netclass.ignore-invalid-speed")]
    pub netclass_ignore_invalid_speed: bool,

    /// Regexp of /proc/net/{netstat,snmp,snmp6} fields to export.
    #[arg(long = "collector.netstat.fields", default_value = defaults::NETSTAT_FIELDS)]
    pub netstat_fields: String,

    /// Regexp of /proc/vmstat fields to export.
    #[arg(long = "collector.vmstat.fields", default_value = defaults::VMSTAT_FIELDS)]
    pub vmstat_fields: String,

    /// Regexp of ARP devices to include (default: all).
    #[arg(long = "collector.arp.device-include")]
    pub arp_device_include: Option<String>,

    /// Regexp of ARP devices to exclude (default: none).
    #[arg(long = "collector.arp.device-exclude")]
    pub arp_device_exclude: Option<String>,

    /// Export softirq calls per vector (node_softirqs_total).
    #[arg(long = "collector.stat.softirq")]
    pub stat_softirq: bool,

    /// Export node_cpu_info from /proc/cpuinfo.
    #[arg(long = "collector.cpu.info")]
    pub cpu_info: bool,

    /// With --collector.cpu.info: regexp of the first CPU's flags to export as node_cpu_flag_info.
    #[arg(long = "collector.cpu.info.flags-include")]
    pub cpu_info_flags_include: Option<String>,

    /// With --collector.cpu.info: regexp of the first CPU's bugs to export as node_cpu_bug_info.
    #[arg(long = "collector.cpu.info.bugs-include")]
    pub cpu_info_bugs_include: Option<String>,

    /// sysctl to export as a number (repeatable): `name`, or `name:field,field…`
    /// to give each value of a multi-value sysctl its own metric.
    #[arg(long = "collector.sysctl.include", value_name = "NAME[:FIELDS]")]
    pub sysctl_include: Vec<String>,

    /// sysctl to export as node_sysctl_info{name,index,value} (repeatable).
    #[arg(long = "collector.sysctl.include-info", value_name = "NAME")]
    pub sysctl_include_info: Vec<String>,

    /// Test fixtures (upstream's JSON format) for the wifi collector instead of nl80211.
    #[arg(long = "collector.wifi.fixtures", value_name = "DIR")]
    pub wifi_fixtures: Option<PathBuf>,

    /// Test fixtures (DIR/results.json, upstream's format) for the qdisc collector instead of rtnetlink.
    #[arg(long = "collector.qdisc.fixtures", value_name = "DIR")]
    pub qdisc_fixtures: Option<PathBuf>,

    /// Regexp of qdisc devices to include (mutually exclusive with -exclude).
    /// node_exporter 1.5 spells it collector.qdisk.device-include; both are accepted.
    #[arg(
        long = "collector.qdisc.device-include",
        alias = "collector.qdisk.device-include"
    )]
    pub qdisc_device_include: Option<String>,

    /// Regexp of qdisc devices to exclude (mutually exclusive with -include).
    #[arg(
        long = "collector.qdisc.device-exclude",
        alias = "collector.qdisk.device-exclude"
    )]
    pub qdisc_device_exclude: Option<String>,

    /// Also export bcache's priority_stats (unused and metadata percent); the
    /// kernel walks every bucket to produce that file, hence off by default.
    #[arg(long = "collector.bcache.priorityStats")]
    pub bcache_priority_stats: bool,

    /// Regexp of tape drives (st0, st1, …) to leave out of tapestats.
    #[arg(long = "collector.tapestats.ignored-devices", default_value = defaults::TAPESTATS_IGNORED_DEVICES)]
    pub tapestats_ignored_devices: String,

    /// Comma-separated labels of the IPVS backend series (local_address,
    /// local_port, remote_address, remote_port, proto, local_mark); backends
    /// that differ only in labels left out are summed.
    #[arg(long = "collector.ipvs.backend-labels", default_value = collector::ipvs::DEFAULT_BACKEND_LABELS)]
    pub ipvs_backend_labels: String,

    /// Regexp of systemd units to include (anchored); units must match it and not -exclude.
    #[arg(
        long = "collector.systemd.unit-include",
        alias = "collector.systemd.unit-whitelist",
        default_value = collector::systemd::UNIT_INCLUDE
    )]
    pub systemd_unit_include: String,

    /// Regexp of systemd units to exclude (anchored).
    #[arg(
        long = "collector.systemd.unit-exclude",
        alias = "collector.systemd.unit-blacklist",
        default_value = collector::systemd::UNIT_EXCLUDE
    )]
    pub systemd_unit_exclude: String,

    /// Add node_systemd_unit_tasks_current / _max for service units.
    #[arg(long = "collector.systemd.enable-task-metrics")]
    pub systemd_task_metrics: bool,

    /// Add node_systemd_service_restart_total for service units.
    #[arg(long = "collector.systemd.enable-restarts-metrics")]
    pub systemd_restarts_metrics: bool,

    /// Add node_systemd_unit_start_time_seconds.
    #[arg(long = "collector.systemd.enable-start-time-metrics")]
    pub systemd_start_time_metrics: bool,

    /// Directory of *.prom files for the textfile collector (unset: none read).
    #[arg(long = "collector.textfile.directory", value_name = "DIR")]
    pub textfile_directory: Option<PathBuf>,

    /// procfs mount point.
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,

    /// sysfs mount point.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    pub sysfs: PathBuf,

    /// Root of the host filesystem (for mount points and os-release).
    #[arg(long = "path.rootfs", default_value = "/")]
    pub rootfs: PathBuf,

    /// udev database (disk model/serial for node_disk_info).
    #[arg(long = "path.udev.data", default_value = "/run/udev/data")]
    pub udev_data: PathBuf,

    #[command(flatten)]
    pub log: srp_daemon::LogArgs,

    /// Filled from the --[no-]collector.<name> switches.
    #[arg(skip)]
    pub enabled: Vec<&'static str>,

    /// Flags accepted for compatibility but not acted on (warned at start-up).
    #[arg(skip)]
    pub ignored: Vec<String>,
}

fn leak(s: String) -> &'static str {
    // The command is built once per process; the few strings live as long.
    Box::leak(s.into_boxed_str())
}

/// The full command: the derived flags plus one switch pair per collector.
pub fn command() -> Command {
    let mut cmd = Cli::command();
    for spec in collector::ALL {
        let on = leak(format!("collector.{}", spec.name));
        let off = leak(format!("no-collector.{}", spec.name));
        let default = if spec.default_enabled {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(
                Arg::new(on)
                    .long(on)
                    .action(ArgAction::SetTrue)
                    .help(leak(format!(
                        "Enable the {} collector: {} (default: {default}).",
                        spec.name, spec.about
                    ))),
            )
            .arg(
                Arg::new(off)
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .help(leak(format!("Disable the {} collector.", spec.name))),
            );
    }
    cmd
}

/// node_exporter flags with no meaning here are dropped before clap sees them
/// (with a warning later), and its `--log.*` flags are mapped to ours.
fn preprocess(args: Vec<String>, known: &[String]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::with_capacity(args.len());
    let mut ignored = Vec::new();
    let mut it = args.into_iter().peekable();
    if let Some(bin) = it.next() {
        out.push(bin);
    }
    while let Some(a) = it.next() {
        let (flag, has_value) = match a.split_once('=') {
            Some((f, _)) => (f.to_string(), true),
            None => (a.clone(), false),
        };
        if let Some(rest) = flag.strip_prefix("--log.") {
            let value = if has_value {
                a.split_once('=').map(|(_, v)| v.to_string())
            } else {
                it.next()
            };
            let value = value.unwrap_or_default();
            match rest {
                "level" => out.push(format!("--log-level={value}")),
                "format" => out.push(format!(
                    "--log-format={}",
                    if value == "json" { "json" } else { "text" }
                )),
                _ => ignored.push(a),
            }
            continue;
        }
        let stem = flag
            .strip_prefix("--no-collector.")
            .or_else(|| flag.strip_prefix("--collector."));
        let unknown = stem.is_some() && !known.iter().any(|k| *k == flag[2..]);
        if unknown {
            let name = stem.unwrap_or_default();
            // `--collector.X.option VALUE`: the value goes with it.
            if name.contains('.') && !has_value && it.peek().is_some_and(|n| !n.starts_with('-')) {
                let v = it.next().unwrap_or_default();
                ignored.push(format!("{a} {v}"));
            } else {
                ignored.push(a);
            }
            continue;
        }
        out.push(a);
    }
    (out, ignored)
}

/// Parse the process's arguments (exits with clap's message on bad input).
pub fn parse() -> Cli {
    match try_parse_from(std::env::args()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    }
}

pub fn try_parse_from(
    args: impl IntoIterator<Item = impl Into<String>>,
) -> Result<Cli, clap::Error> {
    let cmd = command();
    let known: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .collect();
    let (args, ignored) = preprocess(args.into_iter().map(Into::into).collect(), &known);
    let matches = cmd.try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.enabled = enabled(&matches, cli.disable_defaults);
    cli.ignored = ignored;
    Ok(cli)
}

fn enabled(m: &ArgMatches, disable_defaults: bool) -> Vec<&'static str> {
    collector::ALL
        .iter()
        .filter(|spec| {
            let on_id = format!("collector.{}", spec.name);
            let off_id = format!("no-collector.{}", spec.name);
            let on = m.get_flag(&on_id).then(|| m.index_of(&on_id)).flatten();
            let off = m.get_flag(&off_id).then(|| m.index_of(&off_id)).flatten();
            match (on, off) {
                (Some(a), Some(b)) => a > b, // the later switch wins
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => spec.default_enabled && !disable_defaults,
            }
        })
        .map(|spec| spec.name)
        .collect()
}

/// `5s`, `500ms`, `1m`, or plain seconds.
fn regex(flag: &str, value: &str) -> anyhow::Result<Regex> {
    Regex::new(value).map_err(|e| anyhow::anyhow!("--{flag}: invalid regexp: {e}"))
}

impl Cli {
    /// The address to listen on: --web.listen-address if given, else --listen.
    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        let Some(a) = &self.web_listen_address else {
            return Ok(self.listen);
        };
        let full = if a.starts_with(':') {
            format!("0.0.0.0{a}")
        } else {
            a.clone()
        };
        full.to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(|| anyhow::anyhow!("--web.listen-address: cannot use {a:?} as an address"))
    }

    pub fn settings(&self) -> anyhow::Result<Settings> {
        if self.netdev_device_exclude.is_some() && self.netdev_device_include.is_some() {
            anyhow::bail!("--collector.netdev.device-exclude and --collector.netdev.device-include are mutually exclusive");
        }
        if self.qdisc_device_exclude.is_some() && self.qdisc_device_include.is_some() {
            anyhow::bail!("--collector.qdisc.device-exclude and --collector.qdisc.device-include are mutually exclusive");
        }
        let opt = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<Regex>> {
            match v.as_deref() {
                None | Some("") => Ok(None),
                Some(v) => regex(flag, v).map(Some),
            }
        };
        Ok(Settings {
            paths: Paths {
                procfs: self.procfs.clone(),
                sysfs: self.sysfs.clone(),
                rootfs: self.rootfs.clone(),
                udev_data: self.udev_data.clone(),
            },
            mount_points_exclude: regex(
                "collector.filesystem.mount-points-exclude",
                &self.mount_points_exclude,
            )?,
            fs_types_exclude: regex(
                "collector.filesystem.fs-types-exclude",
                &self.fs_types_exclude,
            )?,
            mount_timeout: self.mount_timeout,
            statfs: Arc::new(crate::statfs::SysStatFs),
            diskstats_device_exclude: regex(
                "collector.diskstats.device-exclude",
                &self.diskstats_device_exclude,
            )?,
            netdev_device_exclude: opt(
                "collector.netdev.device-exclude",
                &self.netdev_device_exclude,
            )?,
            netdev_device_include: opt(
                "collector.netdev.device-include",
                &self.netdev_device_include,
            )?,
            netclass_ignored_devices: regex(
                "collector.netclass.ignored-devices",
                &self.netclass_ignored_devices,
            )?,
            netclass_ignore_invalid_speed: self.netclass_ignore_invalid_speed,
            netstat_fields: regex("collector.netstat.fields", &self.netstat_fields)?,
            vmstat_fields: regex("collector.vmstat.fields", &self.vmstat_fields)?,
            textfile_directory: self.textfile_directory.clone(),
            arp_device_include: opt("collector.arp.device-include", &self.arp_device_include)?,
            arp_device_exclude: opt("collector.arp.device-exclude", &self.arp_device_exclude)?,
            stat_softirq: self.stat_softirq,
            sysctl_include: self.sysctl_include.clone(),
            sysctl_include_info: self.sysctl_include_info.clone(),
            cpu_info: self.cpu_info,
            cpu_info_flags_include: opt(
                "collector.cpu.info.flags-include",
                &self.cpu_info_flags_include,
            )?,
            cpu_info_bugs_include: opt(
                "collector.cpu.info.bugs-include",
                &self.cpu_info_bugs_include,
            )?,
            bcache_priority_stats: self.bcache_priority_stats,
            tapestats_ignored_devices: regex(
                "collector.tapestats.ignored-devices",
                &self.tapestats_ignored_devices,
            )?,
            ipvs_backend_labels: collector::ipvs::parse_backend_labels(&self.ipvs_backend_labels)
                .map_err(|e| {
                anyhow::anyhow!("--collector.ipvs.backend-labels: {e}")
            })?,
            systemd: collector::systemd::SystemdSettings {
                unit_include: collector::systemd::anchored(&self.systemd_unit_include).map_err(
                    |e| anyhow::anyhow!("--collector.systemd.unit-include: invalid regexp: {e}"),
                )?,
                unit_exclude: collector::systemd::anchored(&self.systemd_unit_exclude).map_err(
                    |e| anyhow::anyhow!("--collector.systemd.unit-exclude: invalid regexp: {e}"),
                )?,
                start_time_metrics: self.systemd_start_time_metrics,
                task_metrics: self.systemd_task_metrics,
                restarts_metrics: self.systemd_restarts_metrics,
                systemctl: "systemctl".into(),
            },
            wifi_fixtures: self.wifi_fixtures.clone(),
            qdisc: collector::qdisc::QdiscSettings {
                fixtures: self.qdisc_fixtures.clone(),
                device_include: opt("collector.qdisc.device-include", &self.qdisc_device_include)?,
                device_exclude: opt("collector.qdisc.device-exclude", &self.qdisc_device_exclude)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let mut v = vec!["srp-node-exporter"];
        v.extend_from_slice(args);
        try_parse_from(v).unwrap()
    }

    #[test]
    fn defaults_enable_upstreams_default_collectors() {
        let c = parse(&[]);
        let defaults: Vec<&str> = collector::ALL
            .iter()
            .filter(|s| s.default_enabled)
            .map(|s| s.name)
            .collect();
        assert_eq!(c.enabled, defaults);
        assert!(
            !c.enabled.contains(&"interrupts"),
            "off by default upstream"
        );
        let c = parse(&["--collector.interrupts"]);
        assert!(c.enabled.contains(&"interrupts"));
        assert_eq!(c.listen_addr().unwrap(), "127.0.0.1:9100".parse().unwrap());
    }

    #[test]
    fn switches_and_disable_defaults() {
        let c = parse(&[
            "--no-collector.cpu",
            "--collector.filesystem.mount-timeout=250ms",
        ]);
        assert!(!c.enabled.contains(&"cpu") && c.enabled.contains(&"meminfo"));
        assert_eq!(c.mount_timeout, Duration::from_millis(250));
        let c = parse(&[
            "--collector.disable-defaults",
            "--collector.meminfo",
            "--collector.cpu",
            "--no-collector.cpu",
        ]);
        assert_eq!(c.enabled, vec!["meminfo"]);
    }

    #[test]
    fn node_exporter_flags_are_accepted() {
        let c = parse(&[
            "--web.listen-address=:9101",
            "--no-collector.perf",
            "--collector.hwmon.chip-include",
            "^x$",
            "--collector.logind",
            "--collector.cpu.info",
            "--log.level=debug",
            "--log.format=logfmt",
            "--collector.textfile.directory=/var/lib/prometheus/node-exporter",
        ]);
        assert_eq!(c.listen_addr().unwrap(), "0.0.0.0:9101".parse().unwrap());
        assert_eq!(c.ignored.len(), 3, "{:?}", c.ignored);
        assert!(c.cpu_info);
        assert!(c
            .ignored
            .contains(&"--collector.hwmon.chip-include ^x$".to_string()));
        assert_eq!(c.log.log_level, "debug");
        assert!(c.enabled.contains(&"cpu"));
    }

    #[test]
    fn bad_input_is_named() {
        let e = try_parse_from(["x", "--collector.filesystem.mount-timeout=5y"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown unit"), "{e}");
        let c = parse(&["--collector.diskstats.device-exclude=("]);
        let e = c.settings().err().unwrap().to_string();
        assert!(e.contains("--collector.diskstats.device-exclude"), "{e}");
        assert!(try_parse_from(["x", "--bogus"]).is_err());
    }

    #[test]
    fn tapestats_and_ipvs_options_are_honoured() {
        let s = parse(&[
            "--collector.tapestats.ignored-devices=^st1$",
            "--collector.ipvs.backend-labels=local_port,proto",
        ])
        .settings()
        .unwrap();
        assert!(s.tapestats_ignored_devices.is_match("st1"));
        assert!(!s.tapestats_ignored_devices.is_match("st0"));
        assert_eq!(
            s.ipvs_backend_labels,
            [false, false, true, true, false, false]
        );
        let s = parse(&[]).settings().unwrap();
        assert_eq!(s.ipvs_backend_labels, [true; 6]);
        assert!(!s.tapestats_ignored_devices.is_match("st0"));
        let e = parse(&["--collector.ipvs.backend-labels=proto,zone"])
            .settings()
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("--collector.ipvs.backend-labels") && e.contains("zone"),
            "{e}"
        );
        let e = parse(&["--collector.tapestats.ignored-devices=("])
            .settings()
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("--collector.tapestats.ignored-devices"), "{e}");
    }

    #[test]
    fn help_lists_collector_switches() {
        let help = command().render_long_help().to_string();
        for spec in collector::ALL {
            assert!(
                help.contains(&format!("--collector.{}", spec.name)),
                "{}",
                spec.name
            );
            assert!(
                help.contains(&format!("--no-collector.{}", spec.name)),
                "{}",
                spec.name
            );
        }
    }
}

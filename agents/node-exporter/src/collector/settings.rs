//! What the collectors are configured with: where /proc, /sys and the root
//! are, node_exporter's default excludes, and the memoised field filters.

use crate::statfs::StatFs;
use regex::Regex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A field-name regex with its answers remembered: the set of field names in
/// a /proc file is fixed for a kernel, so each name is matched once, and the
/// regex engine's caches stop growing after the first scrape.
pub struct FieldFilter {
    regex: Regex,
    memo: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

impl FieldFilter {
    pub fn new(regex: Regex) -> Self {
        Self {
            regex,
            memo: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub fn is_match(&self, field: &str) -> bool {
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&m) = memo.get(field) {
            return m;
        }
        let m = self.regex.is_match(field);
        // Bounded in case a kernel keeps inventing names.
        if memo.len() < 4096 {
            memo.insert(field.to_string(), m);
        }
        m
    }
}

/// Where the host's pseudo-filesystems are (node_exporter's `--path.*`).
#[derive(Debug, Clone)]
pub struct Paths {
    pub procfs: PathBuf,
    pub sysfs: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl Paths {
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }
    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }
}

/// node_exporter's upstream defaults (Debian patches some of them; we keep
/// upstream so a plain node_exporter job sees the same series).
pub mod defaults {
    pub const MOUNT_POINTS_EXCLUDE: &str =
        r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
    pub const FS_TYPES_EXCLUDE: &str = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
    pub const DISKSTATS_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
    pub const NETSTAT_FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
    pub const NETCLASS_IGNORED_DEVICES: &str = "^$";
    pub const TAPESTATS_IGNORED_DEVICES: &str = "^$";
    pub const VMSTAT_FIELDS: &str = r"^(oom_kill|pgpg|pswp|pg.*fault).*";
    pub const MOUNT_TIMEOUT_SECS: u64 = 5;
}

/// Everything the collectors are configured with.
#[derive(Clone)]
pub struct Settings {
    pub paths: Paths,
    pub mount_points_exclude: Regex,
    pub fs_types_exclude: Regex,
    pub mount_timeout: Duration,
    pub statfs: Arc<dyn StatFs>,
    pub diskstats_device_exclude: Regex,
    pub netdev_device_exclude: Option<Regex>,
    pub netdev_device_include: Option<Regex>,
    pub netclass_ignored_devices: Regex,
    pub netclass_ignore_invalid_speed: bool,
    pub netstat_fields: Regex,
    pub vmstat_fields: Regex,
    pub textfile_directory: Option<PathBuf>,
    /// `--collector.arp.device-include` / `-exclude`.
    pub arp_device_include: Option<Regex>,
    pub arp_device_exclude: Option<Regex>,
    /// `--collector.stat.softirq`: add `node_softirqs_total{vector}`.
    pub stat_softirq: bool,
    /// `--collector.sysctl.include` (`name` or `name:field,…`) and `-info`.
    pub sysctl_include: Vec<String>,
    pub sysctl_include_info: Vec<String>,
    /// `--collector.cpu.info` and its flag and bug filters.
    pub cpu_info: bool,
    pub cpu_info_flags_include: Option<Regex>,
    pub cpu_info_bugs_include: Option<Regex>,
    /// `--collector.bcache.priorityStats`: also read the costly `priority_stats`.
    pub bcache_priority_stats: bool,
    /// `--collector.tapestats.ignored-devices`: drives (`st0`) to leave out.
    pub tapestats_ignored_devices: Regex,
    /// `--collector.ipvs.backend-labels`, as `ipvs::parse_backend_labels` reads it.
    pub ipvs_backend_labels: [bool; 6],
    /// `--collector.wifi.fixtures`: upstream's JSON stand-in for nl80211.
    pub wifi_fixtures: Option<PathBuf>,
    /// `--collector.qdisc.*`.
    pub qdisc: super::qdisc::QdiscSettings,
    /// `--collector.systemd.*`.
    pub systemd: super::systemd::SystemdSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            paths: Paths::default(),
            mount_points_exclude: Regex::new(defaults::MOUNT_POINTS_EXCLUDE).unwrap(),
            fs_types_exclude: Regex::new(defaults::FS_TYPES_EXCLUDE).unwrap(),
            mount_timeout: Duration::from_secs(defaults::MOUNT_TIMEOUT_SECS),
            statfs: Arc::new(crate::statfs::SysStatFs),
            diskstats_device_exclude: Regex::new(defaults::DISKSTATS_DEVICE_EXCLUDE).unwrap(),
            netdev_device_exclude: None,
            netdev_device_include: None,
            netclass_ignored_devices: Regex::new(defaults::NETCLASS_IGNORED_DEVICES).unwrap(),
            netclass_ignore_invalid_speed: false,
            netstat_fields: Regex::new(defaults::NETSTAT_FIELDS).unwrap(),
            vmstat_fields: Regex::new(defaults::VMSTAT_FIELDS).unwrap(),
            textfile_directory: None,
            arp_device_include: None,
            arp_device_exclude: None,
            stat_softirq: false,
            sysctl_include: Vec::new(),
            sysctl_include_info: Vec::new(),
            cpu_info: false,
            cpu_info_flags_include: None,
            cpu_info_bugs_include: None,
            bcache_priority_stats: false,
            tapestats_ignored_devices: Regex::new(defaults::TAPESTATS_IGNORED_DEVICES).unwrap(),
            ipvs_backend_labels: [true; 6],
            wifi_fixtures: None,
            qdisc: Default::default(),
            systemd: Default::default(),
        }
    }
}

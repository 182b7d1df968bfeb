//! Collectors, one per file, each named and shaped exactly like its
//! node_exporter counterpart (names, types, labels, HELP).
//!
//! A collector reads its /proc or /sys files and writes families straight into
//! the scrape's [`Exposition`]. It returns an error instead of partial data;
//! the scraper then drops what it wrote and reports
//! `node_scrape_collector_success{collector}=0` while the others still answer.

pub mod arp;
pub mod conntrack;
pub mod cpu;
pub mod diskstats;
pub mod entropy;
pub mod filefd;
pub mod filesystem;
pub mod loadavg;
pub mod meminfo;
pub mod netclass;
pub mod netdev;
pub mod netstat;
pub mod os;
pub mod pressure;
pub mod selinux;
pub mod sockstat;
pub mod softnet;
pub mod stat;
pub mod textfile;
pub mod time;
pub mod timex;
pub mod udp_queues;
pub mod uname;
pub mod vmstat;

use crate::exposition::Exposition;
use crate::statfs::StatFs;
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The kernel does not offer this data here (e.g. no PSI, no conntrack).
    /// node_exporter reports these with success=0 too, but logs them quietly.
    #[error("no data: {0}")]
    NoData(String),
}

impl CollectError {
    pub fn parse(path: &Path, reason: impl Into<String>) -> Self {
        CollectError::Parse {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    pub fn is_no_data(&self) -> bool {
        match self {
            CollectError::NoData(_) => true,
            CollectError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            CollectError::Parse { .. } => false,
        }
    }
}

/// Read a whole (small, virtual) file.
pub fn read(path: &Path) -> Result<String, CollectError> {
    read_file(path).map_err(|source| CollectError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `std::fs::read_to_string` without its statx call: /proc and /sys files
/// report size 0 anyway, and a scrape reads over a hundred of them.
pub fn read_file(path: impl AsRef<Path>) -> std::io::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path.as_ref())?;
    let mut buf = Vec::with_capacity(4096);
    // `take` routes around File's size-hinting read_to_end.
    Read::by_ref(&mut f).take(u64::MAX).read_to_end(&mut buf)?;
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// A sysfs directory held open, so each attribute is one openat(2) relative
/// to it instead of a full path walk through /sys/class symlinks.
pub struct SysfsDir {
    fd: std::os::fd::OwnedFd,
}

impl SysfsDir {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
        // SAFETY: a plain open(2) of a NUL-terminated path; the fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        Ok(Self {
            fd: unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) },
        })
    }

    /// One sysfs attribute, trimmed. An attribute is produced whole by one
    /// read (at most a page), so a single read(2) suffices.
    pub fn attr(&self, name: &std::ffi::CStr) -> Option<String> {
        use std::os::fd::AsRawFd;
        // SAFETY: openat/read/close on descriptors we own, into our buffer.
        unsafe {
            let fd = libc::openat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return None;
            }
            let mut buf = [0u8; 4096];
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            if n < 0 {
                return None;
            }
            std::str::from_utf8(&buf[..n as usize])
                .ok()
                .map(|s| s.trim().to_string())
        }
    }
}

/// Parse one number, naming the file on failure.
pub fn num<T: std::str::FromStr>(path: &Path, s: &str) -> Result<T, CollectError> {
    s.trim()
        .parse()
        .map_err(|_| CollectError::parse(path, format!("not a number: {s:?}")))
}

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

pub trait Collector: Send + Sync {
    fn name(&self) -> &'static str;
    fn collect(&self, out: &mut Exposition) -> Result<(), CollectError>;
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
        }
    }
}

/// A collector's name, whether node_exporter enables it by default, and what
/// it exposes (for `--help`).
pub struct Spec {
    pub name: &'static str,
    pub default_enabled: bool,
    pub about: &'static str,
    build: fn(&Settings) -> Box<dyn Collector>,
}

/// Every collector, in the order they are scraped.
pub const ALL: &[Spec] = &[
    Spec {
        name: "arp",
        default_enabled: true,
        about: "ARP entries per device (/proc/net/arp)",
        build: |s| Box::new(arp::Arp::new(&s.paths)),
    },
    Spec {
        name: "conntrack",
        default_enabled: true,
        about: "netfilter connection tracking table and statistics",
        build: |s| Box::new(conntrack::Conntrack::new(&s.paths)),
    },
    Spec {
        name: "cpu",
        default_enabled: true,
        about: "CPU seconds per mode, and guest seconds (/proc/stat)",
        build: |s| Box::new(cpu::Cpu::new(&s.paths)),
    },
    Spec {
        name: "diskstats",
        default_enabled: true,
        about: "block device I/O statistics (/proc/diskstats, udev info)",
        build: |s| Box::new(diskstats::Diskstats::new(s)),
    },
    Spec {
        name: "entropy",
        default_enabled: true,
        about: "available entropy and pool size",
        build: |s| Box::new(entropy::Entropy::new(&s.paths)),
    },
    Spec {
        name: "filefd",
        default_enabled: true,
        about: "allocated and maximum file handles",
        build: |s| Box::new(filefd::Filefd::new(&s.paths)),
    },
    Spec {
        name: "filesystem",
        default_enabled: true,
        about: "size, free, available, inodes, read-only per mount; statfs bounded by --collector.filesystem.mount-timeout",
        build: |s| Box::new(filesystem::Filesystem::new(s)),
    },
    Spec {
        name: "loadavg",
        default_enabled: true,
        about: "1, 5 and 15 minute load averages",
        build: |s| Box::new(loadavg::Loadavg::new(&s.paths)),
    },
    Spec {
        name: "meminfo",
        default_enabled: true,
        about: "every /proc/meminfo field as node_memory_<Field>[_bytes]",
        build: |s| Box::new(meminfo::Meminfo::new(&s.paths)),
    },
    Spec {
        name: "netclass",
        default_enabled: true,
        about: "network device properties from /sys/class/net (up, carrier, mtu, speed, info…)",
        build: |s| Box::new(netclass::Netclass::new(s)),
    },
    Spec {
        name: "netdev",
        default_enabled: true,
        about: "network device counters (/proc/net/dev)",
        build: |s| Box::new(netdev::Netdev::new(s)),
    },
    Spec {
        name: "netstat",
        default_enabled: true,
        about: "selected /proc/net/{netstat,snmp,snmp6} fields (--collector.netstat.fields)",
        build: |s| Box::new(netstat::Netstat::new(s)),
    },
    Spec {
        name: "os",
        default_enabled: true,
        about: "os-release information",
        build: |s| Box::new(os::Os::new(&s.paths)),
    },
    Spec {
        name: "pressure",
        default_enabled: true,
        about: "pressure stall information (PSI) for cpu, io and memory",
        build: |s| Box::new(pressure::Pressure::new(&s.paths)),
    },
    Spec {
        name: "selinux",
        default_enabled: true,
        about: "whether SELinux is enabled, and its modes",
        build: |s| Box::new(selinux::Selinux::new(&s.paths)),
    },
    Spec {
        name: "sockstat",
        default_enabled: true,
        about: "socket statistics (/proc/net/sockstat{,6})",
        build: |s| Box::new(sockstat::Sockstat::new(&s.paths)),
    },
    Spec {
        name: "softnet",
        default_enabled: true,
        about: "softnet statistics per CPU (/proc/net/softnet_stat)",
        build: |s| Box::new(softnet::Softnet::new(&s.paths)),
    },
    Spec {
        name: "stat",
        default_enabled: true,
        about: "boot time, context switches, forks, interrupts, running/blocked processes",
        build: |s| Box::new(stat::Stat::new(&s.paths)),
    },
    Spec {
        name: "textfile",
        default_enabled: true,
        about: "metrics from *.prom files in --collector.textfile.directory",
        build: |s| Box::new(textfile::Textfile::new(s.textfile_directory.clone())),
    },
    Spec {
        name: "time",
        default_enabled: true,
        about: "system time, time zone offset, clock sources",
        build: |s| Box::new(time::Time::new(&s.paths)),
    },
    Spec {
        name: "timex",
        default_enabled: true,
        about: "kernel clock discipline state (adjtimex)",
        build: |_| Box::new(timex::Timex),
    },
    Spec {
        name: "udp_queues",
        default_enabled: true,
        about: "UDP receive/transmit queue bytes (/proc/net/udp{,6})",
        build: |s| Box::new(udp_queues::UdpQueues::new(&s.paths)),
    },
    Spec {
        name: "uname",
        default_enabled: true,
        about: "uname system information",
        build: |_| Box::new(uname::Uname),
    },
    Spec {
        name: "vmstat",
        default_enabled: true,
        about: "selected /proc/vmstat fields (--collector.vmstat.fields)",
        build: |s| Box::new(vmstat::Vmstat::new(s)),
    },
];

/// node_exporter collectors this exporter does not implement. Their
/// `--[no-]collector.<name>` switches (and `--collector.<name>.*` options) are
/// accepted and ignored with a warning so existing unit files keep working.
pub const NOT_IMPLEMENTED: &[&str] = &[
    "bcache",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "cpufreq",
    "devstat",
    "dmi",
    "drbd",
    "drm",
    "edac",
    "ethtool",
    "fibrechannel",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "ksmd",
    "lnstat",
    "logind",
    "mdadm",
    "meminfo_numa",
    "mountstats",
    "network_route",
    "nfs",
    "nfsd",
    "ntp",
    "nvme",
    "perf",
    "powersupplyclass",
    "processes",
    "qdisc",
    "rapl",
    "runit",
    "schedstat",
    "slabinfo",
    "supervisord",
    "systemd",
    "tapestats",
    "tcpstat",
    "thermal_zone",
    "wifi",
    "xfs",
    "zfs",
    "zoneinfo",
];

pub fn spec(name: &str) -> Option<&'static Spec> {
    ALL.iter().find(|s| s.name == name)
}

/// Build the enabled collectors, in [`ALL`] order.
pub fn build(enabled: &[&str], settings: &Settings) -> Vec<Box<dyn Collector>> {
    ALL.iter()
        .filter(|s| enabled.contains(&s.name))
        .map(|s| (s.build)(settings))
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::Paths;
    use std::path::Path;

    /// A fake root with `proc/` and `sys/` filled from (relative path, text) pairs.
    pub fn fake_paths(dir: &Path, files: &[(&str, &str)]) -> Paths {
        for (rel, text) in files {
            let p = dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Paths {
            procfs: dir.join("proc"),
            sysfs: dir.join("sys"),
            rootfs: dir.join("root"),
            udev_data: dir.join("udev"),
        }
    }

    /// Run a collector and return its exposition text.
    pub fn render(c: &dyn super::Collector) -> String {
        let mut out = crate::exposition::Exposition::default();
        c.collect(&mut out).unwrap();
        out.into_string()
    }
}

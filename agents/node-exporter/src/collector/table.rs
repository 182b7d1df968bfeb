//! The table of collectors: each one's name, default, help text and
//! constructor, and building the enabled set from it.

use super::*;

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
        build: |s| Box::new(arp::Arp::new(s)),
    },
    Spec {
        name: "bcache",
        default_enabled: true,
        about: "bcache cache sets, backing and cache devices (/sys/fs/bcache; --collector.bcache.priorityStats)",
        build: |s| Box::new(bcache::Bcache::new(&s.paths, s.bcache_priority_stats)),
    },
    Spec {
        name: "bonding",
        default_enabled: true,
        about: "configured and active slaves per bonding master (/sys/class/net)",
        build: |s| Box::new(bonding::Bonding::new(&s.paths)),
    },
    Spec {
        name: "btrfs",
        default_enabled: true,
        about: "btrfs allocation per block group and profile, device sizes (/sys/fs/btrfs)",
        build: |s| Box::new(btrfs::Btrfs::new(&s.paths)),
    },
    Spec {
        name: "buddyinfo",
        default_enabled: false,
        about: "free memory blocks per node, zone and order (/proc/buddyinfo)",
        build: |s| Box::new(buddyinfo::Buddyinfo::new(&s.paths)),
    },
    Spec {
        name: "cgroups",
        default_enabled: false,
        about: "cgroups per controller and whether it is enabled (/proc/cgroups)",
        build: |s| Box::new(cgroups::Cgroups::new(&s.paths)),
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
        build: |s| Box::new(cpu::Cpu::new(s)),
    },
    Spec {
        name: "cpufreq",
        default_enabled: true,
        about: "CPU frequency and scaling frequency per CPU (sysfs cpufreq)",
        build: |s| Box::new(cpufreq::Cpufreq::new(&s.paths)),
    },
    Spec {
        name: "diskstats",
        default_enabled: true,
        about: "block device I/O statistics (/proc/diskstats, udev info)",
        build: |s| Box::new(diskstats::Diskstats::new(s)),
    },
    Spec {
        name: "dmi",
        default_enabled: true,
        about: "DMI/SMBIOS identity of the machine (/sys/class/dmi/id)",
        build: |s| Box::new(dmi::Dmi::new(&s.paths)),
    },
    Spec {
        name: "drbd",
        default_enabled: false,
        about: "DRBD 8 replication state and traffic per device (/proc/drbd)",
        build: |s| Box::new(drbd::Drbd::new(&s.paths)),
    },
    Spec {
        name: "edac",
        default_enabled: true,
        about: "memory controller error counts (EDAC)",
        build: |s| Box::new(edac::Edac::new(&s.paths)),
    },
    Spec {
        name: "entropy",
        default_enabled: true,
        about: "available entropy and pool size",
        build: |s| Box::new(entropy::Entropy::new(&s.paths)),
    },
    Spec {
        name: "fibrechannel",
        default_enabled: true,
        about: "Fibre Channel host port identity and counters (/sys/class/fc_host)",
        build: |s| Box::new(fibrechannel::Fibrechannel::new(&s.paths)),
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
        name: "hwmon",
        default_enabled: true,
        about: "hardware sensors: temperatures, voltages, fans, power (/sys/class/hwmon)",
        build: |s| Box::new(hwmon::Hwmon::new(&s.paths)),
    },
    Spec {
        name: "infiniband",
        default_enabled: true,
        about: "InfiniBand port state, rate and counters (/sys/class/infiniband)",
        build: |s| Box::new(infiniband::Infiniband::new(&s.paths)),
    },
    Spec {
        name: "interrupts",
        default_enabled: false,
        about: "interrupt counts per IRQ and CPU (/proc/interrupts)",
        build: |s| Box::new(interrupts::Interrupts::new(&s.paths)),
    },
    Spec {
        name: "ipvs",
        default_enabled: true,
        about: "IPVS totals and per-backend connections and weights (/proc/net/ip_vs*)",
        build: |s| Box::new(ipvs::Ipvs::new(&s.paths, s.ipvs_backend_labels)),
    },
    Spec {
        name: "ksmd",
        default_enabled: false,
        about: "kernel same-page merging (/sys/kernel/mm/ksm)",
        build: |s| Box::new(ksmd::Ksmd::new(&s.paths)),
    },
    Spec {
        name: "lnstat",
        default_enabled: false,
        about: "per-CPU network cache statistics (/proc/net/stat)",
        build: |s| Box::new(lnstat::Lnstat::new(&s.paths)),
    },
    Spec {
        name: "loadavg",
        default_enabled: true,
        about: "1, 5 and 15 minute load averages",
        build: |s| Box::new(loadavg::Loadavg::new(&s.paths)),
    },
    Spec {
        name: "mdadm",
        default_enabled: true,
        about: "md RAID array state, disks and sync progress (/proc/mdstat)",
        build: |s| Box::new(mdadm::Mdadm::new(&s.paths)),
    },
    Spec {
        name: "meminfo",
        default_enabled: true,
        about: "every /proc/meminfo field as node_memory_<Field>[_bytes]",
        build: |s| Box::new(meminfo::Meminfo::new(&s.paths)),
    },
    Spec {
        name: "meminfo_numa",
        default_enabled: false,
        about: "memory statistics per NUMA node (/sys/devices/system/node)",
        build: |s| Box::new(meminfo_numa::MeminfoNuma::new(&s.paths)),
    },
    Spec {
        name: "mountstats",
        default_enabled: false,
        about: "NFS client statistics per mount (/proc/self/mountstats)",
        build: |s| Box::new(mountstats::Mountstats::new(&s.paths)),
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
        name: "nfs",
        default_enabled: true,
        about: "NFS client RPC and per-procedure counts (/proc/net/rpc/nfs)",
        build: |s| Box::new(nfs::Nfs::new(&s.paths)),
    },
    Spec {
        name: "nfsd",
        default_enabled: true,
        about: "NFS server statistics (/proc/net/rpc/nfsd)",
        build: |s| Box::new(nfsd::Nfsd::new(&s.paths)),
    },
    Spec {
        name: "nvme",
        default_enabled: true,
        about: "NVMe controller model, serial, firmware and state (/sys/class/nvme)",
        build: |s| Box::new(nvme::Nvme::new(&s.paths)),
    },
    Spec {
        name: "os",
        default_enabled: true,
        about: "os-release information",
        build: |s| Box::new(os::Os::new(&s.paths)),
    },
    Spec {
        name: "powersupplyclass",
        default_enabled: true,
        about: "batteries and power supplies (/sys/class/power_supply)",
        build: |s| Box::new(powersupplyclass::PowerSupplyClass::new(&s.paths)),
    },
    Spec {
        name: "pressure",
        default_enabled: true,
        about: "pressure stall information (PSI) for cpu, io and memory",
        build: |s| Box::new(pressure::Pressure::new(&s.paths)),
    },
    Spec {
        name: "processes",
        default_enabled: false,
        about: "processes per state, PIDs and threads, and their limits (/proc)",
        build: |s| Box::new(processes::Processes::new(&s.paths)),
    },
    Spec {
        name: "qdisc",
        default_enabled: false,
        about: "root queueing discipline counters per device (rtnetlink; --collector.qdisc.fixtures for tests)",
        build: |s| Box::new(qdisc::QdiscCollector::new(&s.qdisc)),
    },
    Spec {
        name: "rapl",
        default_enabled: true,
        about: "RAPL energy counters (/sys/class/powercap)",
        build: |s| Box::new(rapl::Rapl::new(&s.paths)),
    },
    Spec {
        name: "schedstat",
        default_enabled: true,
        about: "scheduler run and wait time per CPU (/proc/schedstat)",
        build: |s| Box::new(schedstat::Schedstat::new(&s.paths)),
    },
    Spec {
        name: "selinux",
        default_enabled: true,
        about: "whether SELinux is enabled, and its modes",
        build: |s| Box::new(selinux::Selinux::new(&s.paths)),
    },
    Spec {
        name: "slabinfo",
        default_enabled: false,
        about: "kernel slab cache object counts and sizes (/proc/slabinfo)",
        build: |s| Box::new(slabinfo::Slabinfo::new(&s.paths)),
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
        build: |s| Box::new(stat::Stat::new(s)),
    },
    Spec {
        name: "sysctl",
        default_enabled: false,
        about: "sysctls named by --collector.sysctl.include / -include-info (/proc/sys)",
        build: |s| Box::new(sysctl::Sysctl::new(s)),
    },
    Spec {
        name: "systemd",
        default_enabled: false,
        about: "systemd unit states and summary, system state, version (systemctl; start times, tasks, restarts behind --collector.systemd.enable-*)",
        build: |s| Box::new(systemd::Systemd::new(&s.systemd)),
    },
    Spec {
        name: "tapestats",
        default_enabled: true,
        about: "SCSI tape drive I/O statistics (/sys/class/scsi_tape)",
        build: |s| {
            Box::new(tapestats::Tapestats::new(
                &s.paths,
                s.tapestats_ignored_devices.clone(),
            ))
        },
    },
    Spec {
        name: "textfile",
        default_enabled: true,
        about: "metrics from *.prom files in --collector.textfile.directory",
        build: |s| Box::new(textfile::Textfile::new(s.textfile_directory.clone())),
    },
    Spec {
        name: "thermal_zone",
        default_enabled: true,
        about: "thermal zone temperatures and cooling device states (/sys/class/thermal)",
        build: |s| Box::new(thermal_zone::ThermalZone::new(&s.paths)),
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
    Spec {
        name: "wifi",
        default_enabled: false,
        about: "wireless interfaces, BSS and stations (nl80211; --collector.wifi.fixtures for tests)",
        build: |s| Box::new(wifi::Wifi::new(s.wifi_fixtures.clone())),
    },
    Spec {
        name: "xfs",
        default_enabled: true,
        about: "XFS filesystem statistics per device (/sys/fs/xfs)",
        build: |s| Box::new(xfs::Xfs::new(&s.paths)),
    },
    Spec {
        name: "zfs",
        default_enabled: true,
        about: "ZFS ARC, pool, dataset and module kstats (/proc/spl/kstat/zfs)",
        build: |s| Box::new(zfs::Zfs::new(&s.paths)),
    },
    Spec {
        name: "zoneinfo",
        default_enabled: false,
        about: "memory zone watermarks, page counts and NUMA counters (/proc/zoneinfo)",
        build: |s| Box::new(zoneinfo::Zoneinfo::new(&s.paths)),
    },
];

/// node_exporter collectors this exporter does not implement. Their
/// `--[no-]collector.<name>` switches (and `--collector.<name>.*` options) are
/// accepted and ignored with a warning so existing unit files keep working.
pub const NOT_IMPLEMENTED: &[&str] = &[
    "devstat",
    "drm",
    "ethtool",
    "logind",
    "network_route",
    "ntp",
    "perf",
    "runit",
    "supervisord",
    "tcpstat",
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

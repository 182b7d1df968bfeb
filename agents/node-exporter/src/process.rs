//! The exporter's own `process_*` family, as the Go client (and so
//! node_exporter) exposes it, written straight into the scrape: one read of
//! /proc/self/stat, a count of /proc/self/fd, two getrlimit calls.

use crate::exposition::{
    Exposition,
    MetricType::{Counter, Gauge},
};
use std::sync::OnceLock;

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as f64
    } else {
        100.0
    }
}

fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions.
    (unsafe { libc::sysconf(libc::_SC_PAGESIZE) }) as f64
}

/// Boot time never changes; read it once.
fn boot_time() -> f64 {
    static BTIME: OnceLock<f64> = OnceLock::new();
    *BTIME.get_or_init(|| {
        crate::collector::read_file("/proc/stat")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("btime "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0)
    })
}

fn rlimit(resource: libc::__rlimit_resource_t) -> f64 {
    // SAFETY: getrlimit fills the struct we pass.
    let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(resource, &mut r) } != 0 {
        return f64::NAN;
    }
    if r.rlim_cur == libc::RLIM_INFINITY {
        u64::MAX as f64
    } else {
        r.rlim_cur as f64
    }
}

/// Write the family; silently nothing if /proc/self/stat is unreadable.
pub fn write(out: &mut Exposition) {
    let Ok(stat) = crate::collector::read_file("/proc/self/stat") else {
        return;
    };
    // Fields after the parenthesised command name, which may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state); field N is f[N - 3].
    let field = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let tck = clk_tck();
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as f64)
        .unwrap_or(f64::NAN);

    out.single(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        Counter,
        (field(14) + field(15)) / tck,
    );
    out.single(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        Gauge,
        rlimit(libc::RLIMIT_NOFILE),
    );
    out.single(
        "process_open_fds",
        "Number of open file descriptors.",
        Gauge,
        open_fds,
    );
    out.single(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        Gauge,
        field(24) * page_size(),
    );
    out.single(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        Gauge,
        boot_time() + field(22) / tck,
    );
    out.single(
        "process_threads",
        "Number of OS threads in the process.",
        Gauge,
        field(20),
    );
    out.single(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        Gauge,
        field(23),
    );
    out.single(
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        Gauge,
        rlimit(libc::RLIMIT_AS),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_values() {
        let mut out = Exposition::default();
        write(&mut out);
        let t = out.into_string();
        let get = |name: &str| -> f64 {
            t.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing: {t}"))
                .parse()
                .unwrap()
        };
        assert!(get("process_resident_memory_bytes") > 100_000.0);
        assert!(get("process_open_fds") >= 3.0);
        assert!(get("process_threads") >= 1.0);
        let start = get("process_start_time_seconds");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start > now - 86400.0 * 365.0 && start <= now + 1.0,
            "{start}"
        );
        assert_eq!(t.matches("# TYPE process_").count(), 8);
    }
}

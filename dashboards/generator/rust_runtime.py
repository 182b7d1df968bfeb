"""Rust Runtime (srp-rust-runtime): one SRP daemon's process and async runtime.

The tokio figures are those of srp-daemon's runtime collector (stable
tokio's RuntimeMetrics): blocking-pool threads and budget-forced yields need
tokio's unstable build flag, so there is no panel for them. SQLite commit
latency is srp-daemon's `srp_sqlite_commit_duration_seconds` (srp-api's group
commit, the relay's outbox and the scan exporter's ingest time their commits
with it). The PostgreSQL pool gauges
(`srp_pg_pool_*`, srp-api on PostgreSQL) have no panel yet: no daemon of the
e2e stack runs on PostgreSQL, and every panel must show data there.
"""

from .grafana import dashboard, rate, row, sel, stat, table, timeseries

BY = "job, instance"
LEGEND = "{{job}} {{instance}}"


def build() -> dict:
    panels = [
        row("Build and process"),
        table("Build", "The running build of each selected binary (srp_build_info: binary, version, commit, Jenkins build number) per instance.",
              sel("srp_build_info")),
        stat("Uptime", "Time since the process started (time() - process_start_time_seconds), per instance; the smallest value tells of the latest restart.",
             "s", [(f"time() - {sel('process_start_time_seconds')}", LEGEND)], h=5, decimals=0),
        stat("File descriptors used", "Open file descriptors as a share of the process limit (process_open_fds / process_max_fds); the highest over the selected processes.",
             "percentunit", [(f"max({sel('process_open_fds')} / {sel('process_max_fds')})", "fds used")], h=5,
             thresholds=[(0.7, "orange"), (0.9, "red")]),
        row("Tokio runtime"),
        timeseries("Workers busy ratio", "Share of the tokio workers' time spent running tasks (busy seconds per second over all workers / worker count). Near 100 % the runtime is saturated: requests queue behind each other.",
                   "percentunit", [(f"sum by ({BY}) ({rate('srp_tokio_worker_busy_seconds_total')}) / sum by ({BY}) ({sel('srp_tokio_workers')})", LEGEND)],
                   max_value=1),
        timeseries("Busy ratio per worker", "Each worker's share of busy time; one worker far above the others means work that does not spread (a long task holding a thread).",
                   "percentunit", [(rate("srp_tokio_worker_busy_seconds_total"), "{{job}} {{instance}} worker {{worker}}")], max_value=1),
        timeseries("Alive tasks", "Tasks spawned and not yet finished. A line that only grows is a task leak (spawned work that never ends).",
                   "short", [(sel("srp_tokio_alive_tasks"), LEGEND)]),
        timeseries("Global queue depth", "Tasks waiting in the runtime's shared queue for a free worker; above zero for long means the workers cannot keep up.",
                   "short", [(sel("srp_tokio_global_queue_depth"), LEGEND)]),
        timeseries("Worker parks", "Times per second the workers went idle (parked); a busy runtime parks less.",
                   "short", [(f"sum by ({BY}) ({rate('srp_tokio_worker_parks_total')})", LEGEND)]),
        timeseries("Worker threads", "Worker threads of the runtime (srp_tokio_workers). Blocking-pool threads and forced yields are not shown: stable tokio does not expose them.",
                   "short", [(sel("srp_tokio_workers"), LEGEND)]),
        row("Database"),
        stat("SQLite commit p99", "99th percentile of the time one SQLite write transaction took to commit, over the dashboard's time range (srp_sqlite_commit_duration_seconds: srp-api's group commit, the relay's outbox, the scan exporter's ingest; the disk guard writes its journal without explicit transactions). WAL frames written and, where the daemon asks for it, synced.",
             "s", [(f"histogram_quantile(0.99, sum by (le, {BY}) (increase({sel('srp_sqlite_commit_duration_seconds_bucket')}[$__range])))", LEGEND)], w=6, h=6, decimals=4),
        timeseries("SQLite commits per second", "Write transactions committed per second and the mean commit time (sum / count). Under concurrent writes one commit carries many inserts (group commit), so commits grow slower than requests.",
                   "short", [(f"sum by ({BY}) ({rate('srp_sqlite_commit_duration_seconds_count')})", "commits/s {{job}} {{instance}}")], w=18, h=6),
        row("Per request"),
        timeseries("CPU per request", "CPU seconds spent per HTTP request served (process CPU rate / request rate, every route including /metrics). Rising with flat traffic means each request costs more.",
                   "s", [(f"sum by ({BY}) ({rate('process_cpu_seconds_total')}) / sum by ({BY}) ({rate('http_requests_total')})", LEGEND)]),
        timeseries("Resident memory per request/s", "Resident memory divided by the request rate: bytes held per request per second of load. Process-wide RSS cannot be split per request; this shows whether memory follows load or grows on its own.",
                   "bytes", [(f"sum by ({BY}) ({sel('process_resident_memory_bytes')}) / sum by ({BY}) ({rate('http_requests_total')})", LEGEND)]),
        row("Resources"),
        timeseries("CPU usage", "CPU time used per second of wall time (user + system); 100 % is one full core.", "percentunit",
                   [(rate("process_cpu_seconds_total"), LEGEND)]),
        timeseries("Resident memory", "Resident set size: physical memory the process holds.", "bytes",
                   [(sel("process_resident_memory_bytes"), LEGEND)]),
        timeseries("Open file descriptors vs limit", "Open file descriptors (sockets, files, SQLite journals) and the process limit (RLIMIT_NOFILE).", "short",
                   [(sel("process_open_fds"), "open {{job}} {{instance}}"), (sel("process_max_fds"), "limit {{job}} {{instance}}")]),
        timeseries("Threads", "OS threads of the process (the tokio workers and blocking-pool threads included).", "short",
                   [(sel("process_threads"), LEGEND)]),
        timeseries("Virtual memory", "Virtual address space reserved by the process; large and harmless for Rust binaries, shown for leak hunting next to resident memory.",
                   "bytes", [(sel("process_virtual_memory_bytes"), LEGEND)], w=24, h=6),
    ]
    return dashboard(
        "srp-rust-runtime", "Rust Runtime",
        "One SRP daemon at a time (job and instance variables): its build, the tokio runtime (workers busy ratio, alive tasks, global queue depth, parks), CPU and memory per request, file descriptors against their limit, threads. "
        "SQLite commit latency where a daemon times its commits. Not shown: tokio's blocking-pool threads and forced yields (unstable in tokio, not exported), PostgreSQL pool usage (exported by srp-api on PostgreSQL as srp_pg_pool_*, no panel yet).",
        'process_start_time_seconds{job=~"srp-.+"}', panels, default_job="srp-api")

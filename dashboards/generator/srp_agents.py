"""SRP Agents (srp-agents): the four agents doing their jobs, beside the
self-monitoring alerts of rules/alerts.yml (group srp-self).

Counters that only appear once something happened (a cleanup, a skip, a
drain) end in `or vector(0)`: before the first event the truth is zero, not
"no data".
"""

from .grafana import dashboard, heatmap, rate, row, sel, stat, table, timeseries

SCAN_REPORTS = 'job=~"srp-scan-exporter", route="/reports"'


def zero_if_none(expr: str) -> str:
    return f"{expr} or vector(0)"


def relay() -> list[dict]:
    return [
        row("srp-slack-relay"),
        stat("Queue depth", "Messages waiting for delivery to Slack (srp_relay_queue_depth), over the selected relays.",
             "short", [(f"sum({sel('srp_relay_queue_depth')})", "queued")], thresholds=[(10, "orange"), (100, "red")]),
        stat("Oldest pending", "Age of the oldest undelivered message. RelayBacklogStale fires above 5 minutes.",
             "s", [(f"max({sel('srp_relay_oldest_pending_seconds')})", "oldest")], thresholds=[(60, "orange"), (300, "red")]),
        stat("Dead letters", "Messages in the dead-letter table: never delivered (srp-slack-relay dlq list). RelayDeadLetters fires on any.",
             "short", [(f"sum({sel('srp_relay_dead_letters')})", "dead letters")], thresholds=[(1, "red")]),
        stat("Slack 429s", "Slack rate-limit answers per second (Retry-After honoured; not failures).",
             "short", [(f"sum({rate('srp_relay_rate_limited_total')})", "429/s")], thresholds=[(0.1, "orange")]),
        timeseries("Received, delivered, failed", "Notifications received per second by source, messages delivered by destination, failed attempts by reason. RelayDeliveryFailing fires when attempts fail and none is delivered for 5 minutes.",
                   "short", [(f"sum by (source) ({rate('srp_relay_received_total')})", "received {{source}}"),
                             (f"sum by (destination) ({rate('srp_relay_delivered_total')})", "delivered {{destination}}"),
                             (f"sum by (reason) ({rate('srp_relay_failed_total')})", "failed {{reason}}")]),
        timeseries("Queue and oldest pending", "Messages waiting (left axis) and the age of the oldest (right axis, seconds).", "short",
                   [(f"sum by (instance) ({sel('srp_relay_queue_depth')})", "queued {{instance}}"),
                    (f"max by (instance) ({sel('srp_relay_oldest_pending_seconds')})", "oldest {{instance}}")],
                   overrides=[{"matcher": {"id": "byRegexp", "options": "oldest.*"},
                               "properties": [{"id": "unit", "value": "s"},
                                              {"id": "custom.axisPlacement", "value": "right"}]}]),
        heatmap("Delivery latency", "Time from receipt to delivery to Slack (srp_relay_delivery_latency_seconds), by bucket over time.",
                "s", f"sum by (le) ({rate('srp_relay_delivery_latency_seconds_bucket')})"),
        timeseries("Retries, 429s, duplicates, dead letters", "Retries and Slack 429s per second, duplicates dropped per second, and the dead-letter count.", "short",
                   [(f"sum({rate('srp_relay_retries_total')})", "retries/s"),
                    (f"sum({rate('srp_relay_rate_limited_total')})", "429s/s"),
                    (f"sum({rate('srp_relay_duplicates_total')})", "duplicates/s"),
                    (f"sum({sel('srp_relay_dead_letters')})", "dead letters")]),
        timeseries("Incidents forwarded to srp-api", "Alerts with a project label forwarded to srp-api (--api-url) as incident opens and closes per second, calls srp-api had nothing to record against (no such project, a close without an open), and failed calls by reason (network, timeout and server errors are retried; rejected ones are dead-lettered). 0 until the relay has forwarded anything.",
                   "short", [(zero_if_none(f"sum by (action) ({rate('srp_relay_incidents_forwarded_total')})"), "forwarded {{action}}"),
                             (zero_if_none(f"sum by (action) ({rate('srp_relay_incidents_dropped_total')})"), "dropped {{action}}"),
                             (zero_if_none(f"sum by (reason) ({rate('srp_relay_incident_failures_total')})"), "failed {{reason}}")], w=24),
    ]


def disk_guard() -> list[dict]:
    return [
        row("srp-disk-guard"),
        timeseries("Free ratio per mount", "Free space per watched mount point as the guard measures it (srp_disk_free_ratio).", "percentunit",
                   [(sel("srp_disk_free_ratio"), "{{instance}} {{mountpoint}}")], max_value=1),
        timeseries("Predicted time to full", "The guard's linear fit: seconds until the mount point is full at the current trend; absent while space is not shrinking. DiskFullPredicted fires under 1 hour for 15 minutes.",
                   "s", [(sel("srp_disk_predicted_full_seconds"), "{{instance}} {{mountpoint}}")]),
        timeseries("Reclaimed bytes by policy", "Bytes freed per second by each cleanup policy; 0 in dry-run or when nothing needed cleaning.", "Bps",
                   [(zero_if_none(f"sum by (policy) ({rate('srp_disk_reclaimed_bytes_total')})"), "{{policy}}")]),
        timeseries("Cleanup runs and skips", "Cleanup runs per second by policy and result, and candidates skipped by reason (in_use: a running build or container holds it).", "short",
                   [(zero_if_none(f"sum by (policy, result) ({rate('srp_disk_cleanup_runs_total')})"), "run {{policy}} {{result}}"),
                    (zero_if_none(f"sum by (policy, reason) ({rate('srp_disk_skipped_total')})"), "skipped {{policy}} {{reason}}")]),
        timeseries("Drains and grows", "1 while the guard holds a Jenkins agent offline (srp_disk_agent_drained), and volume grows per second by result; 0 until the guard has drained or grown anything.", "short",
                   [(zero_if_none(f"max by (agent) ({sel('srp_disk_agent_drained')})"), "drained {{agent}}"),
                    (zero_if_none(f"sum by (mountpoint, result) ({rate('srp_disk_volume_grows_total')})"), "grow {{mountpoint}} {{result}}")]),
        timeseries("Escalations and dry-run", "Escalations per second (the guard could not free enough and told a person) and whether it runs in dry-run (1: it deletes nothing).", "short",
                   [(f"sum({rate('srp_disk_escalations_total')})", "escalations/s"),
                    (f"max({sel('srp_disk_dry_run')})", "dry-run")]),
    ]


def scan_exporter() -> list[dict]:
    return [
        row("srp-scan-exporter"),
        timeseries("Report ingest rate", "Reports pushed to POST /reports per second, by HTTP status (from the exporter's RED metrics); files dropped in --reports-dir are not requests and not counted here.",
                   "reqps", [(f"sum by (status) ({rate('http_requests_total', SCAN_REPORTS)})", "{{status}}")]),
        timeseries("Ingest errors by reason", "Reports rejected per second, by reason.", "short",
                   [(f"sum by (reason) ({rate('srp_scan_ingest_errors_total')})", "{{reason}}")]),
        timeseries("Last report age per target", "Seconds since each scanner's latest report per target; ScanReportStale fires after 2 days.", "s",
                   [(f"time() - max by (instance, scanner, target) ({sel('srp_scan_last_timestamp_seconds')})", "{{scanner}} {{target}}")], w=24),
    ]


def node_exporter() -> list[dict]:
    return [
        row("srp-node-exporter"),
        timeseries("Collector duration", "Time each collector took in the latest scrape (node_scrape_collector_duration_seconds).", "s",
                   [(f"max by (collector) ({sel('node_scrape_collector_duration_seconds')})", "{{collector}}")]),
        timeseries("Collector success", "1 when the collector's latest run succeeded, 0 when it failed. NodeCollectorFailing fires after 10 minutes at 0.", "none",
                   [(f"min by (collector) ({sel('node_scrape_collector_success')})", "{{collector}}")], max_value=1),
    ]


def build() -> dict:
    panels = relay() + disk_guard() + scan_exporter() + node_exporter() + [
        row("Builds"),
        table("Agent builds", "The running build of each agent (srp_build_info).", sel("srp_build_info"), w=24),
    ]
    return dashboard(
        "srp-agents", "SRP Agents",
        "The agents at their jobs: srp-slack-relay (traffic, queue, delivery latency, dead letters, 429s), srp-disk-guard (free space and predicted time to full per mount, reclaimed bytes, skips, drains and grows), srp-scan-exporter (ingest rate and errors, last report age), srp-node-exporter (per-collector duration and success). "
        "The self-monitoring alerts (rules/alerts.yml, group srp-self) watch the same series.",
        'srp_build_info{job=~"srp-.+"}', panels)

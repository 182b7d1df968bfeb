"""Delivery (srp-delivery): DORA's four keys from srp-api's release ledger.

srp-api computes the keys from the ledger (api/src/dora/, api/README.md
"Metrics"): `srp_dora_deployments_total{project,environment,result}`,
`srp_dora_lead_time_seconds` (histogram: commit time to the first healthy
deployment of that build), `srp_dora_change_failures_total` (deployments that
failed, failed their smoke test, were rolled back, or were followed by an
incident within the window) and `srp_dora_time_to_restore_seconds`
(histogram: incident open to close). Every API instance reports the same
ledger-wide totals, so instances are combined with `max`, never summed.

The stats cover the dashboard's time range (`increase(...[$__range])`); the
trends use fixed windows (a day for deployments, a week for the others), so a
point is "the last day" or "the last week" as of that time. increase() counts
from the first sample Prometheus has of a series: the very first deployment
(or lead time, or restore) of a new project and environment, which creates
the series, is not in any window; the ledger itself has it
(GET /projects/{id}/deployments).
"""

from .grafana import dashboard, label_variable, row, sel, stat, timeseries

DEPLOYMENTS = "srp_dora_deployments_total"
CHANGE_FAILURES = "srp_dora_change_failures_total"
LEAD_TIME = "srp_dora_lead_time_seconds"
RESTORE = "srp_dora_time_to_restore_seconds"
PLACE = 'project=~"$project", environment=~"$environment"'
PLACE_BY = "project, environment"
LEGEND = "{{project}} {{environment}}"
SUCCEEDED = 'result="succeeded"'


def increase(metric: str, window: str, by: str, extra: str = "") -> str:
    """The increase of a ledger total over `window`, one value per `by` (the
    instances, which all report the same ledger, combined by max)."""
    more = f"{PLACE}, {extra}" if extra else PLACE
    return f"max by ({by}) (increase({sel(metric, more)}[{window}]))"


def deployments(window: str, by: str = "", extra: str = "") -> str:
    s = f"sum by ({by}) " if by else "sum"
    return f"{s}({increase(DEPLOYMENTS, window, PLACE_BY + ', result', extra)})"


def change_failure_rate(window: str, by: str = "") -> str:
    s = f"sum by ({by}) " if by else "sum"
    return f"{s}({increase(CHANGE_FAILURES, window, PLACE_BY)}) / {deployments(window, by)}"


def quantile(q: float, histogram: str, window: str, by: str = "") -> str:
    keep = f"le, {by}" if by else "le"
    return (f"histogram_quantile({q:g}, sum by ({keep}) "
            f"({increase(histogram + '_bucket', window, PLACE_BY + ', le')}))")


def build() -> dict:
    r = "$__range"
    panels = [
        row("The four keys over the time range"),
        stat("Deployments", "Deployments recorded in the ledger during the time range, both results, over the selected projects and environments (srp_dora_deployments_total).",
             "short", [(deployments(r), "deployments")], w=4, decimals=0),
        stat("Deployment frequency", "Successful deployments per day over the time range (srp_dora_deployments_total{result=\"succeeded\"}).",
             "short", [(deployments(r, extra=SUCCEEDED) + " / ($__range_s / 86400)", "per day")], w=5, decimals=1),
        stat("Lead time for changes (median)", "Median time from a change's commit to its first healthy deployment (succeeded, smoke test not failed, not a rollback) within the time range (srp_dora_lead_time_seconds).",
             "s", [(quantile(0.5, LEAD_TIME, r), "median")], w=5, thresholds=[(86400, "orange"), (604800, "red")]),
        stat("Change failure rate", "Share of the time range's deployments that failed, failed their smoke test, were rolled back by the next one, or were followed by an incident in their environment within srp-api's --change-failure-window (srp_dora_change_failures_total / srp_dora_deployments_total).",
             "percentunit", [(change_failure_rate(r), "change failure rate")], w=5, thresholds=[(0.15, "orange"), (0.3, "red")]),
        stat("Time to restore (median)", "Median time from an incident's open to its close, for incidents closed within the time range (srp_dora_time_to_restore_seconds). Incidents come from alerts with a project label, forwarded by srp-slack-relay.",
             "s", [(quantile(0.5, RESTORE, r), "median")], w=5, thresholds=[(3600, "orange"), (86400, "red")]),
        row("Trends per project and environment"),
        timeseries("Deployments per day", "Deployments in the day before each point, by project, environment and result.", "short",
                   [(deployments("1d", PLACE_BY + ", result"), "{{project}} {{environment}} {{result}}")]),
        timeseries("Lead time for changes (7-day window)", "Median and 90th percentile of commit-to-production time over the week before each point.", "s",
                   [(quantile(0.5, LEAD_TIME, "7d", PLACE_BY), "p50 " + LEGEND),
                    (quantile(0.9, LEAD_TIME, "7d", PLACE_BY), "p90 " + LEGEND)]),
        timeseries("Change failure rate (7-day window)", "Change failures over deployments in the week before each point.", "percentunit",
                   [(change_failure_rate("7d", PLACE_BY), LEGEND)], max_value=1),
        timeseries("Time to restore (7-day window)", "Median and 90th percentile of incident open-to-close time over the week before each point.", "s",
                   [(quantile(0.5, RESTORE, "7d", PLACE_BY), "p50 " + LEGEND),
                    (quantile(0.9, RESTORE, "7d", PLACE_BY), "p90 " + LEGEND)]),
        timeseries("Change failures and restored incidents per day", "Change failures counted and incidents closed (the count of srp_dora_time_to_restore_seconds) in the day before each point.", "short",
                   [(f"sum by ({PLACE_BY}) ({increase(CHANGE_FAILURES, '1d', PLACE_BY)})", "change failures " + LEGEND),
                    (f"sum by ({PLACE_BY}) ({increase(RESTORE + '_count', '1d', PLACE_BY)})", "restored " + LEGEND)], w=24),
    ]
    ledger = f'{DEPLOYMENTS}{{job=~"$job", instance=~"$instance"}}'
    return dashboard(
        "srp-delivery", "Delivery",
        "DORA's four keys per project and environment, from srp-api's release ledger: deployment frequency, lead time for changes, change failure rate, time to restore. "
        "Stats cover the time range; trends use a day (deployments) or a week (the others) before each point. A project's very first deployment creates its series and is not counted in any window (increase() starts at the first sample); the ledger has it.",
        'srp_dora_deployments_total{job=~"srp-api.*"}', panels, default_job="srp-api",
        extra_variables=[
            label_variable("project", "Project", f"label_values({ledger}, project)"),
            label_variable("environment", "Environment",
                           f'label_values({DEPLOYMENTS}{{job=~"$job", instance=~"$instance", project=~"$project"}}, environment)'),
        ],
        time_from="now-30d")

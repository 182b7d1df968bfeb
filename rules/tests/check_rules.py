#!/usr/bin/env python3
"""Checks of rules/ that promtool and amtool do not make:

- the eight alerts and the six of group srp-self exist with exactly these
  names (the eight outside srp-self), each with severity
  warning|critical, a summary, a description naming the instance and the
  value, and a runbook_url on the one shared base whose anchor exists in
  rules/runbook.md;
- every alert has promtool tests that show it firing and not firing
  (rules/tests/*.test.yml);
- every copy of the shared filesystem selectors in alerts.yml is the same
  text, equal to dashboards/selectors_shared.py;
- prometheus.yml scrapes the nine jobs of DESIGN.md on their ports, loads the
  rules and sends to Alertmanager;
- the 90-second APIDown promise holds with the shipped intervals: the worst
  case is computed from prometheus.yml, alerts.yml and alertmanager.yml.

Prints what it checked; exit status 1 on any failure. Needs PyYAML.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent
REPO = RULES.parent

EIGHT = [
    "DiskSpaceWarning", "DiskSpaceCritical", "HighMemoryUsage", "APIDown",
    "PostgreSQLDown", "HighAPILatency", "SecurityScanFailed", "AgentDown",
]
# The platform watching itself, in their own group beside the eight.
SELF_GROUP = "srp-self"
SELF_ALERTS = [
    "RelayDeadLetters", "RelayBacklogStale", "RelayDeliveryFailing",
    "DiskFullPredicted", "ScanReportStale", "NodeCollectorFailing", "DaemonHealthDegraded",
]
ALERTS = EIGHT + SELF_ALERTS
# Selectors restated in several rules: every copy must be the same text, or a
# fix to one (a new in-memory fstype) silently misses the others.
SHARED_MATCHERS = re.compile(r'\b(fstype|mountpoint)!~"((?:[^"\\]|\\.)*)"')
RUNBOOK_BASE = "https://github.com/srp-platform/srp/blob/main/rules/runbook.md"
JOBS = {
    "srp-api": 8000, "srp-node-exporter": 9100, "srp-scan-exporter": 9740,
    "srp-disk-guard": 9741, "srp-slack-relay": 9742, "postgres": 9187,
    "alertmanager": 9093, "prometheus": 9090, "jenkins": 8080,
}
PROMISE_SECONDS = 90
# Slack delivery by the relay after Alertmanager's webhook: one HTTP round
# trip, and Slack allows about one message a second per channel.
RELAY_SECONDS = 2

failures: list[str] = []


def check(cond: bool, what: str) -> None:
    print(f"rules: {'ok' if cond else 'FAILED'}: {what}")
    if not cond:
        failures.append(what)


def seconds(d: str) -> float:
    """A Prometheus duration ("1m30s", "15s", "2h") in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", d)
    if not parts or "".join(n + u for n, u in parts) != d:
        raise ValueError(f"not a duration: {d!r}")
    return sum(int(n) * units[u] for n, u in parts)


def github_anchor(heading: str) -> str:
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def load(path: Path):
    with path.open() as f:
        return yaml.safe_load(f)


def check_alerts() -> dict:
    doc = load(RULES / "alerts.yml")
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    check(sorted(rules) == sorted(ALERTS), f"alerts.yml has exactly the alerts {', '.join(ALERTS)}")
    groups = {g["name"]: [r.get("alert") for r in g["rules"]] for g in doc["groups"]}
    check(sorted(groups.get(SELF_GROUP, [])) == sorted(SELF_ALERTS),
          f"group {SELF_GROUP} holds exactly the self-monitoring alerts")
    check(not set(EIGHT) & set(groups.get(SELF_GROUP, [])), f"the eight stay outside {SELF_GROUP}")
    copies: dict[str, set[str]] = {}
    for r in rules.values():
        for label, value in SHARED_MATCHERS.findall(r["expr"]):
            copies.setdefault(label, set()).add(value)
    for label, values in sorted(copies.items()):
        check(len(values) == 1, f"every copy of the {label}!~ selector in alerts.yml is the same ({len(values)} distinct)")
    check_dashboard_selectors(copies)
    runbook = (RULES / "runbook.md").read_text() if (RULES / "runbook.md").exists() else ""
    anchors = {github_anchor(m) for m in re.findall(r"^#{1,6}\s+(.+)$", runbook, re.M)}
    for name, r in sorted(rules.items()):
        labels, ann = r.get("labels", {}), r.get("annotations", {})
        check(labels.get("severity") in ("warning", "critical"), f"{name}: severity is warning or critical ({labels.get('severity')})")
        check(bool(ann.get("summary")), f"{name}: has a summary")
        desc = ann.get("description", "")
        check("$labels.instance" in desc and "$value" in desc, f"{name}: description names the instance and the value")
        url = ann.get("runbook_url", "")
        base, _, anchor = url.partition("#")
        check(base == RUNBOOK_BASE, f"{name}: runbook_url uses the shared base ({url})")
        check(anchor == name.lower() and anchor in anchors, f"{name}: rules/runbook.md has the section #{anchor}")
    return rules


def check_dashboard_selectors(copies: dict[str, set[str]]) -> None:
    """The dashboards' generator restates the filesystem selector once; it
    must be the alerts' (a panel would show the disks the alerts ignore)."""
    sys.path.insert(0, str(REPO / "dashboards"))
    try:
        import selectors_shared  # dashboards/selectors_shared.py
    except ImportError:
        check(False, "dashboards/selectors_shared.py exists")
        return
    for label, want in (("fstype", selectors_shared.FS_TYPES_EXCLUDED), ("mountpoint", selectors_shared.MOUNTPOINTS_EXCLUDED)):
        # Both hold the text inside PromQL's double quotes (escapes included).
        got = copies.get(label, set())
        check(got == {want}, f"dashboards/selectors_shared.py's {label} exclusion equals alerts.yml's")


def check_tests(rules: dict) -> None:
    firing: dict[str, int] = {n: 0 for n in rules}
    quiet: dict[str, int] = {n: 0 for n in rules}
    files = sorted(HERE.glob("*.test.yml"))
    for path in files:
        doc = load(path)
        check(doc.get("rule_files") == ["../alerts.yml"], f"{path.name} tests ../alerts.yml")
        for t in doc.get("tests", []):
            for a in t.get("alert_rule_test", []):
                name = a["alertname"]
                if name not in firing:
                    check(False, f"{path.name} tests an unknown alert {name}")
                    continue
                if a.get("exp_alerts"):
                    firing[name] += 1
                else:
                    quiet[name] += 1
    for name in sorted(rules):
        check(firing[name] >= 1 and quiet[name] >= 2,
              f"{name}: promtool tests show it firing ({firing[name]}x) and not firing ({quiet[name]}x: before the threshold/`for`, after)")


def check_prometheus() -> dict:
    doc = load(RULES / "prometheus.yml")
    jobs = {}
    for sc in doc.get("scrape_configs", []):
        targets = [t for s in sc.get("static_configs", []) for t in s.get("targets", [])]
        jobs[sc["job_name"]] = (sc, targets)
    for job, port in JOBS.items():
        ok = job in jobs and any(t.endswith(f":{port}") for t in jobs[job][1])
        check(ok, f"prometheus.yml scrapes job {job} on port {port}")
    check(jobs.get("jenkins", ({},))[0].get("metrics_path", "").rstrip("/") == "/prometheus",
          "the jenkins job scrapes the Prometheus plugin's /prometheus path")
    check(doc.get("rule_files") == ["alerts.yml"], "prometheus.yml loads alerts.yml (next to it)")
    am = [t for a in doc.get("alerting", {}).get("alertmanagers", []) for s in a.get("static_configs", []) for t in s.get("targets", [])]
    check(any(t.endswith(":9093") for t in am), "prometheus.yml sends alerts to Alertmanager on 9093")
    return doc


def check_promise(prom: dict, rules: dict) -> None:
    g = prom.get("global", {})
    api_job = next(sc for sc in prom["scrape_configs"] if sc["job_name"] == "srp-api")
    scrape = seconds(api_job.get("scrape_interval", g.get("scrape_interval", "1m")))
    timeout = seconds(api_job.get("scrape_timeout", g.get("scrape_timeout", "10s")))
    evaluation = seconds(g.get("evaluation_interval", "1m"))
    group = next(gr for gr in load(RULES / "alerts.yml")["groups"] if any(r.get("alert") == "APIDown" for r in gr["rules"]))
    evaluation = seconds(group["interval"]) if "interval" in group else evaluation
    hold = seconds(rules["APIDown"].get("for", "0s"))
    am = load(RULES / "alertmanager.yml")
    route = am["route"]
    crit = next((r for r in route.get("routes", []) if 'severity="critical"' in r.get("matchers", [])), {})
    group_wait = seconds(crit.get("group_wait", route.get("group_wait", "30s")))
    group_interval = seconds(crit.get("group_interval", route.get("group_interval", "5m")))
    check(rules["APIDown"]["labels"]["severity"] == "critical", "APIDown goes through the critical route")
    # Firing: wait for the next scrape, its timeout, the next evaluation, the
    # `for` (it fires at the evaluation `for` after the first that saw it), the
    # group_wait, the relay.
    firing = scrape + timeout + evaluation + hold + group_wait + RELAY_SECONDS
    # Resolved: next scrape succeeds, next evaluation resolves, Alertmanager's
    # next flush of the group (group_interval), the relay.
    resolved = scrape + evaluation + group_interval + RELAY_SECONDS
    print(f"rules: APIDown worst case FIRING: scrape {scrape:g} + timeout {timeout:g} + evaluation {evaluation:g}"
          f" + for {hold:g} + group_wait {group_wait:g} + relay {RELAY_SECONDS} = {firing:g} s")
    print(f"rules: APIDown worst case RESOLVED: scrape {scrape:g} + evaluation {evaluation:g}"
          f" + group_interval {group_interval:g} + relay {RELAY_SECONDS} = {resolved:g} s")
    check(firing < PROMISE_SECONDS, f"APIDown FIRING reaches Slack in under {PROMISE_SECONDS} s ({firing:g} s worst case)")
    check(resolved < PROMISE_SECONDS, f"APIDown RESOLVED reaches Slack in under {PROMISE_SECONDS} s ({resolved:g} s worst case)")
    check(hold >= 2 * scrape, "APIDown's `for` spans at least two scrapes (a single failed scrape during a restart does not page)")


def main() -> int:
    rules = check_alerts()
    check_tests(rules)
    prom = check_prometheus()
    check_promise(prom, rules)
    print(f"rules: {len(failures)} check(s) failed" if failures else "rules: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

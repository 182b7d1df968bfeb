#!/usr/bin/env python3
"""Offline re-implementation of grafana/dashboard-linter's rules, plus the
repository's own (stable uid, not editable, no ${DS_*} inputs, variables only
in regex matchers), for every dashboards/*.json.

    lint.py              lint the repository's dashboards; exit 1 on any finding
    lint.py FILE...      lint these files
    lint.py --self-test  break each rule on purpose and check the linter says so

PromQL is parsed by the real parser: every expression (Grafana variables
replaced as rules/tests/exprs.py does) goes into a temporary rule file that
`promtool check rules` must accept. Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "rules" / "tests"))
import promqlscan  # noqa: E402

# Each dashboard's uid is part of its URL and of links to it: never change one.
EXPECTED_UIDS = {
    "http-metrics.json": "srp-http-metrics",
    "rust-runtime.json": "srp-rust-runtime",
    "release-security.json": "srp-release-security",
    "srp-agents.json": "srp-agents",
    "delivery.json": "srp-delivery",
}

# Grafana's unit ids (packages/grafana-data/src/valueFormats/categories.ts), as
# dashboard-linter's panel-units-rule lists them.
VALID_UNITS = set("""
none string short percent percentunit humidity dB hex0x hex sci locale pixel
accMS2 accFS2 accG degree radian grad arcmin arcsec areaM2 areaF2 areaMI2
flops mflops gflops tflops pflops eflops zflops yflops
ppm conppb conngm3 conngNm3 conμgm3 conμgNm3 conmgm3 conmgNm3 congm3 congNm3 conmgdL conmmolL
currencyUSD currencyGBP currencyEUR currencyJPY currencyRUB currencyUAH currencyBRL currencyDKK
currencyISK currencyNOK currencySEK currencyCZK currencyCHF currencyPLN currencyBTC currencymBTC
currencyμBTC currencyZAR currencyINR currencyKRW currencyIDR currencyPHP currencyVND
bytes decbytes bits decbits kbytes deckbytes mbytes decmbytes gbytes decgbytes tbytes dectbytes pbytes decpbytes
pps binBps Bps binbps bps KiBs Kibits KBs Kbits MiBs Mibits MBs Mbits GiBs Gibits GBs Gbits
TiBs Tibits TBs Tbits PiBs Pibits PBs Pbits
dateTimeAsIso dateTimeAsIsoNoDateIfToday dateTimeAsUS dateTimeAsUSNoDateIfToday dateTimeAsLocal
dateTimeAsLocalNoDateIfToday dateTimeAsSystem dateTimeFromNow
watt kwatt megwatt gwatt mwatt Wm2 voltamp kvoltamp voltampreact kvoltampreact watth watthperkg kwatth
kwattm amph kamph mamph joule ev amp kamp mamp volt kvolt mvolt dBm ohm kohm Mohm farad µfarad nfarad
pfarad ffarad henry mhenry µhenry lumens
flowgpm flowcms flowcfs flowcfm litreh flowlpm flowmlpm lux forceNm forcekNm forceN forcekN
Hs KHs MHs GHs THs PHs EHs massmg massg masslb masskg masst
lengthmm lengthin lengthft lengthm lengthkm lengthmi
pressurembar pressurebar pressurekbar pressurepa pressurehpa pressurekpa pressurehg pressurepsi
radbq radci radgy radrad radsv radmsv radusv radrem radexpckg radr radsvh radmsvh radusvh
rotrpm rothz rotrads rotdegs celsius fahrenheit kelvin
hertz ns µs ms s m h d dtdurationms dtdurations dthms dtdhms timeticks clockms clocks
cps ops reqps rps wps iops cpm opm rpm wpm velocityms velocitykmh velocitymph velocityknot
mlitre litre m3 Nm3 dm3 gallons bool bool_yes_no bool_on_off
""".split())

UNIT_PANEL_TYPES = {"stat", "singlestat", "graph", "table", "timeseries", "gauge"}
NO_TARGET_PANEL_TYPES = {"row", "text", "news", "dashlist", "annolist"}
DS_VARIABLE_UIDS = {"$datasource", "${datasource}"}
COUNTER_FUNCTIONS = {"rate", "irate", "increase"}
# Panel types that exist only as AngularJS plugins, which Grafana 11 no longer
# loads: a dashboard using one shows an empty box.
ANGULAR_PANEL_TYPES = {"graph", "singlestat", "table-old", "grafana-piechart-panel", "grafana-worldmap-panel", "grafana-clock-panel"}
VARIABLE_QUERY = re.compile(r"^\s*(label_values|label_names|metrics|query_result)\((.*)\)\s*$", re.S)


class Findings:
    def __init__(self, name: str):
        self.name = name
        self.items: list[tuple[str, str]] = []

    def add(self, rule: str, message: str) -> None:
        self.items.append((rule, message))


def panels_of(d: dict):
    for p in d.get("panels", []) or []:
        yield p
        for sub in p.get("panels", []) or []:
            yield sub


def datasource_uid(ds) -> str | None:
    if isinstance(ds, dict):
        return ds.get("uid")
    return ds  # old dashboards: the data source's name as a string


def variables(d: dict) -> list[dict]:
    return d.get("templating", {}).get("list", []) or []


def variable_query(var: dict) -> str:
    q = var.get("query", "")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q or ""


def lint_dashboard(d: dict, file_name: str, f: Findings, promql: list) -> None:
    """Adds findings to f; appends (f, rule, where, expr) to promql for promtool."""
    title = d.get("title") or file_name
    raw = json.dumps(d)

    # --- the repository's own dashboard rules
    uid = d.get("uid")
    if not uid:
        f.add("uid-rule", f"dashboard '{title}' has no uid (Grafana would make a new one on every load)")
    elif not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", uid):
        f.add("uid-rule", f"dashboard '{title}' uid '{uid}' is not 1-40 lower-case letters, digits and dashes")
    elif file_name in EXPECTED_UIDS and uid != EXPECTED_UIDS[file_name]:
        f.add("uid-rule", f"dashboard '{title}' uid changed to '{uid}', expected '{EXPECTED_UIDS[file_name]}'")
    if d.get("editable") is not False:
        f.add("template-uneditable-rule", f"dashboard '{title}' must have editable: false")
    if "${DS_" in raw or "__inputs" in d:
        f.add("no-ds-input-rule", f"dashboard '{title}' uses an export input (${{DS_...}} / __inputs), which file provisioning leaves unresolved")
    if not d.get("title"):
        f.add("title-rule", f"dashboard in {file_name} has no title")
    ids = [p.get("id") for p in panels_of(d)]
    if len(ids) != len(set(ids)) or None in ids:
        f.add("panel-id-rule", f"dashboard '{title}' has missing or duplicate panel ids")

    # --- template-datasource-rule
    ds_vars = [v for v in variables(d) if v.get("type") == "datasource"]
    prometheus_ds = next((v for v in ds_vars), None)
    if not ds_vars:
        f.add("template-datasource-rule", f"dashboard '{title}' does not have a templated data source")
    for v in ds_vars:
        query = v.get("query", "")
        names = {f"{query.lower()}_datasource"} | ({"datasource"} if len(ds_vars) == 1 else set())
        labels = {f"{query.title()} data source"} | ({"Data source"} if len(ds_vars) == 1 else set())
        if v.get("name") not in names:
            f.add("template-datasource-rule", f"dashboard '{title}' data source variable '{v.get('name')}' should be named one of {sorted(names)}")
        if v.get("label") not in labels:
            f.add("template-datasource-rule", f"dashboard '{title}' data source variable labeled '{v.get('label')}' should be labeled one of {sorted(labels)}")
    is_prometheus = prometheus_ds is not None and prometheus_ds.get("query") == "prometheus"
    # Panels may use any of the dashboard's data source variables.
    ds_uids = {f"${v.get('name')}" for v in ds_vars} | {f"${{{v.get('name')}}}" for v in ds_vars}

    # --- template-job-rule, template-instance-rule
    if is_prometheus:
        for name in ("job", "instance"):
            rule = f"template-{name}-rule"
            v = next((x for x in variables(d) if x.get("name") == name), None)
            if v is None:
                f.add(rule, f"dashboard '{title}' is missing the {name} template")
                continue
            if datasource_uid(v.get("datasource")) not in DS_VARIABLE_UIDS:
                f.add(rule, f"dashboard '{title}' {name} template should use datasource '$datasource', is '{datasource_uid(v.get('datasource'))}'")
            if v.get("type") != "query":
                f.add(rule, f"dashboard '{title}' {name} template should be a Prometheus query, is '{v.get('type')}'")
            if v.get("label") != name.title():
                f.add(rule, f"dashboard '{title}' {name} template should be labeled '{name.title()}', is '{v.get('label')}'")
            if not v.get("multi"):
                f.add(rule, f"dashboard '{title}' {name} template should be a multi select")
            if v.get("allValue") != ".+":
                f.add(rule, f"dashboard '{title}' {name} template allValue should be '.+', is '{v.get('allValue')}'")

    # --- template-label-promql-rule, template-on-time-change-reload-rule
    for v in variables(d):
        if v.get("type") != "query":
            continue
        q = variable_query(v)
        m = VARIABLE_QUERY.match(q)
        if not m:
            f.add("template-label-promql-rule", f"dashboard '{title}' template '{v.get('name')}' has an invalid query '{q}'")
        else:
            fn, arg = m.group(1), m.group(2)
            expr = None
            if fn == "label_values" and "," in arg:
                expr = arg.rsplit(",", 1)[0]
            elif fn == "query_result":
                expr = arg
            if expr is not None:
                promql.append((f, "template-label-promql-rule", f"dashboard '{title}' template '{v.get('name')}'", promqlscan.substitute(expr)))
        if v.get("refresh") != 2:
            f.add("template-on-time-change-reload-rule", f"dashboard '{title}' template '{v.get('name')}' should refresh on time range change (refresh: 2), is {v.get('refresh')}")

    # --- panel rules
    for p in panels_of(d):
        ptype = p.get("type")
        ptitle = p.get("title") or f"#{p.get('id')}"
        where = f"dashboard '{title}', panel '{ptitle}'"
        if ptype == "row":
            if not p.get("title"):
                f.add("panel-title-description-rule", f"dashboard '{title}' has a row without a title")
            continue
        if ptype in ANGULAR_PANEL_TYPES:
            f.add("no-angular-panel-rule", f"{where} is an AngularJS panel ('{ptype}'), which current Grafana does not load")
        if not (p.get("title") or "").strip() or not (p.get("description") or "").strip():
            f.add("panel-title-description-rule", f"{where} must have a title and a description")
        targets = p.get("targets") or []
        if ptype not in NO_TARGET_PANEL_TYPES and not targets:
            f.add("panel-no-targets-rule", f"{where} has no targets")
        if ptype not in NO_TARGET_PANEL_TYPES:
            uid = datasource_uid(p.get("datasource"))
            if uid not in ds_uids:
                f.add("panel-datasource-rule", f"{where} does not use the templated data source, uses '{uid}'")
            for t in targets:
                if "datasource" in t and datasource_uid(t["datasource"]) not in ds_uids:
                    f.add("panel-datasource-rule", f"{where} target {t.get('refId')} does not use the templated data source, uses '{datasource_uid(t['datasource'])}'")
        if ptype in UNIT_PANEL_TYPES:
            fc = p.get("fieldConfig") or {}
            unit = (fc.get("defaults") or {}).get("unit") or ""
            for o in fc.get("overrides") or []:
                for prop in o.get("properties") or []:
                    if prop.get("id") == "unit":
                        unit = prop.get("value") or unit
            if unit not in VALID_UNITS:
                f.add("panel-units-rule", f"{where} has no or an invalid unit: '{unit}'")

        # --- target rules
        for t in targets:
            expr = t.get("expr")
            if expr is None:
                continue
            twhere = f"{where}, target {t.get('refId')}"
            promql.append((f, "target-promql-rule", twhere, promqlscan.substitute(expr)))
            if not is_prometheus:
                continue
            for sel in promqlscan.scan(expr).selectors:  # vector(0) has none
                if not sel.matchers_ok:
                    f.add("target-promql-rule", f"{twhere}: cannot read the matchers of '{sel.text}'")
                if sel.function in ("rate", "irate") and sel.range is not None and sel.range.strip() not in ("$__rate_interval", "${__rate_interval}"):
                    f.add("target-rate-interval-rule", f"{twhere}: '{sel.text}' should use $__rate_interval")
                for label in ("job", "instance"):
                    ok = any(m.op == "=~" and m.value in (f"${label}", f"${{{label}}}") for m in sel.matchers_for(label))
                    if not ok:
                        f.add(f"target-{label}-rule", f"{twhere}: '{sel.text}' lacks the matcher {label}=~\"${label}\"")
                if sel.name and sel.name.endswith("_total") and not (sel.range and sel.function in COUNTER_FUNCTIONS):
                    f.add("target-counter-agg-rule", f"{twhere}: counter '{sel.name}' is not inside rate, irate or increase")
                for m in sel.matchers:
                    used = promqlscan.variables_in(m.value) - promqlscan.INTERVAL_VARS
                    if used and m.op not in ("=~", "!~"):
                        f.add("template-variable-matchers-rule", f"{twhere}: variable(s) {sorted(used)} in a '{m.op}' matcher; use =~ (multi-value and 'All' need a regex)")


def promtool_check(promql: list) -> int:
    """Parse every expression with the real PromQL parser (promtool)."""
    promtool = shutil.which("promtool")
    if not promtool:
        raise SystemExit("lint: promtool not found (Debian package 'prometheus')")

    def check(items) -> tuple[bool, str]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "exprs.yml"
            rules = [{"record": f"lint:expr_{i}", "expr": e} for i, (_, _, _, e) in enumerate(items)]
            # JSON is valid YAML: no YAML library needed.
            path.write_text(json.dumps({"groups": [{"name": "lint", "rules": rules}]}))
            r = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
            return r.returncode == 0, (r.stdout + r.stderr).strip()

    items = list(promql)
    if not items:
        return 0
    ok, _ = check(items)
    if ok:
        return len(items)
    for item in items:
        ok, out = check([item])
        if not ok:
            f, rule, where, expr = item
            last = out.splitlines()[-1] if out else "promtool failed"
            f.add(rule, f"{where}: PromQL does not parse: {expr!r}: {last}")
    return len(items)


def lint_files(files: list[Path], quiet: bool = False) -> list[tuple[str, str, str]]:
    """Returns (file, rule, message) for every finding."""
    promql: list = []
    per_file = []
    for path in files:
        d = json.loads(path.read_text())
        f = Findings(path.name)
        before = len(promql)
        lint_dashboard(d, path.name, f, promql)
        per_file.append((path, d, f, len(promql) - before))
    n = promtool_check(promql)
    out = []
    for path, d, f, nexpr in per_file:
        panels = [p for p in panels_of(d) if p.get("type") != "row"]
        if not quiet:
            status = "ok" if not f.items else f"{len(f.items)} finding(s)"
            print(f"lint: {path.name}: uid {d.get('uid')}, {len(panels)} panels, {nexpr} PromQL expressions: {status}")
        for rule, msg in f.items:
            out.append((path.name, rule, msg))
    if not quiet:
        print(f"lint: {n} expressions parsed by promtool")
    return out


RULES_CHECKED = [
    "uid-rule", "template-uneditable-rule", "no-ds-input-rule", "template-datasource-rule",
    "template-job-rule", "template-instance-rule", "template-label-promql-rule",
    "template-on-time-change-reload-rule", "panel-datasource-rule", "panel-title-description-rule",
    "panel-units-rule", "panel-no-targets-rule", "target-promql-rule", "target-rate-interval-rule",
    "target-job-rule", "target-instance-rule", "target-counter-agg-rule", "template-variable-matchers-rule",
    "no-angular-panel-rule",
]


def self_test(files: list[Path]) -> int:
    """Break each rule in a copy of a real dashboard; each must be reported."""
    base = json.loads(files[0].read_text())
    name = files[0].name

    def first_panel(d):
        return next(p for p in panels_of(d) if p.get("type") == "timeseries")

    def first_target(d):
        return first_panel(d)["targets"][0]

    def var(d, n):
        return next(v for v in variables(d) if v.get("name") == n)

    breakers = {
        "uid-rule": lambda d: d.update(uid="not-the-pinned-one"),
        "template-uneditable-rule": lambda d: d.update(editable=True),
        "no-ds-input-rule": lambda d: first_panel(d).update(datasource={"type": "prometheus", "uid": "${DS_PROMETHEUS}"}),
        "template-datasource-rule": lambda d: d["templating"].update(list=[v for v in variables(d) if v["type"] != "datasource"]),
        "template-job-rule": lambda d: var(d, "job").update(allValue=None),
        "template-instance-rule": lambda d: var(d, "instance").update(multi=False),
        "template-label-promql-rule": lambda d: var(d, "job").update(query="label_values(up{job=, job)"),
        "template-on-time-change-reload-rule": lambda d: var(d, "instance").update(refresh=1),
        "panel-datasource-rule": lambda d: first_panel(d).update(datasource={"type": "prometheus", "uid": "srp-prometheus"}),
        "panel-title-description-rule": lambda d: first_panel(d).update(description=""),
        "panel-units-rule": lambda d: first_panel(d)["fieldConfig"]["defaults"].update(unit="furlongs"),
        "panel-no-targets-rule": lambda d: first_panel(d).update(targets=[]),
        "target-promql-rule": lambda d: first_target(d).update(expr="sum(rate(http_requests_total{job=~\"$job\", instance=~\"$instance\"}[$__rate_interval])"),
        "target-rate-interval-rule": lambda d: first_target(d).update(expr="sum(rate(http_requests_total{job=~\"$job\", instance=~\"$instance\"}[5m]))"),
        "target-job-rule": lambda d: first_target(d).update(expr="sum(rate(http_requests_total{instance=~\"$instance\"}[$__rate_interval]))"),
        "target-instance-rule": lambda d: first_target(d).update(expr="sum(rate(http_requests_total{job=~\"$job\"}[$__rate_interval]))"),
        "target-counter-agg-rule": lambda d: first_target(d).update(expr="sum(http_requests_total{job=~\"$job\", instance=~\"$instance\"})"),
        "no-angular-panel-rule": lambda d: first_panel(d).update(type="graph"),
        "template-variable-matchers-rule": lambda d: first_target(d).update(expr="sum(rate(http_requests_total{job=\"$job\", instance=~\"$instance\"}[$__rate_interval]))"),
    }
    assert set(breakers) == set(RULES_CHECKED), "every rule needs a self-test"
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for rule, breaker in breakers.items():
            d = copy.deepcopy(base)
            breaker(d)
            path = Path(tmp) / name
            path.write_text(json.dumps(d))
            got = {r for _, r, _ in lint_files([path], quiet=True)}
            if rule in got:
                print(f"self-test: {rule}: caught")
            else:
                print(f"self-test: {rule}: NOT caught (reported: {sorted(got) or 'nothing'})")
                failures += 1
    return 1 if failures else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="dashboard JSON files (default: dashboards/*.json)")
    ap.add_argument("--self-test", action="store_true", help="check that every rule catches a dashboard that breaks it")
    args = ap.parse_args()
    files = args.files or sorted((REPO / "dashboards").glob("*.json"))
    if not files:
        print("lint: no dashboards found", file=sys.stderr)
        return 1
    if args.self_test:
        return self_test(files)
    missing = set(EXPECTED_UIDS) - {p.name for p in files} if not args.files else set()
    found = lint_files(files)
    for fname, rule, msg in found:
        print(f"lint: {fname}: {rule}: {msg}")
    for m in sorted(missing):
        print(f"lint: dashboards/{m} is missing")
    # A new dashboard pins its uid here too (links and bookmarks use it).
    unpinned = sorted({p.name for p in files} - set(EXPECTED_UIDS)) if not args.files else []
    for m in unpinned:
        print(f"lint: dashboards/{m}: uid not pinned in EXPECTED_UIDS")
    missing |= set(unpinned)
    uids = [json.loads(p.read_text()).get("uid") for p in files]
    if len(uids) != len(set(uids)):
        print("lint: two dashboards share a uid")
        return 1
    print(f"lint: rules checked: {', '.join(RULES_CHECKED)}")
    return 1 if found or missing else 0


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    sys.exit(main())

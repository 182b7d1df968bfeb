#!/usr/bin/env python3
"""Every PromQL expression SRP ships: each alert rule, each dashboard panel
target and each dashboard variable query, with Grafana's variables replaced so
that a plain Prometheus can evaluate them.

    exprs.py --list            one JSON object per line:
        {"source": ..., "kind": ..., "expr": ..., "expect_series": true|false}

kind:
  panel      a dashboard target; should return series on a live platform.
  variable   the selector of a variable's label_values() query; should too.
  alert      an alert rule's whole expression; must evaluate without error,
             but is empty while the alert is not firing (expect_series false).
  alert-selector
             each series selector inside an alert rule (the metric it reads);
             should return series, or the alert is blind.

Replacements: $__rate_interval, $__interval -> --rate-interval (default 1m);
$__range, $__range_s -> --range-seconds (default: the rate interval); every other $var / ${var} / [[var]] -> --var-value (default
".+"), which is why variables may only appear in regex matchers (the
dashboard linter enforces it).

Used by the end-to-end test against a live Prometheus, and by the linter
(`promtool check rules` over all of them).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import promqlscan  # noqa: E402

REPO = HERE.parent.parent
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)
QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)


def load_yaml(path: Path):
    import yaml  # PyYAML: in the project venv (yamllint's dependency)

    with path.open() as f:
        return yaml.safe_load(f)


def panels_of(dashboard: dict):
    """Every panel, those inside collapsed rows included."""
    for p in dashboard.get("panels", []):
        yield p
        for sub in p.get("panels", []) or []:
            yield sub


def variable_query(var: dict) -> str:
    q = var.get("query", "")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q or ""


def variable_expr(query: str) -> str | None:
    """The PromQL inside a Prometheus variable query, if it has one."""
    m = LABEL_VALUES.match(query)
    if m:
        return m.group(1)
    m = QUERY_RESULT.match(query)
    if m:
        return m.group(1)
    return None  # label_values(label), label_names(), metrics(...)


def dashboard_exprs(path: Path):
    """(source, kind, raw expr) of one dashboard file, variables unreplaced."""
    d = json.loads(path.read_text())
    rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for var in d.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        e = variable_expr(variable_query(var))
        if e is not None:
            yield f"{rel}: variable ${var.get('name')}", "variable", e
    for p in panels_of(d):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                yield f"{rel}: panel '{p.get('title')}' target {t.get('refId')}", "panel", t["expr"]


def rule_files(root: Path) -> list[Path]:
    rules = root / "rules"
    return sorted(p for p in rules.glob("*.yml") if p.name not in ("prometheus.yml", "alertmanager.yml"))


def rule_exprs(path: Path):
    doc = load_yaml(path) or {}
    rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            kind = "alert" if "alert" in r else "record"
            yield f"{rel}: {kind} {name}", kind, r["expr"]


def collect(root: Path, rate_interval: str, var_value: str, range_seconds: int | None = None):
    out = []
    for path in rule_files(root):
        for source, kind, expr in rule_exprs(path):
            expr = expr.strip()
            out.append({"source": source, "kind": kind, "expr": expr, "expect_series": kind == "record"})
            if kind == "alert":
                seen = set()
                for sel in promqlscan.scan(expr).selectors:
                    # A range selector is evaluated as an instant one: it
                    # tells whether the series exist, which is the question.
                    text = sel.text.split("[")[0].strip() if sel.range else sel.text.strip()
                    if text in seen:
                        continue
                    seen.add(text)
                    out.append({"source": f"{source} selector {text}", "kind": "alert-selector",
                                "expr": text, "expect_series": True})
    for path in sorted((root / "dashboards").glob("*.json")):
        for source, kind, expr in dashboard_exprs(path):
            out.append({"source": source, "kind": kind,
                        "expr": promqlscan.substitute(expr.strip(), rate_interval, var_value, range_seconds),
                        "expect_series": True})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", action="store_true", help="print one JSON object per expression (the default action)")
    ap.add_argument("--root", type=Path, default=REPO, help="repository root (default: %(default)s)")
    ap.add_argument("--rate-interval", default="1m", help="value for $__rate_interval, $__interval (default: %(default)s)")
    ap.add_argument("--range-seconds", type=int, default=None,
                    help="the dashboard time range for $__range/$__range_s (default: the rate interval, 60 s); "
                         "the end-to-end test passes the length of its run")
    ap.add_argument("--var-value", default=".+", help="value for every other dashboard variable (default: %(default)s)")
    args = ap.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `exprs.py | head` is fine
    for item in collect(args.root.resolve(), args.rate_interval, args.var_value, args.range_seconds):
        print(json.dumps(item, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

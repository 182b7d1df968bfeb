"""Builders of Grafana dashboard JSON (schema 39): the dashboard frame, the
templating every SRP dashboard shares, and the four panel kinds we use.

Written once so that each dashboard module says only what it shows. Panels
are laid out left to right in rows of 24 columns, in the order given.
"""

from __future__ import annotations

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def sel(metric: str, extra: str = "") -> str:
    """`metric{job=~"$job", instance=~"$instance", extra}`: every selector of
    a panel is scoped to the dashboard's job and instance variables."""
    more = f", {extra}" if extra else ""
    return f'{metric}{{job=~"$job", instance=~"$instance"{more}}}'


def rate(metric: str, extra: str = "") -> str:
    return f"rate({sel(metric, extra)}[$__rate_interval])"


def target(expr: str, legend: str = "", ref: str = "A", table: bool = False) -> dict:
    t = {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, "editorMode": "code"}
    if table:
        t.update(range=False, instant=True, format="table")
    else:
        t.update(range=True, instant=False)
    return t


def _targets(exprs) -> list[dict]:
    """(expr, legend) pairs, or a single expr string, to targets A, B, ..."""
    if isinstance(exprs, str):
        exprs = [(exprs, "")]
    return [target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(exprs)]


def _steps(thresholds) -> dict:
    steps = [{"color": "green", "value": None}]
    steps += [{"color": c, "value": v} for v, c in thresholds or []]
    return {"mode": "absolute", "steps": steps}


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_w": 24, "_h": 1}


def stat(title: str, description: str, unit: str, exprs, *, w: int = 6, h: int = 4,
         thresholds=None, mappings=None, decimals: int | None = None) -> dict:
    defaults = {"unit": unit, "color": {"mode": "thresholds"}, "thresholds": _steps(thresholds),
                "mappings": mappings or []}
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat", "title": title, "description": description, "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
            "orientation": "auto", "textMode": "auto",
        },
        "targets": _targets(exprs), "_w": w, "_h": h,
    }


def timeseries(title: str, description: str, unit: str, exprs, *, w: int = 12, h: int = 8,
               stack: bool = False, max_value: float | None = None, overrides=None) -> dict:
    defaults = {
        "unit": unit,
        "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
                   "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}},
        "color": {"mode": "palette-classic"}, "min": 0,
    }
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": DATASOURCE,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                       "calcs": ["mean", "max", "lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": _targets(exprs), "_w": w, "_h": h,
    }


def table(title: str, description: str, expr: str, *, w: int = 12, h: int = 5,
          exclude=("Time", "Value", "__name__"), rename=None, mappings=None) -> dict:
    """An instant query shown as one row per series (labels as columns)."""
    return {
        "type": "table", "title": title, "description": description, "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": "none", "mappings": mappings or [],
                                     "custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
                        "overrides": []},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {k: True for k in exclude}, "renameByName": rename or {}}}],
        "targets": [target(expr, table=True)], "_w": w, "_h": h,
    }


def heatmap(title: str, description: str, unit: str, expr: str, *, w: int = 12, h: int = 8) -> dict:
    """A histogram's buckets over time (format heatmap: Grafana de-accumulates
    the cumulative `le` buckets itself)."""
    t = target(expr, "{{le}}")
    t["format"] = "heatmap"
    return {
        "type": "heatmap", "title": title, "description": description, "datasource": DATASOURCE,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"hideFrom": {"legend": False, "tooltip": False, "viz": False},
                                                              "scaleDistribution": {"type": "linear"}}},
                        "overrides": []},
        "options": {
            "calculate": False, "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64,
                                                        "exponent": 0.5, "fill": "dark-orange", "scale": "exponential",
                                                        "reverse": False},
            "yAxis": {"axisPlacement": "left", "unit": unit, "reverse": False},
            "rowsFrame": {"layout": "auto"}, "legend": {"show": True},
            "tooltip": {"mode": "single", "yHistogram": False, "showColorScale": False},
            "filterValues": {"le": 1e-9}, "exemplars": {"color": "rgba(255,0,255,0.7)"},
        },
        "targets": [t], "_w": w, "_h": h,
    }


def value_mapping(pairs) -> list[dict]:
    """[(value, text, color), ...] -> one Grafana value mapping."""
    return [{"type": "value", "options": {
        str(v): {"text": text, "color": color, "index": i} for i, (v, text, color) in enumerate(pairs)}}]


def _variable(name: str, label: str, query: str, current_all: bool = True, current=None) -> dict:
    value = current or "$__all"
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "definition": query, "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2, "multi": True, "includeAll": True, "allValue": ".+",
        "current": {"selected": True, "text": ["All" if value == "$__all" else value], "value": [value]},
        "hide": 0, "options": [], "regex": "", "sort": 1, "skipUrlSync": False,
    }


def label_variable(name: str, label: str, query: str) -> dict:
    """A further multi-select variable (All = `.+`) from a label_values() query,
    for dashboards that select more than job and instance."""
    return _variable(name, label, query)


def templating(job_selector: str, default_job: str | None = None, extra=()) -> dict:
    """datasource, job and instance: job from the label values of
    `job_selector` (a metric, or a metric{matchers}), instance within the jobs
    chosen; then the `extra` variables (label_variable) in order."""
    metric, _, matchers = job_selector.partition("{")
    inner = matchers.rstrip("}")
    instance_sel = f'{metric}{{{inner + ", " if inner else ""}job=~"$job"}}'
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
         "regex": "", "skipUrlSync": False},
        _variable("job", "Job", f"label_values({job_selector}, job)", current=default_job),
        _variable("instance", "Instance", f"label_values({instance_sel}, instance)"),
        *extra,
    ]}


def _layout(panels: list[dict]) -> list[dict]:
    x = y = row_h = 0
    out = []
    for i, p in enumerate(panels, 1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        if p["type"] == "row" and x:
            x, y, row_h = 0, y + row_h, 0
        out.append({"id": i, **p, "gridPos": {"h": h, "w": w, "x": x, "y": y}})
        x += w
        row_h = max(row_h, h)
    return out


def dashboard(uid: str, title: str, description: str, job_selector: str, panels: list[dict],
              default_job: str | None = None, extra_variables=(), time_from: str = "now-6h") -> dict:
    return {
        "id": None, "uid": uid, "title": title, "description": description, "tags": ["srp"],
        "editable": False, "graphTooltip": 1, "refresh": "30s", "schemaVersion": 39, "version": 1,
        "time": {"from": time_from, "to": "now"}, "timepicker": {}, "timezone": "", "weekStart": "",
        "fiscalYearStartMonth": 0, "liveNow": False,
        "links": [{"type": "dashboards", "tags": ["srp"], "asDropdown": True, "title": "SRP dashboards",
                   "icon": "external link", "includeVars": True, "keepTime": True, "targetBlank": False,
                   "tooltip": "", "url": ""}],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": templating(job_selector, default_job, extra_variables),
        "panels": _layout(panels),
    }

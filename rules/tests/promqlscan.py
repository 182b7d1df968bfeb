"""A small PromQL scanner: finds the vector selectors of an expression, their
label matchers, their range and the function that encloses them.

It does not validate PromQL (promtool does that, see lint and run.sh); it only
needs to be right on valid expressions, which is what the linter rules about
selectors (job/instance matchers, counters under rate(), $__rate_interval) and
the expression extractor need. Grafana variables ($job, ${job}, [[job]],
$__rate_interval) may appear where PromQL has strings or durations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATORS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
    "count_values", "bottomk", "topk", "quantile",
}
# Keywords followed by a parenthesised list of label names, not an expression.
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
OTHER_KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(
    r"""\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*(?:,|$)"""
)


@dataclass
class Matcher:
    label: str
    op: str
    value: str


@dataclass
class Selector:
    name: str | None
    matchers: list[Matcher]
    text: str  # the selector as written, range included
    range: str | None  # what is inside [...], e.g. "$__rate_interval" or "5m"
    function: str | None  # innermost enclosing function or aggregation
    matchers_ok: bool = True  # False when the matcher list could not be read

    def matchers_for(self, label: str) -> list[Matcher]:
        return [m for m in self.matchers if m.label == label]


@dataclass
class Scan:
    selectors: list[Selector] = field(default_factory=list)


def _skip_string(s: str, i: int) -> int:
    """i points at an opening quote; returns the index after the closing one."""
    q = s[i]
    i += 1
    while i < len(s):
        if s[i] == "\\" and q != "`":
            i += 2
            continue
        if s[i] == q:
            return i + 1
        i += 1
    return i


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def _match_close(s: str, i: int, open_c: str, close_c: str) -> int:
    """i points at open_c; returns the index after its close_c (strings skipped)."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = _skip_string(s, i)
            continue
        if c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _parse_matchers(body: str) -> tuple[list[Matcher], bool]:
    out: list[Matcher] = []
    pos = 0
    body = body.strip()
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            return out, False
        raw = m.group(3)
        out.append(Matcher(m.group(1), m.group(2), raw[1:-1]))
        pos = m.end()
    return out, True


def scan(expr: str) -> Scan:
    result = Scan()
    stack: list[str | None] = []  # one entry per open "(": the function name or None
    pending_fn: str | None = None
    s = expr
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c in "\"'`":
            i = _skip_string(s, i)
        elif c == "#":
            while i < n and s[i] != "\n":
                i += 1
        elif c.isspace():
            i += 1
        elif c.isdigit() or (c == "." and i + 1 < n and s[i + 1].isdigit()):
            # numbers and durations (0.95, 1e3, 5m, 1h30m)
            while i < n and (s[i].isalnum() or s[i] in "._"):
                i += 1
        elif c == "$" or (c == "[" and s.startswith("[[", i)):
            # a Grafana variable outside a string (e.g. a duration): skip it
            if s.startswith("${", i):
                i = _match_close(s, i + 1, "{", "}")
            elif s.startswith("[[", i):
                i = s.find("]]", i) + 2 if s.find("]]", i) >= 0 else n
            else:
                i += 1
                while i < n and (s[i].isalnum() or s[i] == "_"):
                    i += 1
        elif c.isalpha() or c in "_:":
            m = _IDENT.match(s, i)
            ident = m.group(0)
            i = m.end()
            j = _skip_ws(s, i)
            low = ident.lower()
            if low in LABEL_LIST_KEYWORDS:
                if j < n and s[j] == "(":
                    i = _match_close(s, j, "(", ")")
                continue
            if low in OTHER_KEYWORDS:
                continue
            if j < n and s[j] == "(":
                pending_fn = ident
                continue
            if low in AGGREGATORS:
                pending_fn = ident  # its "(" comes after `by (...)`
                continue
            result.selectors.append(_read_selector(s, ident, m.start(), i, stack))
            i = result.selectors[-1]._end  # type: ignore[attr-defined]
        elif c == "{":
            sel = _read_selector(s, None, i, i, stack)
            result.selectors.append(sel)
            i = sel._end  # type: ignore[attr-defined]
        elif c == "(":
            stack.append(pending_fn)
            pending_fn = None
            i += 1
        elif c == ")":
            if stack:
                stack.pop()
            i += 1
        elif c == "[":
            # a subquery range after ")": skip it
            i = _match_close(s, i, "[", "]")
        else:
            i += 1
    return result


def _read_selector(s: str, name: str | None, start: int, i: int, stack: list[str | None]) -> Selector:
    n = len(s)
    matchers: list[Matcher] = []
    ok = True
    j = _skip_ws(s, i)
    if j < n and s[j] == "{":
        end = _match_close(s, j, "{", "}")
        matchers, ok = _parse_matchers(s[j + 1 : end - 1])
        i = end
    rng = None
    j = _skip_ws(s, i)
    if j < n and s[j] == "[" and not s.startswith("[[", j):
        end = _match_close(s, j, "[", "]")
        rng = s[j + 1 : end - 1].strip()
        i = end
    # The innermost paren decides ("rate((x[5m]))" is not valid PromQL anyway).
    fn = stack[-1] if stack else None
    sel = Selector(name, matchers, s[start:i], rng, fn, ok)
    sel._end = i  # type: ignore[attr-defined]
    return sel


GRAFANA_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[A-Za-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[A-Za-z]+)?\]\]")
INTERVAL_VARS = {"__rate_interval", "__interval", "__range", "__range_s", "__range_ms", "__interval_ms"}


def substitute(expr: str, rate_interval: str = "1m", var_value: str = ".+", range_seconds: int | None = None) -> str:
    """Replace Grafana variables: interval ones by a duration, the others by a
    regex. $__range (and _s, _ms) is the dashboard's time range: `range_seconds`
    when given, else the rate interval's 60 s."""
    rng = f"{range_seconds}s" if range_seconds else rate_interval
    rng_s = range_seconds or 60

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in ("__rate_interval", "__interval"):
            return rate_interval
        if name == "__range":
            return rng
        if name in ("__range_s",):
            return str(rng_s)
        if name == "__range_ms":
            return str(rng_s * 1000)
        if name == "__interval_ms":
            return "60000"
        return var_value

    return GRAFANA_VAR.sub(repl, expr)


def variables_in(text: str) -> set[str]:
    return {m.group(1) or m.group(2) or m.group(3) for m in GRAFANA_VAR.finditer(text)}

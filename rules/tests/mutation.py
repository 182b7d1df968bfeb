#!/usr/bin/env python3
"""Shows that the promtool tests can fail: breaks each alert of alerts.yml in
the ways a rule really goes wrong, and checks that `promtool test rules`
rejects every broken copy.

Mutations per alert:
- each `<`/`>` threshold halved and tripled (a percent written as a ratio or
  the other way round, a wrong constant); a zero threshold moved to -1 and 1,
- each `== 0` turned into `== 1` (the condition inverted),
- `for:` halved and doubled (or a `for: 5m` added where there is none).

Prints one line per mutation; exit status 1 if any survived. Needs PyYAML.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent
THRESHOLD = re.compile(r"(?<![=!<>])([<>])\s*([0-9]+(?:\.[0-9]+)?)(?![0-9.])")
EQUALS_ZERO = re.compile(r"==\s*0(?![0-9.])")


def seconds(d: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", d))


def duration(s: int) -> str:
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"


def mutations(rule: dict):
    """(description, mutated rule) pairs."""
    expr = rule["expr"]
    for m in THRESHOLD.finditer(expr):
        value = float(m.group(2))
        # Halving or tripling 0 leaves it 0: a zero threshold ("any dead
        # letter") is moved by one either way instead.
        shifted = (value * 0.5, value * 3) if value else (-1, 1)
        for new_value in shifted:
            new = f"{m.group(1)} {new_value:g}"
            yield (f"threshold {m.group(0).strip()} -> {new}",
                   {**rule, "expr": expr[: m.start()] + new + expr[m.end():]})
    for i, m in enumerate(EQUALS_ZERO.finditer(expr), 1):
        yield (f"condition #{i} {m.group(0)} -> == 1",
               {**rule, "expr": expr[: m.start()] + "== 1" + expr[m.end():]})
    if "for" in rule:
        s = seconds(rule["for"])
        for new in (s // 2, s * 2):
            yield f"for: {rule['for']} -> {duration(new)}", {**rule, "for": duration(new)}
    else:
        yield "for: (none) -> 5m", {**rule, "for": "5m"}


def promtool_passes(workdir: Path, alert: str | None = None) -> bool:
    """Runs the test files that test `alert` (all of them for None)."""
    tests = sorted(str(p) for p in (workdir / "tests").glob("*.test.yml")
                   if alert is None or re.search(rf"alertname:\s*{alert}\b", p.read_text()))
    if not tests:
        return True  # untested: nothing can notice the mutation
    r = subprocess.run(["promtool", "test", "rules", *tests], capture_output=True, text=True)
    return r.returncode == 0


def main() -> int:
    doc = yaml.safe_load((RULES / "alerts.yml").read_text())
    survivors = 0
    total = 0
    with tempfile.TemporaryDirectory(prefix="srp-mutation-") as tmp:
        work = Path(tmp)
        shutil.copytree(HERE, work / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        (work / "alerts.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
        if not promtool_passes(work):
            print("mutation: the unmutated rules fail their tests: fix those first")
            return 1
        for gi, group in enumerate(doc["groups"]):
            for ri, rule in enumerate(group["rules"]):
                if "alert" not in rule:
                    continue
                for what, mutated in mutations(rule):
                    total += 1
                    broken = yaml.safe_load(yaml.safe_dump(doc))
                    broken["groups"][gi]["rules"][ri] = mutated
                    (work / "alerts.yml").write_text(yaml.safe_dump(broken, sort_keys=False))
                    if promtool_passes(work, rule["alert"]):
                        survivors += 1
                        print(f"mutation: SURVIVED: {rule['alert']}: {what} (the tests did not notice)")
                    else:
                        print(f"mutation: caught: {rule['alert']}: {what}")
    print(f"mutation: {total - survivors} of {total} broken rules caught by the promtool tests")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())

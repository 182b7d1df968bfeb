#!/usr/bin/env python3
"""Checks every role's layout (the prometheus-community collection's) and that
meta/argument_specs.yml documents exactly the variables defaults/main.yml sets,
with the same types and default values. Prints one line per role; exits 1 on
any mismatch."""
import pathlib
import sys

import yaml

ROLES = pathlib.Path(__file__).resolve().parent.parent / "roles"
LAYOUT = [
    "defaults/main.yml",
    "meta/main.yml",
    "meta/argument_specs.yml",
    "tasks/main.yml",
    "tasks/preflight.yml",
    "tasks/install.yml",
    "tasks/configure.yml",
]
TYPES = {"str": str, "bool": bool, "int": int, "list": list, "dict": dict}


def check(role: pathlib.Path) -> list[str]:
    problems = [f"missing {p}" for p in LAYOUT if not (role / p).is_file()]
    if problems:
        return problems
    defaults = yaml.safe_load((role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    for name in sorted(set(defaults) - set(options)):
        problems.append(f"{name}: in defaults, not in argument_specs")
    for name in sorted(set(options) - set(defaults)):
        problems.append(f"{name}: in argument_specs, not in defaults")
    for name in sorted(set(defaults) & set(options)):
        spec, value = options[name], defaults[name]
        if not name.startswith(role.name + "_"):
            problems.append(f"{name}: not prefixed with the role name")
        if not spec.get("description"):
            problems.append(f"{name}: no description")
        if spec.get("default") != value:
            problems.append(f"{name}: argument_specs default {spec.get('default')!r} != defaults {value!r}")
        want = TYPES.get(spec.get("type"))
        if want is None or type(value) is not want:
            problems.append(f"{name}: type {spec.get('type')} does not fit {value!r}")
        if spec.get("type") == "list" and "elements" not in spec:
            problems.append(f"{name}: list without elements")
    # main.yml must include the three phases, in order.
    main = (role / "tasks/main.yml").read_text()
    positions = [main.find(f"{phase}.yml") for phase in ("preflight", "install", "configure")]
    if -1 in positions or positions != sorted(positions):
        problems.append("tasks/main.yml does not run preflight, install, configure in that order")
    return problems


def main() -> int:
    roles = sorted(p for p in ROLES.iterdir() if p.is_dir())
    failed = 0
    for role in roles:
        problems = check(role)
        options = len(yaml.safe_load((role / "defaults/main.yml").read_text()) or {}) if not problems else 0
        if problems:
            failed += 1
            print(f"FAIL {role.name}")
            for p in problems:
                print(f"     {p}")
        else:
            print(f"ok   {role.name}: layout complete, {options} variables documented in argument_specs")
    return 1 if failed or not roles else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Tests of the monitoring configuration: the alert rules, the Prometheus and
# Alertmanager configs, the Grafana dashboards and their provisioning.
# Every step runs and says what it checked; the exit status is non-zero if any
# failed. Needs promtool and amtool (Debian: prometheus, prometheus-alertmanager),
# python3 with PyYAML (the project venv has it), yamllint if present.
#   rules/tests/run.sh           everything (about a minute; the live Alertmanager
#                                test uses the shipped group_wait/group_interval)
#   rules/tests/run.sh --quick   without the live Alertmanager test
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT" || exit 1

quick=0
[[ ${1:-} == --quick ]] && quick=1

PY=python3
[[ -x "$ROOT/.local/venv/bin/python" ]] && PY="$ROOT/.local/venv/bin/python"
YAMLLINT=$(command -v yamllint || true)
[[ -x "$ROOT/.local/venv/bin/yamllint" ]] && YAMLLINT="$ROOT/.local/venv/bin/yamllint"

failed=()
step() {
  local name=$1
  shift
  printf '\n--> %s\n' "$name"
  if "$@"; then
    printf '<-- %s: ok\n' "$name"
  else
    printf '<-- %s: FAILED\n' "$name"
    failed+=("$name")
  fi
}

for tool in promtool amtool; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (scripts/setup.sh installs it)"; exit 1; }
done

# --- Prometheus side
step "promtool check rules rules/alerts.yml" promtool check rules rules/alerts.yml
step "promtool check config rules/prometheus.yml" promtool check config rules/prometheus.yml
step "promtool test rules rules/tests/*.test.yml" promtool test rules rules/tests/*.test.yml
step "alert structure, test coverage, scrape jobs, 90 s arithmetic" "$PY" rules/tests/check_rules.py
step "mutation: the promtool tests catch broken thresholds, conditions and for:" "$PY" rules/tests/mutation.py

# --- Alertmanager side
step "amtool check-config rules/alertmanager.yml" amtool check-config rules/alertmanager.yml

routes_test() {
  # label set -> receiver it must reach. One case per shipped alert (from
  # alerts.yml, by its severity), plus alerts the rules do not know.
  local cases fails=0 n=0
  cases=$("$PY" - <<'EOF'
import yaml
doc = yaml.safe_load(open("rules/alerts.yml"))
for g in doc["groups"]:
    for r in g["rules"]:
        sev = r["labels"]["severity"]
        print(f"srp-slack-relay-{sev}|alertname={r['alert']} severity={sev} instance=web-1:9100")
EOF
  ) || return 1
  cases+=$'\n'"srp-slack-relay|alertname=SomethingNew instance=web-1:9100"
  cases+=$'\n'"srp-slack-relay|alertname=Watchdog severity=none"
  cases+=$'\n'"srp-slack-relay-critical|alertname=ThirdPartyCritical severity=critical"
  while IFS='|' read -r want labels; do
    [[ -z $want ]] && continue
    n=$((n + 1))
    # shellcheck disable=SC2086 # labels are separate arguments on purpose
    if out=$(amtool config routes test --config.file=rules/alertmanager.yml --verify.receivers="$want" $labels 2>&1); then
      echo "routes: ok: {$labels} -> $want"
    else
      echo "routes: FAILED: {$labels} should reach $want: $(grep -v '^Warning: --config.file' <<<"$out")"
      fails=$((fails + 1))
    fi
  done <<<"$cases"
  echo "routes: $n cases, $fails failed"
  ((fails == 0 && n >= 17))
}
step "amtool config routes test" routes_test
if ((quick)); then
  echo "(--quick: skipping the live Alertmanager test)"
else
  step "live Alertmanager: inhibition, receivers, bearer token, resolved" "$PY" rules/tests/alertmanager_live.py
fi

# --- Grafana side
step "dashboards match their generator (dashboards/generate.py --check)" "$PY" dashboards/generate.py --check
step "dashboard lint (grafana dashboard-linter rules, offline)" "$PY" dashboards/tests/lint.py
step "dashboard lint self-test (each rule catches a broken dashboard)" "$PY" dashboards/tests/lint.py --self-test

provisioning() {
  "$PY" - <<'EOF'
import json, pathlib, sys, yaml
ok = True
def check(cond, what):
    global ok
    print(f"provisioning: {'ok' if cond else 'FAILED'}: {what}")
    ok &= bool(cond)
d = yaml.safe_load(open("dashboards/provisioning/dashboards/srp.yml"))
p = d["providers"][0]
check(d.get("apiVersion") == 1 and p.get("type") == "file" and p.get("options", {}).get("path"),
      "dashboards provider: apiVersion 1, type file, a path")
check(p.get("allowUiUpdates") is False, "dashboards provider: no UI updates (the repository is the source)")
s = yaml.safe_load(open("dashboards/provisioning/datasources/prometheus.yml"))
ds = s["datasources"][0]
check(s.get("apiVersion") == 1 and ds.get("type") == "prometheus" and ds.get("url", "").endswith(":9090"),
      "data source: a Prometheus on port 9090")
check(ds.get("jsonData", {}).get("timeInterval") == "15s", "data source: timeInterval = the scrape interval (15s)")
prom = yaml.safe_load(open("rules/prometheus.yml"))
check(prom["global"]["scrape_interval"] == ds["jsonData"]["timeInterval"], "timeInterval matches prometheus.yml's scrape_interval")
sys.exit(0 if ok else 1)
EOF
}
step "Grafana provisioning files" provisioning

exprs_list() {
  local out
  out=$("$PY" rules/tests/exprs.py --list) || return 1
  "$PY" - "$out" <<'EOF'
import json, sys
items = [json.loads(l) for l in sys.argv[1].splitlines()]
kinds = {}
for i in items:
    kinds[i["kind"]] = kinds.get(i["kind"], 0) + 1
print("exprs: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
bad = [i for i in items if "$" in i["expr"] or "[[" in i["expr"]]
for i in bad:
    print(f"exprs: FAILED: Grafana variable left in {i['source']}: {i['expr']}")
ok = not bad and kinds.get("alert") == 15 and kinds.get("panel", 0) >= 20 and kinds.get("alert-selector", 0) >= 15
sys.exit(0 if ok else 1)
EOF
}
step "PromQL extractor (rules/tests/exprs.py --list)" exprs_list

if [[ -n $YAMLLINT ]]; then
  step "yamllint rules/ dashboards/provisioning/" "$YAMLLINT" -s \
    -d '{extends: default, rules: {line-length: {max: 200}, document-start: disable}}' \
    rules/ dashboards/provisioning/
else
  echo "(yamllint not installed: skipped)"
fi

printf '\n'
if ((${#failed[@]})); then
  printf 'rules/tests/run.sh: FAILED: %s\n' "${failed[*]}"
  exit 1
fi
echo "rules/tests/run.sh: all monitoring checks passed"

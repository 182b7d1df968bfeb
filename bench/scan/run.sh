#!/usr/bin/env bash
# Benchmark: srp-gate and srp-scan-exporter on a synthetic Trivy report of
# 100,000 vulnerabilities (N=... to change), side by side with jq counting
# severities on the same file. Targets: gate < 1 s and peak RSS < 3x the
# file's size, with VEX and KEV matching on: the gate is measured with a
# policy that reads a CISA KEV feed (block_kev) and a FIRST EPSS CSV
# (epss_threshold) and with an OpenVEX document (--vex), all sized like the
# real feeds (gen_feeds.py), as well as without them.
# Needs: python3, hyperfine, /usr/bin/time (Debian: time), curl, jq.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
N="${N:-100000}"
RUNS="${RUNS:-5}"
WORK="$(mktemp -d)"
EXPORTER_PID=""
cleanup() {
  if [[ -n "$EXPORTER_PID" ]]; then kill "$EXPORTER_PID" 2>/dev/null || true; wait "$EXPORTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for tool in python3 hyperfine curl jq; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "missing /usr/bin/time (apt-get install time)" >&2; exit 1; }

echo "== building (release)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p srp-scan-exporter)
GATE="$TARGET_DIR/release/srp-gate"
EXPORTER="$TARGET_DIR/release/srp-scan-exporter"

REPORT="$WORK/trivy-$N.json"
echo "== generating a Trivy report with $N vulnerabilities"
python3 "$(dirname "$0")/gen_trivy.py" "$N" "$REPORT"
echo "== generating the KEV and EPSS feeds, an OpenVEX document and the policy"
python3 "$(dirname "$0")/gen_feeds.py" "$N" "$WORK"
SIZE=$(stat -c %s "$REPORT")
EXPLOIT=(--policy "$WORK/policy.toml" --vex "$WORK/vex.json")
for f in kev.json epss.csv vex.json; do
  awk -v f="$f" -v s="$(stat -c %s "$WORK/$f")" 'BEGIN {printf "%s: %.1f MB\n", f, s / 1e6}'
done
echo "load average before measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall times suffer on a shared machine; user+sys is the cost)"
awk -v s="$SIZE" 'BEGIN {printf "report: %d bytes (%.1f MB)\n", s, s / 1e6}'

echo
echo "== gate time (srp-gate exits 1 here: the report has HIGH/CRITICAL findings)"
hyperfine --warmup 1 --runs "$RUNS" -i --export-json "$WORK/hf.json" \
  -n srp-gate "$GATE -q $REPORT" \
  -n "srp-gate + KEV, EPSS, VEX" "$GATE -q ${EXPLOIT[*]} $REPORT" \
  -n "jq (count severities)" "jq '[.Results[].Vulnerabilities[]?.Severity] | group_by(.) | map({(.[0]): length}) | add' $REPORT"

peak() { # peak RSS in kB of a command
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
}
echo
echo "== peak memory (/usr/bin/time -v)"
GATE_KB=$(peak "$GATE" -q --summary-json "$WORK/summary.json" --junit "$WORK/junit.xml" "$REPORT" || true)
XGATE_KB=$(peak "$GATE" -q "${EXPLOIT[@]}" --summary-json "$WORK/xsummary.json" --junit "$WORK/xjunit.xml" "$REPORT" || true)
JQ_KB=$(peak jq '[.Results[].Vulnerabilities[]?.Severity] | group_by(.) | map({(.[0]): length}) | add' "$REPORT")
ratio() { awk -v kb="$1" -v s="$SIZE" 'BEGIN {printf "%.2f", kb * 1024 / s}'; }
printf 'srp-gate (with --summary-json and --junit): %d kB = %sx the file\n' "$GATE_KB" "$(ratio "$GATE_KB")"
printf 'srp-gate + KEV, EPSS, VEX (same outputs):    %d kB = %sx the file\n' "$XGATE_KB" "$(ratio "$XGATE_KB")"
printf 'jq:                                          %d kB = %sx the file\n' "$JQ_KB" "$(ratio "$JQ_KB")"
echo "with KEV, EPSS and VEX, the matching the gate did (from its summary):"
jq -c '{verdict, blocking: (.blocking | length),
  blocking_by_rule: ([.blocking[].rules[]?] | group_by(.) | map({(.[0]): length}) | add),
  vex_statements: .vex.statements, vex_suppressed: (.vex.suppressed | length), vex_unused: (.vex.unused | length),
  waived}' "$WORK/xsummary.json"

echo
echo "== exporter ingest time (POST /reports, parse + judge + SQLite + metrics)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$EXPORTER" --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --log-level warn &
EXPORTER_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
for build in $(seq 1 "$RUNS"); do
  curl -s -o /dev/null -w "build $build: HTTP %{http_code}, %{time_total} s\n" \
    --data-binary @"$REPORT" "http://127.0.0.1:$PORT/reports?pipeline=bench&build=$build&target=srp-api"
done
echo "exporter peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$EXPORTER_PID/status")"
awk -v runs="$RUNS" -v hz="$(getconf CLK_TCK)" '{printf "exporter CPU (user+sys) per ingest: %.2f s\n", ($14 + $15) / hz / runs}' "/proc/$EXPORTER_PID/stat"
echo "exporter's counts, then jq's on the same file (must agree):"
curl -s "http://127.0.0.1:$PORT/metrics" | grep '^srp_scan_findings{.*vulnerability' | grep -v ' 0$' || true
jq -c '[.Results[].Vulnerabilities[]?.Severity] | group_by(.) | map({(.[0]): length}) | add' "$REPORT"

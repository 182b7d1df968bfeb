#!/usr/bin/env bash
# srp-api against its reference peer (the original FastAPI + SQLAlchemy +
# uvicorn stack, bench/peers/fastapi), side by side in one run: same routes,
# same kind of database (a SQLite file in WAL mode each), same load (wrk, 32
# connections). Prints requests/s, p50/p99 latency, CPU time per request,
# resident memory and the ratios against the issue's targets. Stops everything
# it started.
#
# Knobs (environment): DURATION (default 10s), CONNECTIONS (32), THREADS (2),
# ROWS (1000), PEER_WORKERS (uvicorn workers, default 1 as `uvicorn app:app`),
# ROUTES (default "health list create"), VERBOSE=1 to see wrk's own output.
# BASELINE_BIN=/path/to/srp-api also runs that binary (an older build, for an
# A/B in the same run and under the same load) as a third server, "baseline".
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEER_DIR="$ROOT/bench/peers/fastapi"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
ROWS="${ROWS:-1000}"
PEER_WORKERS="${PEER_WORKERS:-1}"
ROUTES="${ROUTES:-health list create}"
BASELINE_BIN="${BASELINE_BIN:-}"

say() { printf 'bench: %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { say "missing $1 (${2})"; exit 1; }; }
need wrk "apt-get install wrk"
need curl "apt-get install curl"
need python3 "apt-get install python3 python3-venv"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. srp-api, release build (once; cargo skips it when nothing changed).
say "building srp-api (release)"
cargo build --release --locked -p srp-api --manifest-path "$ROOT/Cargo.toml" >&2
API_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/srp-api"

# 2. The peer, in a venv of its own under .local/ (re-created when the pins change).
VENV="$ROOT/.local/bench-fastapi-venv"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$PEER_DIR/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/uvicorn" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  say "installing the FastAPI peer into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$PEER_DIR/requirements.txt" >&2
  echo "$want" >"$STAMP"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_healthy() {
  for _ in $(seq 1 100); do
    curl -fsS "http://$1/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  say "$2 did not become healthy on $1"
  exit 1
}
# CPU time (user + system, in clock ticks) of a process and its children:
# req/s on a shared machine depends on the scheduler's share, CPU per request
# does not.
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
CLK_TCK="$(getconf CLK_TCK)"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

API_ADDR="127.0.0.1:$(free_port)"
PEER_ADDR="127.0.0.1:$(free_port)"
mkdir -p "$WORK/api" "$WORK/peer" "$WORK/base"

# Writes need a token (issue 20): one with projects:write for the seeding and
# the POST run, sent to both servers (the peer ignores it), so both do the
# same work per request apart from srp-api's token check.
say "creating a projects:write token for srp-api"
SRP_TOKEN="$("$API_BIN" --database-url "sqlite:$WORK/api/srp.db" --log-level warn \
  token create --name bench --scope projects:write | tail -n 1)"
export SRP_TOKEN

say "starting srp-api on $API_ADDR"
(cd "$WORK/api" && exec "$API_BIN" --listen "$API_ADDR" --database-url "sqlite:$WORK/api/srp.db" \
  --log-level warn 2>"$WORK/api.log") &
API_PID=$!
PIDS+=("$API_PID")

if [[ -n "$BASELINE_BIN" ]]; then
  BASE_ADDR="127.0.0.1:$(free_port)"
  BASE_TOKEN="$("$BASELINE_BIN" --database-url "sqlite:$WORK/base/srp.db" --log-level warn \
    token create --name bench --scope projects:write | tail -n 1)"
  say "starting the baseline $BASELINE_BIN on $BASE_ADDR"
  (cd "$WORK/base" && exec "$BASELINE_BIN" --listen "$BASE_ADDR" --database-url "sqlite:$WORK/base/srp.db" \
    --log-level warn 2>"$WORK/base.log") &
  BASE_PID=$!
  PIDS+=("$BASE_PID")
fi

say "starting the FastAPI peer on $PEER_ADDR ($PEER_WORKERS uvicorn worker(s))"
(cd "$PEER_DIR" && DATABASE_URL="sqlite:///$WORK/peer/peer.db" exec "$VENV/bin/uvicorn" app:app \
  --host 127.0.0.1 --port "${PEER_ADDR##*:}" --workers "$PEER_WORKERS" \
  --log-level warning --no-access-log 2>"$WORK/peer.log") &
PEER_PID=$!
PIDS+=("$PEER_PID")

wait_healthy "$API_ADDR" srp-api
wait_healthy "$PEER_ADDR" "the FastAPI peer"
[[ -n "$BASELINE_BIN" ]] && wait_healthy "$BASE_ADDR" baseline
sleep 1
API_IDLE_KB="$(rss_kb "$API_PID")"
PEER_IDLE_KB="$(rss_kb "$PEER_PID")"

say "seeding $ROWS projects into each"
"$VENV/bin/python" "$PEER_DIR/seed.py" "$API_ADDR" "$ROWS" seed
"$VENV/bin/python" "$PEER_DIR/seed.py" "$PEER_ADDR" "$ROWS" seed
if [[ -n "$BASELINE_BIN" ]]; then
  SRP_TOKEN="$BASE_TOKEN" "$VENV/bin/python" "$PEER_DIR/seed.py" "$BASE_ADDR" "$ROWS" seed
fi

# wrk's latency units to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}

# srp-api's own view of a route's latency, from its http_request_duration_seconds
# histogram: "requests_within_5ms requests" for the route. Against wrk's p99 it
# tells the time spent handling the request from the time outside it (the
# scheduler, wrk itself, socket queues).
declare -A METHOD=([health]=GET [list]=GET [create]=POST)
declare -A ROUTE=([health]=/health [list]=/projects [create]=/projects)
server_hist() {
  curl -fsS "http://$1/metrics" | awk -v m="${METHOD[$2]}" -v r="${ROUTE[$2]}" '
    index($1, "http_request_duration_seconds_bucket{method=\"" m "\",route=\"" r "\",") == 1 {
      if (index($1, "le=\"0.005\"")) fast = $2
      if (index($1, "le=\"+Inf\"")) all = $2 }
    END { printf "%d %d", fast, all }'
}

# run_wrk ADDR ROUTE TAG PID -> "rps p50 p99 cpu_us_per_request non2xx server_over_5ms errors"
run_wrk() {
  local addr=$1 route=$2 tag=$3 pid=$4 out cpu0 cpu1 h0=(0 0) h1=(0 0)
  [[ $tag == peer-* ]] || read -r -a h0 <<<"$(server_hist "$addr" "$route")"
  cpu0="$(cpu_ticks "$pid")"
  case "$route" in
    health) out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://$addr/health")" ;;
    list) out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "http://$addr/projects?limit=20")" ;;
    create) out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$HERE/post.lua" "http://$addr/projects" -- "$tag")" ;;
  esac
  cpu1="$(cpu_ticks "$pid")"
  [[ $tag == peer-* ]] || read -r -a h1 <<<"$(server_hist "$addr" "$route")"
  if [[ -n "${VERBOSE:-}" ]]; then echo "$out" >&2; fi
  local rps p50 p99 non2xx errors requests cpu_us
  rps="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$out")"
  errors="$(awk '/Socket errors/ {print $0}' <<<"$out" | tr -s ' ')"
  requests="$(awk '/requests in/ {print $1}' <<<"$out")"
  cpu_us="$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.0f", t * 1e6 / hz / n }')"
  local over="-"
  if [[ $tag != peer-* ]]; then
    over="$(awk -v f=$((h1[0] - h0[0])) -v a=$((h1[1] - h0[1])) 'BEGIN { if (a > 0) printf "%.2f%%", 100 * (a - f) / a; else print "-" }')"
  fi
  echo "$rps $p50 $p99 $cpu_us ${non2xx:-0} $over ${errors:+yes}"
}

declare -A LABEL=([health]="GET /health" [list]="GET /projects?limit=20" [create]="POST /projects")
results=()
misses=0
printf '\nwrk -t%s -c%s -d%s, %s rows, machine: %s cores\n\n' "$THREADS" "$CONNECTIONS" "$DURATION" "$ROWS" "$(nproc)"
printf '%-24s %-9s %10s %9s %9s %12s %8s %10s\n' route server "req/s" "p50 ms" "p99 ms" "CPU us/req" non-2xx "srv >5ms"
for route in $ROUTES; do
  read -r a_rps a_p50 a_p99 a_cpu a_bad a_over a_err <<<"$(run_wrk "$API_ADDR" "$route" "api-$route-$$" "$API_PID")"
  # The baseline right after srp-api, so that the A/B sees the same load.
  if [[ -n "$BASELINE_BIN" ]]; then
    read -r b_rps b_p50 b_p99 b_cpu b_bad b_over _ <<<"$(SRP_TOKEN="$BASE_TOKEN" run_wrk "$BASE_ADDR" "$route" "base-$route-$$" "$BASE_PID")"
  fi
  read -r p_rps p_p50 p_p99 p_cpu p_bad _ p_err <<<"$(run_wrk "$PEER_ADDR" "$route" "peer-$route-$$" "$PEER_PID")"
  printf '%-24s %-9s %10s %9s %9s %12s %8s %10s\n' "${LABEL[$route]}" srp-api "$a_rps" "$a_p50" "$a_p99" "$a_cpu" "$a_bad" "$a_over"
  if [[ -n "$BASELINE_BIN" ]]; then
    printf '%-24s %-9s %10s %9s %9s %12s %8s %10s\n' "" baseline "$b_rps" "$b_p50" "$b_p99" "$b_cpu" "$b_bad" "$b_over"
  fi
  printf '%-24s %-9s %10s %9s %9s %12s %8s\n' "" fastapi "$p_rps" "$p_p50" "$p_p99" "$p_cpu" "$p_bad"
  ratio="$(awk -v a="$a_rps" -v p="$p_rps" 'BEGIN { if (p > 0) printf "%.1f", a / p; else print "inf" }')"
  cpu_ratio="$(awk -v a="$a_cpu" -v p="$p_cpu" 'BEGIN { if (a > 0) printf "%.1f", p / a; else print "inf" }')"
  printf '%-24s %-9s %9sx %41s\n' "" ratio "$ratio" "${cpu_ratio}x less CPU"
  [[ -n "$a_err$p_err" ]] && say "socket errors during ${LABEL[$route]} (see wrk output above)"
  results+=("${LABEL[$route]}|$ratio|$a_p99|$cpu_ratio|$a_over")
done

API_AFTER_KB="$(hwm_kb "$API_PID")"
PEER_AFTER_KB="$(hwm_kb "$PEER_PID")"
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
printf '\n%-24s %-9s %10s %12s\n' "resident memory" server "idle MB" "peak MB"
printf '%-24s %-9s %10s %12s\n' "" srp-api "$(mb "$API_IDLE_KB")" "$(mb "$API_AFTER_KB")"
printf '%-24s %-9s %10s %12s\n' "" fastapi "$(mb "$PEER_IDLE_KB")" "$(mb "$PEER_AFTER_KB")"

printf '\ntargets (issue 2):\n'
for r in "${results[@]}"; do
  IFS='|' read -r label ratio p99 cpu_ratio over <<<"$r"
  ok_ratio="$(awk -v r="$ratio" 'BEGIN { print (r == "inf" || r >= 30) ? "met" : "MISSED" }')"
  ok_p99="$(awk -v p="$p99" 'BEGIN { print (p < 5) ? "met" : "MISSED" }')"
  [[ $ok_ratio == met && $ok_p99 == met ]] || misses=$((misses + 1))
  printf '  %-24s >=30x req/s: %-6s (%sx; %sx in CPU per request)   p99 < 5 ms: %-6s (%s ms; %s of requests over 5 ms in srp-api'"'"'s own histogram)\n' \
    "$label" "$ok_ratio" "$ratio" "$cpu_ratio" "$ok_p99" "$p99" "$over"
done
ok_rss="$(awk -v k="$API_IDLE_KB" 'BEGIN { print (k < 10240) ? "met" : "MISSED" }')"
[[ $ok_rss == met ]] || misses=$((misses + 1))
printf '  %-24s < 10 MB: %s (%s MB)\n' "srp-api idle RSS" "$ok_rss" "$(mb "$API_IDLE_KB")"
printf '\n%d target(s) missed\n' "$misses"
printf 'load average during the run: %s (req/s and latency on a shared machine follow the\nscheduler; CPU per request does not)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"

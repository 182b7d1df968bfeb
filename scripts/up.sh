#!/usr/bin/env bash
# The main job: build SRP and run the whole platform locally on embedded
# defaults — srp-api on SQLite, the four agents, and Prometheus + Alertmanager
# with the repository's own rules and configs. Ctrl-C stops everything.
#
# Everything listens on loopback. State (databases, TSDB, logs, rendered
# configs) goes to $SRP_STATE_DIR (default .local/stack). Ports, the build
# profile and Slack delivery are set from the environment:
#   SRP_API_PORT=8000 SRP_NODE_PORT=9100 SRP_SCAN_PORT=9740 SRP_DISK_PORT=9741
#   SRP_RELAY_PORT=9742 SRP_PROM_PORT=9090 SRP_AM_PORT=9093 SRP_PGEXP_PORT=9187
#   SRP_PROFILE=release|debug    SRP_NO_BUILD=1 (use binaries already built)
#   SRP_SLACK_WEBHOOK_URL, or SRP_SLACK_TOKEN + SRP_SLACK_CHANNEL (else the
#   relay prints messages to its log), SRP_SLACK_API_URL (a Slack mock).
#   SRP_POSTGRES_DSN  also run postgres_exporter against this DSN.
#   SRP_DISK_MOUNTS   space-separated mount points the disk guard watches (default /).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STATE="${SRP_STATE_DIR:-$ROOT/.local/stack}"
PROFILE="${SRP_PROFILE:-release}"
API_PORT="${SRP_API_PORT:-8000}"
NODE_PORT="${SRP_NODE_PORT:-9100}"
SCAN_PORT="${SRP_SCAN_PORT:-9740}"
DISK_PORT="${SRP_DISK_PORT:-9741}"
RELAY_PORT="${SRP_RELAY_PORT:-9742}"
PROM_PORT="${SRP_PROM_PORT:-9090}"
AM_PORT="${SRP_AM_PORT:-9093}"
PGEXP_PORT="${SRP_PGEXP_PORT:-9187}"
DISK_MOUNTS="${SRP_DISK_MOUNTS:-/}"

say() { printf 'srp: %s\n' "$*"; }

# Only what the local platform runs: Prometheus and Alertmanager (and
# postgres_exporter when asked for), from Debian. Not the test tool chain
# (scripts/setup.sh installs that for scripts/test.sh).
if [[ "${SRP_SKIP_SETUP:-}" != 1 ]]; then
  want=(prometheus prometheus-alertmanager curl)
  [[ -n "${SRP_POSTGRES_DSN:-}" ]] && want+=(prometheus-postgres-exporter)
  missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
      say "missing ${missing[*]}: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
      exit 1
    fi
    say "installing ${missing[*]} (Debian packages)"
    # Their postinst would start them on the default ports: this script starts
    # its own on loopback instead.
    policy_created=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      policy_created=1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    if ((policy_created)); then rm -f /usr/sbin/policy-rc.d; fi
  fi
fi

BINARIES=(srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay)
if [[ "$PROFILE" == release ]]; then
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release"
  build_flags=(--release)
else
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
  build_flags=()
fi
if [[ "${SRP_NO_BUILD:-}" != 1 ]]; then
  say "building ${BINARIES[*]} ($PROFILE)"
  pkg_flags=()
  for p in srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay; do
    pkg_flags+=(-p "$p")
  done
  cargo build --locked "${build_flags[@]}" "${pkg_flags[@]}" --bins
fi
for b in "${BINARIES[@]}"; do
  [[ -x "$BIN/$b" ]] || { say "missing binary $BIN/$b"; exit 1; }
done

rm -f "$STATE/run/ready"
mkdir -p "$STATE"/{run,log,conf,api,scan/reports,scan/data,disk,relay,prometheus,alertmanager}
CONF="$STATE/conf"

# The relay's inbound bearer token: Alertmanager reads it from a file, and so
# does the relay. Made once per state directory, readable by its owner only.
TOKEN_FILE="$CONF/relay.token"
if [[ ! -s "$TOKEN_FILE" ]]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN_FILE")
fi

# Render the repository's configs for these ports; nothing else is changed.
ports_sed=(
  -e "s/127\.0\.0\.1:8000/127.0.0.1:$API_PORT/g"
  -e "s/127\.0\.0\.1:9100/127.0.0.1:$NODE_PORT/g"
  -e "s/127\.0\.0\.1:9740/127.0.0.1:$SCAN_PORT/g"
  -e "s/127\.0\.0\.1:9741/127.0.0.1:$DISK_PORT/g"
  -e "s/127\.0\.0\.1:9742/127.0.0.1:$RELAY_PORT/g"
  -e "s/127\.0\.0\.1:9090/127.0.0.1:$PROM_PORT/g"
  -e "s/127\.0\.0\.1:9093/127.0.0.1:$AM_PORT/g"
  -e "s/127\.0\.0\.1:9187/127.0.0.1:$PGEXP_PORT/g"
)
# Prometheus scrapes only what this script starts, so every target is up:
# Jenkins is never here, postgres_exporter only with SRP_POSTGRES_DSN.
started_jobs=" srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay alertmanager prometheus "
[[ -n "${SRP_POSTGRES_DSN:-}" ]] && started_jobs+="postgres "
# Each job's block starts at its "  - job_name:" line; the comments above a
# job go (or stay) with it.
only_started_jobs() {
  awk -v keep="$started_jobs" '
    /^scrape_configs:/ { in_sc = 1; print; next }
    in_sc && /^[^ #]/ { in_sc = 0; printf "%s", buf; buf = "" }
    !in_sc { print; next }
    /^  - job_name:/ { emit = index(keep, " " $3 " ") > 0; if (emit) printf "%s", buf; buf = ""; if (emit) print; next }
    /^  #/ || /^$/ { buf = buf $0 "\n"; next }
    { if (emit) print }
    END { if (emit) printf "%s", buf }'
}
sed "${ports_sed[@]}" rules/prometheus.yml | only_started_jobs >"$CONF/prometheus.yml"
cp rules/alerts.yml "$CONF/alerts.yml"
sed "${ports_sed[@]}" -e "s#credentials_file: .*#credentials_file: $TOKEN_FILE#" \
  rules/alertmanager.yml >"$CONF/alertmanager.yml"

# The disk guard watches and reports, but on a developer's machine it deletes
# nothing: the local stack runs it in dry-run with no cleanup policy.
{
  echo "# Rendered by scripts/up.sh: watch only, never delete."
  echo "dry_run = true"
  for m in $DISK_MOUNTS; do
    printf '\n[[mount]]\npath = "%s"\n' "$m"
  done
} >"$CONF/disk-guard.toml"

PIDS=()
NAMES=()
cleanup() {
  trap - INT TERM EXIT
  say "stopping"
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    wait "${PIDS[$i]}" 2>/dev/null || true
    rm -f "$STATE/run/${NAMES[$i]}.pid"
  done
  say "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: run in the background, log to $STATE/log/NAME.log, and
# leave its pid and command line in $STATE/run so tests can stop and restart
# one service (the end-to-end test does this with the API).
start() {
  local name=$1
  shift
  printf '%s\n' "$@" >"$STATE/run/$name.cmd"
  "$@" >>"$STATE/log/$name.log" 2>&1 &
  PIDS+=($!)
  NAMES+=("$name")
  echo $! >"$STATE/run/$name.pid"
}

wait_http() {
  local name=$1 url=$2 i
  for ((i = 0; i < 150; i++)); do
    if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$(cat "$STATE/run/$name.pid")" 2>/dev/null; then
      say "$name exited; last lines of $STATE/log/$name.log:"
      tail -n 20 "$STATE/log/$name.log" >&2
      return 1
    fi
    sleep 0.2
  done
  say "$name did not answer at $url within 30 s"
  return 1
}

export SRP_LOG_FORMAT=text

start srp-api "$BIN/srp-api" --listen "127.0.0.1:$API_PORT" \
  --database-url "sqlite:$STATE/api/srp.db"
start srp-node-exporter "$BIN/srp-node-exporter" --listen "127.0.0.1:$NODE_PORT"
start srp-scan-exporter "$BIN/srp-scan-exporter" --listen "127.0.0.1:$SCAN_PORT" \
  --reports-dir "$STATE/scan/reports" --data-dir "$STATE/scan/data"
start srp-disk-guard "$BIN/srp-disk-guard" --listen "127.0.0.1:$DISK_PORT" \
  --config "$CONF/disk-guard.toml" --data-dir "$STATE/disk"
relay_flags=(--listen "127.0.0.1:$RELAY_PORT" --data-dir "$STATE/relay" --auth-token-file "$TOKEN_FILE")
[[ -n "${SRP_SLACK_CHANNEL:-}" ]] && relay_flags+=(--slack-channel "$SRP_SLACK_CHANNEL")
[[ -n "${SRP_SLACK_API_URL:-}" ]] && relay_flags+=(--slack-api-url "$SRP_SLACK_API_URL")
start srp-slack-relay "$BIN/srp-slack-relay" "${relay_flags[@]}"
if [[ -n "${SRP_POSTGRES_DSN:-}" ]]; then
  DATA_SOURCE_NAME="$SRP_POSTGRES_DSN" start postgres-exporter prometheus-postgres-exporter \
    --web.listen-address "127.0.0.1:$PGEXP_PORT"
fi
start alertmanager prometheus-alertmanager --config.file "$CONF/alertmanager.yml" \
  --storage.path "$STATE/alertmanager" --web.listen-address "127.0.0.1:$AM_PORT" \
  --cluster.listen-address= --web.external-url "http://127.0.0.1:$AM_PORT"
start prometheus prometheus --config.file "$CONF/prometheus.yml" \
  --storage.tsdb.path "$STATE/prometheus" --web.listen-address "127.0.0.1:$PROM_PORT" \
  --web.external-url "http://127.0.0.1:$PROM_PORT" --web.enable-lifecycle

wait_http srp-api "http://127.0.0.1:$API_PORT/health"
wait_http srp-node-exporter "http://127.0.0.1:$NODE_PORT/metrics"
wait_http srp-scan-exporter "http://127.0.0.1:$SCAN_PORT/health"
wait_http srp-disk-guard "http://127.0.0.1:$DISK_PORT/health"
wait_http srp-slack-relay "http://127.0.0.1:$RELAY_PORT/health"
[[ -n "${SRP_POSTGRES_DSN:-}" ]] && wait_http postgres-exporter "http://127.0.0.1:$PGEXP_PORT/metrics"
wait_http alertmanager "http://127.0.0.1:$AM_PORT/-/ready"
wait_http prometheus "http://127.0.0.1:$PROM_PORT/-/ready"

if [[ -n "${SRP_SLACK_WEBHOOK_URL:-}${SRP_SLACK_TOKEN:-}" ]]; then
  slack_mode="posting to Slack"
else
  slack_mode="log sink: messages in $STATE/log/srp-slack-relay.log"
fi
cat <<EOF

SRP is running (state in $STATE, logs in $STATE/log):
  srp-api             http://127.0.0.1:$API_PORT   (/health /version /projects /docs /metrics)
  srp-node-exporter   http://127.0.0.1:$NODE_PORT/metrics
  srp-scan-exporter   http://127.0.0.1:$SCAN_PORT  (POST /reports, or drop files in $STATE/scan/reports)
  srp-disk-guard      http://127.0.0.1:$DISK_PORT  (dry-run, watching: $DISK_MOUNTS)
  srp-slack-relay     http://127.0.0.1:$RELAY_PORT (${slack_mode})
  Prometheus          http://127.0.0.1:$PROM_PORT  (alerts: /alerts)
  Alertmanager        http://127.0.0.1:$AM_PORT
Press Ctrl-C to stop everything.
EOF
echo "srp: ready" >"$STATE/run/ready"

# Stay up until interrupted. A service that dies is reported, and the rest
# keep running (the end-to-end test stops and restarts the API on purpose).
declare -A reported=()
while true; do
  for i in "${!PIDS[@]}"; do
    if [[ -z "${reported[$i]:-}" ]] && ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
      reported[$i]=1
      say "${NAMES[$i]} exited; see $STATE/log/${NAMES[$i]}.log"
    fi
  done
  sleep 2
done

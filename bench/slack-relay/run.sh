#!/usr/bin/env bash
# Benchmark: notifications accepted per second with a durable commit
# (SQLite WAL, synchronous=FULL, fsync before the 2xx), and p99
# acknowledgement latency, at 16 concurrent senders (wrk).
#
# Two runs of the same relay:
#   sink  - log-sink mode (no Slack), the dispatcher drains the queue into a
#           file while the storm runs (its bookkeeping competes for the writer)
#   paced - Slack down/slow: the webhook points at a closed port, so the
#           queue only grows (the accept path alone, as during an outage)
#
# Targets (issue 5): >= 2,000 notifications/s and p99 < 20 ms.
# Usage: bench/slack-relay/run.sh [DURATION_S]   (needs wrk, curl, python3; sqlite3 optional)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${1:-20}"
CONNS=16
THREADS=2

command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 2; }
command -v curl >/dev/null || { echo "curl is required"; exit 2; }

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -p srp-slack-relay >/dev/null)
BIN="$TARGET_DIR/release/srp-slack-relay"

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

run_case() {
  local name=$1; shift
  local port data log
  port=$(free_port)
  data="$WORK/$name"
  log="$WORK/$name.log"
  echo "secret-bench-token" >"$WORK/token"
  "$BIN" --listen "127.0.0.1:$port" --data-dir "$data" --auth-token-file "$WORK/token" \
    --log-level warn "$@" 2>"$log" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local out
  out=$(BENCH_TOKEN=secret-bench-token wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$HERE/post.lua" "http://127.0.0.1:$port" -- "$name-$RANDOM")
  local metrics rss
  metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local reqs non2xx secs p50 p99 max
  reqs=$(sed -n 's/.*BENCH requests=\([0-9]*\).*/\1/p' <<<"$out")
  non2xx=$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$out")
  secs=$(sed -n 's/.*duration_s=\([0-9.]*\).*/\1/p' <<<"$out")
  p50=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$out")
  p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$out")
  max=$(sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p' <<<"$out")
  local received delivered
  received=$(awk '/^srp_relay_received_total\{source="alertmanager"\}/ {print $2}' <<<"$metrics")
  delivered=$(awk '/^srp_relay_delivered_total\{destination="default"\}/ {print $2}' <<<"$metrics")
  local stored="?"
  if command -v sqlite3 >/dev/null; then
    stored=$(sqlite3 "$data/relay.db" "SELECT COUNT(*) FROM outbox")
  fi
  printf '%-6s accepted/s %8.0f | ack p50 %6s ms  p99 %6s ms  max %7s ms | requests %d non-2xx %s | received_total %s stored rows %s delivered meanwhile %s | peak RSS %s kB\n' \
    "$name" "$(awk -v r="$reqs" -v n="$non2xx" -v s="$secs" 'BEGIN { print (r - n) / s }')" "$p50" "$p99" "$max" "$reqs" "$non2xx" "$received" "$stored" "$delivered" "$rss"
}

echo "srp-slack-relay ingest benchmark: $CONNS concurrent senders, ${DURATION}s each, $(nproc) CPUs, $(date -u +%FT%TZ)"
run_case sink --sink-file "$WORK/sink.jsonl"
run_case paced --slack-webhook-url "http://127.0.0.1:9/hooks/closed" --retry-base 1s
echo "targets: >= 2000 accepted/s, p99 < 20 ms"

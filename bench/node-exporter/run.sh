#!/usr/bin/env bash
# srp-node-exporter vs Debian's prometheus-node-exporter, side by side in one
# run on this machine: series count, p50/p99 over 200 sequential scrapes, CPU
# seconds per 100 scrapes (/proc/PID/stat), resident memory after the 200
# scrapes, and wrk scrapes/s. Scrapes ask for gzip, as Prometheus does.
#
# Usage: bench/node-exporter/run.sh            (builds the release binary)
#   SRP_NODE_EXPORTER_BIN=path  use an existing binary instead of building
#   PEER=/usr/bin/prometheus-node-exporter, SCRAPES=200, WRK_SECONDS=10
# Needs: curl, wrk, awk; stops everything it started.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PEER="${PEER:-/usr/bin/prometheus-node-exporter}"
SCRAPES="${SCRAPES:-200}"
WRK_SECONDS="${WRK_SECONDS:-10}"

for tool in curl wrk awk "$PEER"; do
  command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done

if [[ -z "${SRP_NODE_EXPORTER_BIN:-}" ]]; then
  (cd "$root" && cargo build --release -q -p srp-node-exporter)
  target="${CARGO_TARGET_DIR:-$root/target}"
  SRP_NODE_EXPORTER_BIN="$target/release/srp-node-exporter"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# node_exporter's upstream defaults for both (Debian's build adds /run, /mnt,
# /media to the mount excludes and lo to the netdev excludes).
mount_ex='^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)'
mkdir -p "$work/textfile"
common=("--collector.filesystem.mount-points-exclude=$mount_ex" "--collector.textfile.directory=$work/textfile")

peer_port="$(free_port)"
"$PEER" --web.listen-address="127.0.0.1:$peer_port" "${common[@]}" \
  --collector.netdev.device-exclude= >"$work/peer.log" 2>&1 &
peer_pid=$!
pids+=("$peer_pid")

ours_port="$(free_port)"
"$SRP_NODE_EXPORTER_BIN" --listen "127.0.0.1:$ours_port" "${common[@]}" --log-level warn \
  >"$work/ours.log" 2>&1 &
ours_pid=$!
pids+=("$ours_pid")

wait_up() {
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/metrics" && return 0
    sleep 0.1
  done
  echo "exporter on port $1 did not start" >&2
  exit 1
}
wait_up "$peer_port"
wait_up "$ours_port"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hz="$(getconf CLK_TCK)"

declare -A series p50 p99 cpu rss rps bytes
measure() { # name port pid
  local name=$1 pid=$3 url="http://127.0.0.1:$2/metrics"
  curl -s --compressed "$url" >"$work/$name.txt"
  series[$name]=$(grep -c '^node_' "$work/$name.txt")
  bytes[$name]=$(curl -s -H 'Accept-Encoding: gzip' "$url" | wc -c)
  local before after
  before=$(cpu_ticks "$pid")
  for _ in $(seq "$SCRAPES"); do
    curl -s --compressed -o /dev/null -w '%{time_total}\n' "$url"
  done >"$work/$name.times"
  after=$(cpu_ticks "$pid")
  rss[$name]=$(rss_kb "$pid")
  cpu[$name]=$(awk -v d="$((after - before))" -v hz="$hz" -v n="$SCRAPES" 'BEGIN {printf "%.3f", d / hz * 100 / n}')
  read -r "p50[$name]" "p99[$name]" < <(sort -n "$work/$name.times" | awk '
    { t[NR] = $1 }
    END { i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999);
          printf "%.2f %.2f\n", t[i50] * 1000, t[i99] * 1000 }')
  rps[$name]=$(wrk -t2 -c4 -d"${WRK_SECONDS}s" -H 'Accept-Encoding: gzip' "$url" 2>/dev/null |
    awk '/Requests\/sec/ {printf "%.0f", $2}')
}

measure node_exporter "$peer_port" "$peer_pid"
measure srp "$ours_port" "$ours_pid"

# Series node_exporter has that ours lacks, outside the build info and the
# collectors not implemented here (go_* and promhttp_* are not node_*).
unimpl='^node_(exporter_build_info|scrape_collector_(duration_seconds|success)\{collector="(systemd)"\})'
grep '^node_' "$work/node_exporter.txt" | sed -E 's/ [^ ]+$//' | sort >"$work/p.series"
grep '^node_' "$work/srp.txt" | sed -E 's/ [^ ]+$//' | sort >"$work/o.series"
missing=$(comm -23 "$work/p.series" "$work/o.series" | grep -vcE "$unimpl" || true)

echo
echo "srp-node-exporter vs $("$PEER" --version 2>&1 | head -1) — $(nproc) CPUs, $SCRAPES sequential scrapes each (gzip), wrk ${WRK_SECONDS}s -t2 -c4"
printf '%-34s %16s %18s %8s\n' "" "node_exporter" "srp-node-exporter" "ratio"
row() { # label peer ours  (ratio = ours / peer)
  printf '%-34s %16s %18s %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')"
}
peer_impl=$(grep -vcE "$unimpl" "$work/p.series" || true)
row "node_* series" "${series[node_exporter]}" "${series[srp]}"
row "  of the collectors implemented" "$peer_impl" "${series[srp]}"
row "gzip bytes per scrape" "${bytes[node_exporter]}" "${bytes[srp]}"
row "p50 scrape (ms)" "${p50[node_exporter]}" "${p50[srp]}"
row "p99 scrape (ms)" "${p99[node_exporter]}" "${p99[srp]}"
row "CPU seconds per 100 scrapes" "${cpu[node_exporter]}" "${cpu[srp]}"
row "RSS after scrapes (kB)" "${rss[node_exporter]}" "${rss[srp]}"
row "wrk scrapes/s" "${rps[node_exporter]}" "${rps[srp]}"
echo "node_exporter series missing from srp-node-exporter (implemented collectors): $missing"
echo "targets: RSS <= 0.25, CPU <= 0.25, p50 <= 0.33 (ratio column), missing = 0"

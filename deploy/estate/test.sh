#!/usr/bin/env bash
# The estate suite: the five SRP Debian packages built and lintian-checked,
# then installed into a booted Debian 12 guest (systemd as PID 1, under QEMU)
# and proven there with the hardening they ship:
#   - installing starts and enables nothing;
#   - each unit reaches active through Type=notify (READY=1, no start timeout),
#     with the watchdog set and fed; SIGKILL is followed by a restart; a stop
#     ends inside TimeoutStopSec;
#   - systemd-analyze security on the running units at or under the ceilings
#     (1.5; 3.0 for the disk guard), and each still serving /health and
#     /metrics: the node exporter's collectors succeed as they do unsandboxed,
#     the disk guard samples /, the relay writes its outbox and delivers to a
#     Slack stand-in on this machine's loopback (reached as 10.0.2.2);
#   - no secret on a command line or in `systemctl show`.
# Prints the boot time and each unit's online exposure score.
#
#   deploy/estate/test.sh
# Environment: SRP_ESTATE_BIN_DIR (default <target>/debug, built if missing),
# SRP_ESTATE_ACCEL (auto|kvm|tcg), CI (set: a guest that does not boot fails the
# run; unset: it is reported as not ok too, the suite cannot go on without it).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export PATH="$ROOT/.local/venv/bin:$PATH"
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/checks.sh
source "$ROOT/scripts/lib/checks.sh"

UNITS=(srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay)
declare -A PORT=([srp-api]=8000 [srp-node-exporter]=9100 [srp-scan-exporter]=9740 [srp-disk-guard]=9741 [srp-slack-relay]=9742)
# Exposure ceilings, in tenths (15 = 1.5).
declare -A CEILING=([srp-api]=15 [srp-node-exporter]=15 [srp-scan-exporter]=15 [srp-disk-guard]=30 [srp-slack-relay]=15)
declare -A SCORE=()

TMP="$(mktemp -d "${TMPDIR:-/tmp}/srp-estate.XXXXXX")"
STATE="$TMP/guest"
STANDIN_PID=""
cleanup() {
  # Only what this run started: its guest (by the pid QEMU wrote) and its stand-in.
  bash "$HERE/guest.sh" stop "$STATE" 2>/dev/null
  [[ -n $STANDIN_PID ]] && kill "$STANDIN_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
g() { bash "$HERE/guest.sh" ssh "$STATE" "$@"; }
summary() {
  section "timings and scores"
  echo "boot: $(cat "$STATE/boot.seconds" 2>/dev/null || echo '?') s ($(cat "$STATE/accel" 2>/dev/null || echo '?'))"
  local u
  for u in "${UNITS[@]}"; do echo "$u exposure (running): ${SCORE[$u]:-?}"; done
  checks_summary "estate"
}

section "packages"
bin_dir="${SRP_ESTATE_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
bins=(srp-api srp-node-exporter srp-scan-exporter srp-gate srp-disk-guard srp-slack-relay)
for b in "${bins[@]}"; do
  if [[ ! -x $bin_dir/$b ]] && [[ -z ${SRP_ESTATE_BIN_DIR:-} ]]; then
    (cd "$ROOT" && cargo build --locked -q --bins -p srp-api -p srp-node-exporter -p srp-scan-exporter -p srp-disk-guard -p srp-slack-relay) ||
      notok "cargo build"
    break
  fi
done
check "build-debs.sh" bash "$ROOT/deploy/packaging/build-debs.sh" "$bin_dir" "$TMP/debs"
debs=("$TMP"/debs/*.deb)
for deb in "${debs[@]}"; do
  name=$(basename "$deb")
  out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges')
  if [[ -z $out ]]; then ok "lintian $name: clean"; else notok "lintian $name"; printf '%s\n' "$out" | sed 's/^/    | /'; fi
done
for u in "${UNITS[@]}"; do
  deb=("$TMP/debs/${u}_"*.deb)
  # The listing whole first: grep -q would close the pipe on dpkg-deb.
  dpkg-deb -c "${deb[0]}" >"$TMP/contents"
  if grep -q "lib/systemd/system/$u.service" "$TMP/contents"; then ok "$u ships $u.service"; else notok "$u ships no unit"; fi
done
# shellcheck disable=SC2016 # the inner script gets its values as arguments
check "srp-disk-guard marks /etc/srp/disk-guard.toml a conffile" bash -c 'dpkg-deb -I "$1" conffiles | grep -qx /etc/srp/disk-guard.toml' _ "$TMP"/debs/srp-disk-guard_*.deb
# shellcheck disable=SC2016 # the inner script gets its values as arguments
check "srp-api marks /etc/srp/api.env a conffile" bash -c 'dpkg-deb -I "$1" conffiles | grep -qx /etc/srp/api.env' _ "$TMP"/debs/srp-api_*.deb

section "boot the guest"
if ! bash "$HERE/guest.sh" start "$STATE"; then
  notok "the guest booted${CI:+ (CI: a guest that does not boot fails the run)}"
  summary
  exit 1
fi
ok "the guest booted in $(cat "$STATE/boot.seconds") s ($(cat "$STATE/accel")); systemd is PID 1: $(g 'ps -o comm= -p 1')"

section "install the packages"
check "copy the packages into the guest" bash "$HERE/guest.sh" scp "$STATE" /root/ "${debs[@]}"
# The guest is thrown away: skip man-db's index rebuild, minutes under TCG.
check "dpkg -i every package" g 'rm -f /var/lib/man-db/auto-update; cd /root && DEBIAN_FRONTEND=noninteractive dpkg -i ./srp-*.deb'
for u in "${UNITS[@]}"; do
  st=$(g "systemctl is-enabled $u.service; systemctl is-active $u.service" | tr '\n' ' ')
  if [[ $st == "disabled inactive " ]]; then ok "installing $u enabled and started nothing"; else notok "$u after install: $st"; fi
done

section "the Slack stand-in on this machine, and the relay's webhook as a secret"
python3 "$HERE/slack_standin.py" "$TMP/standin.port" "$TMP/standin.jsonl" &
STANDIN_PID=$!
for _ in $(seq 50); do [[ -s $TMP/standin.port ]] && break; sleep 0.1; done
hook="http://10.0.2.2:$(cat "$TMP/standin.port")/services/T0/B0/estate-secret-hook"
check "write the relay's webhook URL into its root-only slack.env" \
  g "umask 077; printf 'SRP_SLACK_WEBHOOK_URL=%s\n' '$hook' >/etc/srp/slack-relay/slack.env"

section "start every unit (Type=notify)"
for u in "${UNITS[@]}"; do
  out=$(g "systemctl enable --now $u.service 2>&1; systemctl show -p Type,ActiveState,SubState,Result,NRestarts,WatchdogUSec $u.service" | tr '\n' ' ')
  if [[ $out == *Type=notify* && $out == *ActiveState=active* && $out == *SubState=running* && $out == *NRestarts=0* && $out == *Result=success* ]]; then
    ok "$u active through Type=notify (READY=1 before the start timeout, no restart)"
  else
    notok "$u did not start: $out"
    g "journalctl -u $u.service -n 15 --no-pager -o cat" | sed 's/^/    | /'
  fi
  wd=$(g "systemctl show -p WatchdogUSec --value $u.service")
  if [[ $wd == 30s ]]; then ok "$u watchdog set (WatchdogSec=$wd)"; else notok "$u watchdog: '$wd'"; fi
done

section "the hardening as it runs: systemd-analyze security"
for u in "${UNITS[@]}"; do
  out=$(g "systemd-analyze security --no-pager $u.service" 2>&1)
  SCORE[$u]=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  c=${CEILING[$u]}
  s=${SCORE[$u]:-99}
  if [[ -n ${SCORE[$u]:-} ]] && ((10#${s/./} <= c)); then
    ok "$u running with exposure $s (ceiling $((c / 10)).$((c % 10)))"
  else
    notok "$u exposure ${SCORE[$u]:-?} over ceiling $((c / 10)).$((c % 10))"
  fi
done

section "each daemon serves /health and /metrics under that hardening"
for u in "${UNITS[@]}"; do
  p=${PORT[$u]}
  check "$u /health 200" g "curl -fsS --max-time 10 http://127.0.0.1:$p/health"
  check "$u /metrics has srp_build_info" g "curl -fsS --max-time 20 http://127.0.0.1:$p/metrics | grep -q '^srp_build_info'"
done
# The collectors the sandbox lets succeed must be those that succeed with no
# sandbox at all (root, same binary, same flags): the rest find nothing to
# report on this guest (no bonding, no NVMe...), with or without the sandbox.
g "curl -fsS --max-time 20 http://127.0.0.1:9100/metrics" >"$TMP/sandboxed.prom"
# shellcheck disable=SC2016 # expanded in the guest
g 'args=$(systemctl show -p ExecStart --value srp-node-exporter.service | sed -n "s/.*argv\[\]=[^ ]* \([^;]*\);.*/\1/p" | sed "s/--listen [^ ]*//");
   /usr/bin/srp-node-exporter $args --listen 127.0.0.1:19100 >/dev/null 2>&1 & p=$!
   for i in $(seq 50); do curl -fsS --max-time 20 http://127.0.0.1:19100/metrics 2>/dev/null && break; sleep 0.2; done; kill $p' >"$TMP/bare.prom"
succ() { grep '^node_scrape_collector_success' "$1" | sed -n 's/.*collector="\([^"]*\)"} 1$/\1/p' | sort; }
if [[ -s $TMP/bare.prom ]] && [[ "$(succ "$TMP/sandboxed.prom")" == "$(succ "$TMP/bare.prom")" ]]; then
  ok "srp-node-exporter: the same $(succ "$TMP/sandboxed.prom" | wc -l) collectors succeed sandboxed as unsandboxed (none fails because of the sandbox)"
else
  notok "srp-node-exporter collectors that fail only in the sandbox: $(comm -13 <(succ "$TMP/sandboxed.prom") <(succ "$TMP/bare.prom") | tr '\n' ' ')"
fi
check "srp-disk-guard samples / (srp_disk_free_ratio)" g "curl -fsS http://127.0.0.1:9741/metrics | grep -q '^srp_disk_free_ratio{mountpoint=\"/\"}'"
payload='{"version":"4","groupKey":"{}:{alertname=\"EstateProbe\"}","truncatedAlerts":0,"status":"firing","receiver":"slack","groupLabels":{"alertname":"EstateProbe"},"commonLabels":{"alertname":"EstateProbe","severity":"warning"},"commonAnnotations":{"summary":"estate probe"},"externalURL":"http://alertmanager:9093","alerts":[{"status":"firing","labels":{"alertname":"EstateProbe","severity":"warning"},"annotations":{"summary":"estate probe"},"startsAt":"2026-01-01T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090","fingerprint":"e5a7e0"}]}'
check "srp-slack-relay accepts an Alertmanager notification" \
  g "curl -fsS --max-time 10 -H 'Content-Type: application/json' --data-binary '$payload' http://127.0.0.1:9742/alertmanager"
delivered=0
for _ in $(seq 60); do grep -q EstateProbe "$TMP/standin.jsonl" 2>/dev/null && { delivered=1; break; }; sleep 0.5; done
if ((delivered)); then ok "srp-slack-relay wrote its outbox and delivered to the stand-in on the host"; else notok "nothing reached the Slack stand-in"; fi
check "the relay's outbox is in its state directory" g 'ls /var/lib/private/srp-slack-relay/ | grep -q .'

section "no secret on a command line or in systemctl show"
leak=$(g "ps -eo args; for u in ${UNITS[*]}; do systemctl show \$u.service; done" | grep -c 'estate-secret-hook')
if ((leak == 0)); then ok "the webhook URL is in no process's arguments and no unit's properties"; else notok "the webhook URL shows in $leak lines of ps/systemctl show"; fi
if g "systemctl show -p Environment --value srp-slack-relay.service" | grep -qi 'slack'; then notok "Environment= names a Slack setting"; else ok "srp-slack-relay's Environment= holds no Slack setting"; fi

section "the watchdog is fed, SIGKILL restarts, stop is clean"
# Pings come every WatchdogSec/2 (15 s): a later read shows a newer one.
first=$(g "for u in ${UNITS[*]}; do systemctl show -p WatchdogTimestampMonotonic --value \$u.service; done")
sleep 20
second=$(g "for u in ${UNITS[*]}; do systemctl show -p WatchdogTimestampMonotonic --value \$u.service; done")
i=0
mapfile -t f1 <<<"$first"
mapfile -t f2 <<<"$second"
for u in "${UNITS[@]}"; do
  if [[ ${f2[$i]:-0} -gt ${f1[$i]:-0} && ${f1[$i]:-0} -gt 0 ]]; then ok "$u pings the watchdog"; else notok "$u watchdog pings: ${f1[$i]:-?} then ${f2[$i]:-?}"; fi
  i=$((i + 1))
done
for u in "${UNITS[@]}"; do
  # shellcheck disable=SC2016 # expanded in the guest
  out=$(g "u=$u; "'old=$(systemctl show -p MainPID --value $u); systemctl kill -s KILL $u;
    for i in $(seq 60); do sleep 1; n=$(systemctl show -p MainPID --value $u); s=$(systemctl is-active $u);
      [ "$s" = active ] && [ "$n" != 0 ] && [ "$n" != "$old" ] && { echo "restarted $old->$n after ${i}s"; exit 0; }; done;
    echo "state $(systemctl is-active $u)"; exit 1')
  if [[ $out == restarted* ]]; then ok "$u after SIGKILL: $out"; else notok "$u after SIGKILL: $out"; fi
done
for u in "${UNITS[@]}"; do
  # shellcheck disable=SC2016 # expanded in the guest
  out=$(g "u=$u; "'t=$(systemctl show -p TimeoutStopUSec --value $u); s=$(date +%s%N); systemctl stop $u;
    e=$((($(date +%s%N) - s) / 1000000)); echo "${e}ms of $t, result $(systemctl show -p Result --value $u)"')
  if [[ $out == *"result success" ]]; then ok "$u stopped in $out"; else notok "$u stop: $out"; fi
done

summary

#!/usr/bin/env bash
# The estate suite: the five SRP Debian packages built and lintian-checked,
# then the whole site.yml converged into a booted Debian 12 guest (systemd as
# PID 1, under QEMU), twice, and the estate proven there:
#   - installing a package by hand starts and enables nothing;
#   - site.yml converges (docker from Debian's docker.io, postgresql, srp_api
#     and srp_agents from the packages, prometheus, alertmanager; grafana and
#     jenkins all but their vendor packages); the second run changes nothing;
#   - each SRP unit active through Type=notify (READY=1, no start timeout),
#     the watchdog set and fed; SIGKILL is followed by a restart; a stop ends
#     inside TimeoutStopSec;
#   - systemd-analyze security on the running units at or under the ceilings
#     (1.5; 3.0 for the disk guard), and each still serving /health and
#     /metrics: the node exporter's collectors succeed as they do unsandboxed,
#     the disk guard samples /, the relay writes its outbox and delivers to a
#     Slack stand-in on this machine's loopback (reached as 10.0.2.2);
#   - the node exporter's systemd collector, on a real systemd, reports what
#     Debian's node_exporter 1.5.0 reports beside it;
#   - no secret on a command line or in `systemctl show`;
#   - the guest's Prometheus scrapes every target up; stopping srp-api brings
#     APIDown FIRING to the stand-in in under 90 s, RESOLVED after the start;
#   - the container image built in the guest's Docker from imported bases
#     (nothing can be pulled there), non-root, healthy, answering;
#   - agents/disk-guard/tests/estate/real-docker.sh and ext4-grow.sh, when they
#     exist, pass in the guest (the disk guard against the real engine; ext4
#     grown online, which this machine's kernel refuses to its root).
# Prints the boot, converge and alert timings and each unit's online exposure.
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
export ANSIBLE_CONFIG="$ROOT/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

UNITS=(srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay)
declare -A PORT=([srp-api]=8000 [srp-node-exporter]=9100 [srp-scan-exporter]=9740 [srp-disk-guard]=9741 [srp-slack-relay]=9742)
# Exposure ceilings, in tenths (15 = 1.5).
declare -A CEILING=([srp-api]=15 [srp-node-exporter]=15 [srp-scan-exporter]=15 [srp-disk-guard]=30 [srp-slack-relay]=15)
declare -A SCORE=()
# SRP_ESTATE_SITE=1 (the default): the roles install and start everything
# (site.yml, twice), then the alert chain through the guest's Prometheus and
# Alertmanager. SRP_ESTATE_SITE=0: the packages are installed and started by
# hand instead, a quicker check of the packages and units alone.
SITE=${SRP_ESTATE_SITE:-1}
declare -A TIMING=()
# The secrets this run hands the roles: none may show in ps or systemctl show.
RELAY_TOKEN=estate-relay-token-5d1c
DB_PASSWORD=estate-db-password-93ab

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
  local t
  for t in "converge 1" "converge 2" "APIDown firing" "APIDown resolved" "image build"; do echo "$t: ${TIMING[$t]:-?} s"; done
  local u
  for u in "${UNITS[@]}"; do echo "$u exposure (running): ${SCORE[$u]:-?}"; done
  checks_summary "estate"
}

# The guest boots (TCG: most of a minute) while the packages build and lintian
# reads them: nothing in the boot needs them.
bash "$HERE/guest.sh" start "$STATE" >"$TMP/boot.log" 2>&1 &
BOOT_PID=$!

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
wait "$BOOT_PID"
boot_rc=$?
cat "$TMP/boot.log"
if ((boot_rc != 0)); then
  notok "the guest booted${CI:+ (CI: a guest that does not boot fails the run)}"
  summary
  exit 1
fi
ok "the guest booted in $(cat "$STATE/boot.seconds") s ($(cat "$STATE/accel")); systemd is PID 1: $(g 'ps -o comm= -p 1')"

section "install the packages by hand: they start nothing"
check "copy the packages into the guest" bash "$HERE/guest.sh" scp "$STATE" /root/ "${debs[@]}"
# The guest is thrown away: skip man-db's index rebuild, minutes under TCG.
check "dpkg -i every package" g 'rm -f /var/lib/man-db/auto-update; cd /root && DEBIAN_FRONTEND=noninteractive dpkg -i ./srp-*.deb'
for u in "${UNITS[@]}"; do
  st=$(g "systemctl is-enabled $u.service; systemctl is-active $u.service" | tr '\n' ' ')
  if [[ $st == "disabled inactive " ]]; then ok "installing $u enabled and started nothing"; else notok "$u after install: $st"; fi
done
if ((SITE)); then
  # Purged again, so the roles install them for real below.
  check "dpkg --purge every package (leaves no unit behind)" \
    g "dpkg --purge ${UNITS[*]} >/dev/null && ! ls /lib/systemd/system/srp-*.service 2>/dev/null && rm -f /root/srp-*.deb"
fi

section "the Slack stand-in on this machine"
python3 "$HERE/slack_standin.py" "$TMP/standin.port" "$TMP/standin.jsonl" &
STANDIN_PID=$!
for _ in $(seq 50); do [[ -s $TMP/standin.port ]] && break; sleep 0.1; done
hook="http://10.0.2.2:$(cat "$TMP/standin.port")/services/T0/B0/estate-secret-hook"
if [[ -s $TMP/standin.port ]]; then ok "the stand-in listens on 127.0.0.1:$(cat "$TMP/standin.port") (10.0.2.2 from the guest)"; else notok "the stand-in did not start"; fi

if ((SITE)); then
section "converge site.yml into the guest, twice"
# One host in every group site.yml uses. The vendor repositories (Docker's,
# Grafana's, Jenkins's) are not reachable here: docker comes from Debian's
# docker.io, and grafana and jenkins converge everything but their vendor
# packages (grafana_vendor_package/jenkins_vendor_package false), with the
# users, groups and directories those packages would have made created first.
cat >"$TMP/hosts.yml" <<INVENTORY
all:
  hosts:
    srp-estate:
      ansible_host: 127.0.0.1
      ansible_port: $(cat "$STATE/ssh.port")
      ansible_user: root
      ansible_ssh_private_key_file: $STATE/ssh.key
      ansible_ssh_common_args: >-
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        -o ControlMaster=auto -o ControlPersist=900s -o ControlPath=$TMP/cm-%C
      ansible_python_interpreter: /usr/bin/python3
      # The guest's host key is new at every boot; Mitogen's ssh reads this
      # setting rather than StrictHostKeyChecking in the ssh arguments.
      ansible_host_key_checking: false
  vars:
    docker_source: debian
    grafana_vendor_package: false
    grafana_admin_password: estate-grafana-admin-pw
    jenkins_vendor_package: false
    jenkins_admin_password: estate-jenkins-admin-pw
    jenkins_relay_token: $RELAY_TOKEN
    jenkins_ledger_token: estate-ledger-token
    jenkins_gate_fingerprint_key: estate-fingerprint-key
    jenkins_extra_groups: [docker]
    postgresql_password: $DB_PASSWORD
    srp_api_install_method: package
    srp_api_package_dir: $TMP/debs
    srp_api_database_password: $DB_PASSWORD
    srp_agents_package_dir: $TMP/debs
    srp_agents_enabled: [node-exporter, disk-guard, scan-exporter, slack-relay]
    srp_agents_node_exporter_listen: 127.0.0.1:9100
    srp_agents_disk_guard_listen: 127.0.0.1:9741
    srp_agents_disk_guard_groups: [docker]
    srp_agents_scan_exporter_reports_group: jenkins
    srp_agents_slack_relay_auth_token: $RELAY_TOKEN
    srp_agents_slack_relay_webhook_url: $hook
    alertmanager_relay_token: $RELAY_TOKEN
  children:
    app: {hosts: {srp-estate: {}}}
    docker: {hosts: {srp-estate: {}}}
    jenkins: {hosts: {srp-estate: {}}}
    api: {hosts: {srp-estate: {}}}
    monitoring: {hosts: {srp-estate: {}}}
INVENTORY
# shellcheck disable=SC2016 # expanded in the guest
check "stand-ins for the vendor packages: the jenkins and grafana users, groups and directories" g '
  useradd --system --user-group --home-dir /var/lib/jenkins --create-home --shell /bin/bash jenkins &&
  useradd --system --user-group --home-dir /usr/share/grafana --no-create-home --shell /usr/sbin/nologin grafana &&
  install -d -m 0755 /etc/grafana/provisioning/datasources /etc/grafana/provisioning/dashboards /var/lib/grafana &&
  chown grafana:grafana /var/lib/grafana'
# Every package the roles ask apt for is in the image already; its package
# lists are as old as the image, so the roles'"'"' cache_valid_time would make each
# converge fetch the archive'"'"'s indexes (minutes under TCG) to install nothing.
check "mark the image's apt lists fresh" g 'install -d /var/lib/apt/periodic && touch /var/lib/apt/periodic/update-success-stamp'
# Facts gathered once and cached: under TCG each of site.yml's five plays
# would spend tens of seconds gathering the same facts again.
# Mitogen's strategy keeps one Python interpreter per host for the whole run
# instead of starting one per task: under TCG a guest Python start and its
# module imports cost seconds, which made each converge take 25-40 minutes.
MITOGEN_STRATEGY=$(python3 -c 'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__) + "/plugins/strategy")' 2>/dev/null)
converge() {
  local start=$SECONDS
  ANSIBLE_STRATEGY_PLUGINS=$MITOGEN_STRATEGY ANSIBLE_STRATEGY=${MITOGEN_STRATEGY:+mitogen_}linear \
    ANSIBLE_GATHERING=smart ANSIBLE_CACHE_PLUGIN=jsonfile ANSIBLE_CACHE_PLUGIN_CONNECTION="$TMP/facts" \
    ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks \
    ansible-playbook -i "$TMP/hosts.yml" "$ROOT/ansible/site.yml" >"$TMP/converge-$1.log" 2>&1
  local rc=$?
  TIMING["converge $1"]=$((SECONDS - start))
  return $rc
}
recap() { grep -A1 '^PLAY RECAP' "$TMP/converge-$1.log" | tail -1 | sed 's/^[^:]*: *//; s/  */ /g'; }
if converge 1; then
  ok "first run in ${TIMING[converge 1]} s: $(recap 1)"
else
  notok "first run (${TIMING[converge 1]} s)"; grep -B3 -A12 -E '^(fatal|failed):' "$TMP/converge-1.log" | head -60 | sed 's/^/    | /'
fi
if converge 2; then
  if recap 2 | grep -qE 'changed=0 .*failed=0'; then
    ok "second run in ${TIMING[converge 2]} s changes nothing: $(recap 2)"
  else
    notok "second run is not a no-op: $(recap 2)"
    grep -B2 -E '^changed:' "$TMP/converge-2.log" | head -40 | sed 's/^/    | /'
  fi
else
  notok "second run (${TIMING[converge 2]} s)"; grep -B3 -A12 -E '^(fatal|failed):' "$TMP/converge-2.log" | head -60 | sed 's/^/    | /'
fi
skipped=$(grep -cE '^skipping: ' "$TMP/converge-1.log")
echo "  (grafana and jenkins: their vendor repositories and packages, the plugin manager, and so starting them, skipped: $skipped tasks skipped in all)"
for svc in docker postgresql prometheus prometheus-alertmanager prometheus-postgres-exporter; do
  st=$(g "systemctl is-active $svc.service")
  if [[ $st == active ]]; then ok "$svc active"; else notok "$svc: $st"; fi
done
else
  section "start every unit by hand (SRP_ESTATE_SITE=1 converges site.yml instead)"
  check "write the relay's webhook URL into its root-only slack.env" \
    g "umask 077; printf 'SRP_SLACK_WEBHOOK_URL=%s\n' '$hook' >/etc/srp/slack-relay/slack.env"
  for u in "${UNITS[@]}"; do
    check "systemctl enable --now $u" g "systemctl enable --now $u.service"
  done
fi

section "every SRP unit, started (Type=notify)"
for u in "${UNITS[@]}"; do
  out=$(g "systemctl is-enabled $u.service; systemctl show -p Type,ActiveState,SubState,Result,NRestarts,WatchdogUSec $u.service" | tr '\n' ' ')
  if [[ $out == enabled* && $out == *Type=notify* && $out == *ActiveState=active* && $out == *SubState=running* && $out == *NRestarts=0* && $out == *Result=success* ]]; then
    ok "$u enabled, active through Type=notify (READY=1 before the start timeout, no restart)"
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
  g "curl -fsS --max-time 10 -H 'Authorization: Bearer $RELAY_TOKEN' -H 'Content-Type: application/json' --data-binary '$payload' http://127.0.0.1:9742/alertmanager"
delivered=0
for _ in $(seq 60); do grep -q EstateProbe "$TMP/standin.jsonl" 2>/dev/null && { delivered=1; break; }; sleep 0.5; done
if ((delivered)); then ok "srp-slack-relay wrote its outbox and delivered to the stand-in on the host"; else notok "nothing reached the Slack stand-in"; fi
check "the relay's outbox is in its state directory" g 'ls /var/lib/private/srp-slack-relay/ | grep -q .'

section "the node exporter's systemd collector on a real systemd, beside node_exporter 1.5.0"
# The build machine's PID 1 is not systemd; the guest's is (Debian 12's 252).
# Both exporters run as root, unsandboxed, with only that collector (off by
# default, as upstream), and must report the same units in the same states.
SYSTEMD_FLAGS="--collector.disable-defaults --collector.systemd --collector.systemd.enable-restarts-metrics --collector.systemd.enable-task-metrics --collector.systemd.enable-start-time-metrics"
if bash "$HERE/guest.sh" scp "$STATE" /root/node_exporter-1.5 "$(command -v prometheus-node-exporter)"; then
  # ssh joins its arguments into one command line: the flags go in the text.
  # shellcheck disable=SC2016 # expanded in the guest
  g "flags='$SYSTEMD_FLAGS'; "'/usr/bin/srp-node-exporter $flags --listen 127.0.0.1:19110 >/tmp/srp-systemd.log 2>&1 & a=$!
     /root/node_exporter-1.5 $flags --web.listen-address=127.0.0.1:19111 >/tmp/ne-systemd.log 2>&1 & b=$!
     for i in $(seq 50); do curl -fsS -o /dev/null http://127.0.0.1:19110/health 2>/dev/null && curl -fsS -o /dev/null http://127.0.0.1:19111/ 2>/dev/null && break; sleep 0.2; done
     curl -fsS --max-time 30 http://127.0.0.1:19110/metrics >/tmp/srp-systemd.prom; curl -fsS --max-time 30 http://127.0.0.1:19111/metrics >/tmp/ne-systemd.prom
     kill $a $b'
  g 'cat /tmp/srp-systemd.prom' >"$TMP/srp-systemd.prom"
  g 'cat /tmp/ne-systemd.prom' >"$TMP/ne-systemd.prom"
  # Values compared where both scrapes read the same state (tasks and
  # socket connection counts move between two scrapes: names and labels only).
  if out=$(python3 - "$TMP/ne-systemd.prom" "$TMP/srp-systemd.prom" <<'PY'
import sys
MOVING = ("node_systemd_unit_tasks_current", "node_systemd_socket_current_connections")
def series(path):
    got = {}
    for line in open(path, encoding="utf-8"):
        if line.startswith("node_systemd_"):
            key, value = line.rsplit(" ", 1)
            got[key] = None if key.startswith(MOVING) else value.strip()
    return got
upstream, ours = series(sys.argv[1]), series(sys.argv[2])
states = sum(1 for k in upstream if k.startswith("node_systemd_unit_state{"))
diff = sorted(set(upstream.items()) ^ set(ours.items()))
if not states or diff:
    print(f"{states} unit_state series upstream; differing: {diff[:12]}")
    sys.exit(1)
print(f"{len(upstream)} node_systemd_* series identical ({states // 5} units)")
PY
  ); then
    ok "systemd collector: $out"
  else
    notok "systemd collector against node_exporter 1.5.0: $out"
  fi
  if grep -q '^node_systemd_unit_state{name="srp-api.service",state="active",type="notify"} 1$' "$TMP/srp-systemd.prom"; then
    ok "srp-node-exporter reports srp-api.service active (type notify)"
  else
    notok "no active srp-api.service in srp-node-exporter's systemd series"
  fi
else
  notok "copy Debian's node_exporter 1.5.0 into the guest"
fi

section "no secret on a command line or in systemctl show"
leak=$(g "ps -eo args; for u in ${UNITS[*]} prometheus prometheus-alertmanager postgresql; do systemctl show \$u.service; done" |
  grep -cE "estate-secret-hook|$RELAY_TOKEN|$DB_PASSWORD")
if ((leak == 0)); then
  ok "the webhook URL, the relay token and the database password are in no process's arguments and no unit's properties"
else
  notok "a secret shows in $leak lines of ps/systemctl show"
fi
if g "systemctl show -p Environment --value srp-slack-relay.service" | grep -qi 'slack'; then notok "Environment= names a Slack setting"; else ok "srp-slack-relay's Environment= holds no Slack setting"; fi

if ((SITE)); then
section "the guest's Prometheus scrapes every target up"
# Every job of rules/prometheus.yml but jenkins (its vendor package is not installed here).
JOBS=(srp-api srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay postgres alertmanager prometheus)
want=$(printf '%s\n' "${JOBS[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
up=""
for _ in $(seq 40); do
  up=$(g "curl -fsS --max-time 10 http://127.0.0.1:9090/api/v1/query --data-urlencode 'query=up == 1'" 2>/dev/null |
    python3 -c 'import json,sys; print(" ".join(sorted(r["metric"].get("job", "") for r in json.load(sys.stdin)["data"]["result"])))' 2>/dev/null)
  [[ $up == "$want" ]] && break
  sleep 3
done
if [[ $up == "$want" ]]; then ok "up == 1 for every job: $up"; else notok "up == 1 for: '${up:-none}', want: '$want'"; fi

section "the alert chain: srp-api stopped, APIDown FIRING to Slack in under 90 s, RESOLVED after the start"
# Prometheus (rule APIDown, for 30s) -> Alertmanager (critical route) -> the
# relay (bearer token) -> the stand-in on this machine, all as converged.
alert_seen() { # alert_seen WORD: a delivered message naming APIDown and WORD (case-insensitive)
  python3 - "$TMP/standin.jsonl" "$1" <<'PY'
import sys
try:
    lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
except FileNotFoundError:
    lines = []
sys.exit(0 if any("APIDown" in l and sys.argv[2].lower() in l.lower() for l in lines) else 1)
PY
}
: >"$TMP/standin.jsonl"
t0=$SECONDS
if g "systemctl stop srp-api.service"; then
  fired=0
  while ((SECONDS - t0 < 150)); do alert_seen '[FIRING' && { fired=1; break; }; sleep 1; done
  TIMING["APIDown firing"]=$((SECONDS - t0))
  if ((fired)) && ((TIMING["APIDown firing"] < 90)); then
    ok "APIDown FIRING reached the Slack stand-in ${TIMING[APIDown firing]} s after srp-api stopped (< 90 s)"
  else
    notok "APIDown FIRING: delivered=$fired after ${TIMING[APIDown firing]} s (want delivered, < 90 s)"
    g "curl -fsS http://127.0.0.1:9090/api/v1/alerts; journalctl -u srp-slack-relay -u prometheus-alertmanager -n 20 --no-pager -o cat" 2>&1 | tail -25 | sed 's/^/    | /'
  fi
  t1=$SECONDS
  if g "systemctl start srp-api.service" >"$TMP/api-start.log" 2>&1; then
    ok "start srp-api again"
  else
    notok "start srp-api again"; sed 's/^/    | /' "$TMP/api-start.log"
    g "journalctl -u srp-api.service -n 25 --no-pager -o cat" 2>&1 | sed 's/^/    | /'
  fi
  resolved=0
  while ((SECONDS - t1 < 180)); do alert_seen '[RESOLVED]' && { resolved=1; break; }; sleep 1; done
  TIMING["APIDown resolved"]=$((SECONDS - t1))
  if ((resolved)); then
    ok "APIDown RESOLVED reached the stand-in ${TIMING[APIDown resolved]} s after srp-api started"
  else
    notok "no APIDown RESOLVED after ${TIMING[APIDown resolved]} s"
  fi
else
  notok "systemctl stop srp-api.service"
fi
fi

section "the container image, built in the guest's Docker from imported bases"
# No registry is reachable from the guest: the runtime base is a `docker import`
# of a Debian minbase root (build-image.sh puts it in the image) and the
# binaries come from an imported image holding the packaged (stripped) srp-api
# and the CA bundle, given as BINARIES_FROM instead of the builder stage.
((SITE)) || check "start Debian's docker.io (the docker role starts it with SRP_ESTATE_SITE=1)" g "systemctl start docker.service"
mkdir -p "$TMP/ctx/deploy"
cp "$ROOT/deploy/Dockerfile" "$TMP/ctx/deploy/"
check "copy the build context (deploy/Dockerfile) into the guest" g 'rm -rf /root/ctx && mkdir -p /root/ctx/deploy' &&
  bash "$HERE/guest.sh" scp "$STATE" /root/ctx/deploy/ "$TMP/ctx/deploy/Dockerfile"
# shellcheck disable=SC2016 # expanded in the guest
check "docker import the Debian root (srp-estate/debian:bookworm-slim) and the binaries (srp-estate/binaries:estate)" g '
  set -e
  docker import /var/lib/srp-estate/debian-bookworm-minbase.tar srp-estate/debian:bookworm-slim >/dev/null
  rm -rf /root/bins && mkdir -p /root/bins/out /root/bins/etc/ssl/certs /root/x
  dpkg-deb -x "$(ls /var/cache/srp-packages/srp-api_*.deb /root/srp-api_*.deb 2>/dev/null | head -1)" /root/x
  cp /root/x/usr/bin/srp-api /root/bins/out/
  cp /etc/ssl/certs/ca-certificates.crt /root/bins/etc/ssl/certs/
  tar -C /root/bins -c . | docker import - srp-estate/binaries:estate >/dev/null'
t0=$SECONDS
if g 'cd /root/ctx && DOCKER_BUILDKIT=1 docker build -q -f deploy/Dockerfile --build-arg RUNTIME_IMAGE=srp-estate/debian:bookworm-slim \
      --build-arg BINARIES_FROM=srp-estate/binaries:estate --build-arg SRP_BUILD_NUMBER=estate -t srp-api:estate .' >"$TMP/docker-build.log" 2>&1; then
  TIMING["image build"]=$((SECONDS - t0))
  ok "docker build (BuildKit, offline) in ${TIMING[image build]} s: $(tail -1 "$TMP/docker-build.log")"
else
  TIMING["image build"]=$((SECONDS - t0))
  notok "docker build"; tail -20 "$TMP/docker-build.log" | sed 's/^/    | /'
fi
user=$(g "docker image inspect -f '{{.Config.User}}' srp-api:estate" 2>/dev/null)
if [[ -n $user && $user != root && $user != 0* ]]; then ok "the image runs as $user (not root)"; else notok "the image's user: '${user:-?}'"; fi
check "run it (host network, SQLite, 127.0.0.1:18000)" \
  g "docker run -d --name srp-api-estate --network host -e SRP_LISTEN=127.0.0.1:18000 srp-api:estate >/dev/null"
health=""
for _ in $(seq 40); do
  health=$(g "docker inspect -f '{{.State.Health.Status}}' srp-api-estate" 2>/dev/null)
  [[ $health == healthy || $health == unhealthy ]] && break
  sleep 3
done
if [[ $health == healthy ]]; then ok "its HEALTHCHECK turns healthy"; else notok "its health: '${health:-?}'"; g "docker logs --tail 10 srp-api-estate" 2>&1 | sed 's/^/    | /'; fi
check "the API answers from the container (/health ok, /version)" \
  g "curl -fsS --max-time 10 http://127.0.0.1:18000/health | grep -q '\"status\":\"ok\"' && curl -fsS --max-time 10 http://127.0.0.1:18000/version >/dev/null"
# docker top needs a PID column in what ps prints.
uid=$(g "docker top srp-api-estate -o pid,uid | awk 'NR > 1 { print \$2 }' | sort -u" 2>/dev/null | tr '\n' ' ')
if [[ $uid == "10001 " ]]; then ok "its process runs as uid 10001"; else notok "its process uids: '${uid:-?}'"; fi
g "docker rm -f srp-api-estate >/dev/null" || true

disk_guard_docker="$ROOT/agents/disk-guard/tests/estate/real-docker.sh"
if [[ -f $disk_guard_docker ]]; then
  section "the disk guard against the guest's real Docker engine"
  bash "$HERE/guest.sh" scp "$STATE" /root/ "$disk_guard_docker"
  if g "bash /root/real-docker.sh" >"$TMP/real-docker.log" 2>&1; then
    ok "agents/disk-guard/tests/estate/real-docker.sh passes in the guest"
  else
    notok "agents/disk-guard/tests/estate/real-docker.sh in the guest"; tail -30 "$TMP/real-docker.log" | sed 's/^/    | /'
  fi
fi

# ext4 grows online only where root holds CAP_SYS_RESOURCE: the guest, not
# the build machine (see agents/disk-guard/README.md).
disk_guard_ext4="$ROOT/agents/disk-guard/tests/estate/ext4-grow.sh"
if [[ -f $disk_guard_ext4 ]]; then
  section "the disk guard grows a full ext4 online (EBS and IMDSv2 stand-in)"
  bash "$HERE/guest.sh" scp "$STATE" /root/ "$disk_guard_ext4"
  if g "bash /root/ext4-grow.sh" >"$TMP/ext4-grow.log" 2>&1; then
    ok "agents/disk-guard/tests/estate/ext4-grow.sh passes in the guest"
    grep -iE 'phases|grow' "$TMP/ext4-grow.log" | head -5 | sed 's/^/    | /'
  else
    notok "agents/disk-guard/tests/estate/ext4-grow.sh in the guest"; tail -30 "$TMP/ext4-grow.log" | sed 's/^/    | /'
  fi
fi

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

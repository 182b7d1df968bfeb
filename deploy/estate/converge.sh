#!/usr/bin/env bash
# Converges ansible/tests/estate-converge.yml (the srp_agents, prometheus and
# alertmanager roles) into a freshly booted estate guest, twice: the second
# run must report changed=0. Then checks that every unit it manages is active
# and that the guest's Prometheus has every SRP agent target up.
# Runnable by hand (root); not part of scripts/test.sh yet:
#   deploy/estate/converge.sh
# SRP_AGENTS_BIN_DIR: the agents' binaries (default <target>/debug).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export PATH="$ROOT/.local/venv/bin:$PATH"
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/checks.sh
source "$ROOT/scripts/lib/checks.sh"
export ANSIBLE_CONFIG="$ROOT/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

TMP="$(mktemp -d "${TMPDIR:-/tmp}/srp-estate-converge.XXXXXX")"
STATE="$TMP/guest"
cleanup() {
  bash "$HERE/guest.sh" stop "$STATE" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
g() { bash "$HERE/guest.sh" ssh "$STATE" "$@"; }

section "boot the guest"
bash "$HERE/guest.sh" start "$STATE" || { notok "the guest booted"; checks_summary "estate converge"; exit 1; }
ok "the guest booted in $(cat "$STATE/boot.seconds") s ($(cat "$STATE/accel"))"

cat >"$TMP/hosts.yml" <<INVENTORY
all:
  children:
    estate:
      hosts:
        srp-estate:
          ansible_host: 127.0.0.1
          ansible_port: $(cat "$STATE/ssh.port")
          ansible_user: root
          ansible_ssh_private_key_file: $STATE/ssh.key
          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
          ansible_python_interpreter: /usr/bin/python3
INVENTORY

# A copy of the binaries: a rebuild in the shared target directory between the
# two runs would otherwise make the second one copy new binaries.
mkdir -p "$TMP/bin"
for a in node-exporter scan-exporter disk-guard slack-relay; do
  cp "${SRP_AGENTS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}/srp-$a" "$TMP/bin/" || notok "no srp-$a binary"
done

converge() {
  local start=$SECONDS
  ansible-playbook -i "$TMP/hosts.yml" "$ROOT/ansible/tests/estate-converge.yml" \
    -e "srp_agents_binary_src_dir=$TMP/bin" \
    -e "estate_slack_url=http://10.0.2.2:9/unused" >"$TMP/converge-$1.log" 2>&1
  local rc=$?
  echo $((SECONDS - start)) >"$TMP/converge-$1.seconds"
  return $rc
}
recap() { grep -A1 '^PLAY RECAP' "$TMP/converge-$1.log" | tail -1 | sed 's/^[^:]*: *//; s/  */ /g'; }

section "converge twice"
if converge 1; then ok "first run in $(cat "$TMP/converge-1.seconds") s: $(recap 1)"; else notok "first run"; tail -40 "$TMP/converge-1.log"; fi
if converge 2; then
  if recap 2 | grep -qE 'changed=0 .*failed=0'; then
    ok "second run in $(cat "$TMP/converge-2.seconds") s changes nothing: $(recap 2)"
  else
    notok "second run is not a no-op: $(recap 2)"
    grep -B2 -E '^changed:' "$TMP/converge-2.log" | head -40
  fi
else
  notok "second run"; tail -40 "$TMP/converge-2.log"
fi

section "what it converged is running"
for u in srp-node-exporter srp-scan-exporter srp-disk-guard srp-slack-relay prometheus prometheus-alertmanager; do
  st=$(g "systemctl is-active $u.service")
  if [[ $st == active ]]; then ok "$u active"; else notok "$u: $st"; fi
done
up=""
for _ in $(seq 30); do
  # shellcheck disable=SC2016 # expanded in the guest
  up=$(g 'curl -fsS http://127.0.0.1:9090/api/v1/query --data-urlencode "query=up{job=~\"srp-(node|scan|disk|slack).*\"} == 1" | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"data\"][\"result\"]))"' 2>/dev/null)
  [[ $up == 4 ]] && break
  sleep 5
done
if [[ $up == 4 ]]; then ok "the guest's Prometheus scrapes the four agents up"; else notok "agents up in the guest's Prometheus: ${up:-?} of 4"; fi

checks_summary "estate converge"

#!/usr/bin/env bash
# The Ansible suite (offline): yamllint, ansible-lint (production profile),
# --syntax-check of every playbook, the roles' layout and argument specs, every
# unit template rendered and checked with systemd-analyze verify and security
# (exposure thresholds), the rendered Prometheus/Alertmanager configuration
# checked with promtool/amtool. The roles' real converge, into a booted Debian
# 12 guest, is deploy/estate/test.sh's.
#
# Environment:
#   SRP_AGENTS_BIN_DIR  directory with the four srp-* agent binaries; default
#                       ${CARGO_TARGET_DIR:-<repo>/target}/debug, built there
#                       with cargo (debug) if missing.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ANSIBLE_DIR="$(dirname "$HERE")"
ROOT="$(dirname "$ANSIBLE_DIR")"
export PATH="$ROOT/.local/venv/bin:$PATH"
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/checks.sh
source "$ROOT/scripts/lib/checks.sh"
export ANSIBLE_CONFIG="$ANSIBLE_DIR/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
cd "$ANSIBLE_DIR" || exit 1

AGENTS=(node-exporter scan-exporter disk-guard slack-relay)
# Exposure ceilings, in systemd-analyze's tenths (15 = 1.5).
declare -A CEILING=([node-exporter]=15 [scan-exporter]=15 [slack-relay]=15 [disk-guard]=30)
# Secrets the renders use: none may appear in a unit file.
SECRETS=(render-test-token xoxb-render-test render-test-signing-secret render-test-db-password render-test-api-token)


WORK="$(mktemp -d "${TMPDIR:-/tmp}/srp-ansible-test.XXXXXX")"
TMP="$WORK"
cleanup() {
  # A chroot root may have bind mounts if a run was interrupted; never rm through them.
  if [[ -d $WORK/root ]] && grep -q " $WORK/root" /proc/self/mounts; then
    echo "leaving $WORK: something is still mounted under it" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

section "tools"
for tool in ansible-playbook ansible-lint yamllint systemd-analyze promtool amtool; do
  if command -v "$tool" >/dev/null; then ok "$tool: $("$tool" --version 2>&1 | head -1)"; else notok "$tool is not installed"; fi
done

section "yamllint (strict)"
check "yamllint -s ansible/" yamllint -s .

section "ansible-lint (production profile, offline)"
check "ansible-lint --profile production" ansible-lint --offline --profile production

section "syntax-check of every playbook"
for pb in site.yml playbooks/*.yml; do
  check "$pb" ansible-playbook -i inventories/staging/hosts.yml --syntax-check "$pb"
done

section "roles: layout and argument specs"
if out=$(python3 "$HERE/check_roles.py" 2>&1); then
  printf '%s\n' "$out" | sed 's/^/  /'; ok "roles' layout and argument specs"
else
  printf '%s\n' "$out" | sed 's/^/  /'; notok "roles' layout or argument specs"
fi

section "agent binaries"
bin_dir="${SRP_AGENTS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}"
missing=()
for a in "${AGENTS[@]}"; do [[ -x $bin_dir/srp-$a ]] || missing+=("srp-$a"); done
if ((${#missing[@]})) && [[ -z ${SRP_AGENTS_BIN_DIR:-} ]]; then
  echo "  building ${missing[*]} (cargo, debug) into $bin_dir"
  for p in "${missing[@]}"; do
    (cd "$ROOT" && cargo build --locked -q -p "$p") || notok "cargo build -p $p"
  done
fi
for a in "${AGENTS[@]}"; do
  if [[ -x $bin_dir/srp-$a ]]; then ok "srp-$a in $bin_dir"; else notok "no srp-$a in $bin_dir"; fi
done
# The units' ExecStart must name an existing executable for `verify`.
mkdir -p "$WORK/bin"
for a in "${AGENTS[@]}"; do [[ -x $bin_dir/srp-$a ]] && ln -sf "$bin_dir/srp-$a" "$WORK/bin/srp-$a"; done

section "render every unit and the monitoring configuration"
check "ansible-playbook tests/render.yml" ansible-playbook -i inventories/staging/hosts.yml "$HERE/render.yml" \
  -e "srp_render_dir=$WORK/render" -e "srp_render_bin_dir=$WORK/bin"

# check_unit FILE AGENT [ROOT]: verify + security ceiling + no secret inside.
check_unit() {
  local unit=$1 agent=$2 root=${3:-} label score out
  local -a rootarg=()
  [[ -n $root ]] && rootarg=(--root="$root")
  label="${unit#"$WORK"/}"
  if out=$(systemd-analyze verify "${rootarg[@]}" "$unit" 2>&1) && [[ -z $out ]]; then
    ok "verify $label"
  else
    notok "verify $label"; printf '%s\n' "$out" | sed 's/^/        /'
  fi
  out=$(systemd-analyze security --offline=true "${rootarg[@]}" --threshold="${CEILING[$agent]}" "$unit" 2>&1)
  local rc=$?
  score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  if ((rc == 0)) && [[ -n $score ]]; then
    ok "security $label: exposure $score (ceiling $((CEILING[$agent] / 10)).$((CEILING[$agent] % 10)))"
  else
    notok "security $label: exposure ${score:-?} over ceiling $((CEILING[$agent] / 10)).$((CEILING[$agent] % 10))"
    printf '%s\n' "$out" | grep '✗' | sed 's/^/        /'
  fi
  local s file="$root$unit"
  [[ -f $file ]] || { notok "$label: no such file"; return; }
  for s in "${SECRETS[@]}"; do
    if grep -qF -- "$s" "$file"; then notok "$label contains a secret ($s)"; return; fi
  done
  ok "$label holds no secret"
}

section "units: systemd-analyze verify and security --offline=true"
for scenario in defaults full staging; do
  for a in "${AGENTS[@]}"; do
    unit="$WORK/render/$scenario/srp-$a.service"
    if [[ -f $unit ]]; then check_unit "$unit" "$a"; else notok "$scenario/srp-$a.service was not rendered"; fi
  done
done
# The check must be able to fail: Debian's own node_exporter unit is UNSAFE.
debian_unit=/lib/systemd/system/prometheus-node-exporter.service
if [[ -f $debian_unit ]]; then
  if systemd-analyze security --offline=true --threshold=15 "$debian_unit" >/dev/null 2>&1; then
    notok "the security ceiling does not reject Debian's prometheus-node-exporter.service"
  else
    score=$(systemd-analyze security --offline=true "$debian_unit" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    ok "the same ceiling rejects Debian's prometheus-node-exporter.service (exposure $score)"
  fi
fi

section "monitoring and Jenkins configuration rendered for staging"
check "promtool check config (staging prometheus.yml)" promtool check config --syntax-only "$WORK/render/staging/prometheus.yml"
check "amtool check-config (staging alertmanager.yml)" amtool check-config "$WORK/render/staging/alertmanager.yml"
moved="$WORK/render/staging/alertmanager-moved-relay.yml"
if grep -q 'url: http://10.0.1.99:9742/alertmanager' "$moved" && ! grep -q '127.0.0.1:9742' "$moved"; then
  check "amtool check-config (relay moved to 10.0.1.99)" amtool check-config "$moved"
else
  notok "alertmanager_relay_url does not replace the relay URL"
fi
if grep -qE '^\s+url: http://127.0.0.1:9090\s*$' "$WORK/render/staging/grafana-datasource.yml"; then
  ok "Grafana's data source points at Prometheus (http://127.0.0.1:9090)"
else
  notok "Grafana's data source URL"
fi
if out=$(python3 "$HERE/check_jenkins.py" "$WORK/render/staging/jenkins.yaml" "$ROOT" \
  render-test-admin-password render-test-ssh-key render-test-registry-password render-test-token render-test-ledger-token render-test-fingerprint-key 2>&1); then
  printf '%s\n' "$out"; ok "Jenkins configuration as code"
else
  printf '%s\n' "$out"; notok "Jenkins configuration as code (above)"
fi
if grep -q 'render-test' "$WORK/render/staging/jenkins-override.conf"; then
  notok "the Jenkins unit drop-in holds a secret"
else
  ok "the Jenkins unit drop-in passes secrets as credentials only ($(grep -c '^LoadCredential=' "$WORK/render/staging/jenkins-override.conf") LoadCredential=)"
fi
if [[ -x $WORK/bin/srp-disk-guard ]]; then
  # A dry, one-shot pass reads and validates the staging disk guard config.
  mkdir -p "$WORK/disk-guard-data"
  # shellcheck disable=SC2016 # the script gets its values as arguments
  check "srp-disk-guard accepts the staging config (--once --dry-run)" bash -c '
    "$1" --config "$2" --data-dir "$3" --once --dry-run --listen 127.0.0.1:0 >/dev/null; rc=$?
    # 0 fine, 3 still under the act threshold, 4 escalated: all mean it ran.
    [[ $rc == 0 || $rc == 3 || $rc == 4 ]]' _ \
    "$WORK/bin/srp-disk-guard" "$WORK/render/staging/disk-guard.toml" "$WORK/disk-guard-data"
  # ...and the same check rejects a configuration the guard cannot read.
  { cat "$WORK/render/staging/disk-guard.toml"; printf '\nno_such_setting = 1\n'; } >"$WORK/bad-disk-guard.toml"
  "$WORK/bin/srp-disk-guard" --config "$WORK/bad-disk-guard.toml" --data-dir "$WORK/disk-guard-data" \
    --once --dry-run >/dev/null 2>&1
  rc=$?
  if ((rc == 1)); then ok "srp-disk-guard rejects an unknown setting (exit 1)"; else notok "srp-disk-guard exit $rc on a bad config, want 1"; fi
fi

section "the relay's shared-outbox (HA) and incident settings in the full render"
relay_full="$WORK/render/full/srp-slack-relay.service"
for want in '--lease-duration 45s' '--alertmanager-url http://10.0.1.10:9093 --alertmanager-url http://10.0.1.11:9093' \
  '--slack-signing-secret-file %d/slack-signing-secret' 'LoadCredential=slack-signing-secret:/etc/srp/slack-relay/slack-signing-secret' \
  '--api-url http://10.0.1.20:8000 --api-token-file %d/api-token' 'LoadCredential=api-token:/etc/srp/slack-relay/api-token'; do
  if grep -qF -- "$want" "$relay_full"; then ok "srp-slack-relay.service (full) has: $want"; else notok "srp-slack-relay.service (full) lacks: $want"; fi
done
# The shared outbox's URL (with its password) goes to the root-only slack.env only.
env_out="$WORK/render/full/slack-relay.env"
if ansible localhost -c local -m ansible.builtin.template -a "src=$ANSIBLE_DIR/roles/srp_agents/templates/slack-relay.env.j2 dest=$env_out mode=0600" \
  -e srp_agents_slack_relay_webhook_url= -e srp_agents_slack_relay_database_url=postgres://relay:render-test-db-password@10.0.1.5/relay >/dev/null 2>&1 &&
  grep -qx 'SRP_DATABASE_URL=postgres://relay:render-test-db-password@10.0.1.5/relay' "$env_out"; then
  ok "the shared outbox's URL goes to slack.env as SRP_DATABASE_URL"
else
  notok "slack.env does not carry SRP_DATABASE_URL"
fi

# The role's real converge (packages installed, units started by systemd as PID
# 1, twice with changed=0 the second time) is deploy/estate/test.sh's: a booted
# Debian 12 guest covers everything the chroot converge here used to, and more.

checks_summary ansible

#!/usr/bin/env bash
# The Ansible suite (offline): yamllint, ansible-lint (production profile),
# --syntax-check of every playbook, the roles' layout and argument specs, every
# unit template rendered and checked with systemd-analyze verify and security
# (exposure thresholds), the rendered Prometheus/Alertmanager configuration
# checked with promtool/amtool, and a real converge of the agents role into a
# throw-away Debian 12 root, twice (the second run must change nothing).
#
# Needs root (debootstrap, chroot). Environment:
#   SRP_AGENTS_BIN_DIR  directory with the four srp-* agent binaries; default
#                       ${CARGO_TARGET_DIR:-<repo>/target}/debug, built there
#                       with cargo (debug) if missing.
#   SRP_ROOT_CACHE      where the debootstrap'ed root is cached
#                       (default /var/cache/srp-debootstrap).
#   SRP_SKIP_CONVERGE=1 skip the converge (e.g. not root); it then fails the run.
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
# Secrets the renders and the converge use: none may appear in a unit file.
SECRETS=(render-test-token xoxb-render-test converge-test-token hooks.slack.invalid)


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
  render-test-admin-password render-test-ssh-key render-test-registry-password render-test-token render-test-ledger-token 2>&1); then
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

section "converge the agents role into a throw-away Debian 12 root, twice"
if [[ ${SRP_SKIP_CONVERGE:-0} == 1 ]]; then
  notok "converge skipped (SRP_SKIP_CONVERGE=1)"
elif [[ $(id -u) -ne 0 ]]; then
  notok "converge needs root (debootstrap and chroot)"
else
  root="$WORK/root"
  if ! bash "$HERE/make-root.sh" "$root"; then
    notok "make the Debian root"
  else
    ok "Debian 12 root at $root"
    # A copy of the binaries: a rebuild in the shared target directory between
    # the two runs would otherwise make the second one copy new binaries.
    mkdir -p "$WORK/converge-bin"
    for a in "${AGENTS[@]}"; do cp "$bin_dir/srp-$a" "$WORK/converge-bin/"; done
    converge() {
      ansible-playbook -i "$root," -c community.general.chroot "$HERE/converge.yml" \
        -e "srp_agents_binary_src_dir=$WORK/converge-bin" >"$WORK/converge-$1.log" 2>&1
    }
    recap() { grep -A1 '^PLAY RECAP' "$WORK/converge-$1.log" | tail -1 | sed 's/^[^:]*: *//; s/  */ /g'; }
    if converge 1; then ok "first run: $(recap 1)"; else notok "first run"; tail -40 "$WORK/converge-1.log"; fi
    if converge 2; then
      if grep -A1 '^PLAY RECAP' "$WORK/converge-2.log" | tail -1 | grep -qE 'changed=0 .*failed=0'; then
        ok "second run changes nothing: $(recap 2)"
      else
        notok "second run is not a no-op: $(recap 2)"
        grep -B2 -E '^changed:' "$WORK/converge-2.log" | head -40
      fi
    else
      notok "second run"; tail -40 "$WORK/converge-2.log"
    fi

    for a in "${AGENTS[@]}"; do
      unit="$root/etc/systemd/system/srp-$a.service"
      if [[ -f $unit ]]; then check_unit "/etc/systemd/system/srp-$a.service" "$a" "$root"; else notok "srp-$a.service not installed"; fi
      if [[ -L $root/etc/systemd/system/multi-user.target.wants/srp-$a.service ]]; then
        ok "srp-$a.service enabled (multi-user.target.wants)"
      else
        notok "srp-$a.service not enabled"
      fi
      if out=$(chroot "$root" "/usr/local/bin/srp-$a" --help 2>&1) && [[ $out == *--listen* ]]; then
        ok "srp-$a --help runs inside the Debian 12 root"
      else
        notok "srp-$a --help inside the root"; printf '%s\n' "$out" | head -5 | sed 's/^/        /'
      fi
    done
    for f in relay-token slack-token slack.env; do
      perms=$(stat -c '%U:%G %a' "$root/etc/srp/slack-relay/$f" 2>/dev/null)
      if [[ $perms == "root:root 600" ]]; then ok "/etc/srp/slack-relay/$f is $perms"; else notok "/etc/srp/slack-relay/$f is '${perms:-missing}', want root:root 600"; fi
    done
    if grep -q converge-test-token "$root/etc/srp/slack-relay/relay-token" 2>/dev/null; then
      ok "the relay token reached its credential file"
    else
      notok "the relay token is not in /etc/srp/slack-relay/relay-token"
    fi
    if [[ -f $root/etc/srp/disk-guard.toml ]]; then ok "disk guard configuration installed"; else notok "no /etc/srp/disk-guard.toml"; fi

    # Handlers restart only what changed: a new relay token alone must queue a
    # restart of the relay and of nothing else. (The restart itself is skipped
    # in the chroot; the handler still lists the agents it would restart.)
    handler_items() {
      awk '/^RUNNING HANDLER \[srp_agents : Restart the SRP agents that changed\]/ { on = 1; next }
           /^(RUNNING HANDLER|TASK|PLAY RECAP)/ { on = 0 }
           on && match($0, /item=[a-z-]+/) { print substr($0, RSTART + 5, RLENGTH - 5) }' "$1" | sort -u | tr '\n' ' '
    }
    first_items=$(handler_items "$WORK/converge-1.log")
    if [[ $first_items == "disk-guard node-exporter scan-exporter slack-relay " ]]; then
      ok "first run queues a restart of every agent ($first_items)"
    else
      notok "first run queues restarts of: '$first_items'"
    fi
    if ansible-playbook -i "$root," -c community.general.chroot "$HERE/converge.yml" \
      -e "srp_agents_binary_src_dir=$WORK/converge-bin" -e srp_agents_slack_relay_auth_token=converge-test-token-rotated \
      >"$WORK/converge-3.log" 2>&1; then
      items=$(handler_items "$WORK/converge-3.log")
      if [[ $items == "slack-relay " ]]; then
        ok "a rotated relay token restarts only srp-slack-relay: $(recap 3)"
      else
        notok "a rotated relay token restarts: '$items'"
      fi
    else
      notok "third run (rotated relay token)"; tail -30 "$WORK/converge-3.log"
    fi
  fi
fi

checks_summary ansible

#!/usr/bin/env bash
# Deploy: the Ansible deploy playbook with this build's image tag (target
# "ansible", the default on Jenkins), or, for local runs, the built srp-api
# started on a loopback port with a throw-away SQLite database (target "local").
# Either way it leaves deploy.env with the URL the Smoke Test checks.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"
stage_begin Deploy

default_target=local
is_jenkins && default_target=ansible
target="${SRP_DEPLOY_TARGET:-$default_target}"

deploy_ansible() {
  need ansible-playbook
  local inventory="${SRP_ANSIBLE_INVENTORY:-}"
  [[ -n $inventory ]] || die "SRP_ANSIBLE_INVENTORY is not set: which hosts to deploy to?"
  [[ -f $inventory ]] || die "the inventory $inventory does not exist"
  [[ -n ${SRP_SMOKE_URL:-} ]] || die "SRP_SMOKE_URL is not set: the URL the Smoke Test checks after the deploy"
  local playbook="$SRP_ROOT/ansible/playbooks/deploy_api.yml"
  [[ -f $playbook ]] || die "$playbook is missing"
  local args=(-i "$inventory" -e "srp_api_image_tag=$BUILD_NUMBER")
  # From withCredentials 'srp-deploy-ssh' on Jenkins.
  [[ -n ${SRP_DEPLOY_SSH_KEY:-} ]] && args+=(--private-key "$SRP_DEPLOY_SSH_KEY")
  [[ -n ${SRP_DEPLOY_SSH_USER:-} ]] && args+=(--user "$SRP_DEPLOY_SSH_USER")
  local extra=()
  read -r -a extra <<<"${SRP_ANSIBLE_EXTRA_ARGS:-}"
  log "ansible-playbook deploy_api.yml -i $inventory with srp_api_image_tag=$BUILD_NUMBER ${extra[*]}"
  # The repository's ansible.cfg (roles path, interpreter) applies wherever the job runs.
  ANSIBLE_CONFIG="$SRP_ROOT/ansible/ansible.cfg" ANSIBLE_FORCE_COLOR=0 \
    ansible-playbook "${args[@]}" "${extra[@]}" "$playbook"
  printf 'SRP_SMOKE_URL=%s\n' "$SRP_SMOKE_URL" >"$SRP_REPORTS_DIR/deploy.env"
}

deploy_local() {
  [[ -f $SRP_REPORTS_DIR/image.env ]] || die "no image.env from the Build stage: run Build first"
  # shellcheck source=/dev/null
  source "$SRP_REPORTS_DIR/image.env"
  local bin="${SRP_BIN_DIR:-}/srp-api"
  [[ -x $bin ]] || die "no built srp-api at $bin (the local deploy needs the cargo-built binary)"
  local dir="$SRP_WORK_DIR/local-deploy"
  local pidfile="$SRP_WORK_DIR/srp-api.pid"
  if [[ -f $pidfile ]]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  local logfile="$dir/srp-api.log"
  : >"$logfile"
  log "starting $bin on a loopback port with SQLite in $dir"
  # Started from the temp dir with an explicit SQLite file there, so the deploy
  # never touches a database anyone else uses.
  (cd "$dir" && DATABASE_URL="sqlite:$dir/srp-api.db" exec "$bin" --listen 127.0.0.1:0 \
    --log-format text </dev/null >"$logfile" 2>&1) &
  local pid=$!
  printf '%s\n' "$pid" >"$pidfile"
  local addr="" i
  for ((i = 0; i < 100; i++)); do
    addr="$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$logfile" | head -1)"
    [[ -n $addr ]] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$logfile" >&2
      rm -f "$pidfile"
      die "srp-api exited during start-up (log above)"
    fi
    sleep 0.2
  done
  if [[ -z $addr ]]; then
    cat "$logfile" >&2
    die "srp-api did not report its address within 20 s"
  fi
  log "srp-api (pid $pid) is listening on http://$addr; log: $logfile"
  printf 'SRP_SMOKE_URL=http://%s\nSRP_LOCAL_API_PID=%s\n' "$addr" "$pid" >"$SRP_REPORTS_DIR/deploy.env"
}

started_at="$(date -u +%FT%TZ)"
rc=0
# In a subshell, so that a deploy that dies is still recorded as a failed
# deployment before this stage fails.
case $target in
  ansible) (deploy_ansible) || rc=$? ;;
  local)
    is_jenkins && die "the local deploy target is for local runs only"
    (deploy_local) || rc=$?
    ;;
  *) die "SRP_DEPLOY_TARGET must be ansible or local, not '$target'" ;;
esac
finished_at="$(date -u +%FT%TZ)"
if ((rc == 0)); then
  # The Smoke Test records the deployment with its result.
  printf 'SRP_DEPLOY_STARTED_AT=%s\nSRP_DEPLOY_FINISHED_AT=%s\n' "$started_at" "$finished_at" \
    >>"$SRP_REPORTS_DIR/deploy.env"
else
  ledger_deployment "$started_at" "$finished_at" failed skipped || true
  ledger_finish || true
fi
exit "$rc"

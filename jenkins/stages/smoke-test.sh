#!/usr/bin/env bash
# Smoke Test: the deployed API answers /health with status ok and /version with
# this BUILD_NUMBER, within a bounded number of attempts (a deploy restarts the
# service, so the first requests may meet the old process or none).
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"
stage_begin "Smoke Test"
need curl jq

url="${SRP_SMOKE_URL:-}"
if [[ -z $url && -f $SRP_REPORTS_DIR/deploy.env ]]; then
  url="$(sed -n 's/^SRP_SMOKE_URL=//p' "$SRP_REPORTS_DIR/deploy.env")"
fi
[[ -n $url ]] || die "no URL to test: set SRP_SMOKE_URL or run Deploy first"
url="${url%/}"
attempts="${SRP_SMOKE_ATTEMPTS:-30}"
interval="${SRP_SMOKE_INTERVAL:-2}"
[[ $attempts =~ ^[1-9][0-9]*$ ]] || die "SRP_SMOKE_ATTEMPTS must be a positive integer"

# The deployment, with the smoke test's result, then the end-of-pipeline
# retry of every ledger write still queued. Never changes the result.
record_deployment() {
  local started finished
  started="$(sed -n 's/^SRP_DEPLOY_STARTED_AT=//p' "$SRP_REPORTS_DIR/deploy.env" 2>/dev/null || true)"
  finished="$(sed -n 's/^SRP_DEPLOY_FINISHED_AT=//p' "$SRP_REPORTS_DIR/deploy.env" 2>/dev/null || true)"
  if [[ -n $started && -n $finished ]]; then
    ledger_deployment "$started" "$finished" succeeded "$1" || true
  fi
  ledger_finish || true
}

expected_commit="$(built_commit 2>/dev/null || true)"
health="" version="" why=""
for ((i = 1; i <= attempts; i++)); do
  if ! health="$(curl -fsS --max-time 5 "$url/health" 2>&1)"; then
    why="GET /health failed: $health"
  elif [[ "$(jq -r '.status // empty' <<<"$health" 2>/dev/null)" != ok ]]; then
    why="GET /health is not ok: $health"
  elif ! version="$(curl -fsS --max-time 5 "$url/version" 2>&1)"; then
    why="GET /version failed: $version"
  else
    seen="$(jq -r '.build // empty' <<<"$version" 2>/dev/null || true)"
    seen_commit="$(jq -r '.commit // empty' <<<"$version" 2>/dev/null || true)"
    if [[ $seen == "$BUILD_NUMBER" && -n $expected_commit && -n $seen_commit &&
      $seen_commit != unknown && $seen_commit != "$expected_commit" ]]; then
      why="/version reports build $seen but commit $seen_commit, expected $expected_commit"
    elif [[ $seen == "$BUILD_NUMBER" ]]; then
      log "attempt $i/$attempts: /health ok, /version build $seen == BUILD_NUMBER"
      jq -n --arg url "$url" --argjson attempts "$i" --argjson health "$health" \
        --argjson version "$version" \
        '{url: $url, attempts: $attempts, health: $health, version: $version, passed: true}' \
        >"$SRP_REPORTS_DIR/smoke.json"
      record_deployment passed
      exit 0
    fi
    why="/version reports build '$seen', expected '$BUILD_NUMBER' (old release still serving?)"
  fi
  log "attempt $i/$attempts: $why"
  ((i < attempts)) && sleep "$interval"
done
jq -n --arg url "$url" --arg why "$why" --argjson attempts "$attempts" \
  '{url: $url, attempts: $attempts, passed: false, reason: $why}' >"$SRP_REPORTS_DIR/smoke.json"
record_deployment failed
die "smoke test failed after $attempts attempts: $why"

#!/usr/bin/env bash
# Tells srp-slack-relay how the build ended: POST /jenkins with a bearer token.
# Usage: jenkins/notify.sh RESULT      (RESULT: FAILURE, FIXED, ABORTED, ...)
# Needs SRP_RELAY_URL (the relay's base URL) and SRP_RELAY_TOKEN (from Jenkins
# credentials via withCredentials; never written to disk or to a command line).
# The failed stage is read from the stage log the stage scripts keep.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
SRP_STAGE=notify

result="${1:?usage: notify.sh RESULT}"
need curl jq
relay="${SRP_RELAY_URL:-}"
[[ -n $relay ]] || die "SRP_RELAY_URL is not set: where is srp-slack-relay?"
[[ -n ${SRP_RELAY_TOKEN:-} ]] || die "SRP_RELAY_TOKEN is not set (withCredentials 'srp-relay-token')"

# The stage that failed, or, for an aborted build, the one that never finished.
stage=""
if [[ -f $SRP_STAGE_LOG ]]; then
  stage="$(awk -F'\t' '$2 == "failed" { s = $1 } END { print s }' "$SRP_STAGE_LOG")"
  if [[ -z $stage ]]; then
    stage="$(awk -F'\t' '$2 == "started" { open[$1] = 1; last = $1 } $2 == "ok" { delete open[$1] }
      END { if (last in open) print last }' "$SRP_STAGE_LOG")"
  fi
fi

payload="$(jq -n --arg job "${JOB_NAME:-srp-local}" --arg build "$BUILD_NUMBER" \
  --arg result "$result" --arg stage "$stage" --arg url "${BUILD_URL:-}" \
  --arg commit "${GIT_COMMIT:-}" \
  '{job: $job, build: $build, result: $result, stage: $stage, url: $url, commit: $commit}')"

endpoint="${relay%/}/jenkins"
for attempt in 1 2 3; do
  if printf 'Authorization: Bearer %s\n' "$SRP_RELAY_TOKEN" |
    curl -fsS --max-time 10 -H @- -H 'Content-Type: application/json' \
      --data-binary "$payload" "$endpoint" >/dev/null; then
    log "notified $endpoint: $result${stage:+ at stage $stage}"
    exit 0
  fi
  log "attempt $attempt: could not notify $endpoint"
  sleep $((attempt * 2))
done
die "the relay did not accept the notification"

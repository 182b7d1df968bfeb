#!/usr/bin/env bash
# Tells srp-slack-relay how the build ended: POST /jenkins with a bearer token.
# Usage: jenkins/notify.sh RESULT [MESSAGE]
#   RESULT: the relay's build results (SUCCESS, FAILURE, UNSTABLE, ABORTED,
#   NOT_BUILT, STARTED); a recovery is SUCCESS with a message saying so.
# Needs SRP_RELAY_URL (the relay's base URL) and SRP_RELAY_TOKEN (from Jenkins
# credentials via withCredentials; never written to disk or to a command line).
# The failed stage is read from the stage log the stage scripts keep.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
SRP_STAGE=notify

result="${1:?usage: notify.sh RESULT [MESSAGE]}"
message="${2:-}"
case $result in
  SUCCESS | FAILURE | UNSTABLE | ABORTED | NOT_BUILT | STARTED) ;;
  *) die "RESULT must be SUCCESS, FAILURE, UNSTABLE, ABORTED, NOT_BUILT or STARTED, not '$result'" ;;
esac
[[ $BUILD_NUMBER =~ ^[0-9]+$ ]] || die "BUILD_NUMBER must be a number for the relay, not '$BUILD_NUMBER'"
need curl jq
relay="${SRP_RELAY_URL:-}"
[[ -n $relay ]] || die "SRP_RELAY_URL is not set: where is srp-slack-relay?"
[[ -n ${SRP_RELAY_TOKEN:-} ]] || die "SRP_RELAY_TOKEN is not set (withCredentials 'srp-relay-token')"

# The stage that failed, or, for an aborted build, the one that never finished.
stage=""
if [[ -f $SRP_STAGE_LOG ]]; then
  # Only this build's lines: a build that failed before its Checkout stage ran
  # must not report the stage of an earlier build.
  stage="$(awk -F'\t' -v b="$BUILD_NUMBER" '$3 == b && $2 == "failed" { s = $1 } END { print s }' "$SRP_STAGE_LOG")"
  if [[ -z $stage ]]; then
    stage="$(awk -F'\t' -v b="$BUILD_NUMBER" '$3 != b { next } $2 == "started" { open[$1] = 1; last = $1 }
      $2 == "ok" { delete open[$1] } END { if (last in open) print last }' "$SRP_STAGE_LOG")"
  fi
fi

# Field names and types are srp-slack-relay's JenkinsPayload (it rejects unknown
# fields); optional fields are left out rather than sent empty.
payload="$(jq -n --arg job "${JOB_NAME:-srp-local}" --argjson build "$BUILD_NUMBER" \
  --arg result "$result" --arg stage "$stage" --arg url "${BUILD_URL:-}" \
  --arg commit "${GIT_COMMIT:-}" --arg branch "${BRANCH_NAME:-${GIT_BRANCH:-}}" --arg message "$message" \
  '{job: $job, build: $build, result: $result, stage: $stage, url: $url, commit: $commit,
    branch: $branch, message: $message} | with_entries(select(.value != ""))')"

endpoint="${relay%/}/jenkins"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT
for attempt in 1 2 3; do
  code="$(printf 'Authorization: Bearer %s\n' "$SRP_RELAY_TOKEN" |
    curl -sS --max-time 10 -H @- -H 'Content-Type: application/json' -o "$body" \
      -w '%{http_code}' --data-binary "$payload" "$endpoint" || true)"
  case $code in
    2??)
      log "notified $endpoint: $result${stage:+ at stage $stage} ($(cat "$body"))"
      exit 0
      ;;
    4??) die "the relay refused the notification (HTTP $code): $(cat "$body")" ;;
  esac
  log "attempt $attempt: could not notify $endpoint (HTTP ${code:-none})"
  ((attempt < 3)) && sleep $((attempt * 2))
done
die "the relay did not accept the notification after 3 attempts"

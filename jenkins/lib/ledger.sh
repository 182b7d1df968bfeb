#!/usr/bin/env bash
# The pipeline's client of srp-api's release ledger (issue 20). Sourced by the
# stage scripts after common.sh, never executed.
#
# Every write is queued first (one JSON file per write under
# $SRP_WORK_DIR/ledger/), then the queue is sent in order. A write that the
# ledger cannot take now (down, 5xx, or a verdict whose release the Build
# stage has not recorded yet) stays queued, the log says WARNING, and the
# stage goes on: the ledger never fails a build. Smoke Test, the last stage,
# retries whatever is left (SRP_LEDGER_RETRIES times, SRP_LEDGER_RETRY_DELAY
# seconds apart) and then reports what could not be recorded.
#
# Environment:
#   SRP_LEDGER_URL          srp-api's base URL; unset: nothing is recorded
#   SRP_LEDGER_TOKEN        bearer token (Jenkins credential srp-ledger-token,
#                           scopes releases:write and projects:write); read by
#                           curl from standard input, never on a command line
#   SRP_LEDGER_PROJECT      project name (default: SRP_IMAGE, else srp-api)
#   SRP_LEDGER_ENVIRONMENT  environment deployed to (default production on
#                           Jenkins, local otherwise)

# shellcheck disable=SC2034  # used by the scripts that source this file

SRP_LEDGER_QUEUE="$SRP_WORK_DIR/ledger"

ledger_enabled() {
  [[ -n ${SRP_LEDGER_URL:-} ]] || return 1
  if ! [[ $BUILD_NUMBER =~ ^[1-9][0-9]*$ ]]; then
    log "ledger: BUILD_NUMBER '$BUILD_NUMBER' is not a build number: nothing recorded (use --build-number N)"
    return 1
  fi
}

ledger_project() { printf '%s\n' "${SRP_LEDGER_PROJECT:-${SRP_IMAGE:-srp-api}}"; }

ledger_environment() {
  local default=local
  is_jenkins && default=production
  printf '%s\n' "${SRP_LEDGER_ENVIRONMENT:-$default}"
}

# ledger_curl METHOD URL [BODY_FILE] -> prints "STATUS" (000 when unreachable);
# the response body goes to $SRP_LEDGER_QUEUE/.last-response.
ledger_curl() {
  local method=$1 url=$2 body=${3:-}
  local args=(-sS --max-time 10 -o "$SRP_LEDGER_QUEUE/.last-response" -w '%{http_code}' -X "$method"
    -H @- -H 'Content-Type: application/json')
  [[ -n $body ]] && args+=(--data-binary "@$body")
  # The token travels on stdin (-H @-), so it is in no process listing.
  printf 'Authorization: Bearer %s\n' "${SRP_LEDGER_TOKEN:-}" |
    curl "${args[@]}" "$url" 2>/dev/null || true
}

# The project's id, created when missing. Empty when the ledger cannot say.
ledger_project_id() {
  local base="${SRP_LEDGER_URL%/}" name status id
  name="$(ledger_project)"
  status="$(ledger_curl GET "$base/projects?name=$(jq -rn --arg n "$name" '$n|@uri')")"
  if [[ $status == 200 ]]; then
    id="$(jq -r '.items[0].id // empty' "$SRP_LEDGER_QUEUE/.last-response" 2>/dev/null || true)"
    if [[ -n $id ]]; then
      printf '%s\n' "$id"
      return 0
    fi
    local new="$SRP_LEDGER_QUEUE/.project.json"
    jq -n --arg n "$name" '{name: $n, description: "recorded by the SRP pipeline"}' >"$new"
    status="$(ledger_curl POST "$base/projects" "$new")"
    if [[ $status == 201 ]]; then
      jq -r '.id' "$SRP_LEDGER_QUEUE/.last-response"
      return 0
    fi
    # 409: another build created it meanwhile; the next attempt finds it.
  fi
  log "WARNING: ledger unavailable at $base: cannot find or create project '$name' (HTTP $status); the pipeline goes on"
  return 1
}

# ledger_queue WHAT METHOD PATH JSON: PATH is relative to /projects/{id}.
ledger_queue() {
  local what=$1 method=$2 path=$3 json=$4
  ledger_enabled || return 0
  mkdir -p "$SRP_LEDGER_QUEUE"
  local n
  n="$(find "$SRP_LEDGER_QUEUE" -maxdepth 1 -name '*.json' ! -name '.*' | wc -l)"
  jq -n --arg what "$what" --arg method "$method" --arg path "$path" --argjson body "$json" \
    --arg build "$BUILD_NUMBER" '{what: $what, method: $method, path: $path, build: $build, body: $body}' \
    >"$SRP_LEDGER_QUEUE/$(printf '%s-%04d' "$BUILD_NUMBER" "$((n + 1))").json"
  ledger_flush
}

# Sends the queue in order, twice at most: a verdict that waited for its
# release goes through once the release is in. Stops at the first write the
# ledger cannot take now (down), so that writes keep their order. Never fails.
ledger_flush() {
  ledger_enabled || return 0
  local pass
  for pass in 1 2; do
    _ledger_send || return 0
  done
}

# One pass over the queue; fails when the ledger is down or nothing waits.
_ledger_send() {
  [[ -d $SRP_LEDGER_QUEUE ]] || return 1
  local files=() f waiting=0 sent=0
  mapfile -t files < <(find "$SRP_LEDGER_QUEUE" -maxdepth 1 -name '*.json' ! -name '.*' | sort)
  ((${#files[@]})) || return 1
  local id
  id="$(ledger_project_id)" || return 1
  local base="${SRP_LEDGER_URL%/}" body="$SRP_LEDGER_QUEUE/.body.json"
  for f in "${files[@]}"; do
    local what method path status
    what="$(jq -r .what "$f")"
    method="$(jq -r .method "$f")"
    path="$(jq -r .path "$f")"
    jq -c .body "$f" >"$body"
    status="$(ledger_curl "$method" "$base/projects/$id$path" "$body")"
    case $status in
      2??)
        log "ledger: recorded $what"
        rm -f "$f"
        sent=1
        ;;
      409)
        log "ledger: $what was already recorded"
        rm -f "$f"
        sent=1
        ;;
      404)
        # A verdict before its release (Security Secrets runs before Build):
        # kept for the next flush.
        log "ledger: $what waits for its release to be recorded"
        waiting=1
        ;;
      400 | 401 | 403 | 413 | 415 | 422)
        log "WARNING: ledger refused $what (HTTP $status): $(head -c 400 "$SRP_LEDGER_QUEUE/.last-response" 2>/dev/null); dropped"
        rm -f "$f"
        ;;
      *)
        log "WARNING: ledger unavailable at $base (HTTP $status): $what stays queued; the pipeline goes on"
        return 1
        ;;
    esac
  done
  ((waiting && sent))
}

# The end of the pipeline: retry what is left, then say what was not recorded.
ledger_finish() {
  ledger_enabled || return 0
  local tries="${SRP_LEDGER_RETRIES:-3}" delay="${SRP_LEDGER_RETRY_DELAY:-5}" i left
  for ((i = 0; i <= tries; i++)); do
    ledger_flush
    left="$(find "$SRP_LEDGER_QUEUE" -maxdepth 1 -name '*.json' ! -name '.*' 2>/dev/null | wc -l)"
    ((left == 0)) && return 0
    ((i < tries)) && sleep "$delay"
  done
  log "WARNING: ledger: $left write(s) not recorded after $tries retries; kept in $SRP_LEDGER_QUEUE"
}

# Drops the queue of earlier builds (the Checkout stage starts a new one).
ledger_reset() {
  [[ -d $SRP_LEDGER_QUEUE ]] || return 0
  local stale
  stale="$(find "$SRP_LEDGER_QUEUE" -maxdepth 1 -name '*.json' ! -name '.*' | wc -l)"
  ((stale)) && log "ledger: dropping $stale unrecorded write(s) of an earlier build"
  rm -rf "$SRP_LEDGER_QUEUE"
}

# The verdict of a gate summary (gate-NAME.summary.json) for STAGE.
ledger_verdict() {
  local stage=$1 summary=$2
  ledger_enabled || return 0
  [[ -f $summary ]] || return 0
  local json
  json="$(jq -c '{
      passed: (.verdict == "pass"),
      waivers: [(.waivers.used // [])[] | "\(.source): \(.selector)"],
      summary: ("verdict \(.verdict); blocking \(.blocking | length); waived \(.waived)"
        + (if (.sbom // []) | length > 0 then "; SBOM components \([.sbom[].components] | add)" else "" end))
    }' "$summary" 2>/dev/null)" || {
    log "WARNING: ledger: cannot read $summary; no verdict recorded for $stage"
    return 0
  }
  ledger_queue "verdict $stage" PUT "/releases/$BUILD_NUMBER/verdicts/$stage" "$json"
}

# ledger_deployment STARTED FINISHED RESULT SMOKE
ledger_deployment() {
  ledger_enabled || return 0
  local who="${BUILD_URL:-${JOB_NAME:-local run} #$BUILD_NUMBER}" json
  [[ -n ${BUILD_URL:-} ]] || who="${JOB_NAME:-run-local.sh} #$BUILD_NUMBER"
  json="$(jq -n --arg env "$(ledger_environment)" --argjson build "$BUILD_NUMBER" --arg s "$1" --arg f "$2" \
    --arg result "$3" --arg smoke "$4" --arg who "$who" \
    '{environment: $env, build: $build, started_at: $s, finished_at: $f, result: $result, smoke: $smoke, triggered_by: $who}')"
  ledger_queue "deployment of build $BUILD_NUMBER to $(ledger_environment) ($3, smoke $4)" POST /deployments "$json"
}

#!/usr/bin/env bash
# Shared by every stage script: where things are, how a stage announces itself,
# and the few helpers more than one stage needs. Sourced, never executed.
#
# Environment (all optional; jenkins/README.md lists them with their defaults):
#   SRP_PIPELINE_MODE  jenkins | local   (jenkins when JENKINS_URL is set)
#   SRP_REPORTS_DIR    where reports, gate results and the stage log go
#   SRP_WORK_DIR       scratch state between stages (deploy pid/url)
#   BUILD_NUMBER, GIT_COMMIT   as Jenkins sets them

# shellcheck disable=SC2034  # variables here are used by the scripts that source this file

SRP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z ${SRP_PIPELINE_MODE:-} ]]; then
  if [[ -n ${JENKINS_URL:-} ]]; then SRP_PIPELINE_MODE=jenkins; else SRP_PIPELINE_MODE=local; fi
fi
case $SRP_PIPELINE_MODE in
  jenkins | local) ;;
  *)
    printf 'SRP_PIPELINE_MODE must be jenkins or local, not %q\n' "$SRP_PIPELINE_MODE" >&2
    exit 2
    ;;
esac
SRP_REPORTS_DIR="${SRP_REPORTS_DIR:-$SRP_ROOT/reports}"
SRP_WORK_DIR="${SRP_WORK_DIR:-$SRP_ROOT/.local/pipeline}"
SRP_STAGE_LOG="$SRP_REPORTS_DIR/stages.log"
BUILD_NUMBER="${BUILD_NUMBER:-local}"
export SRP_PIPELINE_MODE SRP_REPORTS_DIR SRP_WORK_DIR BUILD_NUMBER
mkdir -p "$SRP_REPORTS_DIR" "$SRP_WORK_DIR"

SRP_STAGE=""

log() { printf '[%s] %s\n' "${SRP_STAGE:-pipeline}" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
is_jenkins() { [[ $SRP_PIPELINE_MODE == jenkins ]]; }

# Records the stage in the stage log (reports/stages.log: stage, started|ok|failed,
# build, time[, exit N]) when it starts and how it ended. The tests and the
# failure notification read it to know which stages ran and which one failed.
stage_begin() {
  SRP_STAGE=$1
  printf '%s\tstarted\t%s\t%s\n' "$SRP_STAGE" "$BUILD_NUMBER" "$(date -u +%FT%TZ)" >>"$SRP_STAGE_LOG"
  log "stage started (mode $SRP_PIPELINE_MODE, build $BUILD_NUMBER)"
  trap _stage_end EXIT
}
_stage_end() {
  local rc=$?
  if ((rc == 0)); then
    printf '%s\tok\t%s\t%s\n' "$SRP_STAGE" "$BUILD_NUMBER" "$(date -u +%FT%TZ)" >>"$SRP_STAGE_LOG"
    log "stage ok"
  else
    printf '%s\tfailed\t%s\t%s\texit %d\n' "$SRP_STAGE" "$BUILD_NUMBER" "$(date -u +%FT%TZ)" "$rc" >>"$SRP_STAGE_LOG"
    log "stage FAILED (exit $rc)"
  fi
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed on this agent"
  done
}

git_commit() {
  if [[ -n ${GIT_COMMIT:-} ]]; then
    printf '%s\n' "$GIT_COMMIT"
  else
    git -C "$SRP_ROOT" rev-parse HEAD
  fi
}

# The commit this build is of: the one the Checkout stage recorded (HEAD may
# move during a build in a shared work tree), else GIT_COMMIT or HEAD.
built_commit() {
  local recorded=""
  if [[ -f $SRP_REPORTS_DIR/build-info.json ]]; then
    recorded="$(jq -r '.commit // empty' "$SRP_REPORTS_DIR/build-info.json" 2>/dev/null || true)"
  fi
  if [[ -n $recorded ]]; then printf '%s\n' "$recorded"; else git_commit; fi
}

cargo_target_dir() { printf '%s\n' "${CARGO_TARGET_DIR:-$SRP_ROOT/target}"; }

# The directory cargo puts a profile's binaries in ("dev" builds into debug/).
cargo_profile_dir() {
  local profile=$1
  if [[ $profile == dev ]]; then
    printf '%s/debug\n' "$(cargo_target_dir)"
  else
    printf '%s/%s\n' "$(cargo_target_dir)" "$profile"
  fi
}

# srp-gate: SRP_GATE if set, else one on PATH, else built from this checkout.
# On a real agent, point SRP_GATE at a gate built from a trusted release, so a
# change cannot weaken the gate that judges it (see jenkins/README.md).
gate_bin() {
  if [[ -n ${SRP_GATE:-} ]]; then
    [[ -x $SRP_GATE ]] || die "SRP_GATE=$SRP_GATE is not an executable file"
    printf '%s\n' "$SRP_GATE"
  elif command -v srp-gate >/dev/null 2>&1; then
    command -v srp-gate
  else
    log "srp-gate not installed: building it from this checkout"
    need cargo
    (cd "$SRP_ROOT" && cargo build --quiet --locked -p srp-scan-exporter --bin srp-gate >&2) ||
      die "could not build srp-gate"
    printf '%s/srp-gate\n' "$(cargo_profile_dir dev)"
  fi
}

# Runs srp-gate over the given reports and writes its JUnit and JSON summary
# as gate-NAME.*. Returns the gate's own status: 0 pass, 1 block, 2 error.
run_gate() {
  local name=$1
  shift
  local gate junit summary rc=0
  gate="$(gate_bin)" || return 2
  junit="$SRP_REPORTS_DIR/gate-$name.junit.xml"
  summary="$SRP_REPORTS_DIR/gate-$name.summary.json"
  local args=(--junit "$junit" --summary-json "$summary")
  if [[ -n ${SRP_GATE_POLICY:-} ]]; then
    args+=(--policy "$SRP_GATE_POLICY")
  fi
  if [[ -n ${SRP_GATE_BASELINE:-} ]]; then
    args+=(--baseline "$SRP_GATE_BASELINE")
  fi
  log "srp-gate ${args[*]} $*"
  "$gate" "${args[@]}" "$@" || rc=$?
  case $rc in
    0) log "gate PASSED ($name); JUnit: $junit" ;;
    1) log "gate BLOCKED the build ($name); why: $summary and $junit" ;;
    *) log "gate ERROR ($name, exit $rc): the reports could not be judged" ;;
  esac
  return "$rc"
}

# Sends a report to srp-scan-exporter when SRP_SCAN_EXPORTER_URL is set. A push
# that fails is reported but does not change the gate's decision: the exporter
# is for dashboards and alerts, the gate decides the build.
push_report() {
  local file=$1 target=$2
  [[ -n ${SRP_SCAN_EXPORTER_URL:-} ]] || return 0
  local pipeline="${JOB_NAME:-srp-local}"
  local url query
  url="${SRP_SCAN_EXPORTER_URL%/}/reports"
  query="$(jq -rn --arg p "$pipeline" --arg b "$BUILD_NUMBER" --arg t "$target" \
    '"pipeline=\($p|@uri)&build=\($b|@uri)&target=\($t|@uri)"')"
  if curl -fsS --max-time 30 -X POST -H 'Content-Type: application/json' \
    --data-binary "@$file" "$url?$query" >/dev/null; then
    log "pushed $(basename "$file") to $url"
  else
    log "WARNING: could not push $(basename "$file") to $url"
  fi
}

# Takes a report given to a run without the scanner. It is copied, never
# synthesised: no report and no scanner is a failed stage.
take_given_report() {
  local scanner=$1 given=$2 dest=$3 flag=$4
  if is_jenkins; then
    die "$scanner is not installed on this Jenkins agent: install it (jenkins/README.md); a pipeline on Jenkins never uses reports from elsewhere"
  fi
  if [[ -z $given ]]; then
    die "$scanner is not installed and no $scanner report was given ($flag FILE): the scan did not happen, so this stage cannot pass"
  fi
  [[ -f $given ]] || die "the given $scanner report $given does not exist"
  log "$scanner is not installed here: NOT scanning; judging the report given instead: $given"
  cp -- "$given" "$dest"
}

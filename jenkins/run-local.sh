#!/usr/bin/env bash
# Runs the pipeline's six stages locally, in the Jenkinsfile's order, with the
# same stage scripts, and stops at the first stage that fails, as Jenkins does.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  cat <<'USAGE'
Usage: jenkins/run-local.sh [options]

Runs Checkout, Security Secrets, Build, Security Container, Deploy and Smoke Test
with the scripts in jenkins/stages/, stopping at the first failing stage.

Options:
  --gitleaks-report FILE  Gitleaks JSON report to judge when gitleaks is not installed
                          (env SRP_GITLEAKS_REPORT). Without gitleaks and without a
                          report, Security Secrets fails: a scan that did not run never passes.
  --trivy-report FILE     Trivy JSON report to judge when trivy or the image is missing
                          (env SRP_TRIVY_REPORT); the same rule applies.
  --sbom FILE             CycloneDX SBOM to archive and judge with it (env SRP_SBOM).
  --build-number N        BUILD_NUMBER of this run (default: env BUILD_NUMBER, else "local").
  --reports-dir DIR       where reports, gate JUnit/summary and stages.log go
                          (env SRP_REPORTS_DIR, default <repo>/reports).
  --work-dir DIR          scratch state between stages (env SRP_WORK_DIR,
                          default <repo>/.local/pipeline).
  --policy FILE           srp-gate policy (env SRP_GATE_POLICY; default: the gate's
                          built-in platform policy, block on HIGH or CRITICAL).
  --vex FILE              OpenVEX or CycloneDX VEX for Security Container's gate
                          (env SRP_GATE_VEX): statements that suppress findings.
  --fingerprint-key FILE  key of the gate's stable secret fingerprints (env
                          SRP_GATE_FINGERPRINT_KEY_FILE; Jenkins binds the
                          srp-gate-fingerprint-key file credential).
  --sbom-root DIR         a Debian root whose packages Build's syft SBOM includes
                          (env SRP_SBOM_ROOT), when no image is built.
  --skip-tests            do not run the test suite in Build (said loudly in the log).
  --keep-running          leave the locally deployed srp-api running at the end.
  -h, --help              this help.

Build makes a CycloneDX SBOM with syft (reports/build.sbom.cdx.json). At the end
the runner lists the outputs Jenkins archives: the gate's SARIF, its OpenVEX, the SBOMs.
Without a Docker engine, Build builds the binaries with cargo (SRP_CARGO_PROFILE,
default release; SRP_BUILD_PACKAGES limits the packages) and Deploy starts the built
srp-api on a loopback port with a temporary SQLite database (SRP_DEPLOY_TARGET=local).
Exit status: 0 when all six stages passed, else the failing stage's status.
USAGE
}

keep_running=0
while (($#)); do
  case $1 in
    --gitleaks-report) export SRP_GITLEAKS_REPORT="${2:?--gitleaks-report needs a FILE}"; shift 2 ;;
    --trivy-report) export SRP_TRIVY_REPORT="${2:?--trivy-report needs a FILE}"; shift 2 ;;
    --sbom) export SRP_SBOM="${2:?--sbom needs a FILE}"; shift 2 ;;
    --build-number) export BUILD_NUMBER="${2:?--build-number needs a value}"; shift 2 ;;
    --reports-dir) export SRP_REPORTS_DIR="${2:?--reports-dir needs a DIR}"; shift 2 ;;
    --work-dir) export SRP_WORK_DIR="${2:?--work-dir needs a DIR}"; shift 2 ;;
    --policy) export SRP_GATE_POLICY="${2:?--policy needs a FILE}"; shift 2 ;;
    --vex) export SRP_GATE_VEX="${2:?--vex needs a FILE}"; shift 2 ;;
    --fingerprint-key) export SRP_GATE_FINGERPRINT_KEY_FILE="${2:?--fingerprint-key needs a FILE}"; shift 2 ;;
    --sbom-root) export SRP_SBOM_ROOT="${2:?--sbom-root needs a DIR}"; shift 2 ;;
    --skip-tests) export SRP_SKIP_TESTS=1; shift ;;
    --keep-running) keep_running=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) printf 'run-local.sh: unknown argument %q (see --help)\n' "$1" >&2; exit 2 ;;
  esac
done

# Given report paths are resolved now: the stages run from other directories.
for var in SRP_GITLEAKS_REPORT SRP_TRIVY_REPORT SRP_SBOM SRP_GATE_POLICY SRP_GATE_VEX \
  SRP_GATE_FINGERPRINT_KEY_FILE SRP_SBOM_ROOT SRP_REPORTS_DIR SRP_WORK_DIR; do
  if [[ -n ${!var:-} && ${!var} != /* ]]; then
    export "$var=$PWD/${!var}"
  fi
done

# A local run is never taken for a Jenkins build, even inside a Jenkins job.
export SRP_PIPELINE_MODE=local
# shellcheck source=jenkins/lib/common.sh
source "$HERE/lib/common.sh"

stop_local_api() {
  local pidfile="$SRP_WORK_DIR/srp-api.pid"
  [[ -f $pidfile ]] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if ((keep_running)); then
    log "srp-api left running (pid $pid): kill $pid to stop it"
    return 0
  fi
  if kill "$pid" 2>/dev/null; then
    # It drains gracefully on SIGTERM; wait for it (it is not our child, and a
    # zombie counts as gone), then force it.
    local i
    for ((i = 0; i < 50; i++)); do
      if ! kill -0 "$pid" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]]; then
        break
      fi
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
      kill -KILL "$pid" 2>/dev/null || true
      log "srp-api (pid $pid) did not stop within 10 s of SIGTERM: killed"
    else
      log "stopped the locally deployed srp-api (pid $pid)"
    fi
  fi
  rm -f "$pidfile"
}
trap stop_local_api EXIT

# What the stages left for Jenkins to archive and record (the Jenkinsfile's
# post section): the gate's SARIF (warnings-ng), its OpenVEX, the SBOMs.
show_outputs() {
  local d=$SRP_REPORTS_DIR f n
  printf 'outputs (archived by Jenkins):\n' >&2
  for f in gate-secrets.sarif gate-container.sarif; do
    [[ -f $d/$f ]] || continue
    n="$(jq '[.runs[].results[]] | length' "$d/$f" 2>/dev/null || echo '?')"
    printf '  gate SARIF (recordIssues sarif): %s (%s results, %s suppressed)\n' "$d/$f" "$n" \
      "$(jq '[.runs[].results[] | select((.suppressions // []) | length > 0)] | length' "$d/$f" 2>/dev/null || echo '?')" >&2
  done
  if [[ -f $d/gate-container.vex.json ]]; then
    printf '  OpenVEX of the waivers:          %s (%s statements)\n' "$d/gate-container.vex.json" \
      "$(jq '.statements | length' "$d/gate-container.vex.json" 2>/dev/null || echo '?')" >&2
  elif [[ -f $d/gate-container.summary.json ]]; then
    printf '  OpenVEX of the waivers:          none (no vulnerability was waived)\n' >&2
  fi
  for f in build.sbom.cdx.json sbom.cdx.json; do
    [[ -f $d/$f ]] || continue
    printf '  SBOM (CycloneDX):                %s (%s components)\n' "$d/$f" \
      "$(jq '(.components // []) | length' "$d/$f" 2>/dev/null || echo '?')" >&2
  done
}

stages=("Checkout" "Security Secrets" "Build" "Security Container" "Deploy" "Smoke Test")
scripts=(checkout security-secrets build security-container deploy smoke-test)

for i in "${!stages[@]}"; do
  printf '\n==> Stage %d/%d: %s\n' $((i + 1)) "${#stages[@]}" "${stages[$i]}" >&2
  rc=0
  bash "$HERE/stages/${scripts[$i]}.sh" || rc=$?
  if ((rc != 0)); then
    not_run=("${stages[@]:i+1}")
    printf '\npipeline FAILED at stage "%s" (exit %d)\n' "${stages[$i]}" "$rc" >&2
    if ((${#not_run[@]})); then
      joined="$(printf '%s, ' "${not_run[@]}")"
      printf 'stages not run: %s\n' "${joined%, }" >&2
    fi
    printf 'reports: %s\n' "$SRP_REPORTS_DIR" >&2
    show_outputs
    exit "$rc"
  fi
done
printf '\npipeline PASSED: all %d stages, build %s; reports: %s\n' "${#stages[@]}" "$BUILD_NUMBER" "$SRP_REPORTS_DIR" >&2
show_outputs

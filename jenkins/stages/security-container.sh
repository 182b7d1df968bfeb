#!/usr/bin/env bash
# Security Container: Trivy scans the image built in Build (JSON report and a
# CycloneDX SBOM), the reports go to srp-scan-exporter, and srp-gate decides with
# the platform policy (block on HIGH or CRITICAL). Only an image that passed is
# pushed to the registry. Without trivy or without an image (local runs only)
# the reports given in SRP_TRIVY_REPORT and SRP_SBOM are judged instead.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"
stage_begin "Security Container"

[[ -f $SRP_REPORTS_DIR/image.env ]] || die "no image.env from the Build stage: run Build first"
# shellcheck source=/dev/null
source "$SRP_REPORTS_DIR/image.env"
json="$SRP_REPORTS_DIR/trivy.json"
sbom="$SRP_REPORTS_DIR/sbom.cdx.json"

if command -v trivy >/dev/null 2>&1 && [[ ${SRP_IMAGE_BUILT:-0} == 1 ]]; then
  log "trivy $(trivy --version 2>/dev/null | head -1): scanning image $SRP_IMAGE_REF"
  # The full report is kept (no --severity filter, which would drop findings
  # from the report itself); the gate applies the policy.
  trivy image --quiet --format json --output "$json" "$SRP_IMAGE_REF"
  trivy image --quiet --format cyclonedx --output "$sbom" "$SRP_IMAGE_REF"
else
  if command -v trivy >/dev/null 2>&1; then
    log "trivy is installed but no image was built (no Docker engine)"
  fi
  take_given_report trivy "${SRP_TRIVY_REPORT:-}" "$json" --trivy-report
  if [[ -n ${SRP_SBOM:-} ]]; then
    take_given_report "trivy (SBOM)" "$SRP_SBOM" "$sbom" --sbom
  else
    log "no SBOM given (--sbom FILE): none is archived for this local run"
  fi
fi

push_report "$json" "$SRP_IMAGE_REF"
gate_reports=("$json")
if [[ -f $sbom ]]; then
  push_report "$sbom" "$SRP_IMAGE_REF"
  gate_reports+=("$sbom")
fi
# SARIF of every finding (waived ones carried as suppressions) for warnings-ng,
# and the waivers that applied as OpenVEX for Trivy/Grype/Dependency-Track;
# both land in the reports dir, which the Jenkinsfile archives. VEX statements
# from elsewhere (a vendor's, a previous release's) come in via SRP_GATE_VEX.
gate_outputs=(--sarif-out "$SRP_REPORTS_DIR/gate-container.sarif"
  --vex-out "$SRP_REPORTS_DIR/gate-container.vex.json")
if [[ -n ${SRP_GATE_VEX:-} ]]; then
  gate_outputs+=(--vex "$SRP_GATE_VEX")
fi
rc=0
run_gate container "${gate_outputs[@]}" "${gate_reports[@]}" || rc=$?
# The gate's own verdict, so the exporter's srp_scan_gate_passed (and the
# SecurityScanFailed alert) sees the block too.
[[ -f $SRP_REPORTS_DIR/gate-container.summary.json ]] && push_report "$SRP_REPORTS_DIR/gate-container.summary.json" "$SRP_IMAGE_REF"
ledger_verdict security-container "$SRP_REPORTS_DIR/gate-container.summary.json" || true
((rc == 0)) || exit "$rc"

# With a registry, the image that passed is pushed there for the hosts to pull;
# without one (the single-host layout) it stays on this agent, where Ansible
# runs it. Login: SRP_REGISTRY_USER/SRP_REGISTRY_PASSWORD if given, else the
# agent's own docker login.
if [[ -n ${SRP_REGISTRY:-} ]]; then
  [[ ${SRP_IMAGE_BUILT:-0} == 1 ]] || die "SRP_REGISTRY is set but no image was built to push"
  remote="${SRP_REGISTRY%/}/${SRP_IMAGE_REF}"
  if [[ -n ${SRP_REGISTRY_USER:-} ]]; then
    printf '%s' "${SRP_REGISTRY_PASSWORD:-}" |
      docker login --username "$SRP_REGISTRY_USER" --password-stdin "${SRP_REGISTRY%%/*}" >/dev/null
  fi
  log "gate passed: pushing $remote"
  docker tag "$SRP_IMAGE_REF" "$remote"
  docker push "$remote"
fi

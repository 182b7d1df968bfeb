#!/usr/bin/env bash
# Security Secrets: Gitleaks over the repository's history with the repository's
# own .gitleaks.toml (JSON for the gate and the exporter, SARIF for warnings-ng),
# then srp-gate decides. Without gitleaks (local runs only) the report given in
# SRP_GITLEAKS_REPORT is judged instead, and the log says the scan did not run here.
set -euo pipefail
# shellcheck source=jenkins/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
# shellcheck source=jenkins/lib/ledger.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/ledger.sh"
stage_begin "Security Secrets"

json="$SRP_REPORTS_DIR/gitleaks.json"
sarif="$SRP_REPORTS_DIR/gitleaks.sarif"
config="$SRP_ROOT/.gitleaks.toml"
[[ -f $config ]] || die "$config is missing"

if command -v gitleaks >/dev/null 2>&1; then
  log "gitleaks $(gitleaks version 2>/dev/null || echo '?'): scanning the git history of $SRP_ROOT"
  # --exit-code 0: the gate, not gitleaks, decides; a scanner error still fails here.
  for format in json sarif; do
    out="$json"
    [[ $format == sarif ]] && out="$sarif"
    gitleaks git --no-banner --redact --config "$config" --exit-code 0 \
      --report-format "$format" --report-path "$out" "$SRP_ROOT"
  done
else
  take_given_report gitleaks "${SRP_GITLEAKS_REPORT:-}" "$json" --gitleaks-report
fi

push_report "$json" repository
# SARIF of every finding, waived ones carried as suppressions, for warnings-ng.
gate_args=(--sarif-out "$SRP_REPORTS_DIR/gate-secrets.sarif")
# Stable fingerprints (rule, file, keyed hash of the secret; no commit or line),
# so a squash or rebase does not turn a baselined secret into a new one. The
# key is the Jenkins file credential srp-gate-fingerprint-key, the same for
# every build; without it (local runs only) the fingerprints are Gitleaks' own.
if [[ -n ${SRP_GATE_FINGERPRINT_KEY_FILE:-} ]]; then
  gate_args+=(--fingerprint-key-file "$SRP_GATE_FINGERPRINT_KEY_FILE")
  log "stable secret fingerprints: keyed by the fingerprint key credential"
else
  is_jenkins && die "SRP_GATE_FINGERPRINT_KEY_FILE is not set: bind the srp-gate-fingerprint-key credential (jenkins/README.md)"
  log "no fingerprint key (SRP_GATE_FINGERPRINT_KEY_FILE): Gitleaks' own fingerprints, which a rebase changes"
fi
rc=0
run_gate secrets "${gate_args[@]}" "$json" || rc=$?
# The gate's own verdict, so the exporter's srp_scan_gate_passed (and the
# SecurityScanFailed alert) sees the block too.
[[ -f $SRP_REPORTS_DIR/gate-secrets.summary.json ]] && push_report "$SRP_REPORTS_DIR/gate-secrets.summary.json" repository
# Queued until Build records the release (the ledger never changes the result).
ledger_verdict security-secrets "$SRP_REPORTS_DIR/gate-secrets.summary.json" || true
exit "$rc"

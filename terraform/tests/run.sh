#!/usr/bin/env bash
# The Terraform suite (offline; no Terraform binary needed): every .tf parsed
# with python-hcl2 and its shapes checked (check_hcl.py), the same checks shown
# to fail on a weakened copy, the user data shellcheck'ed, and checkov over
# terraform/ with --skip-download: no failed check, every skip justified in the
# code; checkov shown to fail on the weakened copy too.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TF="$(dirname "$HERE")"
ROOT="$(dirname "$TF")"
export PATH="$ROOT/.local/venv/bin:$PATH"
# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/checks.sh
source "$ROOT/scripts/lib/checks.sh"
PY="$ROOT/.local/venv/bin/python"
[[ -x $PY ]] || PY=python3


WORK="$(mktemp -d "${TMPDIR:-/tmp}/srp-terraform-test.XXXXXX")"
TMP="$WORK"
trap 'rm -rf "$WORK"' EXIT

section "tools"
if command -v checkov >/dev/null; then ok "checkov $(checkov --version 2>/dev/null)"; else notok "checkov is not installed"; fi
if "$PY" -c 'import hcl2' 2>/dev/null; then ok "hcl2 parser: $("$PY" -c 'import importlib.metadata as m; print("bc-python-hcl2", m.version("bc-python-hcl2"))' 2>/dev/null || echo present)"; else notok "the hcl2 module is not importable"; fi

section "parse and check every .tf (python-hcl2)"
if "$PY" "$HERE/check_hcl.py" "$TF"; then ok "terraform shapes (check_hcl.py)"; else notok "terraform shapes (above)"; fi

# A weakened copy: IMDSv1 allowed, root volume unencrypted, SSH from anywhere,
# a public address. Both the shape checks and checkov must reject it.
mutant="$WORK/mutant"
mkdir -p "$mutant"
cp -r "$TF/modules" "$TF/staging" "$mutant/"
m="$mutant/modules/scanner_host/main.tf"
sed -i -e 's/http_tokens *= "required"/http_tokens = "optional"/' \
  -e 's/encrypted *= true/encrypted = false/' \
  -e 's/cidr_ipv4 *= var.ssh_cidr/cidr_ipv4 = "0.0.0.0\/0"/' \
  -e 's/associate_public_ip_address = false/associate_public_ip_address = true/' "$m"
if diff -q "$TF/modules/scanner_host/main.tf" "$m" >/dev/null; then
  notok "the weakened copy is identical to the module: the sed patterns no longer match"
fi

section "the shape checks reject a weakened module"
out=$("$PY" "$HERE/check_hcl.py" "$mutant" 2>&1)
for what in "IMDSv2 required" "root volume encrypted" "SSH (22) only from var.ssh_cidr" "no public address"; do
  if grep -qF "FAIL  $what" <<<"$out"; then ok "rejected: $what"; else notok "not rejected: $what"; fi
done

section "user data"
ud="$WORK/user_data.sh"
# shellcheck disable=SC2016 # literal template placeholders
sed -e 's/\${trivy_version}/0.0.0/g' -e 's/\${gitleaks_version}/0.0.0/g' "$TF/modules/scanner_host/user_data.sh.tftpl" >"$ud"
if command -v shellcheck >/dev/null; then
  if out=$(shellcheck -s bash "$ud" 2>&1); then ok "shellcheck user_data.sh.tftpl (rendered)"; else notok "shellcheck user_data.sh.tftpl"; printf '%s\n' "$out"; fi
else
  notok "shellcheck is not installed"
fi

# checkov_json DIR OUT: checkov's JSON report of DIR (terraform only, offline).
checkov_json() {
  checkov -d "$1" --framework terraform --skip-download --quiet -o json >"$2" 2>"$2.err"
  local rc=$?
  # checkov exits 1 when checks fail; anything else is an error.
  ((rc == 0 || rc == 1)) || { cat "$2.err"; return 2; }
}

section "checkov -d terraform --skip-download"
if checkov_json "$TF" "$WORK/checkov.json"; then
  summary=$("$PY" - "$WORK/checkov.json" <<'PYEOF'
import json, sys
reports = json.load(open(sys.argv[1]))
reports = reports if isinstance(reports, list) else [reports]
passed = failed = skipped = errors = 0
for r in reports:
    s = r.get("summary", {})
    passed += s.get("passed", 0); failed += s.get("failed", 0)
    skipped += s.get("skipped", 0); errors += s.get("parsing_errors", 0)
    for c in r.get("results", {}).get("failed_checks", []):
        print(f"FAILED {c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']} {c['check_name']}", file=sys.stderr)
    for c in r.get("results", {}).get("skipped_checks", []):
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        print(f"SKIPPED {c['check_id']} {c['resource']}: {reason}", file=sys.stderr)
print(passed, failed, skipped, errors)
PYEOF
  )
  # checkov's own counts, kept apart from this suite's passed/failed tally.
  read -r ck_passed ck_failed ck_skipped ck_errors <<<"$summary"
  if [[ ${ck_failed:-x} == 0 && ${ck_errors:-x} == 0 && ${ck_passed:-0} -gt 0 ]]; then
    ok "checkov: $ck_passed passed, $ck_failed failed, $ck_skipped skipped (each justified in the code), $ck_errors parsing errors"
  else
    notok "checkov: ${ck_passed:-?} passed, ${ck_failed:-?} failed, ${ck_skipped:-?} skipped, ${ck_errors:-?} parsing errors"
  fi
else
  notok "checkov did not run"
fi

section "checkov rejects the weakened module"
if checkov_json "$mutant" "$WORK/checkov-mutant.json"; then
  failed_ids=$("$PY" -c 'import json, sys
r = json.load(open(sys.argv[1])); r = r if isinstance(r, list) else [r]
print(" ".join(sorted({c["check_id"] for x in r for c in x.get("results", {}).get("failed_checks", [])})))' "$WORK/checkov-mutant.json")
  for id in CKV_AWS_79 CKV_AWS_8 CKV_AWS_24 CKV_AWS_88; do
    if [[ " $failed_ids " == *" $id "* ]]; then ok "checkov fails $id on the weakened copy"; else notok "checkov does not fail $id on the weakened copy (failed: $failed_ids)"; fi
  done
else
  notok "checkov did not run on the weakened copy"
fi

checks_summary terraform

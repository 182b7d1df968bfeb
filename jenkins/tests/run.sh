#!/usr/bin/env bash
# Tests of the Jenkins pipeline without Jenkins, and of the image and compose
# file (deploy/tests/run.sh). Prints one line per check and exits non-zero if
# any failed. What it proves:
#   - a Trivy report with HIGH/CRITICAL findings stops the local pipeline at
#     Security Container: Deploy never runs, the gate's JUnit and summary say why;
#   - a clean run goes through all six stages against the local stack and the
#     smoke test sees this run's build number;
#   - a leak stops it at Security Secrets; a failing test suite stops it at Build;
#     a scan that did not run never passes; Jenkins mode never takes given reports;
#   - the smoke test retries a bounded number of times and checks the build;
#   - notify.sh is accepted by the real srp-slack-relay (and refused with a bad token);
#   - the Jenkinsfile parses (npm-groovy-lint) and maps the six stages to their
#     scripts; .gitleaks.toml allowlists exactly the files with fake secrets;
#   - every shell script is shellcheck clean.
#
# Needs: cargo, jq, curl, python3, shellcheck, npm-groovy-lint@15 in
# <repo>/.local/npm (Java 17), and deploy/tests' tools. Fixtures come from
# <repo>/../shared/fixtures.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
FIX="$ROOT/../shared/fixtures"
export PATH="$ROOT/.local/venv/bin:$ROOT/.local/npm/node_modules/.bin:$PATH"
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source-path=SCRIPTDIR source=../../scripts/lib/checks.sh
source "$ROOT/scripts/lib/checks.sh"
# start_daemon NAME BIN ARGS...: starts a daemon on a free loopback port and
# sets DAEMON_ADDR to its address (from srp-daemon's "listening on" line), or "".
start_daemon() {
  local name=$1 bin=$2 addr="" i
  shift 2
  mkdir -p "$TMP/$name"
  "$bin" --listen 127.0.0.1:0 "$@" </dev/null >"$TMP/$name/log" 2>&1 &
  PIDS+=($!)
  for ((i = 0; i < 100; i++)); do
    addr="$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$TMP/$name/log" | head -1)"
    [[ -n $addr ]] && break
    sleep 0.2
  done
  [[ -n $addr ]] || tail -20 "$TMP/$name/log" | sed 's/^/    | /'
  DAEMON_ADDR=$addr
}
bin_of() { printf '%s/debug/%s\n' "${CARGO_TARGET_DIR:-$ROOT/target}" "$1"; }
for tool in cargo jq curl python3 shellcheck; do
  command -v "$tool" >/dev/null 2>&1 || notok "$tool is installed"
done
[[ -d $FIX/trivy ]] || notok "fixtures found at $FIX"

# ---------------------------------------------------------------------------
section "shellcheck: every shell script of the pipeline and its tests"
mapfile -t SCRIPTS < <(find jenkins deploy -name '*.sh' -type f | sort)
for s in "${SCRIPTS[@]}"; do
  check "shellcheck $s" shellcheck -x -P SCRIPTDIR "$s"
done
# shellcheck disable=SC2016  # the $1 is meant literally
printf '#!/usr/bin/env bash\necho $1\n' >"$TMP/unquoted.sh"
expect_fail "shellcheck catches an unquoted expansion (it can fail)" shellcheck "$TMP/unquoted.sh"
for s in jenkins/stages/*.sh jenkins/run-local.sh jenkins/notify.sh; do
  check "$s has set -euo pipefail" grep -qx 'set -euo pipefail' "$s"
done

# ---------------------------------------------------------------------------
section "Jenkinsfile, offline"
if command -v npm-groovy-lint >/dev/null 2>&1; then
  # The version from its package.json: `npm-groovy-lint --version` starts the
  # CodeNarc Java server (even with --noserver) and leaves it running.
  printf '# npm-groovy-lint %s\n' "$(jq -r .version "$(dirname "$(readlink -f "$(command -v npm-groovy-lint)")")/../package.json")"
  check "npm-groovy-lint parses jenkins/Jenkinsfile with no error" \
    npm-groovy-lint --noserver --failon error --output txt jenkins/Jenkinsfile
  head -n -2 jenkins/Jenkinsfile >"$TMP/Jenkinsfile.broken"
  expect_fail "npm-groovy-lint rejects a Jenkinsfile with a missing brace" \
    npm-groovy-lint --noserver --failon error --output txt "$TMP/Jenkinsfile.broken"
else
  notok "npm-groovy-lint is installed (npm install --prefix .local/npm npm-groovy-lint@15)"
fi
python3 jenkins/tests/check_jenkinsfile.py jenkins/Jenkinsfile "$ROOT" >"$TMP/jf.out" 2>&1
tally "$TMP/jf.out"
# The structure check must be able to fail.
python3 - "$ROOT/jenkins/Jenkinsfile" "$TMP" <<'PY'
import sys, re
src = open(sys.argv[1]).read()
out = sys.argv[2]
# Deploy before Security Container.
a, b = src.index("        stage('Security Container')"), src.index("        stage('Deploy')")
c = src.index("        stage('Smoke Test')")
open(out + "/jf.swapped", "w").write(src[:a] + src[b:c] + src[a:b] + src[c:])
open(out + "/jf.gstring", "w").write(src.replace("sh 'jenkins/stages/build.sh'", 'sh "jenkins/stages/build.sh ${env.X}"'))
open(out + "/jf.nocall", "w").write(src.replace("sh 'jenkins/stages/deploy.sh'", "sh 'ansible-playbook deploy_api.yml'"))
open(out + "/jf.nofixed", "w").write(re.sub(r"fixed \{", "unstable {", src))
gate_sarif = "                sarif(id: 'srp-gate', name: 'srp-gate', pattern: 'reports/gate-*.sarif'),\n"
assert gate_sarif in src
open(out + "/jf.nogatesarif", "w").write(src.replace(gate_sarif, ""))
key = "file(credentialsId: 'srp-gate-fingerprint-key', variable: 'SRP_GATE_FINGERPRINT_KEY_FILE')"
assert key in src
open(out + "/jf.nokey", "w").write(src.replace(key, "string(credentialsId: 'srp-relay-token', variable: 'SRP_GATE_FINGERPRINT_KEY_FILE')"))
assert "reports/*.json, reports/*.sarif, " in src
open(out + "/jf.nosarifarchive", "w").write(src.replace("reports/*.json, reports/*.sarif, ", "reports/*.json, "))
PY
expect_fail "structure check rejects Deploy before Security Container" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.swapped" "$ROOT"
expect_fail "structure check rejects a double-quoted (interpolating) sh step" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.gstring" "$ROOT"
expect_fail "structure check rejects a stage that does not call its script" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.nocall" "$ROOT"
expect_fail "structure check rejects a post without the recovery notification" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.nofixed" "$ROOT"
expect_fail "structure check rejects a post that does not record the gate's SARIF with warnings-ng" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.nogatesarif" "$ROOT"
expect_fail "structure check rejects Security Secrets without the fingerprint key file credential" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.nokey" "$ROOT"
expect_fail "structure check rejects an archive that leaves out the gate's SARIF" python3 jenkins/tests/check_jenkinsfile.py "$TMP/jf.nosarifarchive" "$ROOT"

# ---------------------------------------------------------------------------
section ".gitleaks.toml"
python3 jenkins/tests/check_gitleaks_config.py "$ROOT" >"$TMP/gl.out" 2>&1
tally "$TMP/gl.out"
# In a scratch repository: a tracked file with a fake token must be allowlisted
# by its exact path, and a directory-wide entry is too broad. The token is
# assembled here so that this script itself holds none.
fake_token="ghp_$(printf 'A%.0s' {1..36})"
mk_repo() {
  local dir=$1 allow=$2
  mkdir -p "$dir/tests/data"
  (cd "$dir" && git init -q . && printf 'token: %s\n' "$fake_token" >tests/data/leaky.txt &&
    echo 'no secret' >tests/data/plain.txt && cp "$ROOT/.gitleaks.toml" . &&
    if [[ -n $allow ]]; then printf '\n[allowlist]\ndescription = "fixtures"\npaths = [%s]\n' "$allow" >>.gitleaks.toml; fi &&
    git add -A && git -c user.name=t -c user.email=t@t commit -qm fixture)
}
mk_repo "$TMP/gl-none" ""
mk_repo "$TMP/gl-exact" "'''^tests/data/leaky\\.txt\$'''"
mk_repo "$TMP/gl-broad" "'''^tests/data/.*\$'''"
expect_fail "config check fails when a fake secret is not allowlisted" python3 jenkins/tests/check_gitleaks_config.py "$TMP/gl-none"
check "config check passes when it is allowlisted by exact path" python3 jenkins/tests/check_gitleaks_config.py "$TMP/gl-exact"
expect_fail "config check fails on a directory-wide allowlist entry" python3 jenkins/tests/check_gitleaks_config.py "$TMP/gl-broad"

# ---------------------------------------------------------------------------
section "the local pipeline"
# Build only what the later stages run, in the dev profile; the test-suite hook
# writes a marker so the tests see it ran (Jenkins runs the real suite).
export SRP_CARGO_PROFILE=dev SRP_BUILD_PACKAGES="srp-api srp-scan-exporter" SRP_SMOKE_INTERVAL=0.5
unset SRP_GATE_POLICY SRP_SCAN_EXPORTER_URL SRP_GITLEAKS_REPORT SRP_TRIVY_REPORT SRP_SBOM JENKINS_URL
echo '[]' >"$TMP/gitleaks-clean.json"
# run NAME [run-local args...]: runs the local pipeline in its own dirs.
run() {
  local name=$1
  shift
  mkdir -p "$TMP/$name"
  SRP_TEST_CMD="touch '$TMP/$name/tests-ran'" \
    bash jenkins/run-local.sh --reports-dir "$TMP/$name/reports" --work-dir "$TMP/$name/work" "$@" \
    >"$TMP/$name/out" 2>&1
  echo $? >"$TMP/$name/rc"
}
stages_of() { awk -F'\t' -v s="$2" '$2 == s { print $1 }' "$TMP/$1/reports/stages.log" 2>/dev/null | paste -sd, -; }
show() { printf '    | %s\n' "--- output of the $1 run (tail) ---"; tail -25 "$TMP/$1/out" | sed 's/^/    | /'; }

# 1. The original's proof: HIGH/CRITICAL findings stop the pipeline before Deploy.
# photon-30: CVE-2019-18276 HIGH (bash), CVE-2019-5481 CRITICAL (curl, curl-libs).
# The reports and the gate's verdict go to a real srp-scan-exporter.
xaddr=""
if cargo build --quiet --locked -p srp-scan-exporter --bin srp-scan-exporter >"$TMP/exporter-build.log" 2>&1; then
  start_daemon exporter "$(bin_of srp-scan-exporter)" --data-dir "$TMP/exporter"
  xaddr=$DAEMON_ADDR
  [[ -n $xaddr ]] || notok "srp-scan-exporter started"
else
  notok "srp-scan-exporter builds"
  tail -20 "$TMP/exporter-build.log" | sed 's/^/    | /'
fi
# The release ledger (issue 20): a real srp-api with a releases:write and
# projects:write token, which the runs below record into.
laddr="" ltoken=""
if cargo build --quiet --locked -p srp-api --bin srp-api >"$TMP/ledger-build.log" 2>&1; then
  mkdir -p "$TMP/ledger"
  ltoken="$("$(bin_of srp-api)" --database-url "sqlite:$TMP/ledger/srp.db" --log-level warn \
    token create --name jenkins --scope releases:write,projects:write | tail -n 1)"
  start_daemon ledger "$(bin_of srp-api)" --database-url "sqlite:$TMP/ledger/srp.db"
  laddr=$DAEMON_ADDR
  [[ -n $laddr && $ltoken == srp_* ]] || notok "the ledger (srp-api) started with a token"
else
  notok "srp-api builds"
  tail -20 "$TMP/ledger-build.log" | sed 's/^/    | /'
fi
lurl="${laddr:+http://$laddr}"
ledger_get() { curl -fsS "http://$laddr$1"; }
ledger_pid() { ledger_get "/projects?name=srp-api" | jq -r '.items[0].id'; }

SRP_LEDGER_URL="$lurl" SRP_LEDGER_TOKEN="$ltoken" \
  SRP_SCAN_EXPORTER_URL="${xaddr:+http://$xaddr}" JOB_NAME=srp run blocked --build-number 12 --gitleaks-report "$TMP/gitleaks-clean.json" \
  --trivy-report "$FIX/trivy/photon-30.json.golden" --sbom "$FIX/sbom/fluentd-multiple-lockfiles.cdx.json.golden"
B="$TMP/blocked"
check "blocked run: exits 1 (the gate's block)" test "$(cat "$B/rc")" = 1 || show blocked
check "blocked run: stages started were Checkout..Security Container" \
  test "$(stages_of blocked started)" = "Checkout,Security Secrets,Build,Security Container"
check "blocked run: Security Container is the stage that failed" test "$(stages_of blocked failed)" = "Security Container"
check "blocked run: Deploy never ran (no Deploy in stages.log)" bash -c "! grep -q '^Deploy' '$B/reports/stages.log'"
check "blocked run: nothing was deployed (no deploy.env, no srp-api started)" \
  bash -c "[[ ! -e '$B/reports/deploy.env' && ! -e '$B/work/srp-api.pid' && ! -e '$B/work/local-deploy' ]]"
check "blocked run: the runner says where it stopped and what did not run" \
  bash -c "grep -q 'pipeline FAILED at stage \"Security Container\"' '$B/out' && grep -q 'stages not run: Deploy, Smoke Test' '$B/out'"
S="$B/reports/gate-container.summary.json"
check "blocked run: gate summary verdict is block" test "$(jq -r .verdict "$S" 2>&1)" = block
check "blocked run: gate summary counts 1 HIGH and 2 CRITICAL" \
  test "$(jq -c '[.totals.HIGH, .totals.CRITICAL]' "$S" 2>&1)" = "[1,2]"
check "blocked run: gate summary names CVE-2019-18276 (HIGH) and CVE-2019-5481 (CRITICAL) as blocking" \
  test "$(jq -c '[.blocking[] | "\(.severity) \(.id)"] | unique' "$S" 2>&1)" = '["CRITICAL CVE-2019-5481","HIGH CVE-2019-18276"]'
check "blocked run: gate SARIF (for warnings-ng) has every finding, the 3 blocking ones marked" \
  test "$(jq -c '[([.runs[].results[]] | length), ([.runs[].results[] | select(.properties.blocking)] | length)]' "$B/reports/gate-container.sarif" 2>&1)" = "[3,3]"
check "blocked run: no waiver applied, so no OpenVEX file (an empty one would be invalid)" \
  test ! -e "$B/reports/gate-container.vex.json"
check "blocked run: gate JUnit has a failing test case per blocking finding, saying why" python3 - "$B/reports/gate-container.junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
fails = {tc.get("name"): tc.find("failure") for tc in root.iter("testcase") if tc.find("failure") is not None}
names = " | ".join(fails)
assert any("CVE-2019-18276" in n and "HIGH" in n for n in fails), names
assert sum("CVE-2019-5481" in n for n in fails) == 2, names
assert all("blocks" in (f.get("message") or "") for n, f in fails.items() if "CVE" in n), names
print(len(fails), "failures:", names)
PY
check "blocked run: the secrets gate passed before it" test "$(jq -r .verdict "$B/reports/gate-secrets.summary.json" 2>&1)" = pass
# Build's SBOM, by the real syft: no image here, so the binaries and the
# Cargo.lock they were built from (no --sbom-root in this run).
BS="$B/reports/build.sbom.cdx.json"
lock_packages="$(grep -c '^\[\[package\]\]' "$ROOT/Cargo.lock")"
check "blocked run: Build made a CycloneDX SBOM with syft (reports/build.sbom.cdx.json)" \
  test "$(jq -r '[.bomFormat, .metadata.tools.components[0].name] | join(" ")' "$BS" 2>&1)" = "CycloneDX syft"
check "blocked run: ... one cargo component per Cargo.lock package ($lock_packages)" \
  test "$(jq '[.components[] | select((.purl // "") | startswith("pkg:cargo/"))] | length' "$BS" 2>&1)" = "$lock_packages"
check "blocked run: ... and the gate reads it (exit 0, its components counted)" \
  bash -c "'$(bin_of srp-gate)' -q --summary-json '$TMP/bs.summary.json' '$BS' && test \"\$(jq '.sbom[0].by_type.cargo' '$TMP/bs.summary.json')\" = '$lock_packages'"
check "blocked run: the runner lists the outputs: the gate's SARIF with its 3 results, and no VEX" \
  bash -c "grep -q 'gate SARIF (recordIssues sarif): .*gate-container.sarif (3 results, 0 suppressed)' '$B/out' &&
    grep -q 'OpenVEX of the waivers: *none (no vulnerability was waived)' '$B/out' &&
    grep -q 'SBOM (CycloneDX): .*build.sbom.cdx.json ($(jq '.components | length' "$BS") components)' '$B/out'"
if [[ -n $xaddr ]]; then
  curl -fsS "http://$xaddr/metrics" >"$TMP/exporter.metrics" 2>&1
  check "blocked run: srp-scan-exporter shows the blocked gate (srp_scan_gate_passed 0 for srp-api:12)" \
    grep -Eq '^srp_scan_gate_passed\{pipeline="srp",target="srp-api:12"\} 0$' "$TMP/exporter.metrics"
  check "blocked run: ... and the passed secrets gate (1 for repository)" \
    grep -Eq '^srp_scan_gate_passed\{pipeline="srp",target="repository"\} 1$' "$TMP/exporter.metrics"
  check "blocked run: ... and the HIGH finding pushed by the stage" \
    grep -Eq '^srp_scan_findings\{.*severity="HIGH".*\} 1$' "$TMP/exporter.metrics"
  check "blocked run: no push failed" bash -c "! grep -q 'WARNING: could not push' '$B/out'"
  check "blocked run: ... the build SBOM is the exporter's latest for srp-api (its cargo count)" \
    grep -Eq "^srp_scan_sbom_components\{target=\"srp-api\",type=\"cargo\"\} $lock_packages\$" "$TMP/exporter.metrics"
fi

if [[ -n $laddr ]]; then
  check "blocked run: the ledger holds release 12 with the blocking container verdict" \
    test "$(ledger_get "/projects/$(ledger_pid)/releases/12" | jq -c '[.build, ([.verdicts[] | "\(.stage)=\(.passed)"])]')" \
    = '[12,["security-container=false","security-secrets=true"]]'
  check "blocked run: the release records the build SBOM's component count (sbom_components)" \
    test "$(ledger_get "/projects/$(ledger_pid)/releases/12" | jq .sbom_components)" = "$(jq '.components | length' "$BS" 2>/dev/null || echo none)"
  check "blocked run: ... and no deployment of it" \
    test "$(ledger_get "/projects/$(ledger_pid)/deployments" | jq '[.items[] | select(.build == 12)] | length')" = 0
fi

# 2. A clean run through all six stages against the local stack.
# It waives one vulnerability (so the gate writes OpenVEX), puts this machine's
# own Debian 12 root in Build's SBOM (--sbom-root /: a real package database;
# ansible/tests/make-root.sh is gone from the tree), keys the fingerprints, and
# pushes to the exporter, whose latest two srp-api SBOMs are then this run's
# and the blocked run's.
BN=$((RANDOM % 9000 + 1000))
cat >"$TMP/waive.toml" <<'TOML'
[[waivers]]
id = "CVE-2019-1559"
justification = "vulnerable_code_not_in_execute_path"
reason = "srp-api never uses the SSLv3 padding this is about (test waiver)"
expires = 2099-12-31
TOML
# The gate reads the key as text: 32 random bytes in hex.
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$TMP/fingerprint.key"
SRP_LEDGER_URL="$lurl" SRP_LEDGER_TOKEN="$ltoken" SRP_SCAN_EXPORTER_URL="${xaddr:+http://$xaddr}" JOB_NAME=srp \
  run clean --build-number "$BN" --gitleaks-report "$TMP/gitleaks-clean.json" \
  --trivy-report "$FIX/trivy/centos-7.json.golden" --sbom "$FIX/sbom/fluentd-multiple-lockfiles.cdx.json.golden" \
  --policy "$TMP/waive.toml" --sbom-root / --fingerprint-key "$TMP/fingerprint.key"
C="$TMP/clean"
check "clean run: exits 0" test "$(cat "$C/rc")" = 0 || show clean
six="Checkout,Security Secrets,Build,Security Container,Deploy,Smoke Test"
check "clean run: all six stages started, in order" test "$(stages_of clean started)" = "$six"
check "clean run: all six stages ended ok, in order" test "$(stages_of clean ok)" = "$six"
check "clean run: the Build stage ran the test-suite command" test -e "$C/tests-ran"
check "clean run: smoke test saw /version build == $BN" \
  test "$(jq -r '[.passed, .version.build] | @tsv' "$C/reports/smoke.json" 2>&1)" = "true	$BN"
check "clean run: smoke test saw /health status ok" test "$(jq -r .health.status "$C/reports/smoke.json" 2>&1)" = ok
check "clean run: /version commit is the commit Checkout recorded" \
  test "$(jq -r .version.commit "$C/reports/smoke.json" 2>&1)" = "$(jq -r .commit "$C/reports/build-info.json" 2>&1)"
check "clean run: gate JUnit, summaries, reports and SBOM are in the reports dir" bash -c "cd '$C/reports' &&
  ls gate-secrets.junit.xml gate-secrets.summary.json gate-container.junit.xml gate-container.summary.json gitleaks.json trivy.json sbom.cdx.json build-info.json"
check "clean run: says the scans and the image build did not happen here" \
  bash -c "grep -q 'gitleaks is not installed here: NOT scanning' '$C/out' && grep -q 'trivy is not installed here: NOT scanning' '$C/out' && grep -q 'image build SKIPPED' '$C/out'"
CS="$C/reports/build.sbom.cdx.json"
staged_debs="$(grep -c '^Package:' "$C/work/sbom-root/var/lib/dpkg/status" 2>/dev/null)"
check "clean run: Build's SBOM has the Debian root's packages as deb purls (${staged_debs:-?}) beside the crates" \
  test "$(jq -c '[([.components[] | select((.purl // "") | startswith("pkg:deb/debian/"))] | length),
    ([.components[] | select((.purl // "") | startswith("pkg:cargo/"))] | length)]' "$CS" 2>&1)" = "[${staged_debs:-x},$lock_packages]"
check "clean run: the waiver is written as OpenVEX (gate-container.vex.json), valid against the OpenVEX schema" \
  bash -c "test \"\$(jq -c '[.statements[] | [.vulnerability.name, .status, .justification]]' '$C/reports/gate-container.vex.json')\" = \
    '[[\"CVE-2019-1559\",\"not_affected\",\"vulnerable_code_not_in_execute_path\"]]' &&
    check-jsonschema --schemafile '$ROOT/agents/scan-exporter/tests/data/openvex/openvex_json_schema.json' '$C/reports/gate-container.vex.json'"
check "clean run: ... and the gate's SARIF carries it as a suppression (kind external, with its expiry)" \
  test "$(jq -c '[.runs[].results[] | select(.suppressions) | [.ruleId, .suppressions[0].kind, .suppressions[0].properties.expires]]' "$C/reports/gate-container.sarif" 2>&1)" \
  = '[["CVE-2019-1559","external","2099-12-31"]]'
check "clean run: the runner lists the VEX, both SARIF files and both SBOMs" \
  bash -c "grep -q 'OpenVEX of the waivers: .*gate-container.vex.json (1 statements)' '$C/out' &&
    grep -q 'gate SARIF (recordIssues sarif): .*gate-container.sarif (3 results, 1 suppressed)' '$C/out' &&
    grep -q 'gate SARIF (recordIssues sarif): .*gate-secrets.sarif (0 results' '$C/out' &&
    grep -q 'SBOM (CycloneDX): .*build.sbom.cdx.json' '$C/out' && grep -q 'SBOM (CycloneDX): .*/sbom.cdx.json' '$C/out'"
check "clean run: Security Secrets used the fingerprint key" grep -q 'stable secret fingerprints: keyed by the fingerprint key credential' "$C/out"
if [[ -n $xaddr ]]; then
  # The exporter's changes between the two srp-api SBOMs are srp-gate --sbom-diff's.
  "$(bin_of srp-gate)" -q --sbom-diff "$BS" "$CS" --summary-json "$TMP/sbomdiff.json" >/dev/null 2>&1
  curl -fsS "http://$xaddr/metrics" >"$TMP/exporter2.metrics" 2>&1
  for change in added removed upgraded downgraded; do
    want="$(jq --arg c "$change" '.sbom_diff[$c] | length' "$TMP/sbomdiff.json" 2>/dev/null || echo none)"
    check "exporter: srp_scan_sbom_changes{target=\"srp-api\",change=\"$change\"} is srp-gate --sbom-diff's ${want:-?} (blocked run -> clean run)" \
      grep -Eq "^srp_scan_sbom_changes\{change=\"$change\",target=\"srp-api\"\} ${want:-x}\$" "$TMP/exporter2.metrics"
  done
  check "exporter: ... the Debian packages are the added components (more than 100)" \
    test "$(jq '.sbom_diff.added | length' "$TMP/sbomdiff.json" 2>&1)" -gt 100
fi
api_pid="$(sed -n 's/^SRP_LOCAL_API_PID=//p' "$C/reports/deploy.env" 2>/dev/null)"
# Stopped means gone or a zombie: the orphaned API is reparented to PID 1, which
# does not always reap (containers).
gone() { [[ -n $1 ]] && { ! kill -0 "$1" 2>/dev/null || [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" == Z ]]; }; }
check "clean run: the locally deployed srp-api was stopped at the end" gone "$api_pid"
if [[ -n $laddr ]]; then
  L="$(ledger_pid)"
  check "clean run: the ledger holds release $BN of the commit Checkout recorded" \
    test "$(ledger_get "/projects/$L/releases/$BN" | jq -r '.commit_sha')" = "$(jq -r .commit "$C/reports/build-info.json")"
  check "clean run: the release's sbom_components is the build SBOM's component count" \
    test "$(ledger_get "/projects/$L/releases/$BN" | jq .sbom_components)" = "$(jq '.components | length' "$CS" 2>/dev/null || echo none)"
  check "clean run: ... with both gates' verdicts, passed" \
    test "$(ledger_get "/projects/$L/releases/$BN" | jq -c '[.verdicts[] | "\(.stage)=\(.passed)"]')" \
    = '["security-container=true","security-secrets=true"]'
  check "clean run: ... and its deployment to local, succeeded with the smoke test passed" \
    test "$(ledger_get "/projects/$L/deployments?environment=local" | jq -r --argjson b "$BN" \
      '.items[] | select(.build == $b) | "\(.result) \(.smoke)"')" = "succeeded passed"
  check "clean run: the ledger says build $BN runs in local" \
    test "$(ledger_get "/projects/$L/environments/local" | jq -r .release.build)" = "$BN"
  check "clean run: the DORA metrics count the deployment" \
    bash -c "curl -fsS 'http://$laddr/metrics' | grep -Eq '^srp_dora_deployments_total\{environment=\"local\",project=\"srp-api\",result=\"succeeded\"\} 1$'"
  check "clean run: no ledger warning, and the token is in no output" \
    bash -c "! grep -q 'WARNING: ledger' '$C/out' && ! grep -qF '$ltoken' '$C/out'"
  # The ledger down: the pipeline still passes, warns, retries at the end.
  dead="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  SRP_LEDGER_URL="http://127.0.0.1:$dead" SRP_LEDGER_TOKEN="$ltoken" SRP_LEDGER_RETRIES=1 SRP_LEDGER_RETRY_DELAY=0 \
    run ledgerdown --build-number "$((BN + 1))" --gitleaks-report "$TMP/gitleaks-clean.json" \
    --trivy-report "$FIX/trivy/centos-7.json.golden"
  check "ledger down: the pipeline still passes all six stages" \
    bash -c "[[ \$(cat '$TMP/ledgerdown/rc') == 0 && '$(stages_of ledgerdown ok)' == '$six' ]]" || show ledgerdown
  check "ledger down: ... warning that it goes on, then what was not recorded after the retry" \
    bash -c "grep -q 'WARNING: ledger unavailable' '$TMP/ledgerdown/out' && grep -q 'not recorded after 1 retries' '$TMP/ledgerdown/out'"
  # The queue it left goes through, in order, once the ledger answers.
  env SRP_LEDGER_URL="$lurl" SRP_LEDGER_TOKEN="$ltoken" BUILD_NUMBER="$((BN + 1))" SRP_PIPELINE_MODE=local \
    SRP_REPORTS_DIR="$TMP/ledgerdown/reports" SRP_WORK_DIR="$TMP/ledgerdown/work" \
    bash -c 'source jenkins/lib/common.sh && source jenkins/lib/ledger.sh && ledger_finish' >"$TMP/ledgerdown/flush.out" 2>&1
  check "ledger back: the queued release, verdicts and deployment are recorded by the retry" \
    test "$(ledger_get "/projects/$L/releases/$((BN + 1))" | jq -c '[.build, (.verdicts | length)]'),$(ledger_get "/projects/$L/deployments?environment=local" |
      jq --argjson b "$((BN + 1))" '[.items[] | select(.build == $b)] | length')" = "[$((BN + 1)),2],1"
  check "ledger back: ... and nothing is left queued" \
    bash -c "[[ -z \$(find '$TMP/ledgerdown/work/ledger' -name '*.json' ! -name '.*' 2>/dev/null) ]]"
fi

# 3. A leak stops the pipeline at Security Secrets, before anything is built.
run leak --build-number 7 --gitleaks-report "$FIX/gitleaks/json_simple.json" --trivy-report "$FIX/trivy/centos-7.json.golden"
check "leak: stops at Security Secrets with the gate's block (exit 1)" \
  bash -c "[[ \$(cat '$TMP/leak/rc') == 1 && '$(stages_of leak failed)' == 'Security Secrets' ]]" || show leak
check "leak: Build never ran" test "$(stages_of leak started)" = "Checkout,Security Secrets"
check "leak: the gate summary blocks on the secret" test "$(jq -r '.verdict, .blocking[0].class' "$TMP/leak/reports/gate-secrets.summary.json" 2>&1 | paste -sd' ' -)" = "block secret"

# 4. A failing test suite stops it at Build.
mkdir -p "$TMP/testfail"
SRP_TEST_CMD=false bash jenkins/run-local.sh --reports-dir "$TMP/testfail/reports" --work-dir "$TMP/testfail/work" \
  --build-number 8 --gitleaks-report "$TMP/gitleaks-clean.json" --trivy-report "$FIX/trivy/centos-7.json.golden" >"$TMP/testfail/out" 2>&1
echo $? >"$TMP/testfail/rc"
check "failing tests: the pipeline stops at Build" \
  bash -c "[[ \$(cat '$TMP/testfail/rc') != 0 && '$(stages_of testfail failed)' == 'Build' && '$(stages_of testfail started)' == 'Checkout,Security Secrets,Build' ]]"

# 5. A scan that did not run never passes.
if command -v gitleaks >/dev/null 2>&1 || command -v trivy >/dev/null 2>&1; then
  ok "# skip no-scanner checks: gitleaks or trivy is installed on this machine"
else
  run noscan --build-number 9
  check "no gitleaks and no report: Security Secrets fails, saying the scan did not happen" \
    bash -c "[[ \$(cat '$TMP/noscan/rc') != 0 && '$(stages_of noscan failed)' == 'Security Secrets' ]] &&
      grep -q 'gitleaks is not installed and no gitleaks report was given' '$TMP/noscan/out'"
  run notrivy --build-number 10 --gitleaks-report "$TMP/gitleaks-clean.json"
  check "no trivy and no report: Security Container fails, Deploy never runs" \
    bash -c "[[ \$(cat '$TMP/notrivy/rc') != 0 && '$(stages_of notrivy failed)' == 'Security Container' ]] &&
      ! grep -q '^Deploy' '$TMP/notrivy/reports/stages.log' && grep -q 'trivy is not installed and no trivy report was given' '$TMP/notrivy/out'"
  mkdir -p "$TMP/jmode"
  expect_fail "Jenkins mode: a given report is never used in place of a scan" \
    env SRP_PIPELINE_MODE=jenkins SRP_REPORTS_DIR="$TMP/jmode" SRP_WORK_DIR="$TMP/jmode/w" \
    SRP_GITLEAKS_REPORT="$TMP/gitleaks-clean.json" bash jenkins/stages/security-secrets.sh
  check "Jenkins mode: ... and says why" grep -q 'never uses reports from elsewhere' "$TMP/last.out"
fi
# Jenkins mode requires the fingerprint key. A stand-in gitleaks (it writes an
# empty report in the format asked for) lets the stage run in that mode here.
mkdir -p "$TMP/fakebin" "$TMP/jkey"
cat >"$TMP/fakebin/gitleaks" <<'SH'
#!/usr/bin/env bash
[[ $1 == version ]] && { echo 8.21.2; exit 0; }
format=json out=""
while (($#)); do
  case $1 in
    --report-format) format=$2; shift 2 ;;
    --report-path) out=$2; shift 2 ;;
    *) shift ;;
  esac
done
if [[ $format == sarif ]]; then
  echo '{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"gitleaks"}},"results":[]}]}' >"$out"
else
  echo '[]' >"$out"
fi
SH
chmod +x "$TMP/fakebin/gitleaks"
jsecrets() { env PATH="$TMP/fakebin:$PATH" SRP_PIPELINE_MODE=jenkins BUILD_NUMBER=5 SRP_REPORTS_DIR="$TMP/jkey/r" \
  SRP_WORK_DIR="$TMP/jkey/w" "$@" bash jenkins/stages/security-secrets.sh; }
expect_fail "Jenkins mode: Security Secrets without the fingerprint key credential fails" jsecrets
check "... saying which credential to bind" grep -q 'bind the srp-gate-fingerprint-key credential' "$TMP/last.out"
check "Jenkins mode: with the key bound it passes, passing --fingerprint-key-file to the gate" \
  jsecrets SRP_GATE_FINGERPRINT_KEY_FILE="$TMP/fingerprint.key"
check "... (the gate's command line has it)" grep -q -- "--fingerprint-key-file $TMP/fingerprint.key" "$TMP/last.out"
: >"$TMP/empty.key"
expect_fail "Jenkins mode: an empty key file is a gate error, not a pass" jsecrets SRP_GATE_FINGERPRINT_KEY_FILE="$TMP/empty.key"

# The leak with a key: the blocking secret's fingerprint is the stable form.
run leakkey --build-number 6 --gitleaks-report "$FIX/gitleaks/json_simple.json" --fingerprint-key "$TMP/fingerprint.key"
check "leak with the fingerprint key: blocks, fingerprint file:rule:hmac-<32 hex> (no commit, no line)" \
  bash -c "[[ \$(cat '$TMP/leakkey/rc') == 1 ]] && jq -r '.blocking[].fingerprint' '$TMP/leakkey/reports/gate-secrets.summary.json' |
    grep -Eq '^[^:]+:[^:]+:hmac-[0-9a-f]{32}\$'" || show leakkey

printf '{"not": "a report"}\n' >"$TMP/bogus.json"
run bogus --build-number 11 --gitleaks-report "$TMP/bogus.json"
check "an unreadable report is a gate error (exit 2), not a pass" \
  bash -c "[[ \$(cat '$TMP/bogus/rc') == 2 && '$(stages_of bogus failed)' == 'Security Secrets' ]]"

# ---------------------------------------------------------------------------
section "Build with a Docker engine (the docker CLI against a mock engine on a unix socket)"
if command -v docker >/dev/null 2>&1; then
  python3 jenkins/tests/mock_docker_engine.py "$TMP/docker.sock" "$TMP/docker-builds.jsonl" 2>"$TMP/docker-mock.log" &
  PIDS+=($!)
  for _ in $(seq 50); do [[ -S $TMP/docker.sock ]] && break; sleep 0.1; done
  mkdir -p "$TMP/dbuild"
  build_with_engine() { env DOCKER_HOST="unix://$TMP/docker.sock" DOCKER_BUILDKIT=0 BUILD_NUMBER=31 SRP_TEST_CMD=true \
    SRP_REPORTS_DIR="$TMP/dbuild" SRP_WORK_DIR="$TMP/dbuild/w" "$@" bash jenkins/stages/build.sh; }
  check "Build (Jenkins mode) builds the image through the engine" build_with_engine SRP_PIPELINE_MODE=jenkins
  check "... and records it as built: srp-api:31" \
    bash -c "grep -qx 'SRP_IMAGE_REF=srp-api:31' '$TMP/dbuild/image.env' && grep -qx 'SRP_IMAGE_BUILT=1' '$TMP/dbuild/image.env'"
  head_commit="$(git -C "$ROOT" rev-parse HEAD)"
  python3 - "$TMP/docker-builds.jsonl" "$head_commit" >"$TMP/dbuild/checks" 2>&1 <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
commit = sys.argv[2]
r = recs[-1] if recs else {}
def check(ok, what): print(("ok     - " if ok else "not ok - ") + what)
check(len(recs) == 1, "one build request reached the engine (%d)" % len(recs))
check(r.get("dockerfile") == "deploy/Dockerfile", "it builds deploy/Dockerfile (%s)" % r.get("dockerfile"))
check(sorted(r.get("tags", [])) == sorted(["srp-api:31", "srp-api:" + commit[:12]]),
      "tagged with BUILD_NUMBER and the commit: %s" % r.get("tags"))
check(r.get("buildargs") == {"SRP_BUILD_NUMBER": "31", "SRP_GIT_COMMIT": commit},
      "build args SRP_BUILD_NUMBER=31 and SRP_GIT_COMMIT=<commit>: %s" % r.get("buildargs"))
check(r.get("pull") in ("1", "true"), "base images are pulled fresh (--pull)")
ctx = r.get("context", [])
check({"Cargo.toml", "Cargo.lock", "deploy/Dockerfile", "api/build.rs"} <= set(ctx), "the context holds the workspace (%d files)" % len(ctx))
bad = [n for n in ctx if n.split("/")[0] in ("target", ".local", ".git", "reports")]
check(not bad, ".dockerignore keeps target/, .local/, .git/, reports/ out of the context (%s)" % bad[:5])
PY
  tally "$TMP/dbuild/checks"
  check "... and Build's syft SBOM is of the image, read from its docker save: the image's two Debian packages" \
    test "$(jq -c '[.components[] | .purl // empty | select(startswith("pkg:deb/debian/")) | split("@")[0]] | sort' \
      "$TMP/dbuild/build.sbom.cdx.json" 2>&1)" = '["pkg:deb/debian/base-files","pkg:deb/debian/libc6"]'
  check "... (the engine was asked for the image: docker save)" grep -q 'GET /v[0-9.]*/images/get?names=srp-api%3A31' "$TMP/docker-mock.log"
  expect_fail "Build in Jenkins mode without a Docker engine fails (never skips the image)" \
    env DOCKER_HOST="unix://$TMP/no-such.sock" BUILD_NUMBER=32 SRP_TEST_CMD=true SRP_PIPELINE_MODE=jenkins \
    SRP_REPORTS_DIR="$TMP/dbuild2" SRP_WORK_DIR="$TMP/dbuild2/w" bash jenkins/stages/build.sh
  check "... saying so" grep -q 'no Docker engine on this Jenkins agent' "$TMP/last.out"
else
  notok "the docker CLI is installed (for the mock-engine Build test)"
fi

# ---------------------------------------------------------------------------
section "smoke test: bounded retries, build check"
# A fake deployed API: the first two /version answers come from the old release.
python3 - "$TMP/fake.port" <<'PY' &
import http.server, json, sys
state = {"version_calls": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/reset":
            state["version_calls"] = 0
            body = {}
        elif self.path == "/health":
            body = {"status": "ok"}
        elif self.path == "/version":
            state["version_calls"] += 1
            body = {"version": "0.1.0", "commit": "unknown", "build": "41" if state["version_calls"] <= 2 else "42"}
        else:
            self.send_response(404); self.end_headers(); return
        data = json.dumps(body).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
PIDS+=($!)
for _ in $(seq 50); do [[ -s $TMP/fake.port ]] && break; sleep 0.1; done
fake="http://127.0.0.1:$(cat "$TMP/fake.port")"
mkdir -p "$TMP/smoke"
smoke() { curl -fsS "$fake/reset" >/dev/null && env BUILD_NUMBER=42 SRP_SMOKE_URL="$fake" SRP_SMOKE_INTERVAL=0 SRP_REPORTS_DIR="$TMP/smoke" \
  SRP_WORK_DIR="$TMP/smoke/w" SRP_SMOKE_ATTEMPTS="$1" bash jenkins/stages/smoke-test.sh; }
expect_fail "smoke test fails when the old build is still serving after its 2 attempts" smoke 2
check "... and says which build it saw" grep -q "reports build '41', expected '42'" "$TMP/last.out"
check "smoke test passes once the new build answers (3rd /version call)" smoke 5
check "... after exactly 3 attempts" test "$(jq -r .attempts "$TMP/smoke/smoke.json")" = 3
closed="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
expect_fail "smoke test fails when nothing answers" env BUILD_NUMBER=42 SRP_SMOKE_URL="http://127.0.0.1:$closed" \
  SRP_SMOKE_INTERVAL=0 SRP_SMOKE_ATTEMPTS=2 SRP_REPORTS_DIR="$TMP/smoke" SRP_WORK_DIR="$TMP/smoke/w" bash jenkins/stages/smoke-test.sh

# ---------------------------------------------------------------------------
section "Deploy with the Ansible target (real ansible-playbook, --syntax-check)"
if command -v ansible-playbook >/dev/null 2>&1; then
  ansible_deploy() { env BUILD_NUMBER=77 SRP_DEPLOY_TARGET=ansible SRP_SMOKE_URL=http://127.0.0.1:8000 \
    SRP_REPORTS_DIR="$TMP/ansible" SRP_WORK_DIR="$TMP/ansible/w" SRP_ANSIBLE_EXTRA_ARGS=--syntax-check "$@" \
    bash jenkins/stages/deploy.sh; }
  check "Deploy runs ansible/playbooks/deploy_api.yml with the image tag (syntax-check)" \
    ansible_deploy SRP_ANSIBLE_INVENTORY="$ROOT/ansible/inventories/staging/hosts.yml"
  check "... passing srp_api_image_tag=BUILD_NUMBER" \
    bash -c "grep -q 'srp_api_image_tag=77' '$TMP/last.out' && grep -q 'playbook: .*ansible/playbooks/deploy_api.yml' '$TMP/last.out'"
  expect_fail "Deploy without an inventory fails, saying so" ansible_deploy SRP_ANSIBLE_INVENTORY=
  check "... (SRP_ANSIBLE_INVENTORY is not set)" grep -q 'SRP_ANSIBLE_INVENTORY is not set' "$TMP/last.out"
else
  notok "ansible-playbook is installed (PyPI ansible-core, in .local/venv)"
fi

# ---------------------------------------------------------------------------
section "notify.sh against the real srp-slack-relay"
raddr=""
if cargo build --quiet --locked -p srp-slack-relay --bin srp-slack-relay >"$TMP/relay-build.log" 2>&1; then
  SRP_RELAY_TOKEN=relay-test-token start_daemon relay "$(bin_of srp-slack-relay)" --data-dir "$TMP/relay"
  raddr=$DAEMON_ADDR
  [[ -n $raddr ]] || notok "srp-slack-relay started"
else
  notok "srp-slack-relay builds"
  tail -20 "$TMP/relay-build.log" | sed 's/^/    | /'
fi
if [[ -n $raddr ]]; then
  # The blocked run's reports: its stage log says Security Container failed.
  notify() { env JOB_NAME=srp BUILD_NUMBER=12 BUILD_URL=http://jenkins.example:8080/job/srp/12/ \
    SRP_REPORTS_DIR="$B/reports" SRP_WORK_DIR="$TMP/relay/w" SRP_RELAY_URL="http://$raddr" "$@"; }
  check "notify FAILURE is accepted by the relay" notify SRP_RELAY_TOKEN=relay-test-token bash jenkins/notify.sh FAILURE
  check "... naming the failed stage" grep -q 'FAILURE at stage Security Container' "$TMP/last.out"
  check "notify recovery (SUCCESS) is accepted" notify SRP_RELAY_TOKEN=relay-test-token bash jenkins/notify.sh SUCCESS "fixed: green again"
  expect_fail "notify with a wrong token is refused (401) and fails" notify SRP_RELAY_TOKEN=wrong bash jenkins/notify.sh FAILURE
  check "... saying so" grep -q 'HTTP 401' "$TMP/last.out"
  received="$(curl -fsS "http://$raddr/metrics" | awk '/^srp_relay_received_total\{source="jenkins"\}/ { print $2 }')"
  check "the relay counted exactly the 2 accepted Jenkins notifications" test "$received" = 2
fi

# ---------------------------------------------------------------------------
section "image and compose (deploy/tests/run.sh)"
bash deploy/tests/run.sh >"$TMP/deploy.out" 2>&1
deploy_rc=$?
grep -v '^deploy:' "$TMP/deploy.out" >"$TMP/deploy.lines"
tally "$TMP/deploy.lines"
if ((deploy_rc != 0)) && ! grep -q '^not ok ' "$TMP/deploy.out"; then notok "deploy/tests/run.sh (exit $deploy_rc)"; fi

checks_summary jenkins

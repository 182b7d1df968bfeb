#!/usr/bin/env bash
# srp-api against its own OpenAPI document, with schemathesis: every operation
# of /openapi.json is called with examples, boundary values, fuzzed bodies and
# stateful sequences (create a project, then its releases...), on SQLite and
# on PostgreSQL, and every response must be no 5xx and match the schema: status
# code, content type, headers and body.
#
# Usage: api/tests/schemathesis/run.sh (from anywhere). Builds srp-api (debug)
# if needed. SCHEMATHESIS_SEED=N reproduces a run (default: a fixed seed, so
# CI is repeatable; any seed must pass). Stops what it started.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="$ROOT/.local/schemathesis-venv"
SEED="${SCHEMATHESIS_SEED:-20261201}"
PG_ADMIN_URL="${SRP_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

say() { printf 'schemathesis: %s\n' "$*" >&2; }

want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/schemathesis" ]] || [[ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]]; then
  say "installing schemathesis into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  echo "$want" >"$VENV/.requirements.sha256"
fi

cargo build --locked -q -p srp-api --manifest-path "$ROOT/Cargo.toml"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/srp-api"

WORK="$(mktemp -d)"
PID=""
SCHEMA=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  if [[ -n "$PID" ]]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  if [[ -n "$SCHEMA" ]]; then
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $SCHEMA WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One store: start srp-api on it with an admin token, run schemathesis, stop.
check_store() {
  local name=$1 url=$2 port token
  port="$(free_port)"
  token="$("$BIN" --database-url "$url" --log-level warn token create --name schemathesis --scope admin | tail -1)"
  "$BIN" --database-url "$url" --listen "127.0.0.1:$port" --log-level warn >"$WORK/$name.log" 2>&1 &
  PID=$!
  local up=""
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then up=1; break; fi
    sleep 0.1
  done
  [[ -n "$up" ]] || { say "$name: srp-api did not start"; cat "$WORK/$name.log" >&2; return 1; }
  say "$name: srp-api on 127.0.0.1:$port, seed $SEED"
  # One worker: with two threads, CPython 3.11's compiler can fail inside
  # schemathesis ("AST constructor recursion depth mismatch"), an error of
  # the tool and not of the API.
  local status=0
  (cd "$WORK" && "$VENV/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    -H "Authorization: Bearer $token" \
    --max-examples 20 --workers 1 --seed "$SEED" --no-color) || status=$?
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
  if ((status != 0)); then
    say "$name: FAILED (srp-api's log follows)"
    tail -50 "$WORK/$name.log" >&2
  fi
  return "$status"
}

failed=0
check_store sqlite "sqlite:$WORK/srp.db" || failed=1
SCHEMA="srp_schemathesis_$$"
if psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $SCHEMA" >/dev/null; then
  check_store postgres "${PG_ADMIN_URL%/*}/$SCHEMA" || failed=1
else
  say "postgres: cannot create a database at $PG_ADMIN_URL"
  failed=1
fi
((failed == 0)) && say "ok: no 5xx, every response matches the schema, on both stores"
exit "$failed"

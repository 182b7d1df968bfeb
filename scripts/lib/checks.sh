# shellcheck shell=bash
# The tally every shell test suite shares (jenkins/, deploy/, ansible/,
# terraform/): `ok`/`not ok` lines, so one suite can count another's output
# with `tally`, sections, and checks that run a command and show its output
# only when it goes the wrong way.
#
# A suite sources this, sets TMP to a scratch directory it removes itself,
# and ends with `checks_summary NAME`. The output of the last `check` or
# `expect_fail` stays in "$TMP/last.out", so the next check can grep it
# (commands write to "$TMP/check.out" first, which keeps last.out intact while
# such a grep runs).

passed=0
failed=0

ok() {
  passed=$((passed + 1))
  printf 'ok     - %s\n' "$*"
}

notok() {
  failed=$((failed + 1))
  printf 'not ok - %s\n' "$*"
}

section() { printf '\n# %s (at %ss)\n' "$*" "$SECONDS"; }

# show_output FILE: the end of a command's output, indented under its check.
show_output() { tail -n 40 "$1" | sed 's/^/    | /'; }

# check DESCRIPTION CMD...: passes when CMD succeeds; returns CMD's verdict.
check() {
  local what=$1 rc=0
  shift
  "$@" >"$TMP/check.out" 2>&1 || rc=$?
  cp "$TMP/check.out" "$TMP/last.out"
  if ((rc == 0)); then
    ok "$what"
  else
    notok "$what (exit $rc)"
    show_output "$TMP/last.out"
    return 1
  fi
}

# expect_fail DESCRIPTION CMD...: passes when CMD fails.
expect_fail() {
  local what=$1 rc=0
  shift
  "$@" >"$TMP/check.out" 2>&1 || rc=$?
  cp "$TMP/check.out" "$TMP/last.out"
  if ((rc != 0)); then
    ok "$what"
  else
    notok "$what (it succeeded)"
    show_output "$TMP/last.out"
    return 1
  fi
}

# tally FILE: shows another suite's output and counts its ok/not ok lines.
tally() {
  cat "$1"
  passed=$((passed + $(grep -c '^ok ' "$1")))
  failed=$((failed + $(grep -c '^not ok ' "$1")))
}

# checks_summary NAME: the closing count line; the status says whether all passed.
checks_summary() {
  printf '\n%s: %d passed, %d failed\n' "$1" "$passed" "$failed"
  ((failed == 0))
}

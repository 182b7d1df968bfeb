#!/usr/bin/env bash
# Installs what the platform and its test suite need and a fresh machine lacks.
# Idempotent: on a machine that has everything it only checks, and says so.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"

say() { printf 'setup: %s\n' "$*" >&2; }

# Debian packages: the real Prometheus, promtool, Alertmanager, amtool, node_exporter
# (parity peer), postgres_exporter, the linters and load tools, and xfsprogs (the disk
# guard grows a loop-device XFS online in its tests; cloud-guest-utils's growpart grows the partition first),
# and btrfs-progs (the node exporter's btrfs test builds and scrubs a loop-device raid1).
APT_PKGS=(
  prometheus prometheus-alertmanager prometheus-node-exporter prometheus-postgres-exporter
  shellcheck yamllint debootstrap wrk hyperfine time python3-venv jq curl
  xfsprogs cloud-guest-utils btrfs-progs
)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    say "not root: install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  # Keep package postinst scripts from starting services on their default
  # ports: the tests start what they need on loopback and stop it themselves.
  policy_created=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  ((policy_created)) && rm -f /usr/sbin/policy-rc.d
fi

# The estate suite: QEMU boots a Debian 12 guest; lintian checks the packages,
# help2man writes their manual pages. qemu-system-x86 must come from
# bookworm-backports, the suite of this machine's qemu-utils (apt refuses the
# mix with a Breaks conflict otherwise).
ESTATE_PKGS=(lintian help2man dpkg-dev binutils e2fsprogs openssh-client)
missing=()
for p in "${ESTATE_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_qemu=0
dpkg-query -W -f='${Status}' qemu-system-x86 2>/dev/null | grep -q "install ok installed" || need_qemu=1
if ((${#missing[@]} || need_qemu)); then
  if [[ $(id -u) -ne 0 ]]; then
    say "not root: install ${missing[*]} and qemu-system-x86 (-t bookworm-backports) with sudo apt-get"
    exit 1
  fi
  if ((need_qemu)) && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    say "adding bookworm-backports to apt's sources (for qemu-system-x86)"
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      >/etc/apt/sources.list.d/bookworm-backports.sources
  fi
  say "installing the estate suite's packages: ${missing[*]} (qemu-system-x86: $need_qemu)"
  apt-get update -q >&2
  if ((${#missing[@]})); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
  if ((need_qemu)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports qemu-system-x86 >&2
  fi
fi

# Python tools, in a venv of the project's own so the system Python stays untouched.
VENV="$LOCAL/venv"
REQ="$ROOT/scripts/requirements-tools.txt"
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
  say "installing Python tools into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
  echo "$want" >"$STAMP"
fi

# npm-groovy-lint parses the Jenkinsfile offline (version 15: later ones need Node 22).
if [[ ! -x "$LOCAL/npm/node_modules/.bin/npm-groovy-lint" ]]; then
  say "installing npm-groovy-lint into $LOCAL/npm"
  npm install --prefix "$LOCAL/npm" --no-audit --no-fund npm-groovy-lint@15.2.2 >&2
fi

# Rust test runner.
if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install --locked cargo-nextest >&2
fi

# PostgreSQL: this machine kind runs it at 127.0.0.1:5432; start it if it stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | head -1)" main start >&2 || true
  fi
fi

say "ok"

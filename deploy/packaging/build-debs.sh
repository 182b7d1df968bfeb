#!/usr/bin/env bash
# Builds the five SRP Debian packages (srp-api, srp-node-exporter,
# srp-scan-exporter with srp-gate, srp-disk-guard, srp-slack-relay) with
# dpkg-deb, and checks each with lintian (overrides in lintian/, each with its
# reason):
#   build-debs.sh BIN_DIR OUT_DIR
# BIN_DIR holds the built binaries (target/release for a release; the tests
# use target/debug, stripped here like any other). Units come from the
# srp_agents role's templates (render-units.yml) and units/srp-api.service, so
# the role and the packages run the same hardened unit.
#
# Maintainer scripts never start or enable a service: postinst reloads systemd
# and, on an upgrade, restarts only a unit that is already running; prerm stops
# it on removal; purge deletes its state directory.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
bin_dir=$(realpath "${1:?usage: build-debs.sh BIN_DIR OUT_DIR}")
out_dir=${2:?usage: build-debs.sh BIN_DIR OUT_DIR}
mkdir -p "$out_dir"
out_dir=$(realpath "$out_dir")
export PATH="$ROOT/.local/venv/bin:$PATH"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")
[[ -n $version ]] || { echo "build-debs: no workspace version in Cargo.toml" >&2; exit 1; }
maintainer="SRP developers <srp@srp-platform.invalid>"

work=$(mktemp -d "${TMPDIR:-/tmp}/srp-debs.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/units"
ANSIBLE_CONFIG="$ROOT/ansible/ansible.cfg" ANSIBLE_NOCOLOR=1 \
  ansible-playbook -i localhost, "$HERE/render-units.yml" -e "srp_units_dir=$work/units" \
    -e ansible_python_interpreter="$ROOT/.local/venv/bin/python" >"$work/render.log" 2>&1 ||
  { cat "$work/render.log" >&2; exit 1; }
cp "$HERE/units/srp-api.service" "$work/units/"

# shlibs_depends BINARY...: the Depends: line dpkg-shlibdeps computes.
shlibs_depends() {
  mkdir -p "$work/shlibs/debian"
  printf 'Source: srp\n\nPackage: srp\nArchitecture: amd64\n' >"$work/shlibs/debian/control"
  (cd "$work/shlibs" && dpkg-shlibdeps -O "$@" 2>/dev/null) | sed -n 's/^shlibs:Depends=//p'
}

# maintainer_scripts DIR UNIT STATE_DIR
maintainer_scripts() {
  local d=$1 unit=$2 state=$3
  cat >"$d/DEBIAN/postinst" <<SCRIPT
#!/bin/sh
set -e
# Never enables or starts $unit: the admin (or the Ansible role) does.
if [ "\$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
	# An upgrade restarts the service only where it is already running.
	if [ -n "\$2" ]; then
		deb-systemd-invoke try-restart $unit >/dev/null || true
	fi
fi
SCRIPT
  cat >"$d/DEBIAN/prerm" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop $unit >/dev/null || true
fi
SCRIPT
  cat >"$d/DEBIAN/postrm" <<SCRIPT
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "\$1" = purge ]; then
	if command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge $unit >/dev/null || true
	fi
	# DynamicUser= keeps the state under /var/lib/private.
	rm -rf /var/lib/private/$state /var/lib/$state
fi
SCRIPT
  chmod 0755 "$d/DEBIAN/postinst" "$d/DEBIAN/prerm" "$d/DEBIAN/postrm"
}

# build_package NAME DESCRIPTION BINARIES... ; extra files are placed by
# the caller in $work/pkg/NAME before.
build_package() {
  local name=$1 summary=$2 long=$3
  shift 3
  local d="$work/pkg/$name" b
  mkdir -p "$d/DEBIAN" "$d/usr/bin" "$d/lib/systemd/system" "$d/usr/share/doc/$name"
  for b in "$@"; do
    [[ -x $bin_dir/$b ]] || { echo "build-debs: no $b in $bin_dir" >&2; exit 1; }
    objcopy --strip-unneeded --remove-section=.comment --remove-section=.note "$bin_dir/$b" "$d/usr/bin/$b"
    chmod 0755 "$d/usr/bin/$b"
    # Manual pages from --help, which explains every flag.
    mkdir -p "$d/usr/share/man/man1"
    help2man --no-info --no-discard-stderr --version-string="$version" \
      --name="$(printf '%s' "$summary" | sed 's/ (.*//')" "$d/usr/bin/$b" | gzip -9n >"$d/usr/share/man/man1/$b.1.gz"
  done
  install -m 0644 "$work/units/$name.service" "$d/lib/systemd/system/$name.service"
  {
    printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n'
    printf 'Upstream-Name: srp\nSource: https://github.com/srp-platform/srp\n\n'
    printf 'Files: *\nCopyright: 2026 The SRP developers\nLicense: Expat\n'
    sed -n '/^Permission/,$p' "$ROOT/LICENSE" | sed 's/^$/./; s/^/ /'
  } >"$d/usr/share/doc/$name/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from the SRP repository.\n\n -- %s  %s\n' \
    "$name" "$version" "$maintainer" "$(date -R -d @"${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct)}")" |
    gzip -9n >"$d/usr/share/doc/$name/changelog.gz"
  maintainer_scripts "$d" "$name.service" "$name"
  if [[ -d $d/etc ]] && [[ -n $(find "$d/etc" -type f) ]]; then
    (cd "$d" && find etc -type f -printf '/%p\n' | sort) >"$d/DEBIAN/conffiles"
  fi
  local bins=()
  for b in "$@"; do bins+=("$d/usr/bin/$b"); done
  local depends size
  depends=$(shlibs_depends "${bins[@]}")
  size=$(du -sk --exclude=DEBIAN "$d" | cut -f1)
  cat >"$d/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Homepage: https://github.com/srp-platform/srp
Description: $summary
$(printf '%s\n' "$long" | fold -s -w 72 | sed 's/ *$//; s/^/ /')
CONTROL
  if [[ -f $HERE/lintian/$name ]]; then
    install -D -m 0644 "$HERE/lintian/$name" "$d/usr/share/lintian/overrides/$name"
  fi
  (cd "$d" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$d/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zgzip --build "$d" "$out_dir/${name}_${version}_amd64.deb" >/dev/null
  echo "$out_dir/${name}_${version}_amd64.deb"
}

pkg="$work/pkg"

# srp-api: the API; SQLite under its state directory by default.
install -D -m 0600 "$HERE/files/api.env" "$pkg/srp-api/etc/srp/api.env"
build_package srp-api "SRP application API (projects, delivery metrics)" \
  "The Secure Release Platform's HTTP API: /health, /version, /projects and /metrics, SQLite by default, PostgreSQL with DATABASE_URL. Runs as a hardened Type=notify systemd unit that is not started until enabled." \
  srp-api

build_package srp-node-exporter "SRP node exporter (node_exporter drop-in)" \
  "A Prometheus node_exporter drop-in with the same metric names, running as a hardened Type=notify systemd unit (DynamicUser, read-only system). It is not started until enabled." \
  srp-node-exporter

# The reports directory: CI drops scan reports here (setgid keeps the group).
install -d -m 2775 "$pkg/srp-scan-exporter/var/lib/srp-reports"
build_package srp-scan-exporter "SRP scan exporter and release gate (srp-gate)" \
  "Turns Gitleaks, Trivy, SARIF and CycloneDX reports into Prometheus metrics (srp-scan-exporter, a hardened Type=notify systemd unit that is not started until enabled), and srp-gate, the pipeline's policy gate for the same reports." \
  srp-scan-exporter srp-gate

install -D -m 0644 /dev/null "$pkg/srp-disk-guard/etc/srp/disk-guard.toml"
# Watches / only; the guard refuses a configuration without a [[mount]].
printf '# Watch only: add cleanup policies for this host (see the README).\ninterval = "60s"\n\n[[mount]]\npath = "/"\npolicies = []\n' \
  >"$pkg/srp-disk-guard/etc/srp/disk-guard.toml"
build_package srp-disk-guard "SRP disk guard (disk trend, safe cleanup, escalation)" \
  "Watches the free space of every mount, predicts when each fills, cleans what its policies allow and escalates the rest. A hardened Type=notify systemd unit, not started until enabled; the default configuration only watches." \
  srp-disk-guard

install -d -m 0700 "$pkg/srp-slack-relay/etc/srp/slack-relay"
install -D -m 0644 "$HERE/files/slack.env.example" "$pkg/srp-slack-relay/usr/share/doc/srp-slack-relay/examples/slack.env.example"
build_package srp-slack-relay "SRP Slack relay (Alertmanager and Jenkins to Slack)" \
  "Receives Alertmanager and Jenkins notifications and delivers them to Slack through a durable SQLite outbox, with retries and rate limits. A hardened Type=notify systemd unit, not started until enabled; without Slack settings it logs messages." \
  srp-slack-relay

#!/usr/bin/env bash
# Makes a throw-away Debian 12 (bookworm) root for converging the agents role:
#   make-root.sh DEST
# debootstrap runs once per package set; the finished root is kept as a tarball
# in the cache (SRP_ROOT_CACHE, default /var/cache/srp-debootstrap) so later
# runs only unpack it. The cache lives outside the repository on purpose.
set -euo pipefail

dest=${1:?usage: make-root.sh DEST}
cache=${SRP_ROOT_CACHE:-/var/cache/srp-debootstrap}
mirror=${SRP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# python3 runs Ansible's modules inside the root; systemd gives the role a
# real systemctl (offline enable) and the unit directories it expects; procps
# (/bin/kill, the disk guard's ExecReload) is on every standard Debian host.
include=python3,systemd,procps,ca-certificates
key=$(printf '%s|%s|%s' "$suite" minbase "$include" | sha256sum | cut -c1-12)
tarball="$cache/$suite-minbase-$key.tar.gz"

if [[ ! -s $tarball ]]; then
  command -v debootstrap >/dev/null || { echo "make-root: debootstrap is not installed" >&2; exit 1; }
  mkdir -p "$cache"
  build=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$build"' EXIT
  echo "make-root: debootstrap $suite (minbase + $include) from $mirror, cached as $tarball" >&2
  debootstrap --variant=minbase --include="$include" "$suite" "$build/root" "$mirror" >"$build/log" 2>&1 ||
    { tail -30 "$build/log" >&2; exit 1; }
  # Drop the package cache and the apt lists: they are not needed to converge.
  rm -rf "$build/root"/var/cache/apt/archives/*.deb "$build/root"/var/lib/apt/lists/*
  tar -C "$build/root" -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  # Older package sets are dead weight now.
  find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar.gz" ! -path "$tarball" -delete
fi

mkdir -p "$dest"
tar -C "$dest" -xzf "$tarball"
echo "make-root: $dest ready (from $tarball)" >&2

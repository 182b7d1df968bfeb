#!/usr/bin/env bash
# Builds the throw-away estate host's disk image once and caches it:
#   build-image.sh            prints the cache directory holding
#                             disk.img (raw ext4, the root filesystem),
#                             vmlinuz, initrd.img, id_ed25519 (root's ssh key)
# The image is a Debian 12 root with systemd as PID 1, sshd, python3 and the
# packages the Ansible roles will ask apt for, installed here from the host:
# that is about five times faster than inside the emulated guest. The cache is
# keyed on this script's content, so changing the package set rebuilds it.
# Needs root (debootstrap, chroot). SRP_ESTATE_CACHE overrides the cache
# (default /var/cache/srp-estate); SRP_DEBIAN_MIRROR the mirror.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root=${SRP_ESTATE_CACHE:-/var/cache/srp-estate}
mirror=${SRP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
key=$(sha256sum "$HERE/build-image.sh" | cut -c1-12)
out="$cache_root/$suite-$key"

# What makes it boot and be reachable: the kernel and an initramfs (virtio
# drivers are in Debian's default MODULES=most), systemd as init, networkd for
# DHCP on QEMU's user network, sshd for Ansible and the checks.
base=systemd-sysv,udev,dbus,openssh-server,linux-image-amd64,initramfs-tools,python3,procps,iproute2,ca-certificates,curl,sudo
# What the roles install with apt (site.yml's docker role with Debian's
# docker.io, postgresql, prometheus, alertmanager) and the checks use.
# apparmor: Debian's docker.io cannot start a container without it.
# openjdk-17-jre-headless, fontconfig: the jenkins role's Debian packages (Jenkins itself is a
# vendor package, skipped in the guest). acl: Ansible's become_user postgres needs setfacl.
# python3-apt, python3-debian: the apt and deb822_repository modules (else apt fetches them).
estate=(docker.io apparmor python3-docker postgresql python3-psycopg2 prometheus-postgres-exporter
  prometheus prometheus-alertmanager jq git gnupg apt-transport-https acl
  openjdk-17-jre-headless fontconfig python3-apt python3-debian)

if [[ -s $out/disk.img && -s $out/vmlinuz && -s $out/initrd.img && -s $out/id_ed25519 ]]; then
  echo "$out"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { echo "build-image: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build-image: debootstrap is not installed" >&2; exit 1; }
command -v mkfs.ext4 >/dev/null || { echo "build-image: mkfs.ext4 is not installed" >&2; exit 1; }

mkdir -p "$cache_root"
build=$(mktemp -d "$cache_root/build.XXXXXX")
root="$build/root"
cleanup() {
  # Never delete through a mount that is still there.
  for m in "$root/proc" "$root/sys" "$root/dev/pts" "$root/dev"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m"
  done
  if grep -q " $build/" /proc/self/mounts; then
    echo "build-image: leaving $build, something is still mounted under it" >&2
  else
    rm -rf "$build"
  fi
}
trap cleanup EXIT

log="$build/log"
start=$SECONDS
echo "build-image: debootstrap $suite into $root (log: $log)" >&2
debootstrap --variant=minbase --include="$base" "$suite" "$root" "$mirror" >"$log" 2>&1 ||
  { tail -30 "$log" >&2; exit 1; }

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# No service starts inside the chroot: there is no systemd running there.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite" >"$root/etc/apt/sources.list"
echo "build-image: apt-get install ${estate[*]}" >&2
chroot "$root" apt-get update -q >>"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends "${estate[@]}" >>"$log" 2>&1 ||
  { tail -30 "$log" >&2; exit 1; }
rm -f "$root/usr/sbin/policy-rc.d"
chroot "$root" apt-get clean
# pg_createcluster gave the cluster the first port free on *this* machine (the
# chroot shares its network): 5433 where a PostgreSQL already listens here. The
# guest has no other cluster; the roles expect Debian's default, 5432.
sed -i 's/^port = [0-9]*/port = 5432/' "$root"/etc/postgresql/*/main/postgresql.conf

# A second, bare minbase root as a tarball in the guest: no image can be pulled there, so the
# container build's base images are `docker import`s of it (test.sh).
echo "build-image: debootstrap a minbase root for docker import" >&2
debootstrap --variant=minbase "$suite" "$build/docker-root" "$mirror" >>"$log" 2>&1 ||
  { tail -30 "$log" >&2; exit 1; }
rm -rf "$build/docker-root"/var/cache/apt/archives/*.deb "$build/docker-root"/var/lib/apt/lists/*
install -d -m 0755 "$root/var/lib/srp-estate"
tar -C "$build/docker-root" --numeric-owner -cf "$root/var/lib/srp-estate/debian-$suite-minbase.tar" .
rm -rf "$build/docker-root"
for m in "$root/dev/pts" "$root/dev" "$root/sys" "$root/proc"; do umount "$m"; done

# Boot and reach it: root on the virtio disk, DHCP on the first NIC, QEMU's
# DNS, a serial console for the boot log, root's key-only ssh login.
printf '/dev/vda / ext4 errors=remount-ro 0 1\n' >"$root/etc/fstab"
echo srp-estate >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 srp-estate\n' >"$root/etc/hosts"
printf '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n' >"$root/etc/systemd/network/20-wired.network"
chroot "$root" systemctl enable systemd-networkd.service ssh.service >>"$log" 2>&1
# Nothing waits for a second interface that will never come.
chroot "$root" systemctl mask systemd-networkd-wait-online.service >>"$log" 2>&1
printf 'nameserver 10.0.2.3\n' >"$root/etc/resolv.conf"
# The preinstalled daemons stay off until a role enables them, as on a fresh host.
for unit in docker.service docker.socket containerd.service postgresql.service prometheus.service \
  prometheus-alertmanager.service prometheus-node-exporter.service prometheus-postgres-exporter.service; do
  chroot "$root" systemctl disable "$unit" >>"$log" 2>&1 || true
done
ssh-keygen -q -t ed25519 -N '' -C srp-estate -f "$build/id_ed25519"
install -d -m 0700 "$root/root/.ssh"
install -m 0600 "$build/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
# An empty machine-id: systemd makes a fresh one on first boot.
: >"$root/etc/machine-id"

cp "$root"/boot/vmlinuz-* "$build/vmlinuz"
cp "$root"/boot/initrd.img-* "$build/initrd.img"
chmod 0644 "$build/vmlinuz" "$build/initrd.img"
# mkfs.ext4 -d fills the filesystem from the directory: no loop mount needed.
# Sparse: 8 GiB of room for Docker's images, a few hundred MB on the host.
truncate -s 8G "$build/disk.img"
mkfs.ext4 -q -F -L srp-estate -d "$root" "$build/disk.img" >>"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }

mkdir -p "$out"
mv "$build/disk.img" "$build/vmlinuz" "$build/initrd.img" "$build/id_ed25519" "$build/id_ed25519.pub" "$out/"
# Older package sets are dead weight now.
find "$cache_root" -mindepth 1 -maxdepth 1 -name "$suite-*" ! -path "$out" -exec rm -rf {} +
echo "build-image: built $out in $((SECONDS - start)) s" >&2
echo "$out"

#!/usr/bin/env bash
# Boots and stops the throw-away estate host (a Debian 12 guest under QEMU):
#   guest.sh start STATE_DIR   boot it; STATE_DIR gets qemu.pid, ssh.port,
#                              ssh.key, console.log, accel, boot.seconds
#   guest.sh ssh STATE_DIR CMD...   run CMD in the guest as root
#   guest.sh stop STATE_DIR    power it off (or kill the pid it started), and
#                              delete STATE_DIR's disk overlay
# The guest's disk is a copy-on-write overlay of the cached image
# (build-image.sh), so every boot starts from the same clean host. Its only
# way in is an ssh port forward on 127.0.0.1; the guest reaches this
# machine's loopback as 10.0.2.2 (QEMU's user-mode gateway).
# SRP_ESTATE_ACCEL: auto (default: KVM when it boots the guest, else TCG),
# kvm or tcg. SRP_ESTATE_BOOT_TIMEOUT: seconds to wait for systemd (300).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd=${1:?usage: guest.sh start|ssh|stop STATE_DIR ...}
state=${2:?usage: guest.sh start|ssh|stop STATE_DIR ...}
shift 2

say() { printf 'guest: %s\n' "$*" >&2; }

ssh_opts() {
  printf '%s\n' -i "$state/ssh.key" -p "$(cat "$state/ssh.port")" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 -o BatchMode=yes
}
guest_ssh() {
  local -a opts
  mapfile -t opts < <(ssh_opts)
  # shellcheck disable=SC2029 # the command is meant to run in the guest
  ssh "${opts[@]}" root@127.0.0.1 "$@"
}

# our_pid: the QEMU pid this STATE_DIR started, only while that process lives
# and is still the QEMU with our overlay (a recycled pid is not ours).
our_pid() {
  local pid
  pid=$(cat "$state/qemu.pid" 2>/dev/null) || return 1
  [[ -n $pid ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$state/overlay.qcow2" && echo "$pid"
}

# boot ACCEL DEADLINE_SECONDS: start QEMU, wait until sshd answers.
boot() {
  local accel=$1 deadline=$2 image=$3 port
  rm -f "$state/overlay.qcow2" "$state/qemu.pid"
  qemu-img create -q -f qcow2 -b "$image/disk.img" -F raw "$state/overlay.qcow2"
  # A free loopback port: the kernel picks one, we release it for QEMU.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$port" >"$state/ssh.port"
  # shellcheck disable=SC2054 # QEMU option values hold commas
  local -a cpu=(-accel tcg,thread=multi -cpu max)
  [[ $accel == kvm ]] && cpu=(-accel kvm -cpu host)
  qemu-system-x86_64 "${cpu[@]}" -m "${SRP_ESTATE_MEMORY:-2048}" -smp "${SRP_ESTATE_CPUS:-2}" \
    -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=false" \
    -drive "file=$state/overlay.qcow2,format=qcow2,if=virtio,cache=unsafe" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
    -display none -serial "file:$state/console.log" -monitor none \
    -daemonize -pidfile "$state/qemu.pid"
  local start=$SECONDS
  while ((SECONDS - start < deadline)); do
    our_pid >/dev/null || { say "QEMU ($accel) exited"; return 1; }
    # ConnectTimeout covers only the TCP connect, which QEMU's forward accepts
    # at once: bound the whole probe.
    if timeout 20 bash -c "$(declare -f ssh_opts guest_ssh); state='$state'; guest_ssh true" 2>/dev/null; then return 0; fi
    sleep 2
  done
  say "no ssh after ${deadline}s with $accel"
  return 1
}

kill_ours() {
  local pid
  pid=$(our_pid) || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do our_pid >/dev/null || return 0; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
}

case $cmd in
  start)
    mkdir -p "$state"
    state=$(realpath "$state")
    image=$(bash "$HERE/build-image.sh")
    install -m 0600 "$image/id_ed25519" "$state/ssh.key"
    timeout=${SRP_ESTATE_BOOT_TIMEOUT:-300}
    accel=${SRP_ESTATE_ACCEL:-auto}
    t0=$SECONDS
    booted=0
    # A PVM host's KVM (kvm_pvm, a nested cloud VM's) runs only PVM-built
    # guest kernels, never Debian's: auto goes straight to TCG there.
    if [[ $accel == auto && -d /sys/module/kvm_pvm ]]; then
      say "KVM here is PVM (kvm_pvm), which cannot boot a stock kernel: TCG"
    elif [[ $accel == auto || $accel == kvm ]] && [[ -w /dev/kvm ]]; then
      # A KVM that cannot run this kernel hangs or dies early: give it a
      # short deadline, then fall back to TCG.
      if boot kvm "$([[ $accel == kvm ]] && echo "$timeout" || echo 25)" "$image"; then
        booted=1; echo kvm >"$state/accel"
      else
        kill_ours
        [[ $accel == kvm ]] && { say "KVM asked for and it did not boot"; exit 1; }
      fi
    fi
    if ((!booted)); then
      t0=$SECONDS
      if boot tcg "$timeout" "$image"; then booted=1; echo tcg >"$state/accel"; fi
    fi
    if ((!booted)); then
      kill_ours
      say "the guest did not boot; last console lines:"
      tail -20 "$state/console.log" >&2 || true
      exit 1
    fi
    # sshd answers before the boot is over: wait for systemd to say so.
    guest_ssh 'systemctl is-system-running --wait' >/dev/null 2>&1 || {
      say "systemd is not running cleanly:"
      guest_ssh 'systemctl --failed --no-legend' >&2 || true
    }
    echo $((SECONDS - t0)) >"$state/boot.seconds"
    say "up in $(cat "$state/boot.seconds") s ($(cat "$state/accel")), ssh on 127.0.0.1:$(cat "$state/ssh.port"), pid $(our_pid)"
    ;;
  ssh)
    guest_ssh "$@"
    ;;
  scp)
    # guest.sh scp STATE_DIR DEST_DIR FILE...: copy files into the guest.
    dest=${1:?}
    shift
    mapfile -t opts < <(ssh_opts)
    opts=("${opts[@]/#-p/-P}")
    scp -q "${opts[@]}" "$@" "root@127.0.0.1:$dest"
    ;;
  stop)
    if our_pid >/dev/null; then
      guest_ssh 'systemctl poweroff' >/dev/null 2>&1 || true
      for _ in $(seq 60); do our_pid >/dev/null || break; sleep 0.5; done
      kill_ours
    fi
    rm -f "$state/overlay.qcow2" "$state/qemu.pid"
    ;;
  *)
    echo "usage: guest.sh start|ssh|scp|stop STATE_DIR ..." >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# The disk guard's Docker policy against a REAL Docker engine (issue 18, item 5).
# Runs inside the estate guest (deploy/estate; its test.sh copies this file to
# /root and runs it) as root, with srp-disk-guard installed from its .deb
# (/usr/bin/srp-disk-guard, or SRP_DISK_GUARD) and dockerd running. Nothing can
# be pulled there, so every image is a `docker import` of a tiny tarball made
# here (the guest's own `sleep` and the libraries it needs) or a BuildKit build
# FROM one of them.
#
# It makes: two dangling images; build cache (a BuildKit build); a running
# container whose image has since lost its tag (dangling and in use); a
# repository srp-dg/tagged with three tags, the oldest used by a stopped
# container. Then one `srp-disk-guard --once` pass with only the Docker
# policy (a config written to a temp file) and checks:
#   - both dangling images are removed, and the report lists them as deleted;
#   - the build cache is pruned (fewer records, none the engine would still
#     prune: the snapshot behind a live FROM image stays, as the engine wants);
#   - the image of the running container is never removed, its container
#     still runs, and the skip is counted in_use (report and log);
#   - keep_tags = 1 removes the middle tag only: the newest is kept, the
#     oldest is used by a (stopped) container.
# Exit status: 0 when every check passes, 1 otherwise (each failure printed).
set -uo pipefail

GUARD=${SRP_DISK_GUARD:-/usr/bin/srp-disk-guard}
PREFIX=srp-dg-$$
fails=0
ok() { printf 'ok     %s\n' "$*"; }
notok() { printf 'FAILED %s\n' "$*"; fails=$((fails + 1)); }
die() { printf 'FAILED %s\n' "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (in the estate guest)"
[[ -x $GUARD ]] || die "no srp-disk-guard at $GUARD (install the .deb or set SRP_DISK_GUARD)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (is dockerd running?)"
command -v python3 >/dev/null || die "python3 is needed to read the guard's JSON report"

work=$(mktemp -d /tmp/srp-dg-docker.XXXXXX)
cleanup() {
  docker rm -f "$PREFIX-running" "$PREFIX-stopped" >/dev/null 2>&1 || true
  docker rmi -f "srp-dg/tagged:$PREFIX-1" "srp-dg/tagged:$PREFIX-2" "srp-dg/tagged:$PREFIX-3" \
    "srp-dg/run:$PREFIX" "srp-dg/built:$PREFIX" >/dev/null 2>&1 || true
  for id in ${dangling_ids:-} ${inuse_id:-}; do docker rmi -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A tiny root: the guest's sleep and the shared objects it links, plus a
# marker file whose content makes each import a distinct image.
root=$work/root
sleep_bin=$(command -v sleep)
mkdir -p "$root/bin"
cp "$sleep_bin" "$root/bin/sleep"
for lib in $(ldd "$sleep_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
tarball() { # tarball NAME: the root with a marker saying NAME
  echo "$1" >"$root/marker"
  tar -C "$root" -cf "$work/$1.tar" .
}
imp() { # imp NAME [REPO:TAG] -> image id
  tarball "$1"
  docker import "$work/$1.tar" ${2:+"$2"}
}

# 1. Two dangling images (imported without a name).
dangling_ids=""
for n in 1 2; do
  id=$(imp "dangling-$n") || die "docker import (dangling $n)"
  dangling_ids="$dangling_ids $id"
done
ok "two dangling images:$dangling_ids"

# 2. A running container whose image then loses its tag: dangling, in use.
inuse_id=$(imp run "srp-dg/run:$PREFIX") || die "docker import (run)"
docker run -d --name "$PREFIX-running" "srp-dg/run:$PREFIX" /bin/sleep 3600 >/dev/null ||
  die "docker run from srp-dg/run:$PREFIX"
imp run-replacement "srp-dg/run:$PREFIX" >/dev/null || die "docker import (re-tag)"
tags=$(docker image inspect -f '{{len .RepoTags}}' "$inuse_id")
[[ $tags == 0 ]] || die "set-up: the running container's image still has $tags tag(s)"
ok "running container $PREFIX-running on the now untagged image $inuse_id"

# 3. srp-dg/tagged: three tags a second apart; the oldest used by a stopped container.
for n in 1 2 3; do
  imp "tagged-$n" "srp-dg/tagged:$PREFIX-$n" >/dev/null || die "docker import (tagged $n)"
  sleep 1.1
done
docker create --name "$PREFIX-stopped" "srp-dg/tagged:$PREFIX-1" /bin/sleep 1 >/dev/null ||
  die "docker create from srp-dg/tagged:$PREFIX-1"
tagged_id() { docker image inspect -f '{{.Id}}' "srp-dg/tagged:$PREFIX-$1" 2>/dev/null; }
t1=$(tagged_id 1) t2=$(tagged_id 2) t3=$(tagged_id 3)
ok "srp-dg/tagged: $PREFIX-1 (stopped container), $PREFIX-2, $PREFIX-3"

# 4. Build cache: a BuildKit build FROM the local image (no pull).
mkdir -p "$work/ctx"
head -c 1048576 /dev/urandom >"$work/ctx/payload"
printf 'FROM srp-dg/run:%s\nCOPY payload /payload\nRUN ["/bin/sleep", "0"]\n' "$PREFIX" >"$work/ctx/Dockerfile"
DOCKER_BUILDKIT=1 docker build -q -t "srp-dg/built:$PREFIX" "$work/ctx" >"$work/build.log" 2>&1 ||
  die "docker build (BuildKit): $(tail -5 "$work/build.log")"
docker rmi "srp-dg/built:$PREFIX" >/dev/null 2>&1 || true
cache_records() { # unused build-cache records, from the Engine API
  curl -fsS --unix-socket /var/run/docker.sock 'http://localhost/system/df?type=build-cache' |
    python3 -c 'import json,sys; print(sum(1 for r in (json.load(sys.stdin).get("BuildCache") or []) if not r.get("InUse")))'
}
before=$(cache_records) || die "cannot read the build cache (GET /system/df)"
((before > 0)) || die "set-up: the BuildKit build left no build cache records"
ok "build cache: $before unused records"

# min_age 1s: everything above is older than that by now.
sleep 1.5
cat >"$work/disk-guard.toml" <<EOF
# Thresholds no disk reaches: the Docker policy processes every candidate.
[defaults]
act_below = 0.9998
target = 0.9999
critical = 0.0001

[[mount]]
path = "/"
policies = ["docker"]

[policy.docker]
kind = "docker"
socket = "/var/run/docker.sock"
dangling = true
build_cache = true
keep_tags = 1
repositories = ["srp-dg/tagged"]
min_age = "1s"
EOF

"$GUARD" --config "$work/disk-guard.toml" --data-dir "$work/data" --once --report-json \
  --log-format json >"$work/report.json" 2>"$work/guard.log"
rc=$?
# 0: fine; 3: still under act_below (always, with these thresholds).
if [[ $rc == 0 || $rc == 3 ]]; then ok "srp-disk-guard --once exited $rc"; else
  notok "srp-disk-guard --once exited $rc"; tail -20 "$work/guard.log"
fi

gone() { ! docker image inspect "$1" >/dev/null 2>&1; }
for id in $dangling_ids; do
  if gone "$id"; then ok "dangling image $id removed"; else notok "dangling image $id is still there"; fi
done
if gone "$inuse_id"; then notok "the running container's image $inuse_id was REMOVED"; else
  ok "the running container's image $inuse_id is kept"
fi
running=$(docker inspect -f '{{.State.Running}}' "$PREFIX-running" 2>/dev/null)
if [[ $running == true ]]; then ok "its container still runs"; else notok "its container: running=${running:-gone}"; fi
# What the engine would still prune: a record that backs an image still
# present (BuildKit's "from local" snapshot of the FROM image) is not
# prunable and may stay; anything prunable left means the guard's prune missed it.
after=$(cache_records)
left=$(curl -fsS -X POST --unix-socket /var/run/docker.sock \
  'http://localhost/build/prune?filters=%7B%22until%22%3A%5B%221s%22%5D%7D' |
  python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("CachesDeleted") or []))')
if [[ $left == 0 ]] && ((after < before)); then
  ok "build cache pruned: $before -> $after unused records, none prunable left"
else
  notok "build cache: $before -> ${after:-?} unused records, ${left:-?} still prunable after the guard"
fi
if gone "$t2"; then ok "srp-dg/tagged:$PREFIX-2 removed (beyond keep_tags = 1)"; else
  notok "srp-dg/tagged:$PREFIX-2 is still there"
fi
if gone "$t3"; then notok "the newest srp-dg/tagged:$PREFIX-3 was REMOVED"; else ok "the newest tag is kept"; fi
if gone "$t1"; then notok "srp-dg/tagged:$PREFIX-1 (used by a stopped container) was REMOVED"; else
  ok "the tag a stopped container uses is kept"
fi

# The report: deletions named, the in-use image skipped.
short() { local h=${1#sha256:}; echo "${h:0:12}"; }
shorts=()
for id in $dangling_ids; do shorts+=("$(short "$id")"); done
cat >"$work/check-report.py" <<'EOF'

import json, sys
report, inuse, *dangling = sys.argv[1:]
m = json.load(open(report))["mounts"][0]
acts = m["actions"]
deleted = {a["path"] for a in acts if a["outcome"] == "deleted"}
bad = []
for d in dangling:
    if f"docker image {d}" not in deleted:
        bad.append(f"report does not list dangling image {d} as deleted")
if "docker build cache" not in deleted:
    bad.append("report does not list the build cache as deleted")
if any(inuse in a["path"] and a["outcome"] == "deleted" for a in acts):
    bad.append(f"report says the in-use image {inuse} was deleted")
if m["skipped"] < 1:
    bad.append(f"report counts {m['skipped']} skips")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
if python3 "$work/check-report.py" "$work/report.json" "$(short "$inuse_id")" "${shorts[@]}" >"$work/report-check.txt"; then
  ok "the report lists the deletions and counts the skip"
else
  notok "the report: $(cat "$work/report-check.txt"); it was: $(head -c 2000 "$work/report.json")"
fi
if grep -F "$(short "$inuse_id")" "$work/guard.log" | grep -q 'in_use'; then
  ok "the guard logged the in-use image as an in_use skip"
else
  notok "no in_use skip logged for $(short "$inuse_id"); the log:"; tail -20 "$work/guard.log"
fi

if ((fails)); then
  printf '%d check(s) FAILED\n' "$fails"
  exit 1
fi
echo "all checks passed"

#!/usr/bin/env bash
# ext4 grown ONLINE by the disk guard (issue 18, item 4, on ext4). The project's
# build machine cannot do this (its bounding set lacks CAP_SYS_RESOURCE, so the
# kernel refuses EXT4_IOC_RESIZE_FS to every process); the estate guest's root
# has it. Run inside the estate guest as root, with srp-disk-guard installed
# (/usr/bin/srp-disk-guard from the .deb, or SRP_DISK_GUARD):
#
#   bash ext4-grow.sh
#
# A loop-device ext4 on a 1 GiB backing file, filled so that cleaning cannot
# fix it, on the whole disk, and also on partition 1 of a GPT when sfdisk and
# growpart (cloud-guest-utils) are on PATH. A stand-in for IMDSv2 and the EC2
# Query API (python3's standard library, on 127.0.0.1) checks every EC2
# request's SigV4 signature against the instance-role credentials it serves
# (a forged one is refused), and plays EBS: after ModifyVolume it extends the
# backing file and runs `losetup -c`. One `srp-disk-guard --once` pass must
# then grow the volume, run growpart (partitioned) and resize2fs ONLINE, and
# end above its target, with the timings of each phase printed.
# Exit status: 0 when every check passes, 1 otherwise (each failure printed).
set -uo pipefail

GUARD=${SRP_DISK_GUARD:-/usr/bin/srp-disk-guard}
fails=0
ok() { printf 'ok     %s\n' "$*"; }
notok() { printf 'FAILED %s\n' "$*"; fails=$((fails + 1)); }
die() { printf 'FAILED %s\n' "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (in the estate guest)"
[[ -x $GUARD ]] || die "no srp-disk-guard at $GUARD (install the .deb or set SRP_DISK_GUARD)"
for t in python3 losetup mkfs.ext4 resize2fs fallocate truncate; do
  command -v "$t" >/dev/null || die "missing $t"
done
bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
(((0x$bnd >> 24) & 1)) || die "CAP_SYS_RESOURCE is not in the bounding set (CapBnd $bnd): ext4 cannot grow online here either"

work=$(mktemp -d /tmp/srp-dg-ext4.XXXXXX)
fake_pid=""
devs=()
made_nodes=()
cleanup() {
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null
  umount "$work/mnt" 2>/dev/null
  for d in "${devs[@]}"; do losetup -d "$d" 2>/dev/null; done
  for n in "${made_nodes[@]}"; do rm -f "$n"; done
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/fake_aws.py" <<'EOF'
"""IMDSv2 and the EC2 Query API for one volume, with SigV4 checked."""
import hashlib, hmac, http.server, json, subprocess, sys, threading, time, urllib.parse

port_file, backing, dev, volume, instance = sys.argv[1:6]
KEY, SECRET, TOKEN, IMDS_TOKEN = "ASIAESTATEROLE", "estate-role-secret", "estate-session-token", "imds-token-1"
state = {"size": 1, "modified": False, "signed_ok": 0, "refused": 0}

def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()

def check_sigv4(h, body):
    auth = h.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 authorization"
    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    key, date, region, service, term = parts["Credential"].split("/")
    if key != KEY or service != "ec2" or term != "aws4_request":
        return f"wrong credential scope {parts['Credential']}"
    signed = parts["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    if h.get("x-amz-security-token") != TOKEN or "x-amz-security-token" not in signed:
        return "the role's session token must be sent and signed"
    canon = "POST\n/\n\n" + "".join(f"{n}:{h.get(n, '').strip()}\n" for n in signed) + "\n" + \
        ";".join(signed) + "\n" + hashlib.sha256(body).hexdigest()
    amz_date = h.get("x-amz-date", "")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(canon.encode()).hexdigest()])
    k = sign(sign(sign(sign(("AWS4" + SECRET).encode(), date), region), service), "aws4_request")
    if not hmac.compare_digest(hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest(), parts["Signature"]):
        return "signature does not match"
    return None

def grow_ebs(size):
    time.sleep(0.5)  # EBS takes a moment before the guest sees the new size
    subprocess.run(["truncate", "-s", f"{size}G", backing], check=True)
    subprocess.run(["losetup", "-c", dev], check=True)

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, text, ctype="text/plain"):
        b = text.encode()
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_PUT(self):
        if self.path == "/latest/api/token" and self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(200, IMDS_TOKEN)
        self.reply(400, "IMDSv2 token request expected")

    def do_GET(self):
        if self.headers.get("x-aws-ec2-metadata-token") != IMDS_TOKEN:
            return self.reply(401, "IMDSv2 only")
        meta = {
            "/latest/meta-data/instance-id": instance,
            "/latest/meta-data/placement/region": "us-east-1",
            "/latest/meta-data/iam/security-credentials/": "srp-estate-role",
            "/latest/meta-data/iam/security-credentials/srp-estate-role": json.dumps(
                {"AccessKeyId": KEY, "SecretAccessKey": SECRET, "Token": TOKEN}),
        }
        if self.path in meta:
            return self.reply(200, meta[self.path])
        self.reply(404, "not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        h = {k.lower(): v for k, v in self.headers.items()}
        why = check_sigv4(h, body)
        if why:
            state["refused"] += 1
            return self.reply(403, f"<Response><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>{why}</Message></Error></Errors></Response>")
        state["signed_ok"] += 1
        q = dict(urllib.parse.parse_qsl(body.decode()))
        a = q.get("Action")
        if a == "DescribeVolumes" and q.get("VolumeId.1") == volume:
            x = (f"<DescribeVolumesResponse><volumeSet><item><volumeId>{volume}</volumeId><size>{state['size']}</size>"
                 f"<attachmentSet><item><instanceId>{instance}</instanceId></item></attachmentSet></item></volumeSet></DescribeVolumesResponse>")
        elif a == "ModifyVolume" and q.get("VolumeId") == volume:
            state["size"], state["modified"] = int(q["Size"]), True
            threading.Thread(target=grow_ebs, args=(state["size"],), daemon=True).start()
            x = f"<ModifyVolumeResponse><volumeModification><modificationState>modifying</modificationState></volumeModification></ModifyVolumeResponse>"
        elif a == "DescribeVolumesModifications" and q.get("VolumeId.1") == volume:
            s = "<item><modificationState>optimizing</modificationState></item>" if state["modified"] else ""
            x = f"<DescribeVolumesModificationsResponse><volumeModificationSet>{s}</volumeModificationSet></DescribeVolumesModificationsResponse>"
        else:
            return self.reply(400, f"unexpected {a}")
        self.reply(200, x, "text/xml")

    def do_DELETE(self):  # the script asks for the tallies here
        self.reply(200, json.dumps(state), "application/json")

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(port_file, "w").write(str(srv.server_address[1]))
srv.serve_forever()
EOF

# run LAYOUT: one fill-to-recovered on a fresh loop ext4 (whole|gpt).
run() {
  local layout=$1 backing=$work/$1.img dev fs_dev
  truncate -s 1G "$backing"
  if [[ $layout == gpt ]]; then
    printf 'label: gpt\n,,L\n' | sfdisk -q "$backing" || { notok "$layout: sfdisk"; return; }
    dev=$(losetup -f --show -P "$backing") || { notok "$layout: losetup"; return; }
    devs+=("$dev")
    [[ -e /sys/class/block/${dev#/dev/}p1 ]] || partx -a "$dev" 2>/dev/null
    fs_dev=${dev}p1
    if [[ ! -e $fs_dev ]]; then
      IFS=: read -r maj min <"/sys/class/block/${dev#/dev/}p1/dev"
      mknod "$fs_dev" b "$maj" "$min" && made_nodes+=("$fs_dev")
    fi
  else
    dev=$(losetup -f --show "$backing") || { notok "$layout: losetup"; return; }
    devs+=("$dev")
    fs_dev=$dev
  fi
  mkfs.ext4 -q -F -m 0 "$fs_dev" || { notok "$layout: mkfs.ext4"; return; }
  mkdir -p "$work/mnt"
  mount "$fs_dev" "$work/mnt" || { notok "$layout: mount"; return; }
  mkdir -p "$work/mnt/logs"
  avail=$(df -B1 --output=avail "$work/mnt" | tail -1)
  fallocate -l $((avail - 20 * 1024 * 1024)) "$work/mnt/build-output"
  size_before=$(df -B1 --output=size "$work/mnt" | tail -1)

  rm -f "$work/port"
  python3 "$work/fake_aws.py" "$work/port" "$backing" "$dev" vol-0e57a7e000000000a i-0e57a7e00000000b &
  fake_pid=$!
  for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
  local url
  url=http://127.0.0.1:$(cat "$work/port")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/" -H 'x-amz-date: 20261201T000000Z' \
    -H 'x-amz-security-token: estate-session-token' \
    -H 'authorization: AWS4-HMAC-SHA256 Credential=ASIAESTATEROLE/20261201/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=00' \
    -d 'Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=vol-0e57a7e000000000a')
  [[ $code == 403 ]] || notok "$layout: the stand-in accepted a forged signature ($code)"

  cat >"$work/guard.toml" <<EOT
[defaults]
act_below = 0.20
target = 0.30
critical = 0.10

[[mount]]
path = "$work/mnt"
policies = ["logs"]

[policy.logs]
kind = "files"
roots = ["$work/mnt/logs"]
globs = ["*.log"]
min_age = "1d"

[grow]
enabled = true
max_size_gib = 2
step_gib = 1
max_per_day = 1
wait = "120s"
imds_url = "$url"
ec2_endpoint = "$url"
volume_id = "vol-0e57a7e000000000a"
EOT
  rm -rf "$work/data"
  # No AWS_* in the environment: the instance role's credentials from IMDS.
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    "$GUARD" --config "$work/guard.toml" --data-dir "$work/data" --once --report-json \
    >"$work/report.json" 2>"$work/guard.log"
  rc=$?
  tallies=$(curl -fsS -X DELETE "$url/")
  kill "$fake_pid" 2>/dev/null
  wait "$fake_pid" 2>/dev/null
  fake_pid=""
  size_after=$(df -B1 --output=size "$work/mnt" | tail -1)
  if python3 - "$work/report.json" "$layout" "$rc" "$size_before" "$size_after" "$tallies" <<'EOT'; then
import json, sys
path, layout, rc, before, after, tallies = sys.argv[1:]
t = json.loads(tallies)
r = json.load(open(path))
m = r["mounts"][0]
names = [p["name"] for p in r["phases"]]
for p in r["phases"]:
    print(f"       ext4 ({layout}) phase {p['name']:<18} {p['seconds']:6.2f} s")
want = ["clean", "grow", "grow:lookup", "grow:ModifyVolume", "grow:optimizing", "grow:kernel_size"] + \
    (["grow:growpart"] if layout == "gpt" else []) + ["grow:resize2fs"]
bad = []
if rc != "0": bad.append(f"--once exited {rc}")
if m["grow"] != "grown": bad.append(f"grow: {m['grow']}, errors {m['errors']}")
if m["errors"]: bad.append(f"errors: {m['errors']}")
if names != want: bad.append(f"phases {names}, expected {want}")
if not int(after) > int(before) * 3 // 2: bad.append(f"filesystem {before} -> {after} bytes")
if m["free_ratio_after"] < 0.30: bad.append(f"free ratio after {m['free_ratio_after']:.3f}")
# DescribeVolumes, ModifyVolume, DescribeVolumesModifications (at least once).
if t["refused"] != 1 or t["signed_ok"] < 3: bad.append(f"signed requests {t}")
for b in bad: print(f"       {b}")
total = sum(p["seconds"] for p in r["phases"] if ":" not in p["name"])
print(f"       ext4 ({layout}): {before} -> {after} bytes online; pass phases {total:.2f} s; {t['signed_ok']} SigV4-checked EC2 calls")
sys.exit(1 if bad else 0)
EOT
    ok "ext4 ($layout) grown online by the guard"
  else
    notok "ext4 ($layout)"; tail -15 "$work/guard.log"
  fi
  umount "$work/mnt"
}

run whole
if command -v sfdisk >/dev/null && command -v growpart >/dev/null; then
  run gpt
else
  echo "note   no sfdisk/growpart here (cloud-guest-utils): the GPT-partitioned case not run"
fi

if ((fails)); then
  printf '%d check(s) FAILED\n' "$fails"
  exit 1
fi
echo "all checks passed"

#!/usr/bin/env python3
"""End-to-end test of the whole alert chain, with the real Prometheus and the
real Alertmanager and the repository's own rules, configs and dashboards.

It starts the local platform (scripts/up.sh) on free loopback ports with the
shipped intervals, plus a mock Slack (a real HTTP server recording what the
relay posts), postgres_exporter against the real PostgreSQL, and a small real
ext4 filesystem, then:

  1. stops the API and measures the time until FIRING APIDown reaches Slack,
     starts it again and measures the time until RESOLVED (both must be < 90 s);
  2. pushes a blocking Trivy report and waits for SecurityScanFailed in Slack;
  3. points postgres_exporter at a dead server and waits for PostgreSQLDown;
  4. fills the small filesystem and waits for DiskSpaceWarning;
  5. evaluates every PromQL expression of every dashboard panel and alert rule
     against the live Prometheus; any error or empty result fails.

Needs root (loop mount). Uses binaries already built (SRP_PROFILE, default
debug). Everything it starts is stopped by pid at the end, pass or fail.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures"
PROMISE_SECONDS = 90
# Three HIGH/CRITICAL vulnerabilities (two CRITICAL, one HIGH): the platform
# policy blocks it.
BLOCKING_TRIVY_FIXTURE = "photon-30.json.golden"

failures: list[str] = []
passes: list[str] = []


def log(msg: str) -> None:
    print(f"e2e: {msg}", flush=True)


def check(name: str, ok: bool, detail: str = "") -> None:
    (passes if ok else failures).append(name)
    log(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MockSlack:
    """An incoming-webhook endpoint: records each JSON body with its arrival
    time and answers `ok`, as Slack does."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.messages.append((time.monotonic(), body.decode("utf-8", "replace")))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, since: float, *needles: str) -> float | None:
        with self.lock:
            for t, text in self.messages:
                if t >= since and all(n in text for n in needles):
                    return t
        return None

    def wait_for(self, since: float, timeout: float, *needles: str) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.find(since, *needles)
            if t is not None:
                return t
            time.sleep(0.5)
        return None

    def stop(self) -> None:
        self.server.shutdown()


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def prom_query(prom: str, expr: str) -> dict:
    url = f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    _, body = http_get(url, timeout=20)
    return json.loads(body)


def prom_alert_state(prom: str, name: str) -> str | None:
    _, body = http_get(f"{prom}/api/v1/alerts")
    states = [a["state"] for a in json.loads(body)["data"]["alerts"] if a["labels"].get("alertname") == name]
    if "firing" in states:
        return "firing"
    return "pending" if states else None


def wait_until(pred, timeout: float, step: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return None


class LoopFs:
    """A real, small ext4 filesystem (no reserved blocks), so that
    node_filesystem_avail_bytes moves exactly as the test fills it."""

    def __init__(self, base: Path, size_mb: int = 64) -> None:
        self.image = base / "disk.img"
        self.mnt = base / "smallfs"
        self.mnt.mkdir()
        subprocess.run(["truncate", "-s", f"{size_mb}M", str(self.image)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-F", str(self.image)], check=True)
        subprocess.run(["mount", "-o", "loop", str(self.image), str(self.mnt)], check=True)

    def fill_to(self, used_ratio: float) -> None:
        st = os.statvfs(self.mnt)
        total = st.f_blocks * st.f_frsize
        used = (st.f_blocks - st.f_bavail) * st.f_frsize
        want = int(total * used_ratio) - used
        if want > 0:
            with open(self.mnt / "filler.bin", "wb") as f:
                chunk = b"\0" * (1 << 20)
                while want > 0:
                    n = min(want, len(chunk))
                    f.write(chunk[:n])
                    want -= n
                f.flush()
                os.fsync(f.fileno())
        st = os.statvfs(self.mnt)
        log(f"filled {self.mnt}: {100 * st.f_bavail / st.f_blocks:.1f}% available")

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.mnt)], check=False)


def stop_pid(pid: int, timeout: float = 15) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> int:
    if os.geteuid() != 0:
        log("needs root for the loop-mounted filesystem")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="srp-e2e-"))
    state = tmp / "stack"
    ports = {k: free_port() for k in ["API", "NODE", "SCAN", "DISK", "RELAY", "PROM", "AM", "PGEXP"]}
    slack = MockSlack()
    fs = LoopFs(tmp)
    env = dict(os.environ)
    env.update({f"SRP_{k}_PORT": str(v) for k, v in ports.items()})
    env.update(
        SRP_STATE_DIR=str(state),
        SRP_PROFILE=os.environ.get("SRP_PROFILE", "debug"),
        SRP_NO_BUILD="1",
        SRP_SKIP_SETUP="1",
        SRP_SLACK_WEBHOOK_URL=slack.url,
        SRP_POSTGRES_DSN="postgresql://postgres@127.0.0.1:5432/test?sslmode=disable",
        SRP_DISK_MOUNTS=f"/ {fs.mnt}",
    )
    env.pop("SRP_SLACK_TOKEN", None)
    prom = f"http://127.0.0.1:{ports['PROM']}"
    api = f"http://127.0.0.1:{ports['API']}"
    up_log = open(tmp / "up.log", "w")
    up = subprocess.Popen(["bash", str(ROOT / "scripts/up.sh")], env=env, stdout=up_log, stderr=subprocess.STDOUT, start_new_session=True)
    own_pids: list[int] = []
    try:
        if not wait_until(lambda: (state / "run/ready").exists() or up.poll() is not None, 120):
            raise RuntimeError("the stack did not become ready in 120 s")
        if up.poll() is not None:
            raise RuntimeError("scripts/up.sh exited:\n" + (tmp / "up.log").read_text())
        log(f"stack up in {state}")
        run(state, prom, api, slack, fs, env, ports, own_pids)
    except Exception as e:  # report, then clean up
        check("e2e run", False, repr(e))
    finally:
        for pid in own_pids:
            stop_pid(pid)
        os.killpg(up.pid, signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        slack.stop()
        fs.close()
        if failures:
            for f in sorted((state / "log").glob("*.log")) if (state / "log").exists() else []:
                print(f"--- {f.name} (last 15 lines)")
                print("\n".join(f.read_text(errors="replace").splitlines()[-15:]))
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"e2e: {len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


def run(state: Path, prom: str, api: str, slack: MockSlack, fs: LoopFs, env: dict, ports: dict, own_pids: list[int]) -> None:
    # All targets of the local stack up (jenkins is not part of it).
    jobs = ["srp-api", "srp-node-exporter", "srp-scan-exporter", "srp-disk-guard", "srp-slack-relay", "postgres", "prometheus", "alertmanager"]

    def all_up():
        res = prom_query(prom, 'up == 1')["data"]["result"]
        return {r["metric"]["job"] for r in res} >= set(jobs)

    check("all targets up", bool(wait_until(all_up, 90)), ", ".join(jobs))

    # Traffic for the HTTP panels, and a project so list queries return rows.
    req = urllib.request.Request(f"{api}/projects", data=json.dumps({"name": "e2e-project", "description": "made by e2e"}).encode(), headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=5).read()
    for _ in range(20):
        http_get(f"{api}/projects?limit=5")
        http_get(f"{api}/health")

    # The disk goes under 20 % available now: DiskSpaceWarning has `for: 5m`,
    # which runs while the other checks do.
    fs.fill_to(0.85)
    disk_filled = time.monotonic()

    # 1. APIDown, with the shipped intervals.
    api_pid = int((state / "run/srp-api.pid").read_text())
    api_cmd = (state / "run/srp-api.cmd").read_text().splitlines()
    stopped = time.monotonic()
    stop_pid(api_pid)
    log("API stopped; waiting for FIRING APIDown in Slack")
    fired = slack.wait_for(stopped, 180, "APIDown", "FIRING")
    if fired is None:
        check("APIDown FIRING reaches Slack", False, "not within 180 s")
    else:
        secs = fired - stopped
        log(f"APIDown FIRING reached Slack {secs:.1f} s after the API stopped")
        check("APIDown FIRING < 90 s", secs < PROMISE_SECONDS, f"{secs:.1f} s")
    restart = subprocess.Popen(api_cmd, stdout=open(state / "log/srp-api.restarted.log", "w"), stderr=subprocess.STDOUT)
    own_pids.append(restart.pid)
    started = time.monotonic()
    resolved = slack.wait_for(started, 180, "APIDown", "RESOLVED")
    if resolved is None:
        check("APIDown RESOLVED reaches Slack", False, "not within 180 s")
    else:
        secs = resolved - started
        log(f"APIDown RESOLVED reached Slack {secs:.1f} s after the API started again")
        check("APIDown RESOLVED < 90 s", secs < PROMISE_SECONDS, f"{secs:.1f} s")

    # 2. A blocking Trivy report pushed like the Jenkins stage does.
    report = FIXTURES / "trivy" / BLOCKING_TRIVY_FIXTURE
    pushed = time.monotonic()
    q = urllib.parse.urlencode({"pipeline": "srp-e2e", "build": "12", "target": "srp-api:12"})
    req = urllib.request.Request(f"http://127.0.0.1:{ports['SCAN']}/reports?{q}", data=report.read_bytes(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    check("scan report accepted", 200 <= status < 300, f"HTTP {status}")
    # And the image's SBOM, as the Security Container stage pushes it.
    sbom = FIXTURES / "sbom" / "fluentd-multiple-lockfiles.cdx.json.golden"
    req = urllib.request.Request(f"http://127.0.0.1:{ports['SCAN']}/reports?{q}", data=sbom.read_bytes(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    check("SBOM accepted", 200 <= status < 300, f"HTTP {status}")
    got = slack.wait_for(pushed, 180, "SecurityScanFailed")
    check("SecurityScanFailed reaches Slack", got is not None, f"{got - pushed:.1f} s" if got else "not within 180 s")

    # 3. PostgreSQL unreachable: postgres_exporter pointed at a dead server.
    pg_pid = int((state / "run/postgres-exporter.pid").read_text())
    pg_cmd = (state / "run/postgres-exporter.cmd").read_text().splitlines()
    stop_pid(pg_pid)
    dead = dict(env, DATA_SOURCE_NAME=f"postgresql://postgres@127.0.0.1:{free_port()}/test?sslmode=disable&connect_timeout=2")
    broken = time.monotonic()
    p = subprocess.Popen(pg_cmd, env=dead, stdout=open(state / "log/postgres-exporter.dead.log", "w"), stderr=subprocess.STDOUT)
    own_pids.append(p.pid)
    got = slack.wait_for(broken, 240, "PostgreSQLDown", "FIRING")
    check("PostgreSQLDown reaches Slack", got is not None, f"{got - broken:.1f} s" if got else "not within 240 s")

    # 4. DiskSpaceWarning: `for: 5m` from the moment the filesystem filled.
    # Worst case: 15 s scrape + 15 s evaluation + 300 s `for:` + 30 s group_wait
    # for warnings = 360 s; the rest is headroom for a loaded machine.
    remaining = max(0.0, 480 - (time.monotonic() - disk_filled))
    got = slack.wait_for(disk_filled, remaining, "DiskSpaceWarning")
    state_now = prom_alert_state(prom, "DiskSpaceWarning")
    check("DiskSpaceWarning reaches Slack", got is not None, f"{got - disk_filled:.1f} s after the fill" if got else f"Prometheus state: {state_now}")

    # 5. Every dashboard and rule expression evaluates against live data.
    evaluate_all_exprs(prom)


def evaluate_all_exprs(prom: str) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "rules/tests/exprs.py"), "--list"], capture_output=True, text=True, check=True).stdout
    bad = []
    n = 0
    for line in out.splitlines():
        item = json.loads(line)
        n += 1
        res = prom_query(prom, item["expr"])
        if res.get("status") != "success":
            bad.append(f"{item['source']}: error {res.get('error')}: {item['expr']}")
        elif item.get("expect_series", True) and not res["data"]["result"]:
            bad.append(f"{item['source']}: no series: {item['expr']}")
    for b in bad:
        log(f"  {b}")
    check("every dashboard/rule expression evaluates (and returns series where expected)", not bad and n > 0, f"{n - len(bad)}/{n} expressions")


if __name__ == "__main__":
    sys.exit(main())

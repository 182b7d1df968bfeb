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
  5. the platform watching itself (alerts of group srp-self, their `for:`,
     windows and the backlog threshold shortened in the stack's own copy of
     alerts.yml): a node exporter collector fails (sysfs pointed at an empty
     directory) and Slack goes down (the mock answers 503) with a message
     queued; NodeCollectorFailing, RelayBacklogStale and RelayDeliveryFailing
     fire in Prometheus, reach Slack once it is back, and a message Slack
     refuses for good (400) raises RelayDeadLetters; DiskFullPredicted (the
     small filesystem filled at once) and ScanReportStale (the Trivy report of
     step 2 was scanned years ago) have fired and reached Slack too;
     Meanwhile srp-disk-guard's config file is replaced by one it refuses
     (interval 500ms): its `config` health check fails and DaemonHealthDegraded
     fires and reaches Slack; the good file back, the check passes again;
  6. evaluates every PromQL expression of every dashboard panel and alert rule
     against the live Prometheus, with the dashboards' $__range set to the
     run's length; any error, empty result or (for panels) a result that is
     NaN in every series fails.

The Delivery dashboard's data: the run records releases (with gate verdicts)
and deployments of one project in two environments through the API, in two
batches with a scrape between them (increase() counts from the first sample
of a series), and incidents. The first incident is opened and closed through
the incident routes (it creates the time-to-restore histogram, which
increase() cannot count); the second is the APIDown outage of step 1: the
stack's copy of APIDown carries `project` and `environment` labels, and when
srp-slack-relay supports `--api-url` it forwards the alert's firing and its
resolve to the API as that incident's open and close. A relay without the
flag: the run records the outage's incident through the API itself and says
so. The four keys as Prometheus then reports them are logged.

Writes to the API use tokens made with `srp-api token create` on the stack's
database. Needs root (loop mount). Uses binaries already built (SRP_PROFILE, default
debug). Everything it starts is stopped by pid at the end, pass or fail.
"""

from __future__ import annotations

import http.server
import json
import os
import re
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

    # Slack's answer to a webhook post it refuses for good (a revoked or
    # invalid payload): final, the relay dead-letters the message.
    REFUSE_MARKER = "E2E-REFUSED-BY-SLACK"

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        # While down, every post gets a 503, as during a Slack outage.
        self.down = False
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                text = body.decode("utf-8", "replace")
                if outer.down:
                    status, answer = 503, b"service unavailable"
                elif outer.REFUSE_MARKER in text:
                    status, answer = 400, b"invalid_payload"
                else:
                    status, answer = 200, b"ok"
                    with outer.lock:
                        outer.messages.append((time.monotonic(), text))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(answer)

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


def utc(age_seconds: float = 0) -> str:
    """RFC 3339 UTC time `age_seconds` ago."""
    t = time.time() - age_seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1000000:06d}Z"


def api_call(api: str, token: str | None, method: str, path: str, body=None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(api + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class Ledger:
    """Releases, verdicts, deployments and incidents of one project, written
    as the pipeline and the relay write them."""

    def __init__(self, api: str, token: str, project_id: int) -> None:
        self.api, self.token, self.base = api, token, f"/projects/{project_id}"

    def write(self, what: str, method: str, path: str, body=None, ok=(200, 201)) -> object:
        status, answer = api_call(self.api, self.token, method, self.base + path, body)
        if status not in ok:
            raise RuntimeError(f"{what}: HTTP {status}: {answer}")
        return answer

    def release(self, build: int, commit_age: float) -> None:
        self.write(f"release {build}", "POST", "/releases", {
            "build": build, "commit_sha": f"{build:040x}", "commit_time": utc(commit_age),
            "image": f"registry.e2e.local/e2e-project:{build}", "digest": "sha256:" + f"{build:064x}",
            "sbom_components": 120 + build})
        for stage in ("security-code", "security-container"):
            self.write(f"verdict {build}/{stage}", "PUT", f"/releases/{build}/verdicts/{stage}",
                       {"passed": True, "waivers": [], "summary": f"{stage}: no blocking finding"})

    def deploy(self, environment: str, build: int, age: float, smoke: str = "passed", result: str = "succeeded") -> None:
        self.write(f"deployment of {build} to {environment}", "POST", "/deployments", {
            "environment": environment, "build": build, "started_at": utc(age + 60), "finished_at": utc(age),
            "result": result, "smoke": smoke, "triggered_by": "e2e"})

    def incident(self, key: str, opened_age: float, closed_age: float) -> None:
        self.write(f"incident {key}", "POST", "/incidents",
                   {"key": key, "environment": "production", "title": f"e2e {key}", "opened_at": utc(opened_age)})
        self.write(f"close of {key}", "POST", f"/incidents/{key}/close", {"closed_at": utc(closed_age)}, ok=(200,))

    def incidents(self) -> list[dict]:
        status, answer = api_call(self.api, None, "GET", self.base + "/incidents?limit=100")
        return answer.get("items", []) if status == 200 and isinstance(answer, dict) else []


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
        shorten_self_alerts(state, prom)
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
    run_started = time.monotonic()
    # All targets of the local stack up (jenkins is not part of it).
    jobs = ["srp-api", "srp-node-exporter", "srp-scan-exporter", "srp-disk-guard", "srp-slack-relay", "postgres", "prometheus", "alertmanager"]

    def all_up():
        res = prom_query(prom, 'up == 1')["data"]["result"]
        return {r["metric"]["job"] for r in res} >= set(jobs)

    check("all targets up", bool(wait_until(all_up, 90)), ", ".join(jobs))

    # Traffic for the HTTP panels, and a project so list queries return rows.
    # Writes need a token (srp-api token create against the stack's database):
    # one for the pipeline's writes, one of scope incidents:write for the relay.
    api_cmd = (state / "run/srp-api.cmd").read_text().splitlines()
    db_url = api_cmd[api_cmd.index("--database-url") + 1]

    def make_token(name: str, scope: str) -> str:
        made = subprocess.run([api_cmd[0], "token", "create", "--name", name, "--scope", scope, "--database-url", db_url],
                              capture_output=True, text=True, check=True)
        return made.stdout.strip().splitlines()[-1]
    token = make_token("e2e", "projects:write,releases:write,incidents:write")
    status, project = api_call(api, token, "POST", "/projects", {"name": "e2e-project", "description": "made by e2e"})
    if status != 201:
        raise RuntimeError(f"POST /projects: HTTP {status}: {project}")
    ledger = Ledger(api, token, project["id"])
    for _ in range(20):
        http_get(f"{api}/projects?limit=5")
        http_get(f"{api}/health")

    # The ledger, first batch: build 1 in staging and production, and an
    # incident opened and closed through the API (the first of a place creates
    # its histogram series, which increase() cannot count).
    ledger.release(1, commit_age=3 * 3600)
    ledger.deploy("staging", 1, age=55 * 60)
    ledger.deploy("production", 1, age=50 * 60)
    ledger.incident("e2e-first-incident", opened_age=40 * 60, closed_age=25 * 60)
    relay_api = relay_forwards_incidents(state)
    if relay_api:
        (state / "conf/relay-api.token").write_text(make_token("slack-relay", "incidents:write") + "\n")
        restart_service(state, env, "srp-slack-relay", ["--api-url", api, "--api-token-file", str(state / "conf/relay-api.token")],
                        own_pids, "srp-slack-relay.api")
        if not wait_until(lambda: _reachable(ports["RELAY"]) and http_get(f"http://127.0.0.1:{ports['RELAY']}/health")[0] == 200, 30):
            raise RuntimeError("srp-slack-relay did not come back with --api-url")
        log("srp-slack-relay forwards alerts with a project label to the API (--api-url)")
    else:
        log("srp-slack-relay has no --api-url: the outage's incident is recorded through the API's incident routes")
    # A scrape of the first batch, so that the second one is an increase.
    seen = wait_until(lambda: prom_query(prom, 'srp_dora_deployments_total{project="e2e-project"}')["data"]["result"], 60)
    check("Prometheus has the first batch of DORA series", bool(seen))
    # Second batch: build 2 healthy, build 3 failed its smoke test (a change
    # failure), build 4 healthy; the outage below follows build 4.
    for build, commit_age in ((2, 2 * 3600), (3, 90 * 60), (4, 40 * 60)):
        ledger.release(build, commit_age)
    ledger.deploy("production", 2, age=20 * 60)
    ledger.deploy("production", 3, age=12 * 60, smoke="failed")
    ledger.deploy("production", 4, age=5 * 60)
    log("ledger: 4 releases with verdicts, 5 deployments in 2 environments, 1 incident closed")

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
    outage = (time.time() - (started - stopped), time.time())
    resolved = slack.wait_for(started, 180, "APIDown", "RESOLVED")
    if resolved is None:
        check("APIDown RESOLVED reaches Slack", False, "not within 180 s")
    else:
        secs = resolved - started
        log(f"APIDown RESOLVED reached Slack {secs:.1f} s after the API started again")
        check("APIDown RESOLVED < 90 s", secs < PROMISE_SECONDS, f"{secs:.1f} s")
    # The outage as an incident of e2e-project: opened and closed by the relay
    # from APIDown's firing and resolve, or recorded here.
    if relay_api:
        def closed_by_relay():
            return [i for i in ledger.incidents() if i.get("title", "").startswith("APIDown") and i.get("closed_at")]
        got = wait_until(closed_by_relay, 90, step=2)
        check("APIDown opens and closes an incident through srp-slack-relay", bool(got),
              f"{got[0]['opened_at']} .. {got[0]['closed_at']}" if got else f"incidents: {ledger.incidents()}")
    else:
        now = time.time()
        ledger.incident("e2e-api-outage", opened_age=now - outage[0], closed_age=now - outage[1])
        check("the outage recorded as an incident through the API", True, "the relay has no --api-url")

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

    # 5. The platform watching itself.
    self_monitoring(state, prom, slack, env, ports, own_pids)

    # 6. Every dashboard and rule expression evaluates against live data.
    run_seconds = int(time.monotonic() - run_started) + 60
    evaluate_all_exprs(prom, run_seconds)
    report_dora(prom, run_seconds)


def relay_forwards_incidents(state: Path) -> bool:
    relay = (state / "run/srp-slack-relay.cmd").read_text().splitlines()[0]
    out = subprocess.run([relay, "--help"], capture_output=True, text=True)
    # --api-url itself, not --slack-api-url.
    return bool(re.search(r"(?<![\w-])--api-url\b", out.stdout)) and "--api-token-file" in out.stdout


# The stack's copy of APIDown carries the labels that make the relay forward
# it to the API as an incident of e2e-project.
APIDOWN_LABELS = ("          severity: critical\n", "          severity: critical\n          project: e2e-project\n          environment: production\n")


# The stack's copy of the srp-self group gets e2e timings: every `for:` 15 s,
# 2-minute rate windows, a 30-second backlog. The expressions are otherwise
# those shipped; their thresholds and `for:` are proven by the promtool tests.
# The eight alerts above the group are left exactly as shipped.
SELF_GROUP_MARK = "  - name: srp-self\n"
SELF_TIMINGS = [
    (re.compile(r"^(\s+for: )\S+$", re.M), r"\g<1>15s"),
    (re.compile(r"\[5m\]"), "[2m]"),
    (re.compile(r"srp_relay_oldest_pending_seconds(\{[^}]*\}) > 300"), r"srp_relay_oldest_pending_seconds\1 > 30"),
]


def shorten_self_alerts(state: Path, prom: str) -> None:
    path = state / "conf" / "alerts.yml"
    text = path.read_text()
    head, mark, group = text.partition(SELF_GROUP_MARK)
    if not mark:
        raise RuntimeError("alerts.yml has no srp-self group")
    for pattern, repl in SELF_TIMINGS:
        group = pattern.sub(repl, group)
    start = head.index("      - alert: APIDown\n")
    at = head.index(APIDOWN_LABELS[0], start)
    head = head[:at] + APIDOWN_LABELS[1] + head[at + len(APIDOWN_LABELS[0]):]
    path.write_text(head + mark + group)
    req = urllib.request.Request(f"{prom}/-/reload", data=b"", method="POST")
    urllib.request.urlopen(req, timeout=10).read()

    def reloaded():
        _, body = http_get(f"{prom}/api/v1/rules")
        rules = {r["name"]: r for g in json.loads(body)["data"]["groups"] for r in g["rules"]}
        return (rules.get("RelayBacklogStale", {}).get("duration") == 15
                and rules.get("APIDown", {}).get("labels", {}).get("project") == "e2e-project")
    if not wait_until(reloaded, 30):
        raise RuntimeError("Prometheus did not load the shortened srp-self group")
    log("srp-self alerts shortened for the test (for: 15s, [2m] windows, backlog > 30 s); APIDown labelled project=e2e-project")


def post_to_relay(state: Path, ports: dict, alertname: str, summary: str) -> int:
    """A webhook v4 notification straight to the relay, as Alertmanager sends it."""
    token = (state / "conf" / "relay.token").read_text().strip()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    labels = {"alertname": alertname, "severity": "warning", "instance": "e2e"}
    payload = {
        "version": "4", "groupKey": f'{{}}:{{alertname="{alertname}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "srp-slack-relay-warning", "groupLabels": {"alertname": alertname},
        "commonLabels": labels, "commonAnnotations": {"summary": summary}, "externalURL": "http://127.0.0.1:9093",
        "alerts": [{"status": "firing", "labels": labels, "annotations": {"summary": summary}, "startsAt": now,
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://127.0.0.1:9090/graph",
                    "fingerprint": f"{abs(hash(alertname + now)):016x}"[:16]}],
    }
    req = urllib.request.Request(f"http://127.0.0.1:{ports['RELAY']}/alertmanager", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def restart_service(state: Path, env: dict, name: str, extra_args: list[str], own_pids: list[int], log_name: str) -> int:
    """Stops a service of the stack and starts it again with extra flags and
    the stack's environment (the relay's Slack settings come from it)."""
    pid = int((state / f"run/{name}.pid").read_text())
    cmd = (state / f"run/{name}.cmd").read_text().splitlines()
    stop_pid(pid)
    p = subprocess.Popen(cmd + extra_args, env=env, stdout=open(state / f"log/{log_name}.log", "w"), stderr=subprocess.STDOUT)
    own_pids.append(p.pid)
    (state / f"run/{name}.pid").write_text(f"{p.pid}\n")
    # Later restarts keep these flags.
    (state / f"run/{name}.cmd").write_text("\n".join(cmd + extra_args) + "\n")
    return p.pid


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def self_monitoring(state: Path, prom: str, slack: MockSlack, env: dict, ports: dict, own_pids: list[int]) -> None:
    started = time.monotonic()
    # A collector that fails on every scrape: sysfs is an empty directory, so
    # netclass (and the other sysfs readers) error while procfs ones work.
    empty_sysfs = state / "empty-sysfs"
    empty_sysfs.mkdir(exist_ok=True)
    node_cmd = (state / "run/srp-node-exporter.cmd").read_text().splitlines()
    restart_service(state, env, "srp-node-exporter", ["--path.sysfs", str(empty_sysfs)], own_pids, "srp-node-exporter.broken")
    broken = time.monotonic()
    # Retries capped at 10 s (default 5 min), so that the relay tries again
    # within seconds of Slack's return and keeps failing while it is down;
    # more attempts than the default 12, which 10-second retries use up
    # during a two-minute outage (dead letters come from Slack's 400 below).
    restart_service(state, env, "srp-slack-relay", ["--retry-max", "10s", "--max-attempts", "1000"], own_pids, "srp-slack-relay.fast-retry")
    if not wait_until(lambda: http_get(f"http://127.0.0.1:{ports['RELAY']}/health")[0] == 200 if _reachable(ports['RELAY']) else False, 30):
        raise RuntimeError("srp-slack-relay did not come back after its restart")
    # srp-disk-guard's config replaced (by rename, as Ansible does) with one
    # it refuses: it keeps running the previous one, and its `config` health
    # check fails until the good file is back.
    guard_conf = state / "conf/disk-guard.toml"
    good_conf = guard_conf.read_text()
    bad = guard_conf.with_name("disk-guard.toml.new")
    bad.write_text(good_conf.replace("dry_run = true\n", 'dry_run = true\ninterval = "500ms"\n', 1))
    os.replace(bad, guard_conf)
    config_broken = time.monotonic()
    # Slack goes down with a message in the relay's outbox.
    slack.down = True
    outage = time.monotonic()
    status = post_to_relay(state, ports, "E2EBacklogProbe", "queued while Slack is down")
    check("relay accepts a notification while Slack is down", 200 <= status < 300, f"HTTP {status}")

    want = ["NodeCollectorFailing", "RelayBacklogStale", "RelayDeliveryFailing", "DaemonHealthDegraded"]
    fired: dict[str, float] = {}
    causes = {"NodeCollectorFailing": (broken, "the collector broke"),
              "DaemonHealthDegraded": (config_broken, "the disk guard's config was broken")}

    def all_fired():
        for name in want:
            if name not in fired and prom_alert_state(prom, name) == "firing":
                since, what = causes.get(name, (outage, "Slack went down"))
                fired[name] = time.monotonic() - since
                log(f"{name} firing in Prometheus {fired[name]:.1f} s after {what}")
        return len(fired) == len(want)

    wait_until(all_fired, 240, step=2)
    for name in want:
        check(f"{name} fires (Slack down / collector failing / config refused)", name in fired,
              f"{fired[name]:.1f} s" if name in fired else f"state: {prom_alert_state(prom, name)}")

    # Slack stays down until Alertmanager has handed the relay the three
    # alerts (warning group_wait: 30 s): restored at once, the backlog would
    # drain and resolve RelayBacklogStale before its notification was sent.
    def relay_queue() -> float:
        _, body = http_get(f"http://127.0.0.1:{ports['RELAY']}/metrics")
        for line in body.decode().splitlines():
            if line.startswith("srp_relay_queue_depth "):
                return float(line.split()[1])
        return 0.0
    queued = wait_until(lambda: relay_queue() >= 1 + len(want), 120, step=2)
    log(f"relay queue while Slack is down: {relay_queue():g} message(s){'' if queued else ' (expected more)'}")
    # Slack is back: the relay drains its outbox, the alerts about the outage
    # arrive; and a message Slack refuses for good becomes a dead letter.
    slack.down = False
    back = time.monotonic()
    status = post_to_relay(state, ports, "E2EDeadLetterProbe", f"{MockSlack.REFUSE_MARKER}: Slack answers 400")
    check("relay accepts the notification Slack will refuse", 200 <= status < 300, f"HTTP {status}")
    got = slack.wait_for(outage, 60, "E2EBacklogProbe")
    check("the message queued during the outage reaches Slack once it is back", got is not None,
          f"{got - back:.1f} s after Slack came back" if got else "not within 60 s")
    for name in ["RelayBacklogStale", "NodeCollectorFailing", "RelayDeliveryFailing", "RelayDeadLetters", "DaemonHealthDegraded"]:
        got = slack.wait_for(outage, max(30.0, 150 - (time.monotonic() - back)), name, "FIRING")
        check(f"{name} reaches Slack", got is not None,
              f"{got - back:.1f} s after Slack came back" if got else f"Prometheus state: {prom_alert_state(prom, name)}")

    # The guard's good config back: its health check passes again.
    fixed = guard_conf.with_name("disk-guard.toml.new")
    fixed.write_text(good_conf)
    os.replace(fixed, guard_conf)
    dg = f"http://127.0.0.1:{ports['DISK']}"
    healthy = wait_until(lambda: http_get(f"{dg}/health")[0] == 200
                         and 'srp_health_check_ok{check="config"} 1' in http_get(f"{dg}/metrics")[1].decode(), 30)
    check("srp-disk-guard healthy again with its good config", bool(healthy))

    # The node exporter as shipped again, for the expression check.
    pid = int((state / "run/srp-node-exporter.pid").read_text())
    stop_pid(pid)
    p = subprocess.Popen(node_cmd, env=env, stdout=open(state / "log/srp-node-exporter.restored.log", "w"), stderr=subprocess.STDOUT)
    own_pids.append(p.pid)
    (state / "run/srp-node-exporter.pid").write_text(f"{p.pid}\n")
    # The stopped exporter's series went stale: wait for a scrape of the
    # restored one before the expressions are evaluated.
    restored = time.time()

    def scraped_again():
        # A successful scrape that started after the restore.
        res = prom_query(prom, 'timestamp(up{job="srp-node-exporter"} == 1)')["data"]["result"]
        return bool(res) and float(res[0]["value"][1]) > restored + 1
    check("srp-node-exporter scraped again after its restore", bool(wait_until(scraped_again, 60)))
    # The two other srp-self alerts, from what the run already did: the small
    # filesystem filled at once (the guard's linear fit predicts it full in
    # seconds), and the Trivy report of step 2, whose scan ran years ago (its
    # CreatedAt), is the latest of its target.
    for name, why in (("DiskFullPredicted", "the small filesystem filled at once"),
                      ("ScanReportStale", "the latest scan of srp-api:12 ran years ago")):
        got = slack.wait_for(0, 60, name, "FIRING")
        check(f"{name} fires and reaches Slack ({why})", got is not None, f"Prometheus state: {prom_alert_state(prom, name)}")
    log(f"self-monitoring scenario took {time.monotonic() - started:.0f} s")


def _values(res: dict) -> list[float]:
    data = res["data"]
    if data["resultType"] == "scalar":
        return [float(data["result"][1])]
    return [float(r["value"][1]) for r in data["result"]]


def evaluate_all_exprs(prom: str, range_seconds: int) -> None:
    """Every expression against the live Prometheus; $__range is the run so far."""
    out = subprocess.run([sys.executable, str(ROOT / "rules/tests/exprs.py"), "--list", "--range-seconds", str(range_seconds)],
                         capture_output=True, text=True, check=True).stdout
    bad = []
    n = 0
    per_dashboard: dict[str, list[str]] = {}
    for line in out.splitlines():
        item = json.loads(line)
        n += 1
        res = prom_query(prom, item["expr"])
        if res.get("status") != "success":
            bad.append(f"{item['source']}: error {res.get('error')}: {item['expr']}")
            continue
        values = _values(res)
        if item.get("expect_series", True) and not values:
            bad.append(f"{item['source']}: no series: {item['expr']}")
        elif item["kind"] == "panel" and all(v != v for v in values):
            # histogram_quantile of no observations, 0/0: a panel of NaN
            # shows "No data" just the same.
            bad.append(f"{item['source']}: NaN in every series: {item['expr']}")
        if item["kind"] == "panel":
            dash, _, rest = item["source"].partition(": panel ")
            finite = [v for v in values if v == v]
            shown = f"{min(finite):.4g}..{max(finite):.4g}" if len(finite) > 1 else (f"{finite[0]:.4g}" if finite else "NaN")
            per_dashboard.setdefault(dash, []).append(f"{rest}: {len(values)} series, {shown}")
    for dash, lines in per_dashboard.items():
        log(f"{dash}: {len(lines)} panel targets")
        for line in lines:
            log(f"  {line}")
    for b in bad:
        log(f"  {b}")
    check("every dashboard/rule expression evaluates (and returns series where expected)", not bad and n > 0, f"{n - len(bad)}/{n} expressions")


def report_dora(prom: str, range_seconds: int) -> None:
    """The four keys of e2e-project over the run, as the Delivery dashboard's stats compute them."""
    sys.path.insert(0, str(ROOT))
    from dashboards.generator import delivery  # noqa: PLC0415
    sys.path.insert(0, str(ROOT / "rules/tests"))
    import promqlscan  # noqa: PLC0415
    stats = [p for p in delivery.build()["panels"] if p["type"] == "stat"]
    parts = []
    for p in stats:
        expr = promqlscan.substitute(p["targets"][0]["expr"], "1m", ".+", range_seconds)
        v = _values(prom_query(prom, expr))
        parts.append(f"{p['title']} = {v[0]:.4g}" if v else f"{p['title']} = (none)")
    log(f"DORA keys of the run ({range_seconds} s): " + "; ".join(parts))


if __name__ == "__main__":
    sys.exit(main())

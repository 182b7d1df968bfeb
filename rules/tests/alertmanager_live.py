#!/usr/bin/env python3
"""Runs the real Alertmanager with rules/alertmanager.yml and checks what the
static checks cannot: the inhibition rules, and that notifications reach the
relay's webhook with the bearer token, per severity receiver, firing and
resolved.

Only the two documented substitution points of the config change: the webhook
URL (to a capture server of this test) and credentials_file (a temp token).
The timings are the shipped ones, so the test takes about 45 s (critical
group_wait 10 s, warning group_wait 30 s, critical group_interval 30 s for the
RESOLVED message). It asserts what arrives, never how fast.

Python 3.11 standard library only. Exit status 0 when every check passed.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
CONFIG = REPO / "rules" / "alertmanager.yml"
SHIPPED_URL = "http://127.0.0.1:9742/alertmanager"
SHIPPED_TOKEN_FILE = "/etc/alertmanager/srp-relay.token"
TOKEN = "test-relay-token-7f3a"
DEADLINE = 120  # seconds to wait for each expected notification (generous: shared machines)

failures: list[str] = []


def check(cond: bool, what: str) -> None:
    print(f"alertmanager: {'ok' if cond else 'FAILED'}: {what}")
    if not cond:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Capture(BaseHTTPRequestHandler):
    received: "queue.Queue[tuple[str, str, dict]]" = queue.Queue()

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"unparsable": body.decode(errors="replace")}
        self.received.put((self.path, self.headers.get("Authorization", ""), payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def api(base: str, path: str, data=None):
    req = urllib.request.Request(base + path, method="POST" if data is not None else "GET")
    if data is not None:
        req.data = json.dumps(data).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        return json.loads(body) if body else None


def alert(name: str, severity: str, ends_at: datetime | None = None, **labels) -> dict:
    now = datetime.now(timezone.utc)
    a = {
        "labels": {"alertname": name, "severity": severity, **labels},
        "annotations": {"summary": f"{name} test", "description": f"{name} on {labels.get('instance')}"},
        # Fresh, as Prometheus sends a newly firing alert (startsAt = when it
        # fired). An alert that started more than group_wait ago is flushed at
        # once, before the inhibitor may have seen its source (alertmanager#4064).
        "startsAt": (now if ends_at is None else ends_at - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    a["endsAt"] = (ends_at or now + timedelta(hours=1)).isoformat()
    return a


def wait_for(pred, what: str) -> dict | None:
    """Waits for a notification matching pred; keeps the others for later."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        for i, item in enumerate(seen):
            if pred(item):
                return seen.pop(i)
        try:
            seen.append(Capture.received.get(timeout=1))
        except queue.Empty:
            pass
    print(f"alertmanager: no notification for {what} within {DEADLINE} s; received: "
          f"{[(p.get('receiver'), p.get('status'), [a['labels'].get('alertname') for a in p.get('alerts', [])]) for _, _, p in seen]}")
    return None


seen: list[tuple[str, str, dict]] = []


def main() -> int:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if not binary:
        print("alertmanager: the alertmanager binary is missing (Debian package prometheus-alertmanager)")
        return 1
    text = CONFIG.read_text()
    for needle in (SHIPPED_URL, SHIPPED_TOKEN_FILE):
        check(text.count(needle) == 1, f"alertmanager.yml names {needle} exactly once (the documented substitution point)")

    tmp = Path(tempfile.mkdtemp(prefix="srp-am-test-"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/alertmanager"
    (tmp / "relay.token").write_text(TOKEN + "\n")
    (tmp / "alertmanager.yml").write_text(
        text.replace(SHIPPED_URL, hook).replace(SHIPPED_TOKEN_FILE, str(tmp / "relay.token"))
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp / "alertmanager.log", "w")
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", f"--web.external-url={base}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        else:
            pass
        check(proc.poll() is None, f"alertmanager started with the repository's config on {base} (pid {proc.pid})")
        if proc.poll() is not None:
            print((tmp / "alertmanager.log").read_text())
            return 1

        api(base, "/api/v2/alerts", [
            alert("APIDown", "critical", job="srp-api", instance="web-1:8000"),
            alert("HighAPILatency", "warning", job="srp-api", instance="web-1:8000"),
            alert("DiskSpaceCritical", "critical", instance="web-1:9100", mountpoint="/", device="/dev/sda1"),
            alert("DiskSpaceWarning", "warning", instance="web-1:9100", mountpoint="/", device="/dev/sda1"),
            alert("DiskSpaceWarning", "warning", instance="web-1:9100", mountpoint="/srv", device="/dev/sdb1"),
            alert("SomethingNew", "info", instance="web-1:9999"),
        ])

        # Inhibition, as Alertmanager itself reports it. The inhibitor learns
        # of source alerts asynchronously: poll until it has settled.
        state: dict = {}
        settle = time.monotonic() + 30
        while time.monotonic() < settle:
            state = {}
            for a in api(base, "/api/v2/alerts"):
                key = (a["labels"]["alertname"], a["labels"].get("mountpoint"))
                state[key] = (a["status"]["state"], a["status"].get("inhibitedBy") or [])
            if state.get(("DiskSpaceWarning", "/"), ("",))[0] == "suppressed" and state.get(("HighAPILatency", None), ("",))[0] == "suppressed":
                break
            time.sleep(0.5)
        check(state.get(("DiskSpaceWarning", "/"), ("", []))[0] == "suppressed" and state[("DiskSpaceWarning", "/")][1],
              "DiskSpaceWarning on / is inhibited by DiskSpaceCritical on the same instance and mountpoint")
        check(state.get(("DiskSpaceWarning", "/srv"), ("", []))[0] == "active",
              "DiskSpaceWarning on /srv (no critical twin there) stays active")
        check(state.get(("HighAPILatency", None), ("", []))[0] == "suppressed",
              "HighAPILatency is inhibited by APIDown on the same instance")
        check(state.get(("APIDown", None), ("", []))[0] == "active", "APIDown itself is active")

        def is_(receiver, status, alertname):
            def pred(item):
                _, _, p = item
                return (p.get("receiver") == receiver and p.get("status") == status
                        and any(a["labels"].get("alertname") == alertname for a in p.get("alerts", [])))
            return pred

        n = wait_for(is_("srp-slack-relay-critical", "firing", "APIDown"), "APIDown firing")
        check(n is not None, "FIRING APIDown reaches the relay webhook through the critical receiver")
        if n:
            path, auth, p = n
            check(path == "/alertmanager", f"posted to the relay's path /alertmanager (got {path})")
            check(auth == f"Bearer {TOKEN}", "with the bearer token read from credentials_file")
            check(p.get("version") == "4", "webhook payload version 4")
            check([a["labels"].get("instance") for a in p["alerts"]] == ["web-1:8000"], "one alert, for web-1:8000")

        n = wait_for(is_("srp-slack-relay-warning", "firing", "DiskSpaceWarning"), "DiskSpaceWarning firing")
        check(n is not None, "FIRING DiskSpaceWarning reaches the relay through the warning receiver")
        if n:
            mounts = sorted(a["labels"].get("mountpoint") for a in n[2]["alerts"])
            check(mounts == ["/srv"], f"only the uninhibited /srv warning is in it (got {mounts})")

        # HighAPILatency's group had the same group_wait as the warning just
        # received: had it not been inhibited, it would be here by now.
        time.sleep(3)
        while not Capture.received.empty():
            seen.append(Capture.received.get())
        leaked = [p for _, _, p in seen for a in p.get("alerts", []) if a["labels"].get("alertname") == "HighAPILatency"]
        check(not leaked, "the inhibited HighAPILatency was not delivered while APIDown fired")

        # Resolve APIDown: Alertmanager sends RESOLVED at the group's next
        # group_interval (send_resolved: true).
        api(base, "/api/v2/alerts", [alert("APIDown", "critical", ends_at=datetime.now(timezone.utc),
                                           job="srp-api", instance="web-1:8000")])

        n = wait_for(is_("srp-slack-relay-critical", "firing", "DiskSpaceCritical"), "DiskSpaceCritical firing")
        check(n is not None, "FIRING DiskSpaceCritical reaches the relay through the critical receiver")

        n = wait_for(is_("srp-slack-relay", "firing", "SomethingNew"), "an alert of unknown severity")
        check(n is not None, "an alert without a known severity still reaches the relay (default receiver)")

        n = wait_for(is_("srp-slack-relay-critical", "resolved", "APIDown"), "APIDown resolved")
        check(n is not None, "RESOLVED APIDown reaches the relay")
        if n:
            check(n[2]["alerts"][0]["status"] == "resolved", "the alert in it is resolved")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        log.close()
        if failures:
            print(f"alertmanager: its log is in {tmp / 'alertmanager.log'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"alertmanager: {len(failures)} check(s) failed" if failures else "alertmanager: all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("LC_ALL", "C.UTF-8")
    sys.exit(main())

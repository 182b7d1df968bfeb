#!/usr/bin/env python3
"""A stand-in Docker engine on a unix socket, for testing the Build stage where
no engine can run. It speaks the Engine API the docker CLI uses for
`docker info`, the classic `docker build` (ping, info, version, POST /build
with the build context as a tar stream) and `docker save` (GET /images/get),
and records each build: its query (tags, build args, Dockerfile, pull) and the
names in the context tar. `docker save` of a built tag answers with a small
image in the docker-archive format: one layer holding a Debian package database
(two packages), etc/os-release and a stand-in /usr/local/bin/srp-api, so syft
has a real archive to read.

Usage: mock_docker_engine.py SOCKET RECORD_FILE   (one JSON line per build)
"""
import hashlib
import http.server
import io
import json
import os
import socketserver
import sys
import tarfile
import urllib.parse

SOCKET, RECORD = sys.argv[1], sys.argv[2]
API = "1.50"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        sys.stderr.write("mock-docker: " + fmt % args + "\n")

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Api-Version", API)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path.endswith("/_ping"):
            self.reply(200, b"OK", "text/plain")
        elif path.endswith("/info"):
            self.reply(200, {"ID": "mock", "ServerVersion": "28.2.2", "OSType": "linux", "Architecture": "x86_64"})
        elif path.endswith("/version"):
            self.reply(200, {"Version": "28.2.2", "ApiVersion": API, "MinAPIVersion": "1.24", "Os": "linux", "Arch": "amd64"})
        elif path.endswith("/images/get"):
            names = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("names", [])
            if not names or not all(n in BUILT for n in names):
                self.reply(404, {"message": "mock engine: no such image: %s" % names})
                return
            self.reply(200, image_archive(names), "application/x-tar")
        else:
            self.reply(404, {"message": "mock engine: no such endpoint " + path})

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if not url.path.endswith("/build"):
            self.reply(404, {"message": "mock engine: no such endpoint " + url.path})
            return
        q = urllib.parse.parse_qs(url.query)
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            names = tar.getnames()
        rec = {
            "tags": q.get("t", []),
            "dockerfile": q.get("dockerfile", [""])[0],
            "buildargs": json.loads(q.get("buildargs", ["{}"])[0]),
            "pull": q.get("pull", [""])[0],
            "context": names,
        }
        with open(RECORD, "a") as f:
            f.write(json.dumps(rec) + "\n")
        BUILT.update(rec["tags"])
        stream = b"".join(json.dumps(m).encode() + b"\n" for m in (
            {"stream": "Step 1/1 : mock build\n"},
            {"aux": {"ID": "sha256:" + "0" * 64}},
            {"stream": "Successfully built 000000000000\n"},
        ))
        self.reply(200, stream)


BUILT = set()

DPKG_STATUS = """Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 343
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system miscellaneous files

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u7
Description: GNU C Library: Shared libraries

"""

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
"""


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.startswith("usr/local/bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def image_archive(tags):
    """`docker save` output (docker-archive): manifest.json, the config, one layer."""
    layer = tar_of([
        ("etc/os-release", OS_RELEASE.encode()),
        ("var/lib/dpkg/status", DPKG_STATUS.encode()),
        ("usr/local/bin/srp-api", b"#!/bin/sh\necho mock srp-api\n"),
    ])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/usr/local/bin/srp-api"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "mock engine"}],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": list(tags), "Layers": [layer_name]}]).encode()
    return tar_of([("manifest.json", manifest), (config_name, config), (layer_name, layer)])


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.exists(SOCKET):
    os.unlink(SOCKET)
Server(SOCKET, Handler).serve_forever()

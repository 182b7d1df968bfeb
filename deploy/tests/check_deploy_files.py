#!/usr/bin/env python3
"""Structural checks of deploy/Dockerfile, .dockerignore and deploy/docker-compose.yml
that a linter does not make: what the image must and must not contain, and that
the compose file mounts files that exist.

Usage: check_deploy_files.py REPO_ROOT
"""
import json
import os
import re
import sys

import yaml


def main():
    root = sys.argv[1]
    results = []

    def check(ok, what):
        results.append(bool(ok))
        print(("ok     - " if ok else "not ok - ") + what)

    # --- Dockerfile -------------------------------------------------------
    text = open(os.path.join(root, "deploy/Dockerfile"), encoding="utf-8").read()
    logical = re.sub(r"\\\n", " ", text)  # join continuation lines
    lines = [l.strip() for l in logical.splitlines() if l.strip() and not l.strip().startswith("#")]
    stages, cur = [], None
    # Global ARGs (before the first FROM) with their defaults: FROM lines name
    # their base images through them; resolved here as a default build would.
    global_args = {}
    for l in lines:
        word = l.split()[0].upper()
        if word == "FROM":
            resolved = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), l)
            cur = {"from": resolved, "raw": l, "lines": []}
            stages.append(cur)
        elif cur is not None:
            cur["lines"].append((word, l))
        elif word == "ARG" and "=" in l:
            name, value = l.split(None, 1)[1].split("=", 1)
            global_args[name] = re.sub(r"\$\{(\w+)\}", lambda m: global_args.get(m.group(1), m.group(0)), value.strip('"'))
    check(any(re.search(r"\$\{\w+\}", s["raw"]) for s in stages) and "BUILDER_IMAGE" in global_args
          and "RUNTIME_IMAGE" in global_args and global_args.get("BINARIES_FROM") == "builder",
          "base images are build arguments (BUILDER_IMAGE, RUNTIME_IMAGE; BINARIES_FROM defaults to the builder stage)")
    check(len(stages) >= 2, "Dockerfile is multi-stage (%d stages)" % len(stages))
    builder = next((s for s in stages if re.search(r"\bAS builder\b", s["from"], re.I)), None)
    check(builder and "rust:" in builder["from"], "a rust builder stage")
    if builder:
        runs = " ".join(l for w, l in builder["lines"] if w == "RUN")
        check("cargo build --release --locked --workspace" in runs,
              "builder builds the workspace binaries in release mode, --locked")
        args = [l.split()[1].split("=")[0] for w, l in builder["lines"] if w == "ARG"]
        check({"SRP_BUILD_NUMBER", "SRP_GIT_COMMIT"} <= set(args), "builder takes SRP_BUILD_NUMBER and SRP_GIT_COMMIT")
        envs = " ".join(l for w, l in builder["lines"] if w == "ENV")
        check("SRP_BUILD_NUMBER=${SRP_BUILD_NUMBER}" in envs and "SRP_GIT_COMMIT=${SRP_GIT_COMMIT}" in envs,
              "builder passes them to build.rs through the environment")
    final = stages[-1] if stages else {"from": "", "lines": []}
    check(re.search(r"debian:\S*-slim|distroless/cc", final["from"]),
          "runtime is minimal (debian slim or distroless cc): %s" % final["from"])
    words = [w for w, _ in final["lines"]]
    copies = [l for w, l in final["lines"] if w in ("COPY", "ADD")]
    check("ADD" not in words, "runtime stage uses no ADD")
    # The runtime copies from the "binaries" stage, which by default is the builder.
    binaries = next((s for s in stages if re.search(r"\bAS binaries\b", s["from"], re.I)), None)
    via_binaries = binaries is not None and re.match(r"FROM builder AS binaries$", binaries["from"], re.I) and not binaries["lines"]
    check(copies and all("--from=builder" in c or ("--from=binaries" in c and via_binaries) for c in copies),
          "runtime stage copies only from the builder (by default through the binaries stage): %s" % copies)
    srcs = [c.split()[-2] for c in copies]
    check(sorted(srcs) == ["/etc/ssl/certs/ca-certificates.crt", "/out/"],
          "runtime gets only the binaries and the CA certificates (%s)" % srcs)
    runs = [l for w, l in final["lines"] if w == "RUN"]
    check(not any(re.search(r"apt-get|apk |curl|wget", r) for r in runs), "runtime installs no packages")
    users = [l.split()[1] for w, l in final["lines"] if w == "USER"]
    check(users and users[-1].split(":")[0] not in ("root", "0"), "runtime runs as a non-root user (%s)" % users)
    hc = [l for w, l in final["lines"] if w == "HEALTHCHECK"]
    check(len(hc) == 1 and "CMD" in hc[0], "one HEALTHCHECK with a command")
    labels = " ".join(l for w, l in final["lines"] if w == "LABEL")
    check('org.opencontainers.image.version="${SRP_BUILD_NUMBER}"' in labels,
          "LABEL org.opencontainers.image.version from SRP_BUILD_NUMBER")
    check('org.opencontainers.image.revision="${SRP_GIT_COMMIT}"' in labels,
          "LABEL org.opencontainers.image.revision from SRP_GIT_COMMIT")
    check(any(w == "ENTRYPOINT" and "srp-api" in l for w, l in final["lines"]), "entrypoint is srp-api")

    # --- .dockerignore ----------------------------------------------------
    di = os.path.join(root, ".dockerignore")
    ignored = set()
    if os.path.isfile(di):
        ignored = {l.strip().strip("/") for l in open(di) if l.strip() and not l.startswith("#")}
    for entry in (".git", "target", ".local"):
        check(entry in ignored, ".dockerignore keeps %s out of the build context" % entry)

    # --- docker-compose.yml ----------------------------------------------
    compose_path = os.path.join(root, "deploy/docker-compose.yml")
    doc = yaml.safe_load(open(compose_path, encoding="utf-8"))
    svcs = doc.get("services", {})
    api, pg = svcs.get("api", {}), svcs.get("postgres", {})
    check(api and not api.get("profiles"), "api runs by default (no profile)")
    check(pg and not pg.get("profiles") and "healthcheck" in pg, "postgres runs by default, with a health check")
    check(str(api.get("environment", {}).get("DATABASE_URL", "")).startswith("postgres://"),
          "api uses PostgreSQL (DATABASE_URL postgres://)")
    check(api.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
          "api waits for a healthy postgres")
    check(api.get("build", {}).get("dockerfile") == "deploy/Dockerfile", "api is built from deploy/Dockerfile")
    for name in ("node-exporter", "scan-exporter", "disk-guard", "slack-relay"):
        check(svcs.get(name, {}).get("profiles") == ["agents"], "%s is optional (profile agents)" % name)
    for name in ("prometheus", "alertmanager", "grafana"):
        check(svcs.get(name, {}).get("profiles") == ["monitoring"], "%s is optional (profile monitoring)" % name)
    here = os.path.dirname(compose_path)
    for name, svc in svcs.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith("."):
                path = os.path.normpath(os.path.join(here, src))
                check(os.path.exists(path), "%s mounts %s, which exists in the repository" % (name, src))
        nm = svc.get("network_mode", "")
        if nm:
            check(nm == "service:api" and "ports" not in svc,
                  "%s shares the api's network namespace (loopback config works)" % name)
    mounts = " ".join(str(v) for s in svcs.values() for v in s.get("volumes", []))
    for needed in ("../rules/prometheus.yml", "../rules/alerts.yml", "../rules/alertmanager.yml",
                   "../dashboards:", "../dashboards/provisioning/datasources", "../dashboards/provisioning/dashboards"):
        check(needed in mounts, "monitoring mounts the repository's %s" % needed)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks the Jenkinsfile's structure offline, without Jenkins.

Asserts: a declarative pipeline with exactly the six stages, in order, each
calling its own script in jenkins/stages/ (which exists and is executable); the
required options; every sh step a single-quoted string (no Groovy
interpolation); credentials only through withCredentials; post sections that
publish the gate JUnit, archive reports and SBOM, and notify the relay on
failure and on fixed; the SBOMs and the gate's VEX and SARIF archived, the
gate's SARIF recorded with warnings-ng, and the fingerprint key bound as a file
credential in Security Secrets.

Usage: check_jenkinsfile.py JENKINSFILE [REPO_ROOT]
Prints one "ok"/"not ok" line per check; exits 1 if any check failed.
"""
import os
import re
import sys

STAGES = ["Checkout", "Security Secrets", "Build", "Security Container", "Deploy", "Smoke Test"]


def tokenize(src):
    """Groovy tokens enough for structure: strings (with their quote), braces,
    parens, identifiers, other single characters. Comments are dropped."""
    toks, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i)
            i = n if i < 0 else i
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise SyntaxError("unterminated comment")
            i = j + 2
        elif src.startswith("'''", i) or src.startswith('"""', i):
            q = src[i : i + 3]
            j = src.find(q, i + 3)
            if j < 0:
                raise SyntaxError("unterminated string")
            toks.append(("str", q, src[i + 3 : j]))
            i = j + 3
        elif c in "'\"":
            j, buf = i + 1, []
            while j < n and src[j] != c:
                if src[j] == "\\":
                    j += 1
                if src[j] == "\n":
                    raise SyntaxError("newline in string at offset %d" % i)
                buf.append(src[j])
                j += 1
            if j >= n:
                raise SyntaxError("unterminated string")
            toks.append(("str", c, "".join(buf)))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i
            while j < n and (src[j].isalnum() or src[j] == "_"):
                j += 1
            toks.append(("id", src[i:j], None))
            i = j
        elif c.isspace():
            i += 1
        else:
            toks.append(("sym", c, None))
            i += 1
    return toks


def block_after(toks, start):
    """Index range (open, close) of the {...} block that starts at or after start."""
    i = start
    while toks[i][:2] != ("sym", "{"):
        i += 1
    depth, j = 0, i
    while j < len(toks):
        if toks[j][:2] == ("sym", "{"):
            depth += 1
        elif toks[j][:2] == ("sym", "}"):
            depth -= 1
            if depth == 0:
                return i, j
        j += 1
    raise SyntaxError("unbalanced braces")


def find_id(toks, name, lo, hi, top_level_only=True):
    """Positions of identifier `name` directly inside the block (lo, hi)."""
    out, depth = [], 0
    for k in range(lo + 1, hi):
        t = toks[k]
        if t[:2] == ("sym", "{"):
            depth += 1
        elif t[:2] == ("sym", "}"):
            depth -= 1
        elif t[0] == "id" and t[1] == name and (depth == 0 or not top_level_only):
            out.append(k)
    return out


def sh_scripts(toks, lo, hi):
    """(quote, text) of every sh step's script in toks[lo:hi]."""
    out = []
    for k in range(lo, hi):
        if toks[k][:2] != ("id", "sh"):
            continue
        j = k + 1
        if toks[j][:2] == ("sym", "("):
            j += 1
        # sh 'x'  |  sh script: 'x', returnStatus: true  |  sh returnStatus: true, script: 'x'
        if toks[j][0] == "str":
            out.append((toks[j][1], toks[j][2]))
            continue
        seg = toks[j : min(j + 12, hi)]
        for m in range(len(seg) - 2):
            if seg[m][:2] == ("id", "script") and seg[m + 1][:2] == ("sym", ":") and seg[m + 2][0] == "str":
                out.append((seg[m + 2][1], seg[m + 2][2]))
                break
        else:
            out.append(("?", None))
    return out


def call_args(toks, k):
    """Named string arguments of the call whose name is toks[k]: name(key: 'v', ...)."""
    if k + 1 >= len(toks) or toks[k + 1][:2] != ("sym", "("):
        return None
    depth, j, out = 0, k + 1, {}
    while j < len(toks):
        t = toks[j]
        if t[:2] in (("sym", "("), ("sym", "["), ("sym", "{")):
            depth += 1
        elif t[:2] in (("sym", ")"), ("sym", "]"), ("sym", "}")):
            depth -= 1
            if depth == 0:
                return out
        elif (depth == 1 and t[0] == "id" and j + 2 < len(toks) and toks[j + 1][:2] == ("sym", ":")
              and toks[j + 2][0] == "str"):
            out[t[1]] = toks[j + 2][2]
        j += 1
    return out


def ant_match(pattern, path):
    """Ant-style match of one archiveArtifacts pattern (* within a segment, ** across)."""
    rx = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            rx += ".*"
            i += 2
        elif pattern[i] == "*":
            rx += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            rx += "[^/]"
            i += 1
        else:
            rx += re.escape(pattern[i])
            i += 1
    return re.fullmatch(rx, path) is not None


# What the pipeline's stages write that Jenkins must keep: the SBOMs, the gate's
# OpenVEX and SARIF, and the gate's summaries (issue 17).
ARCHIVED = [
    "reports/build.sbom.cdx.json",
    "reports/sbom.cdx.json",
    "reports/gate-container.vex.json",
    "reports/gate-container.sarif",
    "reports/gate-secrets.sarif",
    "reports/gate-container.summary.json",
]
GATE_SARIF = ["reports/gate-secrets.sarif", "reports/gate-container.sarif"]
FINGERPRINT_KEY = ("srp-gate-fingerprint-key", "SRP_GATE_FINGERPRINT_KEY_FILE")


def main():
    path = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.dirname(os.path.abspath(path)))
    src = open(path, encoding="utf-8").read()
    results = []

    def check(ok, what):
        results.append(bool(ok))
        print(("ok     - " if ok else "not ok - ") + what)

    toks = tokenize(src)
    pipe = find_id(toks, "pipeline", -1, len(toks))
    check(len(pipe) == 1, "one declarative `pipeline {}` block")
    if len(pipe) != 1:
        return 1
    plo, phi = block_after(toks, pipe[0])

    opts = find_id(toks, "options", plo, phi)
    check(len(opts) == 1, "an options block")
    if opts:
        olo, ohi = block_after(toks, opts[0])
        for name in ("timeout", "buildDiscarder", "disableConcurrentBuilds", "timestamps"):
            check(find_id(toks, name, olo, ohi), "options has %s" % name)

    st = find_id(toks, "stages", plo, phi)
    check(len(st) == 1, "one stages block")
    if len(st) != 1:
        return 1
    slo, shi = block_after(toks, st[0])
    found = []
    for k in find_id(toks, "stage", slo, shi):
        # stage ( 'Name' ) { ... }
        name = toks[k + 2][2] if toks[k + 1][:2] == ("sym", "(") and toks[k + 2][0] == "str" else None
        blo, bhi = block_after(toks, k)
        found.append((name, blo, bhi))
    names = [f[0] for f in found]
    check(names == STAGES, "exactly the six stages in order: %s (found %s)" % (STAGES, names))

    for name, blo, bhi in found:
        slug = (name or "").lower().replace(" ", "-")
        script = "jenkins/stages/%s.sh" % slug
        calls = [t for q, t in sh_scripts(toks, blo, bhi) if t]
        check(any(c.split()[0] == script for c in calls if c.split()),
              "stage %r calls %s (calls: %s)" % (name, script, calls))
        full = os.path.join(root, script)
        check(os.path.isfile(full) and os.access(full, os.X_OK), "%s exists and is executable" % script)
    secrets = [f for f in found if f[0] == "Security Secrets"]
    if secrets:
        _, blo, bhi = secrets[0]
        bound = []
        wc = [k for k in range(blo, bhi) if toks[k][:2] == ("id", "withCredentials")]
        for m in range(wc[0] if wc else bhi, bhi):
            if toks[m][:2] == ("id", "file"):
                a = call_args(toks, m)
                if a:
                    bound.append((a.get("credentialsId"), a.get("variable")))
        check(FINGERPRINT_KEY in bound,
              "Security Secrets binds the fingerprint key with withCredentials([file(credentialsId: %r, variable: %r)]) (file bindings: %s)"
              % (FINGERPRINT_KEY + (bound,)))
        script = os.path.join(root, "jenkins/stages/security-secrets.sh")
        text = open(script, encoding="utf-8").read() if os.path.isfile(script) else ""
        check('--fingerprint-key-file "$%s"' % FINGERPRINT_KEY[1] in text,
              "jenkins/stages/security-secrets.sh passes --fingerprint-key-file \"$%s\" to the gate" % FINGERPRINT_KEY[1])
    checkout = [f for f in found if f[0] == "Checkout"]
    if checkout:
        check(find_id(toks, "checkout", checkout[0][1], checkout[0][2], top_level_only=False),
              "Checkout runs `checkout scm`")

    all_sh = sh_scripts(toks, 0, len(toks))
    check(all_sh and all(q == "'" for q, _ in all_sh),
          "every sh step is a single-quoted string (%d sh steps)" % len(all_sh))
    check("credentials(" not in src.replace(" ", ""),
          "no credentials() in environment: credentials only through withCredentials")

    post = find_id(toks, "post", plo, phi)
    check(len(post) == 1, "a pipeline-level post block")
    if post:
        polo, pohi = block_after(toks, post[0])
        for cond in ("always", "failure", "fixed"):
            check(find_id(toks, cond, polo, pohi), "post has %s" % cond)
        for cond in ("failure", "fixed"):
            ks = find_id(toks, cond, polo, pohi)
            if not ks:
                continue
            clo, chi = block_after(toks, ks[0])
            body = [t for t in toks[clo:chi]]
            has_wc = any(t[:2] == ("id", "withCredentials") for t in body)
            notifies = [t for q, t in sh_scripts(toks, clo, chi) if t and t.startswith("jenkins/notify.sh")]
            check(has_wc and notifies, "post %s notifies the relay (jenkins/notify.sh) inside withCredentials" % cond)
        ks = find_id(toks, "always", polo, pohi)
        if ks:
            alo, ahi = block_after(toks, ks[0])
            strs = [t[2] for t in toks[alo:ahi] if t[0] == "str"]
            ids = [t[1] for t in toks[alo:ahi] if t[0] == "id"]
            check("junit" in ids and any("gate-" in s and s.endswith(".xml") for s in strs),
                  "post always publishes the gate's JUnit")
            check("archiveArtifacts" in ids and any("reports/" in s for s in strs),
                  "post always archives the reports (and SBOM, reports/sbom.cdx.json)")
            patterns = []
            for k in range(alo, ahi):
                if toks[k][:2] == ("id", "archiveArtifacts"):
                    j = k + 1
                    while j < ahi and not (toks[j][:2] == ("id", "artifacts") and toks[j + 1][:2] == ("sym", ":")):
                        j += 1
                    if j < ahi and toks[j + 2][0] == "str":
                        patterns += [p.strip() for p in toks[j + 2][2].split(",") if p.strip()]
            missing = [f for f in ARCHIVED if not any(ant_match(p, f) for p in patterns)]
            check(patterns and not missing,
                  "archiveArtifacts keeps the SBOMs, the gate's VEX and SARIF (patterns %s; not archived: %s)"
                  % (patterns, missing))
            sarif_patterns = []
            in_record = False
            for k in range(alo, ahi):
                if toks[k][:2] == ("id", "recordIssues"):
                    in_record = True
                elif in_record and toks[k][:2] == ("id", "sarif"):
                    a = call_args(toks, k)
                    if a and "pattern" in a:
                        sarif_patterns += [p.strip() for p in a["pattern"].split(",")]
            unrecorded = [f for f in GATE_SARIF if not any(ant_match(p, f) for p in sarif_patterns)]
            check(sarif_patterns and not unrecorded,
                  "recordIssues reads the gate's SARIF with warnings-ng's sarif tool (patterns %s; not recorded: %s)"
                  % (sarif_patterns, unrecorded))
    notify = os.path.join(root, "jenkins/notify.sh")
    check(os.path.isfile(notify) and os.access(notify, os.X_OK), "jenkins/notify.sh exists and is executable")
    return 0 if all(results) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SyntaxError as e:
        print("not ok - Jenkinsfile could not be read: %s" % e)
        sys.exit(1)

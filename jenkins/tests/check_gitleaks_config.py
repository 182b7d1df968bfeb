#!/usr/bin/env python3
"""Checks the repository's .gitleaks.toml against the tracked files.

- [extend] useDefault = true (a config without it drops Gitleaks' default rules);
- the global allowlist holds only exact, anchored file paths: no regexes,
  stopwords, commits or directory-wide patterns;
- every allowlisted path matches at least one tracked file, and each file it
  matches contains a secret-like string (an entry that allows more is too broad);
- every tracked file with a secret-like string is allowlisted (else the Security
  Secrets stage would block on a test fixture).

"Secret-like" uses a few of Gitleaks' own default rules (GitHub PAT, AWS key id,
private key block, Slack token/webhook, PyPI token).

Usage: check_gitleaks_config.py REPO_ROOT
"""
import os
import re
import subprocess
import sys
import tomllib

SECRET_LIKE = {
    "github-pat": re.compile(r"ghp_[0-9a-zA-Z]{36}"),
    "github-fine-grained-pat": re.compile(r"github_pat_\w{82}"),
    "aws-access-key-id": re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    "private-key": re.compile(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-----[\s\S-]{64,}?KEY( BLOCK)?-----"),
    "slack-token": re.compile(r"xox[bpe]-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*"),
    "slack-webhook": re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}"),
    "pypi-token": re.compile(r"pypi-AgEIcHlwaS5vcmc[\w-]{50,1000}"),
}


def main():
    root = sys.argv[1]
    results = []

    def check(ok, what):
        results.append(bool(ok))
        print(("ok     - " if ok else "not ok - ") + what)

    path = os.path.join(root, ".gitleaks.toml")
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    check(cfg.get("extend", {}).get("useDefault") is True, ".gitleaks.toml extends the default rules")
    check("rules" not in cfg, "no custom rules that could replace or weaken the defaults")

    allow = cfg.get("allowlist", {})
    lists = cfg.get("allowlists", [])
    check(not lists, "no [[allowlists]] tables (one global [allowlist] of paths only)")
    broader = sorted(set(allow) - {"description", "paths"})
    check(not broader, "global allowlist has only paths (found also: %s)" % broader)
    for rid, rule in ((r.get("id"), r) for r in cfg.get("rules", [])):
        check("allowlist" not in rule and "allowlists" not in rule, "rule %s has no allowlist" % rid)

    tracked = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout.decode().split("\0")
    tracked = [t for t in tracked if t and os.path.isfile(os.path.join(root, t))]
    secret_files = {}
    for rel in tracked:
        if rel == ".gitleaks.toml":
            continue
        try:
            text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        hits = sorted(name for name, rx in SECRET_LIKE.items() if rx.search(text))
        if hits:
            secret_files[rel] = hits
    print("# tracked files: %d; with secret-like strings: %s" % (len(tracked), secret_files or "none"))

    patterns = []
    for p in allow.get("paths", []):
        anchored = p.startswith("^") and p.endswith("$")
        check(anchored, "allowlist path %r is anchored ^...$" % p)
        check(not re.search(r"\.\*|\.\+|\[\^/\]\*|\\S\*", p), "allowlist path %r has no wildcards" % p)
        rx = re.compile(p)
        patterns.append(rx)
        matched = [t for t in tracked if rx.search(t)]
        check(matched, "allowlist path %r matches a tracked file (%s)" % (p, matched))
        extra = [t for t in matched if t not in secret_files]
        check(not extra, "allowlist path %r matches only files with fake secrets (also: %s)" % (p, extra))

    for rel, hits in sorted(secret_files.items()):
        check(any(rx.search(rel) for rx in patterns),
              "%s (%s) is allowlisted by exact path" % (rel, ", ".join(hits)))
    if not secret_files:
        check(not allow.get("paths"), "no tracked file holds a fake secret, so nothing is allowlisted")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

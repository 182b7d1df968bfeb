#!/usr/bin/env python3
"""Write a synthetic Trivy JSON report (SchemaVersion 2) with N vulnerabilities,
shaped like real `trivy image --format json` output (all the usual fields,
descriptions, CVSS, references), spread over OS and language results.

usage: gen_trivy.py N OUT
"""
import json
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(42)
severities = ["CRITICAL"] * 5 + ["HIGH"] * 20 + ["MEDIUM"] * 40 + ["LOW"] * 30 + ["UNKNOWN"] * 5
statuses = ["fixed"] * 7 + ["affected", "will_not_fix", "fix_deferred"]
results = [
    {"Target": "registry.example.com/srp-api:1234 (debian 12.5)", "Class": "os-pkgs", "Type": "debian", "eco": "deb/debian"},
    {"Target": "app/Cargo.lock", "Class": "lang-pkgs", "Type": "cargo", "eco": "cargo"},
    {"Target": "app/package-lock.json", "Class": "lang-pkgs", "Type": "npm", "eco": "npm"},
    {"Target": "usr/lib/python3/dist-packages", "Class": "lang-pkgs", "Type": "python-pkg", "eco": "pypi"},
]
vulns = [[] for _ in results]
for i in range(n):
    r = i % len(results)
    sev = rng.choice(severities)
    status = rng.choice(statuses)
    pkg = f"pkg{i % 5000}"
    ver = f"{i % 7}.{i % 13}.{i % 17}"
    cve = f"CVE-20{10 + i % 15}-{10000 + i}"
    v = {
        "VulnerabilityID": cve,
        "PkgID": f"{pkg}@{ver}",
        "PkgName": pkg,
        "PkgIdentifier": {"PURL": f"pkg:{results[r]['eco']}/{pkg}@{ver}", "UID": f"{i:016x}"},
        "InstalledVersion": ver,
        "Status": status,
        "Layer": {"DiffID": "sha256:" + "%064x" % (i % 9)},
        "SeveritySource": "nvd",
        "PrimaryURL": f"https://avd.aquasec.com/nvd/{cve.lower()}",
        "DataSource": {"ID": "debian", "Name": "Debian Security Tracker", "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"},
        "Title": f"{pkg}: a synthetic issue number {i}",
        "Description": "A synthetic description of a vulnerability, long enough to look like the real ones that Trivy copies from NVD. " * 2,
        "Severity": sev,
        "CweIDs": ["CWE-787"],
        "VendorSeverity": {"nvd": 3, "debian": 2},
        "CVSS": {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": 9.8}},
        "References": [f"https://nvd.nist.gov/vuln/detail/{cve}", f"https://security-tracker.debian.org/tracker/{cve}"],
        "PublishedDate": "2021-08-25T12:20:30Z",
        "LastModifiedDate": "2023-01-01T00:00:00Z",
    }
    if status == "fixed":
        v["FixedVersion"] = f"{ver}+fix1"
    vulns[r].append(v)
report = {
    "SchemaVersion": 2,
    "Trivy": {"Version": "0.72.0"},
    "ReportID": "019a0000-0000-7000-8000-000000000000",
    "CreatedAt": "2026-11-28T00:00:00Z",
    "ArtifactName": "registry.example.com/srp-api:1234",
    "ArtifactType": "container_image",
    "Metadata": {"OS": {"Family": "debian", "Name": "12.5"}},
    "Results": [
        {"Target": r["Target"], "Class": r["Class"], "Type": r["Type"], "Vulnerabilities": vs}
        for r, vs in zip(results, vulns)
    ],
}
with open(out, "w") as f:
    json.dump(report, f, indent=2)

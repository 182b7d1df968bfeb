#!/usr/bin/env python3
"""Write the exploit feeds, a VEX document and a policy that turn on every
matching srp-gate does, sized like the real feeds, for the report gen_trivy.py
writes with the same N:

  kev.json     CISA KEV JSON feed: 1,500 entries (the real catalogue holds
               about 1,400), 300 of them CVEs of the report
  epss.csv     FIRST EPSS daily CSV: one row per CVE of the report plus
               200,000 others (the real file has about 280,000 rows)
  vex.json     OpenVEX 0.2.0: 2,000 not_affected statements, 1,000 matching
               findings of the report (scoped to the image and the package),
               1,000 matching nothing (listed as unused)
  policy.toml  block_kev = true, epss_threshold = 0.2, and 50 waivers

usage: gen_feeds.py N OUTDIR
"""
import json
import os
import random
import sys

n = int(sys.argv[1])
out = sys.argv[2]
rng = random.Random(7)
ecos = ["deb/debian", "cargo", "npm", "pypi"]


def cve(i):
    return f"CVE-20{10 + i % 15}-{10000 + i}"


def purl(i):
    pkg = f"pkg{i % 5000}"
    ver = f"{i % 7}.{i % 13}.{i % 17}"
    return f"pkg:{ecos[i % 4]}/{pkg}@{ver}"


hits = rng.sample(range(n), min(n, 300))
kev = []
for k in range(1500):
    name = cve(hits[k]) if k < len(hits) else f"CVE-2009-{50000 + k}"
    kev.append({
        "cveID": name,
        "vendorProject": "Example",
        "product": "Product %d" % k,
        "vulnerabilityName": "Synthetic known exploited vulnerability %d" % k,
        "dateAdded": "2024-01-%02d" % (1 + k % 28),
        "shortDescription": "A synthetic entry in the CISA KEV feed format.",
        "requiredAction": "Apply mitigations per vendor instructions or discontinue use of the product.",
        "dueDate": "2024-02-%02d" % (1 + k % 28),
        "knownRansomwareCampaignUse": "Unknown",
        "notes": "",
        "cwes": ["CWE-787"],
    })
with open(os.path.join(out, "kev.json"), "w") as f:
    json.dump({"title": "CISA Catalog of Known Exploited Vulnerabilities", "catalogVersion": "2026.12.01",
               "dateReleased": "2026-12-01T00:00:00.000Z", "count": len(kev), "vulnerabilities": kev}, f, indent=2)

with open(os.path.join(out, "epss.csv"), "w") as f:
    f.write("#model_version:v2025.03.14,score_date:2026-12-01T00:00:00Z\ncve,epss,percentile\n")
    for i in range(n):
        p = rng.random() ** 6  # most scores are small, as in the real feed
        f.write(f"{cve(i)},{p:.5f},{min(p * 3, 1):.5f}\n")
    for k in range(200000):
        f.write(f"CVE-2008-{100000 + k},0.00043,0.12000\n")

image = "pkg:oci/srp-api?repository_url=registry.example.com%2Fsrp-api"
statements = []
for i in rng.sample(range(n), min(n, 1000)):
    statements.append({
        "vulnerability": {"name": cve(i)},
        "products": [{"@id": image, "subcomponents": [{"@id": purl(i)}]}],
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
        "timestamp": "2026-11-01T00:00:00Z",
    })
for k in range(1000):
    statements.append({"vulnerability": {"name": f"CVE-2007-{60000 + k}"}, "status": "not_affected",
                       "justification": "component_not_present", "timestamp": "2026-11-01T00:00:00Z"})
with open(os.path.join(out, "vex.json"), "w") as f:
    json.dump({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.org/vex/bench",
               "author": "bench", "timestamp": "2026-11-01T00:00:00Z", "version": 1,
               "statements": statements}, f, indent=2)

with open(os.path.join(out, "policy.toml"), "w") as f:
    f.write('kev_catalog = "kev.json"\nblock_kev = true\nepss = "epss.csv"\nepss_threshold = 0.2\n\n')
    for i in rng.sample(range(n), min(n, 50)):
        f.write(f'[[waivers]]\nid = "{cve(i)}"\nreason = "bench waiver"\nexpires = 2099-12-31\n\n')

"""Create N projects through the API (POST /projects) over one keep-alive connection.

Usage: seed.py HOST:PORT N PREFIX
"""

import http.client
import json
import os
import sys

host, port = sys.argv[1].rsplit(":", 1)
count, prefix = int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection(host, int(port), timeout=30)
headers = {"Content-Type": "application/json"}
# srp-api's writes need a bearer token (issue 20); the peer ignores it.
if os.environ.get("SRP_TOKEN"):
    headers["Authorization"] = f"Bearer {os.environ['SRP_TOKEN']}"
for i in range(count):
    body = json.dumps({"name": f"{prefix}-{i:05d}", "description": "seeded for the benchmark"})
    conn.request("POST", "/projects", body, headers)
    resp = conn.getresponse()
    resp.read()
    if resp.status != 201:
        sys.exit(f"seeding {sys.argv[1]}: POST /projects answered {resp.status}")

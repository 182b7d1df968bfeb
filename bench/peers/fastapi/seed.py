"""Create N projects through the API (POST /projects) over one keep-alive connection.

Usage: seed.py HOST:PORT N PREFIX
"""

import http.client
import json
import sys

host, port = sys.argv[1].rsplit(":", 1)
count, prefix = int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection(host, int(port), timeout=30)
for i in range(count):
    body = json.dumps({"name": f"{prefix}-{i:05d}", "description": "seeded for the benchmark"})
    conn.request("POST", "/projects", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 201:
        sys.exit(f"seeding {sys.argv[1]}: POST /projects answered {resp.status}")

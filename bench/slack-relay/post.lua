-- wrk script: POST Alertmanager webhook v4 payloads, each with its own
-- groupKey (thread id + counter), so no request is a duplicate and every one
-- costs a durable commit.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  run = args[1] or "run"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

local template = [[{"version":"4","groupKey":"{}:{alertname=\"DiskSpaceWarning\",id=\"%s\"}","truncatedAlerts":0,"status":"firing","receiver":"slack","groupLabels":{"alertname":"DiskSpaceWarning"},"commonLabels":{"alertname":"DiskSpaceWarning","severity":"warning","instance":"web-1:9100","mountpoint":"/"},"commonAnnotations":{"summary":"Disk almost full on web-1","description":"Only 17%% of / is available."},"externalURL":"http://alertmanager:9093","alerts":[{"status":"firing","labels":{"alertname":"DiskSpaceWarning","severity":"warning","instance":"web-1:9100","mountpoint":"/"},"annotations":{"summary":"Disk almost full on web-1","description":"Only 17%% of / is available.","runbook_url":"https://runbooks.example/DiskSpaceWarning"},"startsAt":"2026-11-28T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":"%s"}]}]]

function request()
  counter = counter + 1
  local id = run .. "-" .. tid .. "-" .. counter
  return wrk.format(nil, "/alertmanager", nil, string.format(template, id, id))
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d non2xx=%d errors_connect=%d errors_timeout=%d duration_s=%.2f\n",
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.timeout,
    summary.duration / 1e6))
  io.write(string.format("BENCH p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end

-- wrk script: POST /projects with a name unique per run, thread and request,
-- so every request is a real insert (a 409 would show as a non-2xx response).
-- Usage: SRP_TOKEN=... wrk ... -s post.lua URL -- RUN_TAG
-- SRP_TOKEN (a projects:write token) is sent as the bearer token when set.

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = (args[1] or "bench") .. "-t" .. tid .. "-"
  counter = 0
  headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("SRP_TOKEN")
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  counter = counter + 1
  local body = '{"name":"' .. prefix .. counter .. '","description":"benchmark insert"}'
  return wrk.format("POST", "/projects", headers, body)
end

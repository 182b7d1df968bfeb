-- wrk script: POST /projects with a name unique per run, thread and request,
-- so every request is a real insert (a 409 would show as a non-2xx response).
-- Usage: wrk ... -s post.lua URL -- RUN_TAG

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = (args[1] or "bench") .. "-t" .. tid .. "-"
  counter = 0
end

function request()
  counter = counter + 1
  local body = '{"name":"' .. prefix .. counter .. '","description":"benchmark insert"}'
  return wrk.format("POST", "/projects", { ["Content-Type"] = "application/json" }, body)
end

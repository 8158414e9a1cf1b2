-- wrk script of the session benchmark: every request carries a cookie
-- drawn at random from a pool of sessions (one "name=value" per line of the
-- file given as the first script argument), and the summary is printed as
-- one JSON line starting with BENCHJSON.

local counter = 0
local threads = {}

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local cookies = {}

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
  f:close()
  assert(#cookies > 0, "empty cookie pool")
  math.randomseed(os.time() * 1000 + (id or 0))
end

function request()
  local c = cookies[math.random(#cookies)]
  return wrk.format("GET", nil, { ["Cookie"] = c })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end

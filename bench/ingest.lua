-- wrk script for bench/ingest.py: every thread answers its share of the tokens in
-- TOKENS_FILE once each (POST /r/{token} with a JSON score).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("TOKENS_FILE")
  local nthreads = tonumber(os.getenv("WRK_THREADS"))
  mine = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == id then
      table.insert(mine, line)
    end
    i = i + 1
  end
  next_token = 0
  ok = 0
  bad = 0
end

-- Once a thread's tokens are used up its connections idle: one cheap /healthz a second each,
-- until the driver sees every answer stored and interrupts wrk (which then reports).
function delay()
  if next_token > #mine then
    return 1000
  end
  return 0
end

function request()
  next_token = next_token + 1
  if next_token > #mine then
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/r/" .. mine[next_token],
    { ["Content-Type"] = "application/json" }, '{"score": 4}')
end

function response(status, headers, body)
  if status == 201 then
    ok = ok + 1
  elseif status ~= 200 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local ok_total, bad_total = 0, 0
  for _, t in ipairs(threads) do
    ok_total = ok_total + t:get("ok")
    bad_total = bad_total + t:get("bad")
  end
  io.write(string.format("ACKED %d\nREFUSED %d\n", ok_total, bad_total))
  for _, p in ipairs({ 50, 99 }) do
    io.write(string.format("P%d_US %d\n", p, latency:percentile(p)))
  end
end

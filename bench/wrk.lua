-- wrk script for `python -m bench`: POSTs the JSON body in $BENCH_BODY_FILE (with $BENCH_AUTHORIZATION
-- as the Authorization header when set) and prints one parseable line when the run ends:
--   BENCH_RESULT {"requests": ..., "duration_us": ..., "p50_us": ..., "p99_us": ..., "errors_status": ...}
-- Latencies are wrk's: from sending the request to reading the whole response (the whole stream for SSE).
--
-- When $BENCH_TAG_MARKER is set, every request replaces that marker in the body with a tag of its own,
-- "<$BENCH_RUN_ID>-<thread>-<count>", so that no two requests of any run send the same body (a response
-- cache misses every one). Otherwise the body is the same each time and wrk builds the request once.

local body_file = assert(os.getenv("BENCH_BODY_FILE"), "set BENCH_BODY_FILE to the request body's path")
local file = assert(io.open(body_file, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local marker = os.getenv("BENCH_TAG_MARKER")
if marker and marker ~= "" then
  local first, last = string.find(wrk.body, marker, 1, true)
  assert(first, "BENCH_TAG_MARKER is not in the body")
  local before, after = wrk.body:sub(1, first - 1), wrk.body:sub(last + 1)
  local run_id = assert(os.getenv("BENCH_RUN_ID"), "set BENCH_RUN_ID with BENCH_TAG_MARKER")
  local threads = 0

  function setup(thread) -- in the main Lua state, once per thread before it starts
    threads = threads + 1
    thread:set("thread_number", threads)
  end

  local count = 0 -- each thread has a Lua state of its own, so a counter of its own
  function request()
    count = count + 1
    local tag = run_id .. "-" .. (thread_number or 0) .. "-" .. count
    return wrk.format(nil, nil, nil, before .. tag .. after)
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, '
      .. '"errors_status": %d, "errors_timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout
  ))
end

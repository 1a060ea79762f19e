-- wrk script for `python -m bench`: POSTs the JSON body in $BENCH_BODY_FILE (with $BENCH_AUTHORIZATION
-- as the Authorization header when set) and prints one parseable line when the run ends:
--   BENCH_RESULT {"requests": ..., "duration_us": ..., "p50_us": ..., "p99_us": ..., "errors_status": ...}
-- Latencies are wrk's: from sending the request to reading the whole response (the whole stream for SSE).

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

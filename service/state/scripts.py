"""The two Lua scripts behind `RedisStore.admit` and `RedisStore.settle`: one round trip before a call, one after.

Why scripts: a metered chat completion needs, before its upstream call, a cache lookup (and on a miss
the fill lock), the client's RPM and TPM windows, a reservation on four spend counters, the fleet's
pause and its RPM and TPM windows. Made one by one (the `limits` library takes one call per window and
another per report) that was 11 round trips and 59 commands before the call and 9 after, and it kept
the service at a third of the stub's throughput. A pipeline cannot do it, because later steps depend
on earlier answers (a hit takes nothing else; a refusal must undo nothing) and a MULTI/EXEC block
cannot branch. A script can, atomically: it checks everything first and writes only if all passes, so
a refusal leaves nothing to give back. Each is loaded once per process (redis-py's `Script`: EVALSHA,
and SCRIPT LOAD only when the server does not know it yet, e.g. after a restart).

Keys: the cache entry's and lock's keys contain the namespace version, which the script reads, so
they are built inside it instead of being passed in KEYS. That is fine on a single Redis or a
replication group (what infra deploys) and would need hash tags on a Redis Cluster.

The windows' arithmetic is `service.state.windows`; `MemoryStore` does the same in Python.
"""

from __future__ import annotations

from typing import Final

# Shared by both scripts. ARGV[1] is the window length in ms. Minutes follow Redis's clock, so every
# worker and container agrees on them. A window is a hash: the minute it was last written in, that
# minute's count and the previous minute's.
_WINDOWS: Final = """
local window_ms = tonumber(ARGV[1])
local clock = redis.call('TIME')
local now_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local minute = math.floor(now_ms / window_ms)
local left_ms = window_ms - now_ms % window_ms

local function read_window(key)
  local stored = redis.call('HMGET', key, 'minute', 'current', 'previous')
  local at = tonumber(stored[1])
  if at == minute then return tonumber(stored[3]) or 0, tonumber(stored[2]) or 0 end
  if at == minute - 1 then return tonumber(stored[2]) or 0, 0 end
  return 0, 0
end

local function fits(previous, current, limit, cost)
  return cost <= limit and math.floor(previous * left_ms / window_ms) + current + cost <= limit
end

local function write_window(key, previous, current)
  redis.call('HSET', key, 'minute', minute, 'current', current, 'previous', previous)
  redis.call('PEXPIRE', key, 2 * window_ms)
end
"""

# KEYS: the namespace version, the fleet pause, one per window (client's, then fleet's), one per bucket.
# ARGV: window ms, cache mode (0 none, 1 look up and lead, 2 only name the entry), entry head, lock head,
#   digest, lock token, lock ms, client windows, fleet windows, buckets, amount, check the pause (0/1),
#   then (limit, cost) per window, then (limit or -1, ttl seconds) per bucket.
# Reply: outcome, refused index (1-based), wait ms, namespace version, body, left ms,
#   window count, (previous, current) per window, bucket count, value per bucket.
ADMIT: Final = (
    _WINDOWS
    + """
local cache_mode = tonumber(ARGV[2])
local n_client, n_fleet, n_buckets = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local amount = tonumber(ARGV[11])
local n_windows = n_client + n_fleet
local windows, values = {}, {}
local version, lock = false, false

local function reply(outcome, index, wait_ms, body)
  local out = {outcome, index, wait_ms, version, body, left_ms, #windows}
  for i = 1, #windows do
    out[#out + 1] = windows[i][1]
    out[#out + 1] = windows[i][2]
  end
  out[#out + 1] = #values
  for j = 1, #values do out[#out + 1] = values[j] end
  return out
end

if cache_mode > 0 then
  version = redis.call('GET', KEYS[1]) or '0'
  if cache_mode == 1 then
    local body = redis.call('GET', ARGV[3] .. version .. ':' .. ARGV[5])
    if body then return reply(1, 0, 0, body) end
    lock = ARGV[4] .. version .. ':' .. ARGV[5]
    if redis.call('EXISTS', lock) == 1 then return reply(2, 0, 0, false) end
  end
end

local function window_arg(i) return tonumber(ARGV[12 + 2 * i - 1]), tonumber(ARGV[12 + 2 * i]) end
for i = 1, n_windows do
  local previous, current = read_window(KEYS[2 + i])
  windows[i] = {previous, current}
end
local function window_fits(i)
  local limit, cost = window_arg(i)
  return cost == 0 or fits(windows[i][1], windows[i][2], limit, cost)
end

for i = 1, n_client do
  if not window_fits(i) then return reply(3, i, 0, false) end
end

local bucket_arg = 12 + 2 * n_windows
local found = {}
for j = 1, n_buckets do
  local value = tonumber(redis.call('GET', KEYS[2 + n_windows + j]) or '0')
  local limit = tonumber(ARGV[bucket_arg + 2 * j - 1])
  if limit >= 0 and value + amount > limit then return reply(4, j, 0, false) end
  found[j] = value
end

if ARGV[12] == '1' then
  local paused_until = tonumber(redis.call('GET', KEYS[2]) or '0')
  if paused_until > now_ms then return reply(5, 0, paused_until - now_ms, false) end
end

for i = n_client + 1, n_windows do
  if not window_fits(i) then return reply(3, i, 0, false) end
end

for i = 1, n_windows do
  local _, cost = window_arg(i)
  if cost ~= 0 then
    windows[i][2] = windows[i][2] + cost
    write_window(KEYS[2 + i], windows[i][1], windows[i][2])
  end
end
for j = 1, n_buckets do
  local key = KEYS[2 + n_windows + j]
  values[j] = redis.call('INCRBY', key, amount)
  redis.call('EXPIRE', key, ARGV[bucket_arg + 2 * j])
end
if lock then redis.call('SET', lock, ARGV[6], 'PX', ARGV[7]) end
return reply(0, 0, 0, false)
"""
)

# KEYS: one per window, counter, hash, set, put and release, in that order, then the pause key if any.
# ARGV: window ms, then the count of each of those six, then the pause ms (0: none), then
#   (limit, cost) per window, (delta, ttl seconds) per counter, (ttl seconds, field count, field, amount...)
#   per hash, (member, ttl seconds) per set, (value, ttl ms) per put, token per release.
SETTLE: Final = (
    _WINDOWS
    + """
local counts = {}
for i = 1, 6 do counts[i] = tonumber(ARGV[1 + i]) end
local pause_ms = tonumber(ARGV[8])
local next_arg, next_key = 8, 0
local function arg() next_arg = next_arg + 1; return ARGV[next_arg] end
local function key() next_key = next_key + 1; return KEYS[next_key] end

for _ = 1, counts[1] do
  local k, limit, cost = key(), tonumber(arg()), tonumber(arg())
  local previous, current = read_window(k)
  if fits(previous, current, limit, cost) then write_window(k, previous, current + cost) end
end
for _ = 1, counts[2] do
  local k, delta, ttl = key(), arg(), arg()
  redis.call('INCRBY', k, delta)
  redis.call('EXPIRE', k, ttl)
end
for _ = 1, counts[3] do
  local k, ttl, fields = key(), arg(), tonumber(arg())
  for _ = 1, fields do
    local field = arg()
    redis.call('HINCRBY', k, field, arg())
  end
  redis.call('EXPIRE', k, ttl)
end
for _ = 1, counts[4] do
  local k, member, ttl = key(), arg(), arg()
  redis.call('SADD', k, member)
  redis.call('EXPIRE', k, ttl)
end
for _ = 1, counts[5] do
  local k, value, ttl = key(), arg(), arg()
  redis.call('SET', k, value, 'PX', ttl)
end
for _ = 1, counts[6] do
  local k, token = key(), arg()
  if redis.call('GET', k) == token then redis.call('DEL', k) end
end
if pause_ms > 0 then  -- a pause only ever grows: a short Retry-After must not end a longer reset early
  local k = key()
  if now_ms + pause_ms > tonumber(redis.call('GET', k) or '0') then
    redis.call('SET', k, now_ms + pause_ms, 'PX', pause_ms)
  end
end
return 1
"""
)

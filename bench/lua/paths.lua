-- Cycles through the request paths listed in $BENCH_PATHS (one per line). Thread k of n takes
-- paths k, k+n, k+2n, ... so no two threads send the same path until the list wraps around.
-- Optional $BENCH_HEADERS: a file of "Name: value" lines sent with every request.
-- done() prints one machine-readable line that bench/run.py parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local paths = {}
local position = 0
local step = 1

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if line ~= "" then table.insert(paths, line) end
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  position = tid or 0
  local header_file = os.getenv("BENCH_HEADERS")
  if header_file and header_file ~= "" then
    for line in io.lines(header_file) do
      local name, value = line:match("^([^:]+):%s*(.*)$")
      if name then wrk.headers[name] = value end
    end
  end
end

function request()
  local path = paths[(position % #paths) + 1]
  position = position + step
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "non_2xx_3xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, e.status, e.connect + e.read + e.write + e.timeout))
end

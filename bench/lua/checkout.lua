-- POST /api/v1/orders as many buyers: $BENCH_TOKENS holds one access token per line (one buyer
-- each), $BENCH_VARIANTS one variant id per line. Thread k of n takes tokens k, k+n, ... and
-- rotates through them request by request, so the connections of a thread carry different
-- buyers; every order is one unit of a variant picked in turn from the list.
-- done() prints one BENCH_JSON line with latency and the count of each response status.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local tokens = {}
local variants = {}
local position = 0
local step = 1
local address = '{"name":"Bench Buyer","line1":"1 Load Street","line2":"","city":"Testville",' ..
  '"state":"","postal_code":"12345","country":"US","phone":"+1 555 0100"}'

created = 0
conflict = 0
other = 0

function init(args)
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  local all = {}
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if line ~= "" then table.insert(all, line) end
  end
  for i = (tid or 0) + 1, #all, step do table.insert(tokens, all[i]) end
  if #tokens == 0 then tokens = all end
  for line in io.lines(os.getenv("BENCH_VARIANTS")) do
    if line ~= "" then table.insert(variants, line) end
  end
  position = tid or 0
end

function request()
  position = position + 1
  local token = tokens[(position % #tokens) + 1]
  local variant = variants[((position * step + (tid or 0)) % #variants) + 1]
  local body = '{"items":[{"variant_id":"' .. variant .. '","quantity":1}],' ..
    '"shipping_address":' .. address .. ',"payment_method":"cash_on_delivery"}'
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 409 then
    conflict = conflict + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c201, c409, cother = 0, 0, 0
  for _, thread in ipairs(threads) do
    c201 = c201 + thread:get("created")
    c409 = c409 + thread:get("conflict")
    cother = cother + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "non_2xx_3xx": %d, "socket_errors": %d, ' ..
    '"created": %d, "conflict": %d, "other": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, e.status, e.connect + e.read + e.write + e.timeout,
    c201, c409, cother))
end

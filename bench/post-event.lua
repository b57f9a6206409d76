-- wrk script: POST /v1/events with a unique event id per request.
-- A repeated id would be an idempotent replay (200, nothing written), not an ingest, so every id
-- is <run nonce>-<thread>-<counter>. The nonce comes after `--` on wrk's command line.
-- Responses are counted by status so the harness can tell new writes (202) from replays (200).

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local headers = {
  ["authorization"] = "Bearer bench-token-0123456789abcdef-0123456789",
  ["content-type"] = "application/json",
}

-- Fixed parts of the example domain event; only the ids change from request to request.
local part1 = '{"id":"'
local part2 = '","type":"OrderCreated","data":{"order":{"id":"o-'
local part3 = '","customerId":"c-'
local part4 = '","total":123.45,"currency":"EUR"}},"occurredAt":"2026-11-30T10:00:00.000Z",'
  .. '"metadata":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",'
  .. '"correlationId":"corr-7f3c2a9e-5d1b-4c8e-9a6f-2b7d4e1c8a30","producer":"checkout-service",'
  .. '"producerVersion":"3.14.2","region":"eu-central-1","tenantId":"tenant-4711","channel":"web",'
  .. '"userAgent":"checkout-web/3.14.2 (Linux x86_64)","clientIp":"203.0.113.42"}}'

local prefix = ""
local counter = 0
status_202 = 0
status_200 = 0
status_other = 0
histogram = false

function init(args)
  local nonce = args[1] or tostring(os.time())
  prefix = "evt-" .. nonce .. "-" .. tostring(tid or 0) .. "-"
  histogram = args[2] == "histogram"
end

function request()
  counter = counter + 1
  local n = tostring(counter)
  local body = part1 .. prefix .. n .. part2 .. n .. part3 .. tostring(counter % 9973) .. part4
  return wrk.format("POST", nil, headers, body)
end

function response(status)
  if status == 202 then
    status_202 = status_202 + 1
  elseif status == 200 then
    status_200 = status_200 + 1
  else
    status_other = status_other + 1
  end
end

-- With "histogram" after the nonce, also every latency (µs, rounded to 0.1 ms) and its count, so a
-- bench can pool the latencies of several runs into one percentile (bench:scale --purge).
function done(summary, latency)
  local s202, s200, other = 0, 0, 0
  for _, thread in ipairs(threads) do
    s202 = s202 + thread:get("status_202")
    s200 = s200 + thread:get("status_200")
    other = other + thread:get("status_other")
  end
  io.write(string.format("bench-statuses 202=%d 200=%d other=%d\n", s202, s200, other))
  if threads[1] ~= nil and threads[1]:get("histogram") then
    local buckets = {}
    for i = 1, #latency do
      local us, count = latency(i)
      local key = math.floor(us / 100 + 0.5) * 100
      buckets[key] = (buckets[key] or 0) + count
    end
    local parts = {}
    for us, count in pairs(buckets) do
      table.insert(parts, us .. ":" .. count)
    end
    io.write("bench-latency " .. table.concat(parts, ",") .. "\n")
  end
end

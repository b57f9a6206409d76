-- wrk script: POST a signed delivery of order.paid.v1 with a new ce-id per request.
-- The signature covers the URL and the body, not the headers: one token minted for the body and
-- the exact URL wrk hits stays valid for every request, while a new ce-id makes each request a
-- new event for the handler's inbox (not a duplicate answered from it).
-- Arguments after `--`: <nonce> <upstash-signature> <body> <ce-time>.
-- Responses are counted by status and printed in the line bench/lib/wrk.ts parses.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local headers = {}
local body = ""
local prefix = ""
local counter = 0
status_202 = 0
status_200 = 0
status_other = 0

function init(args)
  local nonce = args[1] or tostring(os.time())
  prefix = "evt-" .. nonce .. "-" .. tostring(tid or 0) .. "-"
  body = args[3] or "{}"
  headers = {
    ["content-type"] = "application/json",
    ["ce-specversion"] = "1.0",
    ["ce-type"] = "order.paid.v1",
    ["ce-source"] = "/producers/bench",
    ["ce-time"] = args[4] or "2026-11-30T10:00:00.000Z",
    ["upstash-signature"] = args[2] or "",
    ["upstash-retried"] = "0",
    ["user-agent"] = "hookmesh",
  }
end

function request()
  counter = counter + 1
  local id = prefix .. tostring(counter)
  headers["ce-id"] = id
  headers["upstash-message-id"] = "msg_" .. id
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

function done()
  local s202, s200, other = 0, 0, 0
  for _, thread in ipairs(threads) do
    s202 = s202 + thread:get("status_202")
    s200 = s200 + thread:get("status_200")
    other = other + thread:get("status_other")
  end
  io.write(string.format("bench-statuses 202=%d 200=%d other=%d\n", s202, s200, other))
end

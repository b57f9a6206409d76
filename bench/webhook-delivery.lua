-- wrk script: POST a signed delivery of order.paid.v1 with a new ce-id per request.
-- The signature covers the URL and the body, not the headers; each request takes the next token
-- of a file minted before the run (one per line, each with its own jti): the handler's replay rule
-- answers a token seen before without running the handler, so a reused token would measure the
-- replay path. A new ce-id makes each request a new event for the handler's inbox.
-- Arguments after `--`: <nonce> <tokens file> <body> <ce-time> <fresh|reuse>. `reuse` sends the
-- file's first token with every request (for a baseline that verifies nothing: same size).
-- Responses are counted by status and printed in the line bench/lib/wrk.ts parses, with whether
-- the tokens ran out (then the last one is repeated and the figure is void).
-- One wrk thread (-t1, as bench/lib/wrk.ts runs it): threads would read the same tokens.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local headers = {}
local body = ""
local prefix = ""
local counter = 0
local tokens = nil
local token = ""
local fresh = true
status_202 = 0
status_200 = 0
status_other = 0
exhausted = 0

function init(args)
  local nonce = args[1] or tostring(os.time())
  prefix = "evt-" .. nonce .. "-" .. tostring(tid or 0) .. "-"
  if (tid or 0) > 0 then
    error("webhook-delivery.lua: run wrk with one thread (-t1), threads would share tokens")
  end
  tokens = assert(io.open(args[2], "r"))
  token = tokens:read("*l") or ""
  fresh = args[5] ~= "reuse"
  body = args[3] or "{}"
  headers = {
    ["content-type"] = "application/json",
    ["ce-specversion"] = "1.0",
    ["ce-type"] = "order.paid.v1",
    ["ce-source"] = "/producers/bench",
    ["ce-time"] = args[4] or "2026-11-30T10:00:00.000Z",
    ["upstash-retried"] = "0",
    ["user-agent"] = "hookmesh",
  }
end

function request()
  counter = counter + 1
  local id = prefix .. tostring(counter)
  if fresh and counter > 1 then
    local nextToken = tokens:read("*l")
    if nextToken then
      token = nextToken
    else
      exhausted = 1
    end
  end
  headers["upstash-signature"] = token
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
  local s202, s200, other, out = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    s202 = s202 + thread:get("status_202")
    s200 = s200 + thread:get("status_200")
    other = other + thread:get("status_other")
    out = math.max(out, thread:get("exhausted"))
  end
  io.write(string.format("bench-statuses 202=%d 200=%d other=%d\n", s202, s200, other))
  io.write(string.format("bench-tokens exhausted=%d\n", out))
end

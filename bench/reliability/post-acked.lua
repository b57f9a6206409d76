-- wrk script for `npm run reliability` (scenario 6): POST /v1/events with a unique event id per
-- request, and write the id of every acknowledged (2xx) answer to a file, one per line — so the
-- harness can compare what the mesh acknowledged with what it stored, id by id.
-- Arguments after `--`: <nonce> <producer token> <file for acknowledged ids>.

local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local prefix = ""
local counter = 0
local out = nil
local headers = { ["content-type"] = "application/json" }
status_2xx = 0
status_other = 0

function init(args)
  prefix = "wrk-" .. (args[1] or tostring(os.time())) .. "-" .. tostring(tid or 0) .. "-"
  headers["authorization"] = "Bearer " .. args[2]
  out = io.open(args[3] .. "." .. tostring(tid or 0), "w")
  -- Line-buffered: wrk may end without closing the file; every acknowledged id must be on disk.
  out:setvbuf("line")
end

function request()
  counter = counter + 1
  local id = prefix .. tostring(counter)
  local body = '{"id":"' .. id .. '","type":"OrderPaid","data":{"orderId":"o-' .. id
    .. '","amount":12.5,"paidAt":"2026-11-30T10:00:00.000Z"}}'
  return wrk.format("POST", "/v1/events", headers, body)
end

function response(status, headers, body)
  if status == 200 or status == 202 then
    status_2xx = status_2xx + 1
    local id = string.match(body, '"id":"([^"]+)"')
    out:write((id or "?"), "\n")
  else
    status_other = status_other + 1
  end
end

function done()
  local ok, other = 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("status_2xx")
    other = other + thread:get("status_other")
  end
  io.write(string.format("reliability-statuses 2xx=%d other=%d\n", ok, other))
end

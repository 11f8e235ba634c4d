-- wrk script: signed WeChat OA text pushes, every one with its own MsgId.
--
-- Environment (set by bench/run_oa.py):
--   BENCH_PATH       /hooks/wechat-oa/<key>?signature=…&timestamp=…&nonce=…  (plaintext mode:
--                    the URL signature covers token/timestamp/nonce only, so one serves all)
--   BENCH_TEXTS      file, one message text a line (alternately hit / miss a keyword rule)
--   BENCH_MSGID_BASE first MsgId; thread t sends base + t*1e9 + 0, 1, 2, …
--   BENCH_OPENIDS    distinct openids per thread (cycled)
--   BENCH_POOL       instead of the above: a file of pre-built "path<TAB>body" lines
--                    (safe mode, each encrypted and signed on its own), used once each
--   BENCH_TAG        a prefix for the openids (bare and full runs use different ones)

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

function init(args)
  -- wrk calls request() once on thread 0 right after init() to check the script
  -- (script_verify_request) and throws that request away: it must not count as sent.
  verifying = (tid == 0)
  sent, ok, replied, unanswered, other, exhausted = 0, 0, 0, 0, 0, 0
  headers = {["Content-Type"] = "text/xml"}
  tag = os.getenv("BENCH_TAG") or "b"
  local pool_file = os.getenv("BENCH_POOL")
  if pool_file and #pool_file > 0 then
    pool = {}
    local all = lines(pool_file)
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    for i = tid + 1, #all, nthreads do   -- a disjoint share per thread
      local tab = all[i]:find("\t", 1, true)
      pool[#pool + 1] = {all[i]:sub(1, tab - 1), all[i]:sub(tab + 1)}
    end
    return
  end
  path = os.getenv("BENCH_PATH")
  texts = lines(os.getenv("BENCH_TEXTS"))
  base = tonumber(os.getenv("BENCH_MSGID_BASE")) + tid * 1e9
  openids = tonumber(os.getenv("BENCH_OPENIDS") or "1000")
  created = tostring(os.time())
end

function request()
  if verifying then
    verifying = false
    local keep_counter, keep_sent = counter, sent
    local req = build(0)
    counter, sent = keep_counter, keep_sent
    return req
  end
  return build(counter)
end

function build(i)
  counter = counter + 1
  sent = sent + 1
  if pool then
    local item = pool[(i % #pool) + 1]
    if i >= #pool then exhausted = exhausted + 1 end
    return wrk.format("POST", item[1], headers, item[2])
  end
  local body = "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
    .. "<FromUserName><![CDATA[o" .. tag .. tid .. "_" .. (i % openids) .. "]]></FromUserName>"
    .. "<CreateTime>" .. created .. "</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    .. "<Content><![CDATA[" .. texts[(i % #texts) + 1] .. "]]></Content>"
    .. "<MsgId>" .. string.format("%.0f", base + i) .. "</MsgId></xml>"
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status ~= 200 then
    other = other + 1
    return
  end
  ok = ok + 1
  if body:sub(1, 5) == "<xml>" then
    replied = replied + 1
  elseif body == "success" then
    unanswered = unanswered + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local t = {sent = 0, ok = 0, replied = 0, unanswered = 0, other = 0, exhausted = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"completed": %d, "duration_us": %d, "sent": %d, "ok": %d, "replied": %d, '
    .. '"unanswered": %d, "other": %d, "exhausted": %d, "err_connect": %d, "err_read": %d, '
    .. '"err_write": %d, "err_status": %d, "err_timeout": %d, "p50_us": %d, "p90_us": %d, '
    .. '"p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, t.sent, t.ok, t.replied, t.unanswered, t.other,
    t.exhausted, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end

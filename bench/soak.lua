-- The soak (figure d): a steady mix at a moderate, bounded rate. Each connection cycles
-- create hold → get captured hold → get captured hold → health and waits
-- BENCH_SOAK_DELAY_MS between requests, so the rate is at most
-- connections × 1000 / delay (wrk has no -R; delay() is its rate control).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local token = bench_env("BENCH_TOKEN")
local hold = bench_env("BENCH_HOLD_ID")
local pause = tonumber(bench_env("BENCH_SOAK_DELAY_MS", "20"))
local body = '{"amount": 25000, "currency": "usd", "description": "Security deposit, booking 4711",' ..
  ' "customer_email": "guest@example.com", "property_id": "prop_123",' ..
  ' "metadata": {"booking_id": "4711", "guest_tier": "NEW_GUEST"}}'
local requests = {}
local n = 0
function init(args)
  local auth = { ["ChittyID-Token"] = token }
  requests[1] = wrk.format("POST", "/api/holds",
    { ["ChittyID-Token"] = token, ["Content-Type"] = "application/json" }, body)
  requests[2] = wrk.format("GET", "/api/holds/" .. hold, auth)
  requests[3] = requests[2]
  requests[4] = wrk.format("GET", "/health", {})
end
function delay() return pause end
function request()
  n = n % #requests + 1
  return requests[n]
end
done = bench_done

-- POST /api/holds exactly as ../shared/peer-express/README.md runs it (the peer phase):
-- its body, the client token, and a fresh Idempotency-Key on every request, so each
-- request is a new hold on both stacks. BENCH_KEY_PREFIX (set per run by run.sh) keeps
-- keys apart across runs against the same memcached; `tid` keeps wrk's threads apart.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix = bench_env("BENCH_KEY_PREFIX")
local sent = 0
wrk.method = "POST"
wrk.path = "/api/holds"
wrk.headers["ChittyID-Token"] = bench_env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount":25000,"description":"Perf bar hold: 2 nights, unit 4B",' ..
  '"customer_email":"guest@example.com","property_id":"prop_perf_1"}'
function request()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, tid, sent)
  return wrk.format()
end
done = bench_done

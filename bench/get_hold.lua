-- GET /api/holds/:id of a captured hold (figure a): a cache hit (terminal hold in
-- memcached), so no Stripe call: auth + rate-limit incr + one memcached get.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/api/holds/" .. bench_env("BENCH_HOLD_ID")
wrk.headers["ChittyID-Token"] = bench_env("BENCH_TOKEN")
done = bench_done

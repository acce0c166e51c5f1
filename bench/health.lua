-- GET /health (figure a): the worker's health answer (memcached ping; Stripe/ChittyID
-- probes are memoised for 30 s / 10 s).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "GET"
wrk.path = "/health"
done = bench_done

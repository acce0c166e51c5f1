-- nginx's own ceiling on the service's nginx and server block: a CORS preflight is
-- answered by the config's `if ($cc_preflight) { return 204; }` with every map,
-- add_header and the access log line, without touching the FastCGI pool.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "OPTIONS"
wrk.path = "/api/holds"
wrk.headers["Origin"] = "https://chitty.cc"
wrk.headers["Access-Control-Request-Method"] = "POST"
wrk.headers["Access-Control-Request-Headers"] = "content-type, chittyid-token"
done = bench_done

-- Straight at the ChittyID double (its own ceiling): the service's mint request.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/v1/mint"
wrk.headers["Authorization"] = "Bearer bench-chittyid-token"
wrk.headers["Accept"] = "application/json"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"entity_type":"AUTH","metadata":{"client":"bench","property_id":"prop_123"}}'
done = bench_done

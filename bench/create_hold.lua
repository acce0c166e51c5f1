-- POST /api/holds (figures b, c): a hold without payment_method (the guest confirms in
-- the browser), so per request: auth, rate-limit incr, ChittyID mint, Stripe create,
-- two memcached sets. No Idempotency-Key: every request is a new hold.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/api/holds"
wrk.headers["ChittyID-Token"] = bench_env("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"amount": 25000, "currency": "usd", "description": "Security deposit, booking 4711",' ..
  ' "customer_email": "guest@example.com", "property_id": "prop_123",' ..
  ' "metadata": {"booking_id": "4711", "guest_tier": "NEW_GUEST"}}'
done = bench_done

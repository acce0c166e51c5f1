-- Straight at the Stripe double (its own ceiling): the service's create request, same
-- headers and a form body of the same size.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/v1/payment_intents"
wrk.headers["Authorization"] = "Bearer sk_test_bench"
wrk.headers["Stripe-Version"] = "2026-10-28.endive"
wrk.headers["Accept"] = "application/json"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Idempotency-Key"] = "cc_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
wrk.body = "amount=25000&currency=usd&capture_method=manual&description=Security%20deposit%2C%20booking%204711" ..
  "&receipt_email=guest%40example.com&metadata%5Bbooking_id%5D=4711&metadata%5Bchitty_id%5D=CHITTY-AUTH-0123456789ABCD" ..
  "&metadata%5Bclient%5D=bench&metadata%5Bguest_tier%5D=NEW_GUEST&metadata%5Bproperty_id%5D=prop_123" ..
  "&metadata%5Btier%5D=NEW_GUEST&payment_method_types%5B0%5D=card&expand%5B0%5D=latest_charge"
done = bench_done

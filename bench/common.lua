-- Shared by every bench/*.lua: the machine-readable summary line bench/benchlib.py reads.
-- Each script does `dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")` and then
-- `done = bench_done`. Latencies are wrk's (microseconds, closed loop).

function bench_env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    if default == nil then error("bench: environment variable " .. name .. " is not set") end
    return default
  end
  return v
end

function bench_done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end

"""A bounded wrk soak with RSS samples every few seconds, and the workers' RSS slope."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import procfs, results
from .memory import rss_snapshot
from .wrk import parse_wrk, wrk_command, wrk_errors


def _slope_kib_per_min(series: list[tuple[float, float]]) -> float:
    if len(series) < 2:
        return 0.0
    xs = [t for t, _ in series]
    ys = [v for _, v in series]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 60


def _sample(t: float, snap: dict) -> dict:
    """One RSS sample of the soak: seconds since its start, the totals, each worker's RSS."""
    return {"t": round(t, 1), "totals": snap["totals"],
            "workers": {str(p["pid"]): p["rss_kb"] for p in snap["procs"] if p["group"] == "workers"}}


def cmd_soak(args: argparse.Namespace) -> None:
    seconds = float(args.duration)
    interval = float(args.interval)
    env = {**os.environ, "BENCH_LUA_DIR": str(Path(args.script).parent)}
    t0 = procfs.proc_table()
    before = procfs.cpu_by_component(t0, procfs.component_pids(args.svc_run_dir, args.up_run_dir, t0))
    busy0 = procfs.busy_ticks()
    proc = subprocess.Popen(wrk_command(args, args.script, int(args.conns), seconds),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    start = time.monotonic()
    samples = []
    next_at = 0.0
    while True:
        now = time.monotonic() - start
        if now >= next_at and now <= seconds:
            samples.append(_sample(now, rss_snapshot(args.svc_run_dir)))
            next_at += interval
        if proc.poll() is not None:
            break
        if now > seconds + float(args.timeout) + 30:
            proc.kill()
            break
        time.sleep(0.5)
    out, err = proc.communicate()
    busy = (procfs.busy_ticks() - busy0) / procfs.CLK_TCK
    t1 = procfs.proc_table()
    after = procfs.cpu_by_component(t1, procfs.component_pids(args.svc_run_dir, args.up_run_dir, t1))
    if proc.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"benchlib: soak wrk failed with status {proc.returncode}")
    res = parse_wrk(out)
    samples.append(_sample(time.monotonic() - start, rss_snapshot(args.svc_run_dir)))
    # Growth is judged after a warm-up (first 20 % of the soak, at least one sample).
    warm = max(seconds * 0.2, interval)
    steady = [s for s in samples if s["t"] >= warm] or samples
    w_series = [(s["t"], s["totals"]["workers_rss_kb"]) for s in steady]
    secs = res["duration_us"] / 1e6
    errors = wrk_errors(res)
    record = {
        "kind": "soak", "label": args.label, "figure": "d", "conns": int(args.conns),
        "delay_ms": int(os.environ.get("BENCH_SOAK_DELAY_MS", "20")),
        "duration_s": round(secs, 1), "requests": res["requests"],
        "rps": round(res["requests"] / secs, 1) if secs else 0.0,
        "p50_ms": res["p50_us"] / 1000, "p99_ms": res["p99_us"] / 1000, "errors": errors,
        "samples": samples,
        "warmup_s": warm,
        "workers_start_kb": steady[0]["totals"]["workers_rss_kb"],
        "workers_end_kb": steady[-1]["totals"]["workers_rss_kb"],
        "workers_max_kb": max(s["totals"]["workers_rss_kb"] for s in steady),
        "workers_slope_kib_per_min": round(_slope_kib_per_min(w_series), 1),
        "service_start_kb": steady[0]["totals"]["service_rss_kb"],
        "service_end_kb": steady[-1]["totals"]["service_rss_kb"],
        "memcached_end_kb": steady[-1]["totals"]["memcached_rss_kb"],
        "cpu_s": {k: round((after.get(k, 0) - before.get(k, 0)) / procfs.CLK_TCK, 1) for k in set(before) | set(after)},
        "busy_cpu_s": round(busy, 1),
    }
    results.append(args.results, record)
    print(f"  soak {secs:.0f}s at {record['rps']:.0f} req/s, errors {errors}; workers RSS "
          f"{record['workers_start_kb'] / 1024:.1f} -> {record['workers_end_kb'] / 1024:.1f} MiB "
          f"(max {record['workers_max_kb'] / 1024:.1f}, slope {record['workers_slope_kib_per_min']:+.1f} KiB/min "
          f"after {warm:.0f}s warm-up); memcached {record['memcached_end_kb'] / 1024:.1f} MiB", flush=True)


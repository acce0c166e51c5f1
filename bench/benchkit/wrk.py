"""One wrk run with the CPU seconds each component of the stack used (from /proc before
and after; wrk's own from rusage), and `quiet`: the CPU other processes use before a phase."""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from . import procfs, results


def wrk_command(args, script: str, conns: int, duration: float) -> list[str]:
    threads = min(int(args.threads), conns)
    return ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration:g}s",
            "--timeout", f"{args.timeout}s", "-s", script, args.url]


def parse_wrk(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError("wrk printed no BENCH_JSON line:\n" + stdout)


def wrk_errors(res: dict) -> int:
    """Every kind of error of a parse_wrk() summary, added up."""
    return res["err_connect"] + res["err_read"] + res["err_write"] + res["err_status"] + res["err_timeout"]


def run_wrk(args: argparse.Namespace) -> dict:
    """One wrk run; CPU seconds per component from /proc before/after, wrk's own from rusage."""
    t0 = procfs.proc_table()
    g0 = procfs.component_pids(args.svc_run_dir, args.up_run_dir, t0, args.nginx_pidfile,
                                args.pg_pidfile, args.extra)
    before = procfs.cpu_by_component(t0, g0)
    before_sys = procfs.sys_by_component(t0, g0)
    busy0 = procfs.busy_ticks()
    steal0 = procfs.steal_ticks()
    load0 = procfs.loadavg()
    start = time.monotonic()
    proc = subprocess.Popen(wrk_command(args, args.script, int(args.conns), float(args.duration)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "BENCH_LUA_DIR": str(Path(args.script).parent)})
    # Bounded: wrk ends itself after -d; kill it if it overstays by a margin.
    try:
        out, err = proc.communicate(timeout=float(args.duration) + float(args.timeout) + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the waited-for child: wrk
    busy1 = procfs.busy_ticks()
    t1 = procfs.proc_table()
    after_groups = procfs.component_pids(args.svc_run_dir, args.up_run_dir, t1, args.nginx_pidfile,
                                          args.pg_pidfile, args.extra)
    after = procfs.cpu_by_component(t1, after_groups)
    after_sys = procfs.sys_by_component(t1, after_groups)
    steal = (procfs.steal_ticks() - steal0) / procfs.CLK_TCK
    if proc.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"benchlib: wrk failed with status {proc.returncode}")
    res = parse_wrk(out)
    cpu = {k: (after.get(k, 0) - before.get(k, 0)) / procfs.CLK_TCK for k in set(before) | set(after)}
    wrk_cpu = usage.ru_utime + usage.ru_stime  # this helper runs exactly one child: wrk
    busy = (busy1 - busy0) / procfs.CLK_TCK
    secs = res["duration_us"] / 1e6
    errors = wrk_errors(res)
    record = {
        "kind": "wrk", "label": args.label, "figure": args.figure, "target": args.url,
        "conns": int(args.conns), "wrk_threads": min(int(args.threads), int(args.conns)),
        "duration_s": round(secs, 2), "requests": res["requests"],
        "rps": round(res["requests"] / secs, 1) if secs > 0 else 0.0,
        "p50_ms": res["p50_us"] / 1000, "p90_ms": res["p90_us"] / 1000,
        "p99_ms": res["p99_us"] / 1000, "max_ms": res["max_us"] / 1000,
        "errors": errors,
        "error_detail": {k[4:]: res[k] for k in res if k.startswith("err_") and res[k]},
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "sys_cpu_s": {k: round((after_sys.get(k, 0) - before_sys.get(k, 0)) / procfs.CLK_TCK, 2) for k in cpu},
        "wrk_sys_cpu_s": round(usage.ru_stime, 2), "steal_s": round(steal, 2),
        "wrk_cpu_s": round(wrk_cpu, 2),
        "busy_cpu_s": round(busy, 2), "wall_s": round(wall, 2), "loadavg_before": load0,
        "settings": json.loads(args.settings) if args.settings else {},
    }
    ours = sum(cpu.values()) + wrk_cpu
    record["foreign_cpu_s"] = round(max(0.0, busy - ours), 2)
    results.append(args.results, record)
    print(f"  {args.label:<34} {record['rps']:>9.0f} req/s  p50 {record['p50_ms']:7.2f} ms"
          f"  p99 {record['p99_ms']:7.2f} ms  errors {errors}"
          f"  (cpu: {', '.join(f'{k} {v:.1f}s' for k, v in sorted(cpu.items()) if v >= 0.05)}, wrk {wrk_cpu:.1f}s,"
          f" other {record['foreign_cpu_s']:.1f}s of {busy:.1f}s busy)", flush=True)
    return record



def cmd_quiet(args: argparse.Namespace) -> None:
    """CPU used by others while the benchmark's own processes are idle: sample for
    --seconds; with --wait, repeat until it is below --max or --wait seconds passed."""
    deadline = time.monotonic() + float(args.wait)
    while True:
        t0 = procfs.proc_table()
        b0 = procfs.busy_ticks()
        time.sleep(float(args.seconds))
        b1 = procfs.busy_ticks()
        t1 = procfs.proc_table()
        frac = (b1 - b0) / procfs.CLK_TCK / float(args.seconds) / (os.cpu_count() or 1)
        if frac <= float(args.max) or time.monotonic() >= deadline:
            break
    hogs = []
    for pid, row in t1.items():
        if pid in t0 and row[2] - t0[pid][2] > 0.1 * procfs.CLK_TCK * float(args.seconds):
            hogs.append(f"{row[1]}({pid}) {(row[2] - t0[pid][2]) / procfs.CLK_TCK / float(args.seconds):.0%}")
    results.append(args.results, {"kind": "quiet", "label": args.label, "busy_fraction": round(frac, 3), "hogs": hogs})
    print(f"  background CPU before {args.label}: {frac:.0%} of {os.cpu_count()} CPUs busy"
          + (f" ({', '.join(hogs)})" if hogs else ""), flush=True)


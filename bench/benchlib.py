#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only).

  render-upstream  the upstream doubles' nginx config for a given Stripe latency
  wrk              one wrk run, with CPU seconds per component of the stack from /proc
  rss              RSS and PSS of every process of the service
  soak             a bounded wrk soak with RSS samples every few seconds
  callgrind        Ir totals, top functions and allocation calls of a callgrind dump
  report           the summary table (Markdown) with ratios and targets

Everything is appended as one JSON object per line to the results file (--results).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------- the upstream doubles

CREATED = 1767225600


def _payment_intent(status: str, pi_expr: str, captured: bool = False) -> dict:
    """A Stripe-shaped PaymentIntent (API 2026 field set, values canned)."""
    amount = 25000
    charge = None
    if status in ("requires_capture", "succeeded"):
        charge = {
            "id": "ch_3Bench" + "0" * 17,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount if captured else 0,
            "captured": captured,
            "currency": "usd",
            "paid": True,
            "status": "succeeded",
            "payment_intent": pi_expr,
            "payment_method": "pm_1BenchVisa0000000000000",
            "payment_method_details": {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "last4": "4242",
                    "exp_month": 12,
                    "exp_year": 2030,
                    "capture_before": CREATED + 7 * 86400,
                    "extended_authorization": {"status": "disabled"},
                    "incremental_authorization": {"status": "unavailable"},
                    "multicapture": {"status": "unavailable"},
                    "overcapture": {"status": "unavailable"},
                },
            },
        }
    return {
        "id": pi_expr,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if status == "requires_capture" else 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "manual",
        "client_secret": pi_expr + "_secret_bench0000000000000000",
        "confirmation_method": "automatic",
        "created": CREATED,
        "currency": "usd",
        "customer": None,
        "description": "Security deposit, booking 4711",
        "invoice": None,
        "last_payment_error": None,
        "latest_charge": charge,
        "livemode": False,
        "metadata": {
            "booking_id": "4711",
            "chitty_id": "CHITTY-AUTH-${request_id}" if status == "requires_payment_method"
            else "CHITTY-AUTH-BENCHCAPTURED01",
            "client": "bench",
            "guest_tier": "NEW_GUEST",
            "property_id": "prop_123",
            "tier": "NEW_GUEST",
        },
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None if status == "requires_payment_method" else "pm_1BenchVisa0000000000000",
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"installments": None, "mandate_options": None, "network": None,
                     "request_three_d_secure": "automatic"}
        },
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": "guest@example.com",
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def render_upstream(args: argparse.Namespace) -> None:
    text = Path(args.template).read_text()
    delay_ms = int(args.delay_ms)
    if delay_ms > 0:
        reply = f"echo_sleep {delay_ms / 1000:.3f}; echo"
    else:
        reply = "return 200"
    bodies = {
        "@PI_CREATE@": _payment_intent("requires_payment_method", "pi_${request_id}"),
        "@PI_AUTHORIZED@": _payment_intent("requires_capture", "${pi}"),
        "@PI_CAPTURED@": _payment_intent("succeeded", "${pi}", captured=True),
    }
    for marker, obj in bodies.items():
        body = json.dumps(obj, separators=(",", ":"))
        assert "'" not in body and "\\" not in body
        text = text.replace(marker, body)
    repl = {
        "@RUN_DIR@": args.run_dir,
        "@STRIPE_PORT@": str(args.stripe_port),
        "@CHITTYID_PORT@": str(args.chittyid_port),
        "@DELAY_MS@": str(delay_ms),
        "@STRIPE_REPLY@": reply,
    }
    for k, v in repl.items():
        text = text.replace(k, v)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        sys.exit(f"benchlib: unrendered placeholders {left}")
    Path(args.out).write_text(text)


def nginx_variant(args: argparse.Namespace) -> None:
    """A copy of the stack's rendered nginx.conf on other ports, for nginx-side levers:
    keep_conn (fastcgi_keep_conn + upstream keepalive) or no_access_log."""
    text = Path(args.conf).read_text()
    run_dir, vdir = args.run_dir, args.out_dir
    text = text.replace(f"listen 127.0.0.1:{args.http_port};", f"listen 127.0.0.1:{args.port};")
    text = text.replace(f"listen 127.0.0.1:{args.https_port} ssl", f"listen 127.0.0.1:{int(args.port) + 1} ssl")
    text = text.replace(f"pid {run_dir}/nginx.pid;", f"pid {vdir}/nginx.pid;")
    text = text.replace(f"error_log {run_dir}/error.log", f"error_log {vdir}/error.log")
    if args.variant == "no_access_log":
        text = re.sub(r"access_log [^;]*;", "access_log off;", text)
    else:
        text = text.replace(f"access_log {run_dir}/access.log", f"access_log {vdir}/access.log")
    if args.variant == "bare":
        sock = re.search(r"fastcgi_pass unix:([^;]+);", text).group(1)
        text = text.replace(f"fastcgi_pass unix:{sock};", f"fastcgi_pass unix:{args.bare_socket};")
    if args.variant == "keep_conn":
        sock = re.search(r"fastcgi_pass unix:([^;]+);", text).group(1)
        text = text.replace(f"fastcgi_pass unix:{sock};", "fastcgi_pass cc_pool;")
        text = text.replace("fastcgi_request_buffering on;", "fastcgi_request_buffering on;\n        fastcgi_keep_conn on;")
        text = text.replace("http {", "http {\n    upstream cc_pool {\n        server unix:" + sock
                            + ";\n        keepalive " + str(args.keepalive) + ";\n    }", 1)
    Path(args.out).write_text(text)


# ---------------------------------------------------------------- /proc

def _proc_table() -> dict[int, tuple[int, str, int, int]]:
    """pid -> (ppid, comm, cpu ticks utime+stime, stime ticks; whole thread group)."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        rpar = raw.rfind(")")
        comm = raw[raw.find("(") + 1:rpar]
        fields = raw[rpar + 2:].split()
        out[int(entry.name)] = (int(fields[1]), comm, int(fields[11]) + int(fields[12]), int(fields[12]))
    return out


def _read_pid(path: str) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _descendants(table, roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_rest) in table.items():
        children.setdefault(ppid, []).append(pid)
    seen, stack = [], [r for r in roots if r in table]
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.append(pid)
        stack.extend(children.get(pid, []))
    return seen


def component_pids(svc_run_dir: str | None, up_run_dir: str | None, table=None,
                   nginx_pidfile: str | None = None) -> dict[str, list[int]]:
    """The stack's processes by component. workers = the pool's children (not multiwatch).
    nginx_pidfile: count another nginx (a variant config) as the stack's nginx."""
    table = table if table is not None else _proc_table()
    groups: dict[str, list[int]] = {}
    if svc_run_dir:
        nginx = _read_pid(nginx_pidfile or f"{svc_run_dir}/nginx.pid")
        pool = _read_pid(f"{svc_run_dir}/pool.pid")
        memc = _read_pid(f"{svc_run_dir}/memcached.pid")
        groups["nginx"] = _descendants(table, [nginx] if nginx else [])
        pool_all = _descendants(table, [pool] if pool else [])
        groups["workers"] = [p for p in pool_all if p != pool]
        groups["multiwatch"] = [pool] if pool in table else []
        groups["memcached"] = [memc] if memc in table else []
    if up_run_dir:
        up = _read_pid(f"{up_run_dir}/upstream.pid")
        groups["upstream"] = _descendants(table, [up] if up else [])
    return groups


def _steal_ticks() -> int:
    return int(Path("/proc/stat").read_text().splitlines()[0].split()[8])


def _busy_ticks() -> int:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    vals = [int(x) for x in parts[:8]]  # user nice system idle iowait irq softirq steal
    return sum(vals) - vals[3] - vals[4]


def _cpu_of(table, pids) -> int:
    return sum(table[p][2] for p in pids if p in table)


def _sys_of(table, pids) -> int:
    return sum(table[p][3] for p in pids if p in table)


def _mem_of(pid: int) -> tuple[int, int]:
    """(RSS kB, PSS kB)."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _append(results: str, record: dict) -> None:
    with open(results, "a") as f:
        f.write(json.dumps(record) + "\n")


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# ---------------------------------------------------------------- wrk

def _wrk_command(args, script: str, conns: int, duration: float) -> list[str]:
    threads = min(int(args.threads), conns)
    return ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration:g}s",
            "--timeout", f"{args.timeout}s", "-s", script, args.url]


def _parse_wrk(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError("wrk printed no BENCH_JSON line:\n" + stdout)


def run_wrk(args: argparse.Namespace) -> dict:
    """One wrk run; CPU seconds per component from /proc before/after, wrk's own from rusage."""
    t0 = _proc_table()
    g0 = component_pids(args.svc_run_dir, args.up_run_dir, t0, args.nginx_pidfile)
    before = {k: _cpu_of(t0, v) for k, v in g0.items()}
    before_sys = {k: _sys_of(t0, v) for k, v in g0.items()}
    busy0 = _busy_ticks()
    steal0 = _steal_ticks()
    load0 = _loadavg()
    start = time.monotonic()
    proc = subprocess.Popen(_wrk_command(args, args.script, int(args.conns), float(args.duration)),
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
    busy1 = _busy_ticks()
    t1 = _proc_table()
    after_groups = component_pids(args.svc_run_dir, args.up_run_dir, t1, args.nginx_pidfile)
    after = {k: _cpu_of(t1, v) for k, v in after_groups.items()}
    after_sys = {k: _sys_of(t1, v) for k, v in after_groups.items()}
    steal = (_steal_ticks() - steal0) / CLK_TCK
    if proc.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"benchlib: wrk failed with status {proc.returncode}")
    res = _parse_wrk(out)
    cpu = {k: (after.get(k, 0) - before.get(k, 0)) / CLK_TCK for k in set(before) | set(after)}
    wrk_cpu = usage.ru_utime + usage.ru_stime  # this helper runs exactly one child: wrk
    busy = (busy1 - busy0) / CLK_TCK
    secs = res["duration_us"] / 1e6
    errors = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_status"] + res["err_timeout"]
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
        "sys_cpu_s": {k: round((after_sys.get(k, 0) - before_sys.get(k, 0)) / CLK_TCK, 2) for k in cpu},
        "wrk_sys_cpu_s": round(usage.ru_stime, 2), "steal_s": round(steal, 2),
        "wrk_cpu_s": round(wrk_cpu, 2),
        "busy_cpu_s": round(busy, 2), "wall_s": round(wall, 2), "loadavg_before": load0,
        "settings": json.loads(args.settings) if args.settings else {},
    }
    ours = sum(cpu.values()) + wrk_cpu
    record["foreign_cpu_s"] = round(max(0.0, busy - ours), 2)
    _append(args.results, record)
    print(f"  {args.label:<34} {record['rps']:>9.0f} req/s  p50 {record['p50_ms']:7.2f} ms"
          f"  p99 {record['p99_ms']:7.2f} ms  errors {errors}"
          f"  (cpu: {', '.join(f'{k} {v:.1f}s' for k, v in sorted(cpu.items()) if v >= 0.05)}, wrk {wrk_cpu:.1f}s,"
          f" other {record['foreign_cpu_s']:.1f}s of {busy:.1f}s busy)", flush=True)
    return record


# ---------------------------------------------------------------- RSS

def rss_snapshot(svc_run_dir: str) -> dict:
    table = _proc_table()
    groups = component_pids(svc_run_dir, None, table)
    procs = []
    for group in ("workers", "multiwatch", "nginx", "memcached"):
        for pid in groups.get(group, []):
            rss, pss = _mem_of(pid)
            procs.append({"group": group, "pid": pid, "comm": table[pid][1], "rss_kb": rss, "pss_kb": pss})
    totals = {
        "workers_rss_kb": sum(p["rss_kb"] for p in procs if p["group"] == "workers"),
        "service_rss_kb": sum(p["rss_kb"] for p in procs),
        "service_pss_kb": sum(p["pss_kb"] for p in procs),
        "memcached_rss_kb": sum(p["rss_kb"] for p in procs if p["group"] == "memcached"),
        "nginx_rss_kb": sum(p["rss_kb"] for p in procs if p["group"] == "nginx"),
    }
    return {"procs": procs, "totals": totals}


def cmd_rss(args: argparse.Namespace) -> None:
    snap = rss_snapshot(args.svc_run_dir)
    record = {"kind": "rss", "label": args.label, **snap}
    _append(args.results, record)
    t = snap["totals"]
    workers = ", ".join(f"{p['pid']}: {p['rss_kb'] / 1024:.1f}" for p in snap["procs"] if p["group"] == "workers")
    print(f"  RSS {args.label:<14} service {t['service_rss_kb'] / 1024:6.1f} MiB (PSS {t['service_pss_kb'] / 1024:.1f})"
          f"  workers [{workers}] MiB  nginx {t['nginx_rss_kb'] / 1024:.1f}  memcached {t['memcached_rss_kb'] / 1024:.1f}",
          flush=True)


# ---------------------------------------------------------------- soak

def _slope_kib_per_min(series: list[tuple[float, float]]) -> float:
    if len(series) < 2:
        return 0.0
    xs = [t for t, _ in series]
    ys = [v for _, v in series]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 60


def cmd_soak(args: argparse.Namespace) -> None:
    seconds = float(args.duration)
    interval = float(args.interval)
    env = {**os.environ, "BENCH_LUA_DIR": str(Path(args.script).parent)}
    t0 = _proc_table()
    before = {k: _cpu_of(t0, v) for k, v in component_pids(args.svc_run_dir, args.up_run_dir, t0).items()}
    busy0 = _busy_ticks()
    proc = subprocess.Popen(_wrk_command(args, args.script, int(args.conns), seconds),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    start = time.monotonic()
    samples = []
    next_at = 0.0
    while True:
        now = time.monotonic() - start
        if now >= next_at and now <= seconds:
            snap = rss_snapshot(args.svc_run_dir)
            samples.append({"t": round(now, 1), "totals": snap["totals"],
                            "workers": {str(p["pid"]): p["rss_kb"] for p in snap["procs"] if p["group"] == "workers"}})
            next_at += interval
        if proc.poll() is not None:
            break
        if now > seconds + float(args.timeout) + 30:
            proc.kill()
            break
        time.sleep(0.5)
    out, err = proc.communicate()
    busy = (_busy_ticks() - busy0) / CLK_TCK
    t1 = _proc_table()
    after = {k: _cpu_of(t1, v) for k, v in component_pids(args.svc_run_dir, args.up_run_dir, t1).items()}
    if proc.returncode != 0:
        sys.stderr.write(err)
        raise SystemExit(f"benchlib: soak wrk failed with status {proc.returncode}")
    res = _parse_wrk(out)
    snap_end = rss_snapshot(args.svc_run_dir)
    samples.append({"t": round(time.monotonic() - start, 1), "totals": snap_end["totals"],
                    "workers": {str(p["pid"]): p["rss_kb"] for p in snap_end["procs"] if p["group"] == "workers"}})
    # Growth is judged after a warm-up (first 20 % of the soak, at least one sample).
    warm = max(seconds * 0.2, interval)
    steady = [s for s in samples if s["t"] >= warm] or samples
    w_series = [(s["t"], s["totals"]["workers_rss_kb"]) for s in steady]
    secs = res["duration_us"] / 1e6
    errors = res["err_connect"] + res["err_read"] + res["err_write"] + res["err_status"] + res["err_timeout"]
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
        "cpu_s": {k: round((after.get(k, 0) - before.get(k, 0)) / CLK_TCK, 1) for k in set(before) | set(after)},
        "busy_cpu_s": round(busy, 1),
    }
    _append(args.results, record)
    print(f"  soak {secs:.0f}s at {record['rps']:.0f} req/s, errors {errors}; workers RSS "
          f"{record['workers_start_kb'] / 1024:.1f} -> {record['workers_end_kb'] / 1024:.1f} MiB "
          f"(max {record['workers_max_kb'] / 1024:.1f}, slope {record['workers_slope_kib_per_min']:+.1f} KiB/min "
          f"after {warm:.0f}s warm-up); memcached {record['memcached_end_kb'] / 1024:.1f} MiB", flush=True)


# ---------------------------------------------------------------- background load

def cmd_quiet(args: argparse.Namespace) -> None:
    """CPU used by others while the benchmark's own processes are idle: sample for
    --seconds; with --wait, repeat until it is below --max or --wait seconds passed."""
    deadline = time.monotonic() + float(args.wait)
    while True:
        t0 = _proc_table()
        b0 = _busy_ticks()
        time.sleep(float(args.seconds))
        b1 = _busy_ticks()
        t1 = _proc_table()
        frac = (b1 - b0) / CLK_TCK / float(args.seconds) / (os.cpu_count() or 1)
        if frac <= float(args.max) or time.monotonic() >= deadline:
            break
    hogs = []
    for pid, row in t1.items():
        if pid in t0 and row[2] - t0[pid][2] > 0.1 * CLK_TCK * float(args.seconds):
            hogs.append(f"{row[1]}({pid}) {(row[2] - t0[pid][2]) / CLK_TCK / float(args.seconds):.0%}")
    _append(args.results, {"kind": "quiet", "label": args.label, "busy_fraction": round(frac, 3), "hogs": hogs})
    print(f"  background CPU before {args.label}: {frac:.0%} of {os.cpu_count()} CPUs busy"
          + (f" ({', '.join(hogs)})" if hogs else ""), flush=True)


# ---------------------------------------------------------------- perf profile

def _perf_rows(data: str, sort: str, limit: str) -> list[dict]:
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort,
                          "--percent-limit", limit], capture_output=True, text=True, check=False).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s+([\d.]+)%\s+(\S+)\s+(.*)$", line)
        if not m:
            continue
        rows.append({"pct": float(m.group(1)), "comm": m.group(2), "what": m.group(3).strip()})
    return rows


def cmd_perf(args: argparse.Namespace) -> None:
    """System-wide cpu-clock profile of one load run: share per process and user/kernel,
    and the top symbols."""
    by_dso = _perf_rows(args.data, "comm,dso", "0.2")
    by_sym = _perf_rows(args.data, "comm,sym", "0.3")
    procs: dict[str, dict[str, float]] = {}
    for r in by_dso:
        kernel = "[kernel" in r["what"]
        d = procs.setdefault(r["comm"], {"total": 0.0, "kernel": 0.0})
        d["total"] += r["pct"]
        if kernel:
            d["kernel"] += r["pct"]
    record = {"kind": "perf", "label": args.label, "requests_per_s": float(args.rps or 0),
              "procs": {k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in procs.items()},
              "top": by_sym[:int(args.top)]}
    _append(args.results, record)
    print(f"  perf {args.label}: share of all CPU samples by process (kernel part):")
    for comm, d in sorted(procs.items(), key=lambda kv: -kv[1]["total"])[:8]:
        print(f"      {d['total']:5.1f}%  ({d['kernel']:4.1f}% kernel)  {comm}")
    print("    top symbols:")
    for r in record["top"][:20]:
        print(f"      {r['pct']:5.1f}%  {r['comm']:<14} {r['what'][:90]}")
    sys.stdout.flush()


# ---------------------------------------------------------------- fixed-count requests

FIRE_KINDS = {
    # kind: (method, path template, needs token, body)
    "get_hold": ("GET", "/api/holds/{hold}", True, None),
    "create_hold": ("POST", "/api/holds", True,
                    '{"amount": 25000, "currency": "usd", "description": "Security deposit, booking 4711",'
                    ' "customer_email": "guest@example.com", "property_id": "prop_123",'
                    ' "metadata": {"booking_id": "4711", "guest_tier": "NEW_GUEST"}}'),
    "health": ("GET", "/health", False, None),
}


def cmd_fire(args: argparse.Namespace) -> None:
    """Exactly N requests of one kind on one kept-alive connection (wrk cannot stop at a
    count). Prints the elapsed seconds; fails on any unexpected status."""
    import http.client
    from urllib.parse import urlsplit
    method, path, auth, body = FIRE_KINDS[args.kind]
    path = path.format(hold=os.environ.get("BENCH_HOLD_ID", ""))
    headers = {"Content-Type": "application/json"} if body else {}
    if auth:
        headers["ChittyID-Token"] = os.environ["BENCH_TOKEN"]
    u = urlsplit(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=float(args.timeout))
    bad = {}
    start = time.monotonic()
    for _ in range(int(args.count)):
        for attempt in (1, 2):
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                break
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                conn.close()  # nginx ended the keep-alive connection: reconnect once
                if attempt == 2:
                    raise
        if resp.status >= 300:
            bad[resp.status] = bad.get(resp.status, 0) + 1
    elapsed = time.monotonic() - start
    conn.close()
    if bad:
        raise SystemExit(f"benchlib fire: unexpected statuses {bad}")
    print(f"{elapsed:.3f}")


# ---------------------------------------------------------------- callgrind

ALLOC_FNS = ("malloc", "calloc", "realloc")
FREE_FNS = ("free",)

# Where a request's instructions go: name → callee-name prefixes. Costs are inclusive,
# counted on call edges entering the group from outside it (no double counting).
CG_GROUPS = [
    ("FastCGI I/O (libfcgi accept/read/write/finish)", ("FCGX_",)),
    ("request parse + response write (fcgi/server.cpp)", ("cc::fcgi::(anonymous namespace)::ReadRequest",
                                                         "cc::fcgi::(anonymous namespace)::WriteResponse")),
    ("HTTP to Stripe/ChittyID (libcurl and the loop's epoll, incl. request building)", ("cc::httpclient::", "curl_")),
    ("memcached (libmemcached via MemcachedStore)", ("cc::store::MemcachedStore::",)),
    ("Stripe JSON parse (ParsePaymentIntent)", ("cc::stripe::ParsePaymentIntent",)),
    ("Stripe form encoding (FormBuilder)", ("cc::stripe::FormBuilder",)),
    ("cache record (de)serialize", ("cc::api::DeserializeRecord", "cc::api::SerializeRecord")),
    ("response JSON (RenderHold / health)", ("cc::api::RenderHold", "cc::api::WriteHold")),
    ("request body JSON parse (ParseCreateHold)", ("cc::api::ParseCreateHold",)),
    ("logging (cc::log)", ("cc::log::",)),
    ("SHA-256 / random (auth, keys, ids)", ("cc::crypto::",)),
    ("metrics", ("cc::metrics::",)),
    ("malloc/free (all callers)", ("malloc", "free", "calloc", "realloc", "_int_malloc", "_int_free")),
]


def parse_callgrind(path: str) -> dict:
    """Total Ir, exclusive Ir per function, inclusive Ir per call edge, call counts."""
    objs: dict[str, str] = {}
    fns: dict[str, str] = {}
    excl: dict[str, int] = {}
    edges: dict[tuple[str, str], int] = {}
    calls: dict[str, int] = {}
    total = 0
    ob = ""
    fn = None
    cob = None
    cfn = None
    call_pending = False
    name_re = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def resolve(table, spec):
        m = name_re.match(spec)
        if not m:
            return spec
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
            return m.group(2)
        return table.get(m.group(1), spec)

    def qualify(name, obj):
        if name.startswith("0x"):
            return f"{name} ({os.path.basename(obj) or '?'})"
        return name

    with open(path, errors="replace") as f:
        for line in f:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if fn is None:
                    continue
                parts = line.split()
                if len(parts) < 2:
                    continue
                try:
                    cost = int(parts[1])
                except ValueError:
                    continue
                if call_pending:
                    edges[(fn, cfn)] = edges.get((fn, cfn), 0) + cost
                    call_pending = False
                else:
                    excl[fn] = excl.get(fn, 0) + cost
            elif line.startswith("ob="):
                ob = resolve(objs, line[3:].strip())
            elif line.startswith("cob="):
                cob = resolve(objs, line[4:].strip())
            elif line.startswith("fn="):
                fn = qualify(resolve(fns, line[3:].strip()), ob)
                cob = None
            elif line.startswith("cfn="):
                raw = resolve(fns, line[4:].strip())
                cfn = qualify(raw, cob if cob is not None else ob)
            elif line.startswith("calls="):
                calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
                call_pending = True
            elif line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    if total == 0:
        total = sum(excl.values())
    return {"total": total, "excl": excl, "edges": edges, "calls": calls}


def _group_costs(parsed: dict) -> list[tuple[str, int]]:
    out = []
    for name, prefixes in CG_GROUPS:
        def member(fn, prefixes=prefixes):
            return fn.startswith(prefixes)
        cost = sum(v for (caller, callee), v in parsed["edges"].items() if member(callee) and not member(caller))
        out.append((name, cost))
    return out


def cmd_callgrind(args: argparse.Namespace) -> None:
    parsed = parse_callgrind(args.file)
    idle = parse_callgrind(args.idle)["total"] if args.idle else 0
    idle_per_s = idle / float(args.idle_seconds) if args.idle and float(args.idle_seconds) > 0 else 0.0
    n = int(args.requests)
    seconds = float(args.seconds)
    net = parsed["total"] - idle_per_s * seconds
    top = sorted(parsed["excl"].items(), key=lambda kv: kv[1], reverse=True)[:int(args.top)]
    mallocs = sum(v for k, v in parsed["calls"].items() if k in ALLOC_FNS)
    frees = sum(v for k, v in parsed["calls"].items() if k in FREE_FNS)
    record = {
        "kind": "callgrind", "label": args.label, "requests": n, "seconds": round(seconds, 2),
        "total_ir": parsed["total"], "idle_ir_per_s": round(idle_per_s),
        "ir_per_request": round(net / n) if n else None,
        "mallocs_per_request": round(mallocs / n, 1) if n else None,
        "frees_per_request": round(frees / n, 1) if n else None,
        "groups": [{"group": g, "per_request": round(v / n), "pct": round(100 * v / parsed["total"], 1)}
                   for g, v in _group_costs(parsed)],
        "top": [{"fn": k, "ir": v, "pct": round(100 * v / parsed["total"], 1),
                 "per_request": round(v / n) if n else None} for k, v in top],
    }
    _append(args.results, record)
    print(f"  callgrind {args.label:<28} {record['ir_per_request']:>10,} Ir/request over {n} requests"
          f" (idle {idle_per_s:,.0f} Ir/s subtracted); {record['mallocs_per_request']} malloc/request")
    print("    inclusive, by part:")
    for g in record["groups"]:
        if g["per_request"]:
            print(f"      {g['pct']:5.1f}%  {g['per_request']:>9,}  {g['group']}")
    print("    top exclusive functions:")
    for t in record["top"][:10]:
        print(f"      {t['pct']:5.1f}%  {t['per_request']:>9,}  {t['fn'][:100]}")
    sys.stdout.flush()


# ---------------------------------------------------------------- report

def _fmt_ms(v):
    return "—" if v is None else (f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}")


def _ratio(a, b):
    return "—" if not a or not b else f"{a / b:.0%}" if a / b < 10 else f"{a / b:.1f}×"


def _cpu_columns(r: dict, meta: dict) -> tuple[str, float]:
    """A load run's "workers (kernel) / nginx / memcached / upstream / wrk" CPU µs per request,
    and the share of the machine other processes used during it."""
    n = max(r["requests"], 1)
    cpu = r["cpu_s"]
    sysc = r.get("sys_cpu_s", {})
    per = (f"{cpu.get('workers', 0) / n * 1e6:.0f} ({sysc.get('workers', 0) / n * 1e6:.0f}) / "
           + " / ".join(f"{cpu.get(k, 0) / n * 1e6:.0f}" for k in ("nginx", "memcached", "upstream"))
           + f" / {(r.get('wrk_cpu_s') or 0) / n * 1e6:.0f}")
    other = r.get("foreign_cpu_s", 0) / max(r["wall_s"], 0.001) / (meta.get("nproc") or 2)
    return per, other


def cmd_report(args: argparse.Namespace) -> None:
    recs = [json.loads(l) for l in Path(args.results).read_text().splitlines() if l.strip()]
    meta = next((r for r in recs if r.get("kind") == "meta"), {})
    wrk = [r for r in recs if r.get("kind") == "wrk"]

    def find(label):
        for r in reversed(wrk):
            if r["label"] == label:
                return r
        return None

    out = []
    w = out.append
    w(f"# ChittyCharge benchmark results ({meta.get('date', '?')})\n")
    w(f"- command: `{meta.get('command', 'bash bench/run.sh')}`")
    w(f"- machine: {meta.get('nproc', '?')} CPUs, {meta.get('cpu_model', '?')}, {meta.get('mem', '?')}; "
      f"kernel {meta.get('kernel', '?')}; nginx {meta.get('nginx', '?')}; wrk {meta.get('wrk', '?')}")
    fig = next((r for r in wrk if r["figure"] in ("a", "b", "c")), {})
    st = fig.get("settings", {})
    w(f"- service: {st.get('processes', '?')} processes × {st.get('threads', '?')} event-loop threads, "
      f"{st.get('slots', '?')} requests in flight per process "
      f"(CHITTYCHARGE_PROCESSES / CHITTYCHARGE_LOOPS / CHITTYCHARGE_IN_FLIGHT), worker `{meta.get('worker')}` ({meta.get('build_type', '')}), "
      f"git {meta.get('git', '?')}")
    quiet = [r for r in recs if r.get("kind") == "quiet"]
    if quiet:
        w("- CPU busy with other processes just before each phase: "
          + ", ".join(f"{q['label'].replace('phase ', '')} {q['busy_fraction']:.0%}" for q in quiet))
    w(f"- each load run: wrk -t2, {meta.get('duration')} s (figure c: {meta.get('duration_c')} s), after a warm-up; "
      f"all processes share the same CPUs; \"other CPU\" is CPU used by processes outside the benchmark during the run\n")

    refs_nginx = {c: find(f"nginx return (preflight) c{c}") for c in (64, 256)}
    refs_bare = {c: find(f"bare libfcgi GET /api/holds c{c}") for c in (64, 256)}
    refs_bare_h = {c: find(f"bare libfcgi GET /health c{c}") for c in (64, 256)}

    if any(r["figure"] == "ref" for r in wrk):
        w("## References (same run)\n")
        w("| reference | conns | req/s | p50 ms | p99 ms | errors | CPU µs/request: workers / nginx / upstream / wrk |")
        w("|---|---:|---:|---:|---:|---:|---|")
        for r in wrk:
            if r["figure"] == "ref":
                n = max(r["requests"], 1)
                per = " / ".join(f"{r['cpu_s'].get(k, 0) / n * 1e6:.0f}" for k in ("workers", "nginx", "upstream"))
                per += f" / {(r.get('wrk_cpu_s') or 0) / n * 1e6:.0f}"
                w(f"| {r['label']} | {r['conns']} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | {r['errors']} | {per} |")
        w("")

    if any(r["figure"] in ("a", "b", "c") for r in wrk):
        w("## Figures\n")
        w("| figure | run | conns | req/s | p50 ms | p99 ms | errors | ÷ nginx return | ÷ bare libfcgi | CPU µs/request: workers (of it kernel) / nginx / memcached / upstream / wrk | other CPU |")
        w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in wrk:
        if r["figure"] not in ("a", "b", "c"):
            continue
        c = r["conns"]
        bare = refs_bare_h.get(c) if "health" in r["label"] else refs_bare.get(c)
        per, other = _cpu_columns(r, meta)
        w(f"| ({r['figure']}) | {r['label']} | {c} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | "
          f"{r['errors']} | {_ratio(r['rps'], refs_nginx.get(c, {}) and refs_nginx[c]['rps'])} | "
          f"{_ratio(r['rps'], bare and bare['rps'])} | {per} | {other:.0%} |")
    w("")

    side = [r for r in wrk if r["figure"] == "a-side"]
    side_ratio = None
    if side:
        svc = [r for r in side if r["label"].startswith("service")]
        bare = [r for r in side if r["label"].startswith("bare")]
        ratios = [a["rps"] / b["rps"] for a, b in zip(svc, bare) if b["rps"]]
        if ratios:
            side_ratio = (statistics.median(ratios), statistics.median([x["rps"] for x in svc]),
                          statistics.median([x["rps"] for x in bare]), len(ratios), min(ratios), max(ratios))
            w("## (a) side by side: cached read vs bare libfcgi, alternating\n")
            w("The bare responder runs as a second pool (same processes × threads) behind a second nginx "
              "rendered from the same config (only ports, socket and log paths differ); the two are measured "
              f"alternately, {len(ratios)} rounds, so background load hits both alike.\n")
            w("| round | cached GET req/s (p99 ms) | bare libfcgi req/s (p99 ms) | ratio |")
            w("|---:|---:|---:|---:|")
            for i, (a, b) in enumerate(zip(svc, bare), 1):
                w(f"| {i} | {a['rps']:,.0f} ({_fmt_ms(a['p99_ms'])}) | {b['rps']:,.0f} ({_fmt_ms(b['p99_ms'])}) | {a['rps'] / b['rps']:.0%} |")
            w(f"| median | {side_ratio[1]:,.0f} | {side_ratio[2]:,.0f} | **{side_ratio[0]:.0%}** |")
            w("")

    levers = [r for r in wrk if r["figure"] == "lever"]
    rounds: dict[str, list[dict]] = {}
    for r in levers:
        m = re.match(r"^(.*) #(\d+)$", r["label"])
        if m:
            rounds.setdefault(m.group(1), []).append(r)
    if rounds:
        w("## Levers, round-robin medians\n")
        w("| run | rounds | req/s median (min–max) | p99 ms median | errors | workers CPU µs/request median | other CPU median |")
        w("|---|---:|---|---:|---:|---:|---:|")
        for label, rs in rounds.items():
            rps = [x["rps"] for x in rs]
            wk = [x["cpu_s"].get("workers", 0) / max(x["requests"], 1) * 1e6 for x in rs]
            oth = [x.get("foreign_cpu_s", 0) / max(x["wall_s"], 0.001) / (meta.get("nproc") or 2) for x in rs]
            w(f"| {label} | {len(rs)} | {statistics.median(rps):,.0f} ({min(rps):,.0f}–{max(rps):,.0f}) | "
              f"{statistics.median([x['p99_ms'] for x in rs]):.1f} | {sum(x['errors'] for x in rs)} | "
              f"{statistics.median(wk):.0f} | {statistics.median(oth):.0%} |")
        w("")
        levers = [r for r in levers if not re.search(r" #\d+$", r["label"])]
    if levers:
        w("## Levers\n")
        w("| run | conns | req/s | p50 ms | p99 ms | errors | CPU µs/request: workers (sys) / nginx / memcached / upstream / wrk | other CPU |")
        w("|---|---:|---:|---:|---:|---:|---|---:|")
        for r in levers:
            per, other = _cpu_columns(r, meta)
            w(f"| {r['label']} | {r['conns']} | {r['rps']:,.0f} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} | "
              f"{r['errors']} | {per} | {other:.0%} |")
        w("")

    rss = [r for r in recs if r.get("kind") == "rss"]
    soak = next((r for r in recs if r.get("kind") == "soak"), None)
    if rss:
        w("## Memory (d)\n")
        w("| when | workers RSS MiB (each) | nginx MiB | memcached MiB | whole service RSS MiB | PSS MiB |")
        w("|---|---|---:|---:|---:|---:|")
        for r in rss:
            t = r["totals"]
            each = ", ".join(f"{p['rss_kb'] / 1024:.1f}" for p in r["procs"] if p["group"] == "workers")
            w(f"| {r['label']} | {each} | {t['nginx_rss_kb'] / 1024:.1f} | {t['memcached_rss_kb'] / 1024:.1f} | "
              f"{t['service_rss_kb'] / 1024:.1f} | {t['service_pss_kb'] / 1024:.1f} |")
        w("")
    if soak:
        w(f"Soak: {soak['duration_s']:.0f} s at {soak['rps']:,.0f} req/s ({soak['conns']} connections, "
          f"{soak['delay_ms']} ms between requests per connection; creates, cached reads, health), "
          f"p99 {_fmt_ms(soak['p99_ms'])} ms, errors {soak['errors']}. Workers' RSS after the {soak['warmup_s']:.0f} s "
          f"warm-up: {soak['workers_start_kb'] / 1024:.1f} → {soak['workers_end_kb'] / 1024:.1f} MiB "
          f"(max {soak['workers_max_kb'] / 1024:.1f}), least-squares slope {soak['workers_slope_kib_per_min']:+.1f} KiB/min; "
          f"whole service {soak['service_start_kb'] / 1024:.1f} → {soak['service_end_kb'] / 1024:.1f} MiB "
          f"(memcached {soak['memcached_end_kb'] / 1024:.1f} MiB: the cache filling, bounded by `-m 64`).\n")

    perf = [r for r in recs if r.get("kind") == "perf"]
    if perf:
        w("## Profile (perf record -e cpu-clock -a, default settings, 64 connections)\n")
        for r in perf:
            procs = sorted(r["procs"].items(), key=lambda kv: -kv[1]["total"])
            w(f"**{r['label']}** — share of all CPU samples by process (of it in the kernel): "
              + "; ".join(f"{c} {d['total']:.0f}% ({d['kernel']:.0f}%)" for c, d in procs if d["total"] >= 1) + ".\n")
            w("| % of samples | process | symbol |")
            w("|---:|---|---|")
            for t in r["top"][:15]:
                w(f"| {t['pct']:.1f} | {t['comm']} | `{t['what'][:80]}` |")
            w("")

    cg = [r for r in recs if r.get("kind") == "callgrind"]
    if cg:
        w("## Instructions per request (e), callgrind, one worker process\n")
        w("| request | Ir/request | malloc+calloc+realloc /request | top exclusive functions (share of Ir) |")
        w("|---|---:|---:|---|")
        for r in cg:
            tops = "; ".join(f"{t['fn'].split('(')[0][:48]} {t['pct']:.0f}%" for t in r["top"][:6])
            w(f"| {r['label']} | {r['ir_per_request']:,} | {r['mallocs_per_request']} | {tops} |")
        w("")
        w("Inclusive Ir per request by part (a call counted where it enters the part; parts can nest, "
          "e.g. the cache record parse calls the Stripe JSON parser; malloc/free counts every caller):\n")
        labels = [r["label"] for r in cg]
        w("| part | " + " | ".join(labels) + " |")
        w("|---|" + "---:|" * len(labels))
        names = [g["group"] for g in cg[0].get("groups", [])]
        for name in names:
            cells = []
            for r in cg:
                g = next((x for x in r.get("groups", []) if x["group"] == name), None)
                cells.append("—" if not g or not g["per_request"] else f"{g['per_request']:,} ({g['per_request'] / max(r['ir_per_request'], 1):.0%})")
            w(f"| {name} | " + " | ".join(cells) + " |")
        w("")

    # Targets
    tgt = []
    get64 = find("GET /api/holds/:id (cached) c64")
    if side_ratio:
        tgt.append(("(a) cached read ≥ 70% of bare libfcgi (64 conns; median of the alternating rounds)",
                    f"{side_ratio[0]:.0%} (rounds {side_ratio[4]:.0%}–{side_ratio[5]:.0%}; {side_ratio[1]:,.0f} / {side_ratio[2]:,.0f})",
                    side_ratio[0] >= 0.70))
    if get64 and refs_bare.get(64):
        ratio = get64["rps"] / refs_bare[64]["rps"]
        tgt.append(("(a) cached read ≥ 70% of bare libfcgi (64 conns; the sequential runs above)", f"{ratio:.0%} ({get64['rps']:,.0f} / {refs_bare[64]['rps']:,.0f})", ratio >= 0.70))
    b64 = find("POST /api/holds, Stripe 0 ms c64")
    if b64:
        tgt.append(("(b) ≥ 5,000 holds/s at 0 ms, 64 conns, zero errors", f"{b64['rps']:,.0f}/s, {b64['errors']} errors",
                    b64["rps"] >= 5000 and b64["errors"] == 0))
    c256 = find("POST /api/holds, Stripe 200 ms c256")
    if c256:
        ok = c256["rps"] >= 0.9 * 1280 and c256["p99_ms"] <= 300 and c256["errors"] == 0
        tgt.append(("(c) 200 ms, 256 conns: ≥ 1,152 holds/s, p99 ≤ 300 ms, zero errors",
                    f"{c256['rps']:,.0f}/s ({c256['rps'] / 1280:.0%} of 1,280), p99 {_fmt_ms(c256['p99_ms'])} ms, {c256['errors']} errors", ok))
    idle = next((r for r in rss if r["label"] == "idle"), None)
    if idle:
        mib = idle["totals"]["service_rss_kb"] / 1024
        tgt.append(("(d) whole service ≤ 64 MiB RSS at idle", f"{mib:.1f} MiB (PSS {idle['totals']['service_pss_kb'] / 1024:.1f})", mib <= 64))
    if soak:
        grow = (soak["workers_end_kb"] - soak["workers_start_kb"]) / 1024
        ok = soak["workers_slope_kib_per_min"] <= 64 and grow <= 1.0
        tgt.append(("(d) no worker RSS growth over the soak", f"{grow:+.2f} MiB, slope {soak['workers_slope_kib_per_min']:+.1f} KiB/min", ok))
    if tgt:
        w("## Targets\n")
        w("| target | measured | |")
        w("|---|---|---|")
    for name, val, ok in tgt:
        w(f"| {name} | {val} | {'met' if ok else '**missed**'} |")
    w("")
    text = "\n".join(out)
    Path(args.out).write_text(text)
    print(text)


# ---------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("render-upstream")
    r.add_argument("--template", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--run-dir", required=True)
    r.add_argument("--stripe-port", required=True)
    r.add_argument("--chittyid-port", required=True)
    r.add_argument("--delay-ms", default="0")

    for name in ("wrk", "soak"):
        q = sub.add_parser(name)
        q.add_argument("--results", required=True)
        q.add_argument("--label", required=True)
        q.add_argument("--figure", default="")
        q.add_argument("--url", required=True)
        q.add_argument("--script", required=True)
        q.add_argument("--conns", required=True)
        q.add_argument("--threads", default="2")
        q.add_argument("--duration", required=True)
        q.add_argument("--timeout", default="5")
        q.add_argument("--svc-run-dir")
        q.add_argument("--up-run-dir")
        q.add_argument("--settings", default="")
        q.add_argument("--interval", default="10")
        q.add_argument("--nginx-pidfile")

    s = sub.add_parser("rss")
    s.add_argument("--results", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--svc-run-dir", required=True)

    c = sub.add_parser("callgrind")
    c.add_argument("--results", required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--file", required=True)
    c.add_argument("--idle")
    c.add_argument("--idle-seconds", default="0")
    c.add_argument("--requests", required=True)
    c.add_argument("--seconds", required=True)
    c.add_argument("--top", default="15")

    pf = sub.add_parser("perf")
    pf.add_argument("--results", required=True)
    pf.add_argument("--label", required=True)
    pf.add_argument("--data", required=True)
    pf.add_argument("--rps", default="0")
    pf.add_argument("--top", default="30")

    qq = sub.add_parser("quiet")
    qq.add_argument("--results", required=True)
    qq.add_argument("--label", required=True)
    qq.add_argument("--seconds", default="2")
    qq.add_argument("--max", default="0.1")
    qq.add_argument("--wait", default="0")

    f = sub.add_parser("fire")
    f.add_argument("--url", required=True)
    f.add_argument("--kind", required=True, choices=sorted(FIRE_KINDS))
    f.add_argument("--count", required=True)
    f.add_argument("--timeout", default="30")

    v = sub.add_parser("nginx-variant")
    v.add_argument("--conf", required=True)
    v.add_argument("--out", required=True)
    v.add_argument("--out-dir", required=True)
    v.add_argument("--run-dir", required=True)
    v.add_argument("--http-port", required=True)
    v.add_argument("--https-port", required=True)
    v.add_argument("--port", required=True)
    v.add_argument("--variant", required=True, choices=["keep_conn", "no_access_log", "bare"])
    v.add_argument("--bare-socket")
    v.add_argument("--keepalive", default="32")

    m = sub.add_parser("meta")
    m.add_argument("--results", required=True)
    m.add_argument("--json", required=True)

    o = sub.add_parser("report")
    o.add_argument("--results", required=True)
    o.add_argument("--out", required=True)

    commands = {
        "render-upstream": render_upstream,
        "wrk": run_wrk,
        "soak": cmd_soak,
        "rss": cmd_rss,
        "callgrind": cmd_callgrind,
        "perf": cmd_perf,
        "quiet": cmd_quiet,
        "fire": cmd_fire,
        "nginx-variant": nginx_variant,
        "meta": lambda a: _append(a.results, {"kind": "meta", **json.loads(a.json)}),
        "report": cmd_report,
    }
    args = p.parse_args()
    commands[args.cmd](args)


if __name__ == "__main__":
    main()

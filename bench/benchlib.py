#!/usr/bin/env python3
"""Helpers for bench/run.sh (Python 3 standard library only).

  render-upstream  the upstream doubles' nginx config for a given Stripe latency
  wrk              one wrk run, with CPU seconds per component of the stack from /proc
  rss              RSS and PSS of every process of the service (and of its PostgreSQL)
  cputicks         CPU seconds used so far by a process and its descendants (a pid file)
  soak             a bounded wrk soak with RSS samples every few seconds
  callgrind        Ir totals, top functions and allocation calls of a callgrind dump
  report           the summary table (Markdown) with ratios and targets

Everything is appended as one JSON object per line to the results file (--results).
"""
from __future__ import annotations

import argparse
import json

from benchkit import callgrind, fire, memory, nginx_configs, perf, procfs, report, results, soak, wrk

# The subcommands live in bench/benchkit/, one module per concern (its __init__ lists them);
# this file is the command line bench/run.sh calls.


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
        q.add_argument("--pg-pidfile")
        q.add_argument("--extra", action="append", default=[], help="NAME=PIDFILE: another component")

    s = sub.add_parser("rss")
    s.add_argument("--results", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--svc-run-dir", required=True)
    s.add_argument("--pg-pidfile")
    s.add_argument("--figure", default="")

    c = sub.add_parser("callgrind")
    c.add_argument("--results", required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--file", required=True)
    c.add_argument("--idle")
    c.add_argument("--idle-seconds", default="0")
    c.add_argument("--requests", required=True)
    c.add_argument("--seconds", required=True)
    c.add_argument("--top", default="15")
    c.add_argument("--figure", default="")
    c.add_argument("--pg-cpu-s", default="")

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
    f.add_argument("--kind", required=True, choices=sorted(fire.FIRE_KINDS))
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

    t = sub.add_parser("cputicks")
    t.add_argument("--pidfile", required=True)

    rr = sub.add_parser("record")
    rr.add_argument("--results", required=True)
    rr.add_argument("--json", required=True)

    m = sub.add_parser("meta")
    m.add_argument("--results", required=True)
    m.add_argument("--json", required=True)

    o = sub.add_parser("report")
    o.add_argument("--results", required=True)
    o.add_argument("--out", required=True)

    commands = {
        "render-upstream": nginx_configs.render_upstream,
        "wrk": wrk.run_wrk,
        "soak": soak.cmd_soak,
        "rss": memory.cmd_rss,
        "callgrind": callgrind.cmd_callgrind,
        "perf": perf.cmd_perf,
        "quiet": wrk.cmd_quiet,
        "cputicks": procfs.cmd_cputicks,
        "fire": fire.cmd_fire,
        "nginx-variant": nginx_configs.nginx_variant,
        "meta": lambda a: results.append(a.results, {"kind": "meta", **json.loads(a.json)}),
        "record": lambda a: results.append(a.results, json.loads(a.json)),
        "report": report.cmd_report,
    }
    args = p.parse_args()
    commands[args.cmd](args)


if __name__ == "__main__":
    main()

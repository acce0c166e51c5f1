"""RSS and PSS of every process of the service (rss)."""
from __future__ import annotations

import argparse

from . import procfs, results


def rss_snapshot(svc_run_dir: str) -> dict:
    table = procfs.proc_table()
    groups = procfs.component_pids(svc_run_dir, None, table)
    procs = []
    for group in ("workers", "multiwatch", "nginx", "memcached"):
        for pid in groups.get(group, []):
            rss, pss = procfs.mem_of(pid)
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
    results.append(args.results, record)
    t = snap["totals"]
    workers = ", ".join(f"{p['pid']}: {p['rss_kb'] / 1024:.1f}" for p in snap["procs"] if p["group"] == "workers")
    print(f"  RSS {args.label:<14} service {t['service_rss_kb'] / 1024:6.1f} MiB (PSS {t['service_pss_kb'] / 1024:.1f})"
          f"  workers [{workers}] MiB  nginx {t['nginx_rss_kb'] / 1024:.1f}  memcached {t['memcached_rss_kb'] / 1024:.1f}",
          flush=True)


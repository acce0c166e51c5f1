"""RSS and PSS of every process of the service (rss)."""
from __future__ import annotations

import argparse

from . import procfs, results


def rss_snapshot(svc_run_dir: str, pg_pidfile: str | None = None) -> dict:
    """Every process of the stack with its RSS and PSS. The service totals are the pool,
    nginx and memcached (as before the ledger); PostgreSQL (the postmaster and its
    backends, this stack's own or pg_pidfile's) is totalled beside them: its processes
    share shared_buffers, so its RSS sum counts that more than once, its PSS sum does not."""
    table = procfs.proc_table()
    groups = procfs.component_pids(svc_run_dir, None, table, pg_pidfile=pg_pidfile)
    procs = []
    for group in ("workers", "multiwatch", "nginx", "memcached", "postgres"):
        for pid in groups.get(group, []):
            rss, pss = procfs.mem_of(pid)
            procs.append({"group": group, "pid": pid, "comm": table[pid][1], "rss_kb": rss, "pss_kb": pss})

    def total(field, *names):
        return sum(p[field] for p in procs if p["group"] in names)

    service = ("workers", "multiwatch", "nginx", "memcached")
    totals = {
        "workers_rss_kb": total("rss_kb", "workers"),
        "workers_pss_kb": total("pss_kb", "workers"),
        "pool_rss_kb": total("rss_kb", "workers", "multiwatch"),
        "pool_pss_kb": total("pss_kb", "workers", "multiwatch"),
        "service_rss_kb": total("rss_kb", *service),
        "service_pss_kb": total("pss_kb", *service),
        "memcached_rss_kb": total("rss_kb", "memcached"),
        "nginx_rss_kb": total("rss_kb", "nginx"),
        "postgres_rss_kb": total("rss_kb", "postgres"),
        "postgres_pss_kb": total("pss_kb", "postgres"),
        "postgres_procs": len(groups.get("postgres", [])),
    }
    return {"procs": procs, "totals": totals}


def cmd_rss(args: argparse.Namespace) -> None:
    snap = rss_snapshot(args.svc_run_dir, args.pg_pidfile)
    record = {"kind": "rss", "label": args.label, **snap}
    if args.figure:
        record["figure"] = args.figure
    results.append(args.results, record)
    t = snap["totals"]
    workers = ", ".join(f"{p['pid']}: {p['rss_kb'] / 1024:.1f}" for p in snap["procs"] if p["group"] == "workers")
    pg = (f"  postgres ({t['postgres_procs']} processes) RSS {t['postgres_rss_kb'] / 1024:.1f} PSS {t['postgres_pss_kb'] / 1024:.1f}"
          if t["postgres_procs"] else "")
    print(f"  RSS {args.label:<14} service {t['service_rss_kb'] / 1024:6.1f} MiB (PSS {t['service_pss_kb'] / 1024:.1f})"
          f"  workers [{workers}] MiB  nginx {t['nginx_rss_kb'] / 1024:.1f}  memcached {t['memcached_rss_kb'] / 1024:.1f}{pg}",
          flush=True)

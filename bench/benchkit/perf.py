"""A system-wide cpu-clock profile of one load run (perf): the share per process, user and
kernel, and the top symbols."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

from . import results


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
    results.append(args.results, record)
    print(f"  perf {args.label}: share of all CPU samples by process (kernel part):")
    for comm, d in sorted(procs.items(), key=lambda kv: -kv[1]["total"])[:8]:
        print(f"      {d['total']:5.1f}%  ({d['kernel']:4.1f}% kernel)  {comm}")
    print("    top symbols:")
    for r in record["top"][:20]:
        print(f"      {r['pct']:5.1f}%  {r['comm']:<14} {r['what'][:90]}")
    sys.stdout.flush()


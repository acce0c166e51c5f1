"""A callgrind dump's summary (callgrind): Ir per request net of the idle loop, by part
of the request (CG_GROUPS) and by function, and allocation calls per request."""
from __future__ import annotations

import argparse
import os
import re
import sys

from . import results


ALLOC_FNS = ("malloc", "calloc", "realloc")
FREE_FNS = ("free",)

# Where a request's instructions go: name → callee-name prefixes. Costs are inclusive,
# counted on call edges entering the group from outside it (no double counting).
CG_GROUPS = [
    ("FastCGI I/O (libfcgi accept/read/write/finish)", ("FCGX_",)),
    ("request parse + response write (fcgi/server.cpp)", ("cc::fcgi::(anonymous namespace)::ReadRequest",
                                                         "cc::fcgi::(anonymous namespace)::WriteResponse")),
    ("HTTP to Stripe/ChittyID (libcurl and the loop's epoll, incl. request building)", ("cc::httpclient::", "cc::runtime::EventLoop", "curl_")),
    ("memcached (libmemcached via MemcachedStore)", ("cc::store::MemcachedStore::",)),
    ("Stripe JSON parse (ParsePaymentIntent)", ("cc::stripe::ParsePaymentIntent",)),
    ("Stripe form encoding (FormBuilder)", ("cc::stripe::FormBuilder",)),
    ("cache record (de)serialize", ("cc::api::DeserializeRecord", "cc::api::SerializeRecord")),
    ("response JSON (RenderHold / health)", ("cc::api::RenderHold", "cc::api::WriteHold")),
    ("request body JSON parse (ParseCreateHold)", ("cc::api::ParseCreateHold",)),
    ("logging (cc::log)", ("cc::log::",)),
    ("SHA-256 / random (auth, keys, ids)", ("cc::crypto::",)),
    ("metrics", ("cc::metrics::",)),
    ("ledger (cc::ledger, libpq incl. its socket I/O)", ("cc::ledger::", "PQ")),
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
    if args.figure:
        record["figure"] = args.figure
    if args.pg_cpu_s:
        record["postgres_cpu_s"] = float(args.pg_cpu_s)
        record["postgres_cpu_us_per_request"] = round(float(args.pg_cpu_s) / n * 1e6) if n else None
    results.append(args.results, record)
    print(f"  callgrind {args.label:<28} {record['ir_per_request']:>10,} Ir/request over {n} requests"
          f" (idle {idle_per_s:,.0f} Ir/s subtracted); {record['mallocs_per_request']} malloc/request"
          + (f"; PostgreSQL {record['postgres_cpu_us_per_request']} µs CPU/request" if args.pg_cpu_s else ""))
    print("    inclusive, by part:")
    for g in record["groups"]:
        if g["per_request"]:
            print(f"      {g['pct']:5.1f}%  {g['per_request']:>9,}  {g['group']}")
    print("    top exclusive functions:")
    for t in record["top"][:10]:
        print(f"      {t['pct']:5.1f}%  {t['per_request']:>9,}  {t['fn'][:100]}")
    sys.stdout.flush()


#!/usr/bin/env python3
"""bench/scheduler.sh's helpers (Python 3 standard library only): the scheduler benchmark.

  stripe-seed   PaymentIntents at the Stripe double as ChittyCharge makes them (manual capture,
                confirmed with pm_card_visa, metadata client + chitty_id): the due holds and the
                open holds the reconciler reads; writes a CSV for the seed SQL (\\copy)
  newest-event  the double's newest event id (the ledger's events cursor after seeding)
  sink          a client-app webhook endpoint on loopback: 204 to every POST, GET /count
  stripe-calls  the double's request log (/_test/requests) summarised by method and route
  pass-report   one size's figures from the files scheduler.sh wrote, as one JSON object
  compare       the comparison table (Markdown) of the sizes' JSON objects
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import http.server
import json
import re
import sys
import threading
import urllib.parse
import urllib.request

KEY = "sk_test_bench_scheduler"


def _call(base: str, method: str, path: str, form: dict | None = None, key: str = KEY):
    data = urllib.parse.urlencode(form or {}).encode() if form is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def stripe_seed(a) -> None:
    """a.due due holds and a.open open holds per client, as confirmed manual-capture PIs."""
    clients = a.clients.split(",")
    jobs = [("due", clients[i % len(clients)], i) for i in range(a.due)]
    jobs += [("open", c, i) for c in clients for i in range(a.open)]

    def make(job):
        kind, client, i = job
        chitty = f"CHITTY-AUTH-BENCH{kind.upper()}{i:06d}{client.upper()}"[:40]
        pi = _call(a.base, "POST", "/v1/payment_intents", {
            "amount": "25000", "currency": "usd", "capture_method": "manual",
            "payment_method_types[]": "card", "payment_method": "pm_card_visa", "confirm": "true",
            "metadata[client]": client, "metadata[chitty_id]": chitty,
            "metadata[tier]": "PREMIUM_PROPERTY"})
        if pi.get("status") != "requires_capture":
            raise SystemExit(f"the double answered {pi.get('status')} for a confirmed PI")
        return (pi["id"], kind, client, chitty, i)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(make, jobs))
    with open(a.out, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    print(f"{len(rows)} PaymentIntents at the double ({a.due} due, {a.open} open per client)")


def newest_event(a) -> None:
    page = _call(a.base, "GET", "/v1/events?limit=1")
    print(page["data"][0]["id"] if page.get("data") else "")


def sink(a) -> None:
    count = {"posts": 0}
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                count["posts"] += 1
            self.send_response(204)
            self.end_headers()

        def do_GET(self):  # noqa: N802
            body = json.dumps(count).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_DELETE(self):  # noqa: N802
            with lock:
                count["posts"] = 0
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), H)
    print("LISTENING", flush=True)
    server.serve_forever()


ID = re.compile(r"/(pi|evt|ch|cus|pm|seti)_[A-Za-z0-9]+")


def stripe_calls(a) -> None:
    entries = _call(a.base, "GET", "/_test/requests")
    by_route: dict[str, int] = {}
    for e in entries:
        if not e["path"].startswith("/v1/"):
            continue
        route = e["method"] + " " + ID.sub(lambda m: "/" + m.group(1) + "_…", e["path"])
        by_route[route] = by_route.get(route, 0) + 1
    out = {"total": sum(by_route.values()), "by_route": dict(sorted(by_route.items(), key=lambda kv: -kv[1]))}
    json.dump(out, sys.stdout)
    print()


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _plan_summary(path):
    """Execution time, buffers and the index the pending notifications came from."""
    try:
        plan = _read_json(path)[0]
    except (OSError, ValueError, IndexError):
        return None
    scans = []

    def walk(node):
        if node.get("Relation Name") == "notifications" and node.get("Alias") == "x":
            scans.append(f"{node.get('Node Type')} {node.get('Index Name', '')} rows={node.get('Actual Rows')}".strip())
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return {"ms": round(plan["Execution Time"], 1),
            "buffers": plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0),
            "pending_scan": "; ".join(scans)}


def pass_report(a) -> None:
    d = a.dir
    stmts = _read_json(f"{d}/statements.json") or []
    tables_before = {t["relname"]: t for t in (_read_json(f"{d}/tables-before.json") or [])}
    tables = {}
    for t in _read_json(f"{d}/tables-after.json") or []:
        b = tables_before.get(t["relname"], {})
        delta = {k: (t[k] or 0) - (b.get(k) or 0) for k in
                 ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins", "n_tup_upd")}
        if any(delta.values()):
            tables[t["relname"]] = dict(delta, n_live_tup=t["n_live_tup"])
    with open(f"{d}/pass.json") as f:
        line = [ln for ln in f.read().splitlines() if ln.startswith("{")]
    out = {
        "holds": a.holds, "due": a.due,
        "wall_s": float(open(f"{d}/wall_s").read().strip()),
        "exit_status": int(open(f"{d}/exit_status").read().strip()),
        "pass": json.loads(line[-1]) if line else None,
        "ledger": {"statements": sum(s["calls"] for s in stmts),
                   "total_ms": round(sum(s["total_ms"] for s in stmts), 1),
                   "rows": sum(s["rows"] for s in stmts),
                   "shared_blks_hit": sum(s["shared_blks_hit"] for s in stmts),
                   "shared_blks_read": sum(s["shared_blks_read"] for s in stmts),
                   "top": stmts[:12]},
        "tables": tables,
        "rows_read": {"seq_tup_read": sum(t["seq_tup_read"] for t in tables.values()),
                      "idx_tup_fetch": sum(t["idx_tup_fetch"] for t in tables.values()),
                      "seq_scan": sum(t["seq_scan"] for t in tables.values()),
                      "idx_scan": sum(t["idx_scan"] for t in tables.values())},
        "stripe": _read_json(f"{d}/stripe-calls.json"),
        "notifications_received": _read_json(f"{d}/sink.json")["posts"],
        "seed": _read_json(f"{d}/seeded.json"),
        "notify_backlog": {"stale_statistics": _plan_summary(f"{d}/notify-backlog-stale.json"),
                           "after_analyze": _plan_summary(f"{d}/notify-backlog-fresh.json")},
    }
    json.dump(out, sys.stdout, indent=1)
    print()


def compare(a) -> None:
    runs = [_read_json(p) for p in a.files]
    base = runs[0]

    def row(label, get, fmt="{:,}"):
        vals = [get(r) for r in runs]
        cells = [fmt.format(v) if v is not None else "—" for v in vals]
        ratio = ""
        if isinstance(vals[0], (int, float)) and vals[0] and isinstance(vals[-1], (int, float)):
            ratio = f"{vals[-1] / vals[0]:.2f}×"
        return f"| {label} | " + " | ".join(cells) + f" | {ratio} |"

    head = "| | " + " | ".join(f"{r['holds']:,} holds" for r in runs) + " | last ÷ first |"
    lines = [head, "|---|" + "---:|" * (len(runs) + 1)]
    p = lambda k: (lambda r: (r["pass"] or {}).get(k))  # noqa: E731
    lines += [
        row("due holds (release_after past, requires_capture)", lambda r: r["due"]),
        row("released / settled elsewhere / failed",
            lambda r: "{} / {} / {}".format(p("released")(r), p("settled_elsewhere")(r),
                                            p("release_failed")(r)), "{}"),
        row("notifications delivered / deferred", lambda r: "{} / {}".format(
            p("notifications_delivered")(r), p("notifications_deferred")(r)), "{}"),
        row("intents finished / holds checked / events applied", lambda r: "{} / {} / {}".format(
            p("intents_finished")(r), p("holds_checked")(r), p("events_applied")(r)), "{}"),
        row("**ledger statements** (pg_stat_statements calls)", lambda r: r["ledger"]["statements"]),
        row("ledger rows returned/affected", lambda r: r["ledger"]["rows"]),
        row("**rows read by seq scans** (pg_stat_user_tables)", lambda r: r["rows_read"]["seq_tup_read"]),
        row("seq scans / index scans", lambda r: "{:,} / {:,}".format(
            r["rows_read"]["seq_scan"], r["rows_read"]["idx_scan"]), "{}"),
        row("rows fetched by index scans", lambda r: r["rows_read"]["idx_tup_fetch"]),
    ]
    for table in ("holds", "hold_payment_intents", "audit_events", "stripe_intents", "notifications"):
        lines.append(row(f"{table}: seq scans / rows they read / index scans", lambda r, t=table: "{:,} / {:,} / {:,}".format(
            *(r["tables"].get(t, {}).get(k, 0) for k in ("seq_scan", "seq_tup_read", "idx_scan"))), "{}"))
    lines += [
        row("shared buffers hit + read", lambda r: r["ledger"]["shared_blks_hit"] + r["ledger"]["shared_blks_read"]),
        row("**Stripe calls** (the double's log)", lambda r: r["stripe"]["total"]),
        row("notifications received by the client app", lambda r: r["notifications_received"]),
        row("ledger time, ms (sum over statements)", lambda r: r["ledger"]["total_ms"], "{:,.0f}"),
        row("pass wall time, s", lambda r: r["wall_s"], "{:.2f}"),
    ]
    for key, label in (("stale_statistics", "the pass's statistics"), ("after_analyze", "after ANALYZE")):
        def cell(r, key=key):
            b = (r.get("notify_backlog") or {}).get(key)
            return f"{b['ms']} ms, {b['buffers']:,} buffers ({b['pending_scan']})" if b else None
        lines.append(row(f"notify_lease, 1 batch of 20, backlog +{a.backlog:,} pending, {label}", cell, "{}"))
    print("\n".join(lines))
    print()
    print("Stripe calls by route: " + "; ".join(
        f"{r['holds']:,}: " + ", ".join(f"{k} {v}" for k, v in r["stripe"]["by_route"].items())
        for r in runs))
    print()
    print("Top statements by total time (last size), calls / total ms / rows / shared blocks:")
    for s in runs[-1]["ledger"]["top"][:8]:
        q = " ".join(s["query"].split())
        print(f"- {s['calls']} / {s['total_ms']:.1f} / {s['rows']} / {s['shared_blks_hit'] + s['shared_blks_read']}: `{q[:150]}`")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stripe-seed")
    s.add_argument("--base", required=True)
    s.add_argument("--due", type=int, required=True)
    s.add_argument("--open", type=int, required=True, help="open holds per client")
    s.add_argument("--clients", default="alpha,beta")
    s.add_argument("--out", required=True)
    s = sub.add_parser("newest-event")
    s.add_argument("--base", required=True)
    s = sub.add_parser("sink")
    s.add_argument("--port", type=int, required=True)
    s = sub.add_parser("stripe-calls")
    s.add_argument("--base", required=True)
    s = sub.add_parser("pass-report")
    s.add_argument("--dir", required=True)
    s.add_argument("--holds", type=int, required=True)
    s.add_argument("--due", type=int, required=True)
    s = sub.add_parser("compare")
    s.add_argument("--backlog", type=int, default=0)
    s.add_argument("files", nargs="+")
    a = p.parse_args()
    {"stripe-seed": stripe_seed, "newest-event": newest_event, "sink": sink,
     "stripe-calls": stripe_calls, "pass-report": pass_report, "compare": compare}[a.cmd](a)


if __name__ == "__main__":
    main()

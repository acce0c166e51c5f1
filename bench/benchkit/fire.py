"""Exactly N requests of one kind on one kept-alive connection (fire): what callgrind's
batches need, since wrk cannot stop at a count."""
from __future__ import annotations

import argparse
import os
import time


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


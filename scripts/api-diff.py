#!/usr/bin/env python3
"""Compares two worker builds' answers to one fixed sequence of requests, byte for byte.

For refactors that must not change the API: each build is started in the real local
stack (scripts/run.sh: nginx, the spawn-fcgi pool, memcached, the sandbox doubles) on
its own ports, the same requests go to both, and the status, content type, the headers
a client reads and the body are compared after replacing the values that differ on every
run (ids, secrets, timestamps, request ids) by placeholders numbered in order of
appearance.

  python3 scripts/api-diff.py OLD_WORKER NEW_WORKER

Exit 0 when every answer is the same; else prints each difference and exits 1.
"""
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
TOKEN = "chitty-sandbox-token"
KEPT_HEADERS = ("allow", "retry-after", "idempotent-replayed", "access-control-allow-origin")
VOLATILE = [
    (re.compile(r"pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"), "SECRET"),
    (re.compile(r"pi_[A-Za-z0-9]+"), "PI"),
    (re.compile(r"ch_[A-Za-z0-9]+"), "CH"),
    (re.compile(r"CHITTY-[A-Z0-9-]+"), "CHITTY"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "TIME"),
    (re.compile(r'"(created|expires_at|captured_at|canceled_at)":\d+'), None),
]


def free_port(taken):
    """A free loopback port not in `taken` (the kernel may hand out a port it just gave)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port


def start(worker, run_dir):
    ports = {}
    for name in ("CHITTYCHARGE_HTTP_PORT", "CHITTYCHARGE_HTTPS_PORT", "CHITTYCHARGE_MEMCACHED_PORT",
                 "STRIPE_DOUBLE_PORT", "CHITTYID_DOUBLE_PORT"):
        ports[name] = free_port(set(ports.values()))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CHITTYCHARGE_", "STRIPE_", "CHITTY_ID", "MEMCACHED"))}
    env.update({k: str(v) for k, v in ports.items()})
    env.update(CHITTYCHARGE_SKIP_SETUP="1", CHITTYCHARGE_RUN_DIR=str(run_dir),
               CHITTYCHARGE_WORKER=str(worker), RATE_LIMIT_PER_MINUTE="1000")
    log = open(run_dir.parent / f"{run_dir.name}.out", "w")
    proc = subprocess.Popen(["bash", str(REPO / "scripts/run.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if "READY" in pathlib.Path(log.name).read_text():
            return proc, ports["CHITTYCHARGE_HTTP_PORT"]
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    stop(proc)
    sys.exit(f"{worker}: the stack did not start; see {log.name}")


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def call(port, method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Origin": "http://localhost:3000", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, dict((k.lower(), v) for k, v in r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict((k.lower(), v) for k, v in e.headers.items()), e.read()


def scenario(port):
    """The fixed sequence; yields (label, answer)."""
    auth = {"ChittyID-Token": TOKEN, "Content-Type": "application/json"}
    hold = {"amount": 25000, "currency": "usd", "description": "Deposit, booking 4711",
            "customer_email": "guest@example.com", "property_id": "prop_diff",
            "metadata": {"booking_id": "4711"}, "payment_method": "pm_card_visa"}
    yield "health", call(port, "GET", "/health")
    yield "no token", call(port, "POST", "/api/holds", hold, {"Content-Type": "application/json"})
    yield "bad json", call(port, "POST", "/api/holds", b"{nope", auth)
    yield "unknown field", call(port, "POST", "/api/holds", {**hold, "amout": 1}, auth)
    created = call(port, "POST", "/api/holds", hold, auth)
    yield "create", created
    pi = json.loads(created[2])["id"]
    yield "get", call(port, "GET", f"/api/holds/{pi}", headers=auth)
    yield "get unknown", call(port, "GET", "/api/holds/pi_doesnotexist", headers=auth)
    yield "list bad limit", call(port, "GET", "/api/holds?limit=0", headers=auth)
    yield "list bad status", call(port, "GET", "/api/holds?status=bogus", headers=auth)
    yield "no route", call(port, "GET", f"/api/holds/{pi}/refund", headers=auth)
    yield "wrong method", call(port, "PUT", "/api/holds", hold, auth)
    yield "over capturable", call(port, "POST", f"/api/holds/{pi}/capture",
                                  {"amount_to_capture": 99999}, auth)
    yield "capture", call(port, "POST", f"/api/holds/{pi}/capture",
                          {"amount_to_capture": 7500, "reason": "Broken lamp"}, auth)
    yield "cancel captured", call(port, "POST", f"/api/holds/{pi}/cancel", {}, auth)
    yield "get captured", call(port, "GET", f"/api/holds/{pi}", headers=auth)
    yield "declined", call(port, "POST", "/api/holds",
                           {**hold, "payment_method": "pm_card_chargeDeclined"}, auth)
    keyed = {**auth, "Idempotency-Key": "diff-key-1"}
    yield "keyed create", call(port, "POST", "/api/holds", {**hold, "amount": 5000}, keyed)
    yield "keyed replay", call(port, "POST", "/api/holds", {**hold, "amount": 5000}, keyed)
    yield "keyed reuse", call(port, "POST", "/api/holds", {**hold, "amount": 6000}, keyed)
    again = call(port, "POST", "/api/holds", hold, auth)
    yield "create again", again
    second = json.loads(again[2]).get("id", "pi_missing")
    yield "cancel", call(port, "POST", f"/api/holds/{second}/cancel",
                         {"cancellation_reason": "requested_by_customer", "reason": "No damage"}, auth)
    yield "webhook unsigned", call(port, "POST", "/webhook", b"{}", {"Content-Type": "application/json"})
    status, headers, _ = call(port, "GET", "/metrics")
    yield "metrics", (status, headers, b"")  # numbers differ run to run; status and type only


def normalise(answer):
    status, headers, body = answer
    text = body.decode("utf-8", "replace")
    seen = {}
    for pattern, name in VOLATILE:
        if name is None:
            text = pattern.sub(lambda m: f'"{m.group(1)}":N', text)
            continue
        text = pattern.sub(lambda m: seen.setdefault((name, m.group(0)),
                                                      f"<{name}{len(seen)}>"), text)
    kept = {k: headers[k] for k in KEPT_HEADERS if k in headers}
    return status, headers.get("content-type"), kept, text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results = []
    with tempfile.TemporaryDirectory(prefix="cc-apidiff-") as tmp:
        for i, worker in enumerate(sys.argv[1:]):
            proc, port = start(pathlib.Path(worker).resolve(), pathlib.Path(tmp) / f"run{i}")
            try:
                results.append([(label, normalise(answer)) for label, answer in scenario(port)])
            finally:
                stop(proc)
    differences = 0
    for (label, old), (_, new) in zip(*results):
        if old != new:
            differences += 1
            print(f"--- {label}\n  old: {old}\n  new: {new}")
    print(f"api-diff: {len(results[0])} answers compared, {differences} differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

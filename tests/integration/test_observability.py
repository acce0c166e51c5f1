"""What an operator sees: /metrics counters that move with the traffic, one JSON log line
per request (worker and nginx), and logs that never contain a secret.

/metrics is pool-wide (src/core/metrics.h): every process adds to its own slot of a
shared file and the answer sums them, so exact deltas hold whichever worker serves what.
"""

import contextlib
import hashlib
import hmac
import json
import pathlib
import re
import threading
import time
import uuid

import pytest

import conftest
from conftest import ALPHA_TOKEN, WEBHOOK_SECRET, wait_until

VALID = {"amount": 5000, "currency": "usd", "description": "observability test hold"}
METRIC_LINE = re.compile(r"^([a-z_:][a-z0-9_:]*)(\{[^}]*\})? ([0-9.eE+-]+|\+Inf|NaN)$")


# ---------------------------------------------------------------- helpers

def scrape(stack):
    """{'name{label="v",...}': value} of one /metrics answer; labels sorted."""
    answer = stack.api("GET", "/metrics", token=None)
    assert answer.status == 200, answer
    samples = {}
    for line in answer.text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        name, labels, value = match.groups()
        if labels:
            pairs = sorted(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', labels))
            name += "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
        samples[name] = float(value)
    return samples


def key(name, **labels):
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def delta(before, after, name, **labels):
    k = key(name, **labels)
    return after.get(k, 0) - before.get(k, 0)


def requests_total(route, status):
    return ("chittycharge_http_requests_total", {"route": route, "status": str(status)})


def sign(body, secret=WEBHOOK_SECRET):
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@contextlib.contextmanager
def slow_stripe(stack, ms):
    assert stack.stripe("POST", "/_test/latency", {"ms": ms}).status == 200
    try:
        yield
    finally:
        stack.stripe("POST", "/_test/latency", {"ms": 0})


def log_lines(path, offset=0):
    with open(path, "rb") as log:
        log.seek(offset)
        text = log.read().decode(errors="replace")
    return text.splitlines()


# ---------------------------------------------------------------- metrics

def test_requests_are_counted_by_route_and_status(stack):
    before = scrape(stack)
    health = [stack.api("GET", "/health", token=None).status for _ in range(5)]
    for _ in range(3):
        assert stack.api("GET", f"/nope-{uuid.uuid4().hex}", token=None).status == 404
    for _ in range(2):
        assert stack.api("GET", "/api/holds", token=None).status == 401
    assert stack.api("POST", "/api/holds", raw="{not json").status == 400
    after = scrape(stack)
    expected = {("GET /health", health[0]): 5, ("unmatched", 404): 3, ("GET /api/holds", 401): 2,
                ("POST /api/holds", 400): 1, ("GET /metrics", 200): 1}
    assert len(set(health)) == 1
    for (route, status), count in expected.items():
        name, labels = requests_total(route, status)
        assert delta(before, after, name, **labels) == count, (route, status)
    hist = "chittycharge_http_request_duration_seconds"
    assert delta(before, after, f"{hist}_count", route="GET /health") == 5
    assert delta(before, after, f"{hist}_sum", route="GET /health") > 0
    assert delta(before, after, f"{hist}_bucket", route="GET /health", le="+Inf") == 5
    # cumulative buckets never decrease
    buckets = sorted(((float(le), v) for k, v in after.items()
                      for le in re.findall(rf'^{hist}_bucket\{{le="([0-9.]+)",route="GET /health"\}}$', k)))
    assert buckets and all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert [v for k, v in after.items() if k.startswith("chittycharge_build_info{version=")] == [1]


def test_holds_and_dependency_calls_are_counted(stack):
    before = scrape(stack)
    held = stack.create_hold(payment_method="pm_card_visa")
    captured = stack.api("POST", f"/api/holds/{held['id']}/capture", {"amount_to_capture": 1000})
    assert captured.status == 200, captured
    released = stack.create_hold(payment_method="pm_card_visa")
    assert stack.api("POST", f"/api/holds/{released['id']}/cancel", {}).status == 200
    declined = stack.api("POST", "/api/holds", dict(VALID, payment_method="pm_card_chargeDeclined"))
    assert declined.status == 402, declined
    after = scrape(stack)
    hold = "chittycharge_holds_total"
    assert delta(before, after, hold, event="created") == 2
    assert delta(before, after, hold, event="captured") == 1
    assert delta(before, after, hold, event="canceled") == 1
    assert delta(before, after, hold, event="declined") == 1
    dep = "chittycharge_dependency_duration_seconds"
    # 3 creates (+1 cancel of the declined intent), a capture, a cancel
    assert delta(before, after, f"{dep}_count", dependency="stripe") >= 6
    assert delta(before, after, f"{dep}_count", dependency="chittyid") >= 3
    assert delta(before, after, f"{dep}_count", dependency="memcached") >= 5
    # each change's intent and its result or record, before the answer
    assert delta(before, after, f"{dep}_count", dependency="postgresql") >= 8
    for dependency in ("stripe", "chittyid", "memcached", "postgresql"):
        assert delta(before, after, f"{dep}_sum", dependency=dependency) > 0
        assert after[key(f"{dep}_bucket", dependency=dependency, le="+Inf")] == \
            after[key(f"{dep}_count", dependency=dependency)]


def test_an_idempotent_replay_is_not_a_second_hold(stack):
    before = scrape(stack)
    headers = {"Idempotency-Key": f"obs-{uuid.uuid4().hex}"}
    first = stack.api("POST", "/api/holds", VALID, headers=headers)
    again = stack.api("POST", "/api/holds", VALID, headers=headers)
    assert first.status == again.status == 201, (first, again)
    assert again.headers.get("Idempotent-Replayed") == "true"
    after = scrape(stack)
    assert delta(before, after, "chittycharge_holds_total", event="created") == 1


def test_webhook_events_are_counted_by_type_and_result(stack):
    foreign = stack.stripe("POST", "/v1/payment_intents",
                           {"amount": 1000, "currency": "usd", "capture_method": "manual"})
    assert foreign.status == 200, foreign
    pi = dict(foreign.json, status="succeeded")
    event = {"id": f"evt_obs_{uuid.uuid4().hex}", "object": "event", "type": "payment_intent.succeeded",
             "api_version": "2026-10-28.endive", "created": int(time.time()), "livemode": False,
             "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
             "data": {"object": pi}}
    body = json.dumps(event).encode()
    before = scrape(stack)
    for _ in range(2):  # the second one is a duplicate
        answer = stack.api("POST", "/webhook", raw=body, token=None,
                           headers={"Stripe-Signature": sign(body)})
        assert answer.status == 200, answer
    bad = stack.api("POST", "/webhook", raw=body, token=None,
                    headers={"Stripe-Signature": sign(body, "whsec_wrong")})
    assert bad.status == 400 and bad.json["code"] == "invalid_signature"
    after = scrape(stack)
    events = "chittycharge_webhook_events_total"
    assert delta(before, after, events, type="payment_intent.succeeded", result="ignored") == 1
    assert delta(before, after, events, type="payment_intent.succeeded", result="duplicate") == 1
    assert delta(before, after, events, type="other", result="invalid") == 1
    name, labels = requests_total("POST /webhook", 400)
    assert delta(before, after, name, **labels) == 1


def test_in_flight_gauge_follows_a_slow_request(stack):
    def in_flight():  # counts the /metrics request itself
        return scrape(stack)["chittycharge_http_requests_in_flight"]

    # The double's webhook deliveries of earlier tests may still be in flight for a moment.
    wait_until(lambda: in_flight() == 1, 5, "the session stack to be idle")
    answers = {}
    with slow_stripe(stack, 800):
        create = threading.Thread(target=lambda: answers.update(
            create=stack.api("POST", "/api/holds", VALID)))
        create.start()
        wait_until(lambda: in_flight() >= 2, 5, "the gauge to show the create")
        create.join(15)
    assert answers["create"].status == 201
    wait_until(lambda: in_flight() == 1, 5, "the gauge to come back to 1")


# ---------------------------------------------------------------- logs

def test_one_json_log_line_per_request_with_id_route_status_duration(stack):
    worker_log, access_log = stack.run_dir / "worker.log", stack.run_dir / "access.log"
    worker_offset, access_offset = worker_log.stat().st_size, access_log.stat().st_size
    calls = [("GET", "/health", None, None, "GET /health"),
             ("GET", "/api/holds?limit=1", None, ALPHA_TOKEN, "GET /api/holds"),
             ("POST", "/api/holds", json.dumps(VALID), ALPHA_TOKEN, "POST /api/holds"),
             ("GET", f"/nope/{uuid.uuid4().hex}", None, None, "unmatched")]
    sent = {}
    for method, path, raw, token, route in calls:
        request_id = f"obs-{uuid.uuid4().hex}"
        answer = stack.api(method, path, raw=raw, token=token, headers={"X-Request-Id": request_id})
        assert answer.headers.get("X-Request-Id") == request_id
        sent[request_id] = (method, route, answer.status)
    # nginx's own answer: no worker line, one access-log line with nginx's request id
    too_large = stack.api("POST", "/api/holds", raw=b"x" * (64 * 1024 + 1))
    assert too_large.status == 413
    nginx_id = too_large.headers.get("X-Request-Id")
    assert re.fullmatch(r"[0-9a-f]{32}", nginx_id or ""), too_large.headers

    # nginx writes its access-log line after the answer has gone out
    wait_until(lambda: all(i in access_log.read_text(errors="replace") for i in [*sent, nginx_id]),
               5, "nginx's access-log lines")
    worker = log_lines(worker_log, worker_offset)
    access = log_lines(access_log, access_offset)
    worker_json = []
    for line in worker:
        if line.startswith("{"):
            worker_json.append(json.loads(line))  # every JSON-looking line is JSON
        else:  # multiwatch's own messages are the only other lines
            assert line.startswith(("Child[", "Spawning child")), line
    access_json = [json.loads(line) for line in access]
    for request_id, (method, route, status) in sent.items():
        mine = [e for e in worker_json if e.get("request_id") == request_id]
        assert len(mine) == 1, (request_id, mine)
        entry = mine[0]
        assert entry["msg"] == "request" and entry["level"] == "info"
        assert (entry["method"], entry["route"], entry["status"]) == (method, route, status)
        assert isinstance(entry["duration_us"], int) and entry["duration_us"] >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["ts"])
        edge = [e for e in access_json if e.get("request_id") == request_id]
        assert len(edge) == 1 and edge[0]["status"] == status, edge
        assert edge[0]["upstream_status"] == str(status)
        assert float(edge[0]["request_time"]) >= 0
    assert not [e for e in worker_json if e.get("request_id") == nginx_id]
    edge = [e for e in access_json if e.get("request_id") == nginx_id]
    assert len(edge) == 1 and edge[0]["status"] == 413 and edge[0]["upstream_status"] == ""


def secret_values():
    """Every credential the test stack is configured with (conftest's constants)."""
    names = [n for n in dir(conftest) if re.search(r"(TOKEN|SECRET|STRIPE_KEY)", n) and n.isupper()]
    values = {getattr(conftest, n) for n in names}
    values = {v for v in values if isinstance(v, str) and len(v) >= 8}
    assert {conftest.ALPHA_TOKEN, conftest.WEBHOOK_SECRET, conftest.SANDBOX_STRIPE_KEY,
            conftest.CHITTY_ID_TOKEN} <= values
    return values


def test_logs_contain_no_secret(stack):
    """Traffic that carries every kind of secret, then a grep of everything the run wrote."""
    wrong_token = f"tok_wrong_{uuid.uuid4().hex}"
    emails = [f"guest.{uuid.uuid4().hex[:12]}@example.com" for _ in range(2)]
    client_secrets = []
    browser = stack.create_hold(customer_email=emails[0])  # confirmed in the browser
    client_secrets.append(browser["client_secret"])
    server = stack.create_hold(customer_email=emails[1], payment_method="pm_card_visa",
                               metadata={"booking_id": "obs-1"})
    client_secrets.append(server["client_secret"])
    assert stack.confirm(browser["id"]).status == 200
    stack.api("POST", f"/api/holds/{server['id']}/capture", {"reason": "minibar"},
              headers={"Idempotency-Key": f"obs-{uuid.uuid4().hex}"})
    assert stack.api("GET", "/api/holds", token=wrong_token).status == 401
    assert stack.api("GET", "/api/holds", token=None,
                     headers={"Authorization": f"Bearer {wrong_token}"}).status == 401
    assert stack.api("GET", "/api/holds", token=None,
                     headers={"Authorization": f"Bearer {ALPHA_TOKEN}"}).status == 200
    body = json.dumps({"id": "evt_obs_secret", "object": "event", "type": "charge.captured",
                       "created": int(time.time()), "data": {"object": {"id": "ch_x"}}}).encode()
    stack.api("POST", "/webhook", raw=body, token=None, headers={"Stripe-Signature": sign(body)})
    stack.stripe("POST", "/_test/webhooks/drain", {"timeout_ms": 3000})

    needles = secret_values() | {wrong_token} | set(emails) | set(client_secrets)
    assert all(client_secrets) and all(s.startswith(f"{h['id']}_secret_")
                                       for s, h in zip(client_secrets, (browser, server)))
    files = [p for p in pathlib.Path(stack.run_dir).rglob("*")
             if p.is_file() and p.suffix in (".log", ".out", ".conf")]
    assert any(p.name == "worker.log" for p in files) and any(p.name == "access.log" for p in files)
    found = []
    for path in files:
        text = path.read_text(errors="replace")
        for needle in needles:
            if needle in text:
                found.append((path.name, needle))
    assert not found, found
    # the emails are logged redacted, if at all
    worker = (pathlib.Path(stack.run_dir) / "worker.log").read_text(errors="replace")
    for email in emails:
        assert email.split("@")[0] not in worker

"""Stripe events through the real stack: the Stripe double -> nginx -> /webhook -> workers -> memcached.

Written from /work/shared/CONTRACT.md ("POST /webhook", "Webhooks") and docs/webhooks.md.
The double delivers signed events on its own; its control API pauses, flushes (reversed),
resends and drains them, and tells what each delivery was answered. Tests that build their
own events sign them the way Stripe does: HMAC-SHA256 over "<t>.<body>".

"Applied" is checked where it shows: the hold in memcached (`hold:<pi>`), a GET served
from that cache (the double's request log shows no retrieve of the PaymentIntent), and
the worker's `{"msg":"webhook event",...,"result":...}` log line.

The last two tests run on a second stack with its own memcached (`own_stack`, conftest):
scripts/run.sh stops the whole stack when a memcached it started exits, so the session
stack's memcached cannot be killed and restarted.
"""

import contextlib
import hashlib
import hmac
import json
import signal
import time
import uuid

import pytest

from conftest import LIMITED_TOKEN as LIMITED  # own_stack only: 2 /api requests per minute
from conftest import wait_until

ALPHA = "tok_alpha_0123456789"
SECRET = "whsec_integration_0001"  # the first of STRIPE_WEBHOOK_SECRET; the double signs with it
OLD_SECRET = "whsec_integration_old_0001"  # the second one (rotation)
TOLERANCE_S = 300
CAPTURABLE = "payment_intent.amount_capturable_updated"
WAIT_S = 5


# ---------------------------------------------------------------- signing and posting

def signature_header(body, secrets=(SECRET,), timestamp=None):
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + body
    v1 = [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets]
    return ",".join([f"t={t}"] + v1)


def make_event(event_type, obj):
    return {"id": f"evt_it_{uuid.uuid4().hex}", "object": "event",
            "api_version": "2026-10-28.endive", "created": int(time.time()),
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": event_type}


def post_webhook(stack, body, signature=None, headers=None):
    """POSTs raw bytes to /webhook through nginx, with no client token."""
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        all_headers["Stripe-Signature"] = signature
    all_headers.update(headers or {})
    return stack.api("POST", "/webhook", raw=body, token=None, headers=all_headers)


def send_event(stack, event, secrets=(SECRET,), timestamp=None, headers=None):
    body = json.dumps(event).encode()
    return post_webhook(stack, body, signature_header(body, secrets, timestamp), headers)


def assert_invalid(answer, code):
    assert answer.status == 400, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    assert answer.json["code"] == code, answer


# ---------------------------------------------------------------- the double's webhook side

def drain(stack):
    answer = stack.stripe("POST", "/_test/webhooks/drain", {"timeout_ms": WAIT_S * 1000})
    assert answer.status == 200 and answer.json["drained"], answer


def set_webhooks(stack, **settings):
    answer = stack.stripe("POST", "/_test/webhooks", settings)
    assert answer.status == 200, answer


@contextlib.contextmanager
def webhooks_paused(stack):
    """Holds new events; afterwards unpauses and delivers whatever is still held."""
    set_webhooks(stack, paused=True)
    try:
        yield
    finally:
        set_webhooks(stack, paused=False)
        stack.stripe("POST", "/_test/webhooks/flush", {})
        drain(stack)


def flush_held(stack, order="fifo"):
    answer = stack.stripe("POST", "/_test/webhooks/flush", {"order": order})
    assert answer.status == 200, answer
    drain(stack)


def events_of(stack, pi_id):
    """The double's event records about one PaymentIntent (or its charge), in creation order."""
    records = stack.stripe("GET", "/_test/events").json
    return [r for r in records
            if pi_id in (r["event"]["data"]["object"].get("id"),
                         r["event"]["data"]["object"].get("payment_intent"))]


def the_event(stack, pi_id, event_type):
    matches = [r for r in events_of(stack, pi_id) if r["type"] == event_type]
    assert len(matches) == 1, (event_type, [r["type"] for r in events_of(stack, pi_id)])
    return matches[0]


def assert_answered_200(record):
    """Delivered, and the first attempt was answered 200 (no retry after a 4xx/5xx)."""
    assert record["state"] == "delivered", record
    assert record["deliveries"][0]["status"] == 200, record["deliveries"]


def resend(stack, event_id):
    answer = stack.stripe("POST", f"/_test/events/{event_id}/resend", {})
    assert answer.status == 200, answer
    drain(stack)


# ---------------------------------------------------------------- what the service did

def worker_results(stack, event_id):
    """The "result" of each `webhook event` log line the workers wrote for one event."""
    results = []
    for line in (stack.run_dir / "worker.log").read_text(errors="replace").splitlines():
        if event_id in line and line.startswith("{"):
            entry = json.loads(line)
            if entry.get("msg") == "webhook event" and entry.get("event") == event_id:
                results.append(entry["result"])
    return results


def cached_hold(stack, pi_id):
    """The hold's cache record in memcached ({"pi": {...}, "fetched_at", ...}) or None."""
    answer = stack.memcached_cmd(f"get hold:{pi_id}")
    if answer.startswith("END"):
        return None
    header, value = answer.split("\r\n", 2)[:2]
    assert header.startswith(f"VALUE hold:{pi_id} "), answer[:200]
    return json.loads(value)


def forget_hold(stack, pi_id):
    assert stack.memcached_cmd(f"delete hold:{pi_id}").strip() in ("DELETED", "NOT_FOUND")


def retrieves_of(stack, pi_id):
    return [r for r in stack.stripe_requests()
            if r["method"] == "GET" and r["path"] == f"/v1/payment_intents/{pi_id}"]


def get_from_cache(stack, pi_id, token=ALPHA):
    """GET the hold and check it was answered without asking Stripe."""
    stack.clear_stripe_requests()
    answer = stack.get_hold(pi_id, token=token)
    assert answer.status == 200, answer
    assert retrieves_of(stack, pi_id) == [], "the GET re-read Stripe instead of using the cache"
    return answer.json


def access_log_entry(stack, request_id):
    """nginx's access-log line for one X-Request-Id (nginx may write it just after answering)."""
    def entry():
        for line in (stack.run_dir / "access.log").read_text(errors="replace").splitlines():
            if f'"request_id":"{request_id}"' in line:
                return json.loads(line)
        return None

    return wait_until(entry, WAIT_S, f"the access-log line for {request_id}", interval=0.05)


# ---------------------------------------------------------------- holds and Stripe-side actions

def browser_confirm(stack, pi_id):
    confirmed = stack.confirm(pi_id)
    assert confirmed.status == 200 and confirmed.json["status"] == "requires_capture", confirmed


def authorized_hold(stack, **fields):
    """A hold the guest confirmed in the browser, whose event the service has applied."""
    hold = stack.create_hold(**fields)
    browser_confirm(stack, hold["id"])
    drain(stack)
    assert_answered_200(the_event(stack, hold["id"], CAPTURABLE))
    return hold


def stripe_action(stack, pi_id, action):
    """What the Stripe Dashboard would do (capture) or the double's clock (expire)."""
    prefix = "/_test" if action == "expire" else "/v1"
    answer = stack.stripe("POST", f"{prefix}/payment_intents/{pi_id}/{action}", {})
    assert answer.status == 200, answer
    return answer.json


def stripe_created_intent(stack, metadata):
    """A PaymentIntent made directly at Stripe, authorized with a test card."""
    params = {"amount": "4200", "currency": "usd", "capture_method": "manual",
              "payment_method_types[]": "card", "payment_method": "pm_card_visa",
              "confirm": "true", "description": "made outside ChittyCharge"}
    params.update({f"metadata[{k}]": v for k, v in metadata.items()})
    answer = stack.stripe("POST", "/v1/payment_intents", params,
                          headers={"Idempotency-Key": f"it-{uuid.uuid4()}"})
    assert answer.status == 200 and answer.json["status"] == "requires_capture", answer
    return answer.json


@pytest.fixture(autouse=True)
def settled_webhooks(request):
    """Every test starts with no delivery in flight from an earlier one."""
    for name in ("stack", "own_stack"):
        if name in request.fixturenames:
            running = request.getfixturevalue(name)
            set_webhooks(running, paused=False)
            drain(running)


# ---------------------------------------------------------------- events drive the holds

def test_seed_flow_confirm_event_updates_the_cache_that_get_serves(stack):
    hold = stack.create_hold(amount=25000, description="Security deposit, booking wh_seed")
    assert hold["status"] == "requires_payment_method"

    browser_confirm(stack, hold["id"])
    drain(stack)

    shown = get_from_cache(stack, hold["id"])  # within 2 s of the event: no refresh is due
    assert shown["status"] == "requires_capture", shown
    assert shown["amount_capturable"] == 25000, shown
    assert shown["chitty_id"] == hold["chitty_id"], shown
    record = the_event(stack, hold["id"], CAPTURABLE)
    assert_answered_200(record)
    assert worker_results(stack, record["id"]) == ["applied"]


def test_capture_events_are_delivered_and_applied(stack):
    hold = authorized_hold(stack)
    captured = stack.api("POST", f"/api/holds/{hold['id']}/capture", {})
    assert captured.status == 200 and captured.json["status"] == "succeeded", captured
    drain(stack)

    for event_type in ("charge.captured", "payment_intent.succeeded"):
        record = the_event(stack, hold["id"], event_type)
        assert_answered_200(record)
        assert worker_results(stack, record["id"]) == ["applied"], event_type
    assert cached_hold(stack, hold["id"])["pi"]["status"] == "succeeded"
    shown = get_from_cache(stack, hold["id"])
    assert (shown["status"], shown["amount_captured"]) == ("succeeded", 5000), shown


def test_capture_made_at_stripe_reaches_the_hold_through_its_events(stack):
    hold = authorized_hold(stack)
    stripe_action(stack, hold["id"], "capture")  # e.g. from the Dashboard
    drain(stack)

    assert_answered_200(the_event(stack, hold["id"], "charge.captured"))
    assert_answered_200(the_event(stack, hold["id"], "payment_intent.succeeded"))
    shown = get_from_cache(stack, hold["id"])
    assert (shown["status"], shown["amount_captured"]) == ("succeeded", 5000), shown
    assert shown["captured_at"], "captured_at comes from the payment_intent.succeeded event"


def test_cancel_event_is_delivered_and_applied(stack):
    hold = authorized_hold(stack)
    canceled = stack.api("POST", f"/api/holds/{hold['id']}/cancel",
                         {"cancellation_reason": "requested_by_customer"})
    assert canceled.status == 200 and canceled.json["status"] == "canceled", canceled
    drain(stack)

    record = the_event(stack, hold["id"], "payment_intent.canceled")
    assert_answered_200(record)
    assert worker_results(stack, record["id"]) == ["applied"]
    assert cached_hold(stack, hold["id"])["pi"]["cancellation_reason"] == "requested_by_customer"
    assert get_from_cache(stack, hold["id"])["status"] == "canceled"


def test_duplicate_event_is_acknowledged_without_a_second_effect(stack):
    hold = authorized_hold(stack)
    record = the_event(stack, hold["id"], CAPTURABLE)
    forget_hold(stack, hold["id"])  # a second application would write the cache again

    resend(stack, record["id"])
    record = the_event(stack, hold["id"], CAPTURABLE)
    assert [d["status"] for d in record["deliveries"]] == [200, 200], record["deliveries"]
    replay = send_event(stack, record["event"])
    assert replay.status == 200, replay
    assert replay.json == {"received": True, "duplicate": True}, replay

    assert cached_hold(stack, hold["id"]) is None, "the duplicate was applied again"
    assert worker_results(stack, record["id"]) == ["applied"]


def test_events_flushed_in_reverse_order_end_succeeded(stack):
    hold = stack.create_hold()
    with webhooks_paused(stack):
        browser_confirm(stack, hold["id"])
        stripe_action(stack, hold["id"], "capture")
        held = [r["type"] for r in events_of(stack, hold["id"])]
        assert held == [CAPTURABLE, "charge.captured", "payment_intent.succeeded"], held
        flush_held(stack, order="reverse")

    records = {r["type"]: r for r in events_of(stack, hold["id"])}
    for record in records.values():
        assert_answered_200(record)
    first_at = {t: r["deliveries"][0]["at"] for t, r in records.items()}
    assert first_at["payment_intent.succeeded"] < first_at[CAPTURABLE], first_at
    assert cached_hold(stack, hold["id"])["pi"]["status"] == "succeeded"
    shown = get_from_cache(stack, hold["id"])
    assert (shown["status"], shown["amount_captured"]) == ("succeeded", 5000), shown


def test_expired_authorization_ends_canceled(stack):
    hold = authorized_hold(stack)
    stripe_action(stack, hold["id"], "expire")
    drain(stack)

    for event_type in ("charge.expired", "payment_intent.canceled"):
        record = the_event(stack, hold["id"], event_type)
        assert_answered_200(record)
        assert worker_results(stack, record["id"]) == ["applied"], event_type
    cached = cached_hold(stack, hold["id"])["pi"]
    assert (cached["status"], cached["cancellation_reason"]) == ("canceled", "expired"), cached
    shown = get_from_cache(stack, hold["id"])
    assert shown["status"] == "canceled", shown
    assert shown["amount_capturable"] == 0 and shown["canceled_at"], shown
    # The audit trail: one `expired` event, whichever of the two events came first.
    trail = stack.api("GET", f"/api/holds/{hold['id']}/events").json["data"]
    lapsed = [e for e in trail if e["status_after"] == "canceled"]
    assert [e["type"] for e in lapsed] == ["expired"], trail
    assert lapsed[0]["actor"] == "stripe"


def test_event_for_a_hold_missing_from_the_cache_is_applied(stack):
    hold = stack.create_hold()
    stack.memcached_flush()
    browser_confirm(stack, hold["id"])
    drain(stack)

    assert get_from_cache(stack, hold["id"])["status"] == "requires_capture"
    record = the_event(stack, hold["id"], CAPTURABLE)
    assert_answered_200(record)
    assert worker_results(stack, record["id"]) == ["applied"]


def test_event_for_an_intent_created_at_stripe_with_our_metadata_is_applied(stack):
    pi = stripe_created_intent(stack, {"client": "alpha", "chitty_id": "CHITTY-AUTH-WHOUTSIDE01",
                                       "tier": "NEW_GUEST", "booking_id": "bk_outside"})
    drain(stack)

    shown = get_from_cache(stack, pi["id"])
    assert (shown["status"], shown["amount"]) == ("requires_capture", 4200), shown
    assert shown["chitty_id"] == "CHITTY-AUTH-WHOUTSIDE01"
    assert shown["metadata"] == {"booking_id": "bk_outside"}, shown
    record = the_event(stack, pi["id"], CAPTURABLE)
    assert_answered_200(record)
    assert worker_results(stack, record["id"]) == ["applied"]


# ---------------------------------------------------------------- signatures

def test_event_signed_only_with_the_old_secret_is_applied(stack):
    hold = stack.create_hold()
    with webhooks_paused(stack):  # only our own copy of the event reaches the service
        browser_confirm(stack, hold["id"])
        event = make_event(CAPTURABLE, stack.stripe_pi(hold["id"]))
        answer = send_event(stack, event, secrets=(OLD_SECRET,))
        assert answer.status == 200 and answer.json == {"received": True}, answer
        assert cached_hold(stack, hold["id"])["pi"]["status"] == "requires_capture"


@pytest.mark.parametrize("secrets,age_s", [
    ((SECRET,), 0),
    ((SECRET, OLD_SECRET), 0),  # what Stripe sends while a secret is rolled
    ((SECRET,), TOLERANCE_S - 1),
    ((SECRET,), -3600),  # in the future: accepted, as Stripe's libraries do
], ids=["current-secret", "both-secrets", "299s-old", "future"])
def test_valid_signature_is_accepted(stack, secrets, age_s):
    answer = send_event(stack, make_event("customer.created", {"id": "cus_x", "object": "customer"}),
                        secrets=secrets, timestamp=int(time.time()) - age_s)
    assert answer.status == 200, answer
    assert answer.json["received"] is True, answer


def test_body_one_byte_off_is_invalid_signature(stack):
    body = json.dumps(make_event("customer.created", {"id": "cus_abc", "object": "customer"})).encode()
    signature = signature_header(body)
    tampered = body.replace(b'"cus_abc"', b'"cus_abd"')
    assert len(tampered) == len(body) and sum(a != b for a, b in zip(body, tampered)) == 1
    assert_invalid(post_webhook(stack, tampered, signature), "invalid_signature")


def test_timestamp_301_seconds_old_is_invalid_signature(stack):
    event = make_event("customer.created", {"id": "cus_x", "object": "customer"})
    answer = send_event(stack, event, timestamp=int(time.time()) - (TOLERANCE_S + 1))
    assert_invalid(answer, "invalid_signature")


@pytest.mark.parametrize("signature", [
    None,
    "",
    "t=1700000000",
    "v1=" + "0" * 64,
], ids=["missing-header", "empty-header", "no-v1", "no-timestamp"])
def test_missing_or_malformed_signature_is_invalid_signature(stack, signature):
    body = json.dumps(make_event("customer.created", {"id": "cus_x", "object": "customer"})).encode()
    assert_invalid(post_webhook(stack, body, signature), "invalid_signature")


def test_event_signed_with_an_unknown_secret_is_invalid_signature(stack):
    event = make_event("customer.created", {"id": "cus_x", "object": "customer"})
    assert_invalid(send_event(stack, event, secrets=("whsec_not_ours",)), "invalid_signature")


# ---------------------------------------------------------------- what the body holds

@pytest.mark.parametrize("body", [
    b"not json",
    b"[]",
    b'{"hello": "world"}',
    b'{"id": "evt_x", "object": "event", "type": "payment_intent.succeeded"}',
    b'{"id": "evt_x", "object": "event", "type": "x", "data": {"object": {}}, "id": "evt_y"}',
], ids=["not-json", "array", "object", "no-data", "duplicate-key"])
def test_signed_body_that_is_not_an_event_is_invalid_json(stack, body):
    assert_invalid(post_webhook(stack, body, signature_header(body)), "invalid_json")


def test_unknown_event_type_is_acknowledged_and_ignored(stack):
    answer = send_event(stack, make_event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert answer.status == 200, answer
    assert answer.json == {"received": True, "ignored": True}, answer


def test_event_for_an_intent_not_created_by_chittycharge_is_ignored(stack):
    pi = stripe_created_intent(stack, {"order": "someone-else"})
    drain(stack)

    record = the_event(stack, pi["id"], CAPTURABLE)
    assert_answered_200(record)
    assert worker_results(stack, record["id"]) == ["ignored"]
    fresh = send_event(stack, make_event(CAPTURABLE, stack.stripe_pi(pi["id"])))
    assert fresh.status == 200 and fresh.json == {"received": True, "ignored": True}, fresh
    assert cached_hold(stack, pi["id"]) is None, "a foreign PaymentIntent was cached"


# ---------------------------------------------------------------- the nginx edge of /webhook

def test_webhook_body_of_2mb_is_413_json_from_nginx(stack):
    request_id = f"it-wh-{uuid.uuid4().hex}"
    body = b'{"padding":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    answer = post_webhook(stack, body, signature_header(body), headers={"X-Request-Id": request_id})
    assert answer.status == 413, answer
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    assert answer.json["code"] == "payload_too_large", answer
    assert access_log_entry(stack, request_id)["upstream_status"] == "", "a worker saw the body"


def test_signed_900kb_event_passes_nginx_to_the_worker(stack):
    request_id = f"it-wh-{uuid.uuid4().hex}"
    event = make_event("customer.created", {"id": "cus_big", "object": "customer",
                                            "description": "x" * (900 * 1024)})
    answer = send_event(stack, event, headers={"X-Request-Id": request_id})
    assert answer.status == 200, answer
    assert answer.json == {"received": True, "ignored": True}, answer
    assert access_log_entry(stack, request_id)["upstream_status"] == "200"


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_webhook_answers_carry_no_cors_headers(stack, method):
    headers = {"Origin": "https://chitty.cc"}
    if method == "OPTIONS":
        headers["Access-Control-Request-Method"] = "POST"
        answer = stack.api("OPTIONS", "/webhook", token=None, headers=headers)
    else:
        event = make_event("customer.created", {"id": "cus_x", "object": "customer"})
        answer = send_event(stack, event, headers=headers)
    cors = sorted(name for name in answer.headers if name.lower().startswith("access-control-"))
    assert cors == [], (answer, cors)


# ---------------------------------------------------------------- a stack with our own memcached

def _fresh_rate_window(min_left_s=3):
    """Waits (at most min_left_s) so the next requests share one 60 s rate-limit window."""
    left = 60 - time.time() % 60
    if left < min_left_s:
        time.sleep(left + 0.05)  # time itself: the limiter's windows follow the wall clock


def test_webhook_needs_no_token_and_is_not_rate_limited(own_stack):
    _fresh_rate_window()
    client_headers = {"ChittyID-Token": LIMITED, "Authorization": f"Bearer {LIMITED}"}
    for headers in [client_headers] * 3 + [{}]:
        answer = send_event(own_stack, make_event("customer.created", {"id": "cus_x"}),
                            headers=headers)
        assert answer.status == 200, answer

    # the 3 webhooks above did not use the client's budget of 2 ...
    for _ in range(2):
        assert own_stack.api("GET", "/api/holds?limit=1", token=LIMITED).status == 200
    over = own_stack.api("GET", "/api/holds?limit=1", token=LIMITED)
    assert over.status == 429 and over.json["code"] == "rate_limited", over
    # ... and an exhausted budget does not stop them
    answer = send_event(own_stack, make_event("customer.created", {"id": "cus_x"}),
                        headers=client_headers)
    assert answer.status == 200, answer


def test_events_are_answered_200_while_memcached_is_down(own_stack):
    memcached = own_stack.own_memcached
    hold = own_stack.create_hold()
    argv = memcached.kill(signal.SIGTERM)
    try:
        browser_confirm(own_stack, hold["id"])
        stripe_action(own_stack, hold["id"], "capture")
        drain(own_stack)
        for record in events_of(own_stack, hold["id"]):
            assert_answered_200(record)
        assert len(events_of(own_stack, hold["id"])) == 3

        replay = send_event(own_stack, the_event(own_stack, hold["id"], CAPTURABLE)["event"])
        assert replay.status == 200 and replay.json["received"] is True, replay
        shown = own_stack.get_hold(hold["id"])  # read from Stripe
        assert shown.status == 200 and shown.json["status"] == "succeeded", shown
    finally:
        memcached.start(argv)

    # caching resumes by itself once memcached is back
    def cached_again():
        cached = cached_hold(own_stack, hold["id"])
        if cached is None:
            assert own_stack.get_hold(hold["id"]).status == 200  # a read that caches it
        return cached

    cached = wait_until(cached_again, WAIT_S, "the hold to be cached after memcached came back")
    assert cached["pi"]["status"] == "succeeded"

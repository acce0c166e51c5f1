"""Refunds through the real stack: nginx -> workers -> PostgreSQL + memcached + the Stripe double.

Written from CONTRACT.md Part 2 ("Refunds", "Audit trail", "Webhooks, exactly once") and
STRIPE-NEXT §3/§7. What Stripe did is read from the double's request log and its refunds
(`/_test/refunds`); what the service recorded, from GET /api/holds/:id and its events.
"""

import uuid

from conftest import BETA_TOKEN, assert_error, wait_until
from test_webhooks import drain, events_of as stripe_events_of, resend

WAIT_S = 10


def trail(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def refunded_events(stack, hold_id):
    return [e for e in trail(stack, hold_id) if e["type"] == "refunded"]


def refund_posts(stack):
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == "/v1/refunds"]


def stripe_refunds_of(stack, pi_id):
    answer = stack.stripe("GET", "/_test/refunds")
    assert answer.status == 200, answer
    items = answer.json if isinstance(answer.json, list) else answer.json.get("data", [])
    return [r for r in items if r["payment_intent"] == pi_id]


def captured_hold(stack, amount=20000):
    hold = stack.create_hold(amount=25000)
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: stack.get_hold(hold["id"]).json["status"] == "requires_capture", WAIT_S,
               "the authorization")
    answer = stack.api("POST", f"/api/holds/{hold['id']}/capture", {"amount_to_capture": amount})
    assert answer.status == 200, answer
    drain(stack)
    return hold


def refund(stack, hold_id, body=None, headers=None, token=None):
    kwargs = {} if token is None else {"token": token}
    return stack.api("POST", f"/api/holds/{hold_id}/refund", body if body is not None else {},
                     headers=headers, **kwargs)


def test_partial_partial_again_over_the_rest_then_the_whole_remainder(stack):
    hold = captured_hold(stack, 20000)
    hold_id = hold["id"]
    assert stack.get_hold(hold_id).json["amount_refunded"] == 0

    first = refund(stack, hold_id, {"amount": 5000, "reason": "the towels were fine"})
    assert first.status == 200, first
    assert first.json["amount_refunded"] == 5000
    assert first.json["amount_captured"] == 20000 and first.json["status"] == "succeeded"

    again = refund(stack, hold_id, {"amount": 5000, "reason": "the towels were fine"})
    assert again.status == 200, again
    assert again.json["amount_refunded"] == 10000
    assert [r["amount"] for r in stripe_refunds_of(stack, hold_id)] == [5000, 5000]

    stack.clear_stripe_requests()
    over = refund(stack, hold_id, {"amount": 10001})
    assert_error(over, 409, "refund_exceeds_captured")
    assert refund_posts(stack) == []  # refused before any Stripe POST

    rest = refund(stack, hold_id)
    assert rest.status == 200, rest
    assert rest.json["amount_refunded"] == 20000
    posts = refund_posts(stack)
    assert len(posts) == 1 and posts[0]["params"]["amount"] in (10000, "10000"), posts
    assert posts[0]["params"]["payment_intent"] == hold_id
    assert "reason" not in posts[0]["params"]  # Stripe's reason enum is not our free text

    assert_error(refund(stack, hold_id), 409, "refund_exceeds_captured")
    assert len(refund_posts(stack)) == 1

    drain(stack)  # the charge.refunded webhooks of our own refunds add nothing
    events = refunded_events(stack, hold_id)
    assert [e["amount"] for e in events] == [5000, 5000, 10000], events
    assert all(e["actor"] == "client:alpha" for e in events)
    stripe_ids = [r["id"] for r in stripe_refunds_of(stack, hold_id)]
    assert sorted(e["detail"]["refund"] for e in events) == sorted(stripe_ids)
    assert events[0]["detail"]["reason"] == "the towels were fine"
    assert stack.get_hold(hold_id).json["amount_refunded"] == 20000


def test_refund_before_capture_is_409_not_refundable(stack):
    hold = stack.create_hold()
    assert stack.confirm(hold["id"]).status == 200
    stack.clear_stripe_requests()
    assert_error(refund(stack, hold["id"]), 409, "hold_not_refundable")
    assert_error(refund(stack, hold["id"], {"amount": 100}), 409, "hold_not_refundable")
    assert refund_posts(stack) == []


def test_bad_bodies_and_another_clients_hold(stack):
    hold = captured_hold(stack, 1000)
    for body, param in (({"amount": 0}, "amount"), ({"amount": "5"}, "amount"),
                        ({"reason": "x" * 501}, "reason"), ({"why": "x"}, "why")):
        assert_error(refund(stack, hold["id"], body), 400, "invalid_request", param)
    assert_error(refund(stack, hold["id"], token=BETA_TOKEN), 404, "not_found")
    assert stripe_refunds_of(stack, hold["id"]) == []


def test_a_keyed_repeat_replays_the_refund(stack):
    hold = captured_hold(stack, 3000)
    key = f"refund-{uuid.uuid4()}"
    first = refund(stack, hold["id"], {"amount": 1000}, headers={"Idempotency-Key": key})
    assert first.status == 200, first
    again = refund(stack, hold["id"], {"amount": 1000}, headers={"Idempotency-Key": key})
    assert again.status == 200, again
    assert again.json["amount_refunded"] == 1000
    assert len(stripe_refunds_of(stack, hold["id"])) == 1


def test_a_dashboard_refund_shows_once_even_when_its_webhook_comes_twice(stack):
    hold = captured_hold(stack, 8000)
    hold_id = hold["id"]
    made = stack.stripe("POST", "/v1/refunds", {"payment_intent": hold_id, "amount": 2500,
                                                 "metadata[reason]": "dashboard goodwill"},
                        headers={"Idempotency-Key": f"dash-{uuid.uuid4()}"})
    assert made.status == 200, made
    drain(stack)
    wait_until(lambda: refunded_events(stack, hold_id), WAIT_S, "the refunded event (webhook)")
    charge_refunded = [r for r in stripe_events_of(stack, hold_id)
                       if r["type"] == "charge.refunded"]
    assert len(charge_refunded) == 1
    resend(stack, charge_refunded[0]["id"])
    events = refunded_events(stack, hold_id)
    assert len(events) == 1, events
    assert events[0]["amount"] == 2500 and events[0]["actor"] == "stripe"
    assert events[0]["detail"] == {"refund": made.json["id"], "reason": "dashboard goodwill"}
    shown = wait_until(lambda: (lambda h: h if h["amount_refunded"] == 2500 else None)(
        stack.get_hold(hold_id).json), WAIT_S, "amount_refunded on the hold")
    assert shown["amount_captured"] == 8000
    # What is left is Stripe's to say: the service refuses more than 5500 before Stripe.
    stack.clear_stripe_requests()
    assert_error(refund(stack, hold_id, {"amount": 5501}), 409, "refund_exceeds_captured")
    assert refund_posts(stack) == []
    assert refund(stack, hold_id).json["amount_refunded"] == 8000

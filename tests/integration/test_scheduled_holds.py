"""Scheduled holds through the real stack (CONTRACT.md, Part 2, "The hold's life":
`authorize_at`; docs/lifecycle.md): a Customer and a SetupIntent at create, the card
saved by the guest (Stripe.js confirmCardSetup, here the double's own endpoint), the
off-session authorization made by the scheduler at authorize_at.

The scheduler runs as of the Stripe double's time (chittycharge-jobs --now), which these
tests move forward (POST /_test/clock): a stack of their own.
"""

import datetime
import time

import pytest

from conftest import (advance_to, assert_error, authorized_at, capture_before, clock_now,
                      launched_stack, wait_until)

DAY = 86400
VISA_MIT_S = 4 * DAY + 18 * 3600
WAIT_S = 15
PK = "pk_test_sandbox"


def rfc3339(unix):
    return datetime.datetime.fromtimestamp(unix, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def sched_stack():
    yield from launched_stack(prefix="chittycharge-it-sched-")


def jobs_at(stack, when):
    return stack.run_jobs(f"--now={when}")


def trail(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def types(stack, hold_id):
    return [e["type"] for e in trail(stack, hold_id)]


def ahead(days):
    """authorize_at `days` ahead of both clocks (the workers' and the double's)."""
    return max(int(time.time()), 0) + days * DAY


def save_card(stack, hold, pm="pm_card_visa"):
    """What the guest's browser does with the setup_client_secret (confirmCardSetup)."""
    saved = stack.stripe("POST", f"/v1/setup_intents/{hold['id']}/confirm",
                         {"client_secret": hold["setup_client_secret"], "payment_method": pm},
                         headers={"Authorization": f"Bearer {PK}"})
    assert saved.status == 200 and saved.json["status"] == "succeeded", saved
    return saved.json["payment_method"]


def test_a_scheduled_hold_is_authorized_by_the_scheduler_at_authorize_at(sched_stack):
    stack = sched_stack
    before = stack.count_payment_intents()
    at = ahead(3)
    hold = stack.create_hold(amount=40000, authorize_at=rfc3339(at), property_id="prop_sched",
                             customer_email="guest@example.com",
                             metadata={"booking_id": "B-7"})
    hold_id = hold["id"]
    assert hold_id.startswith("seti_"), hold
    assert hold["status"] == "scheduled"
    assert hold["setup_client_secret"].startswith(hold_id + "_secret_")
    assert "client_secret" not in hold
    assert hold["payment_intent"] is None and hold["payment_intents"] == []
    assert hold["authorize_at"] == rfc3339(at)
    assert hold["expires_at"] is None and hold["amount"] == 40000
    assert hold["chitty_id"].startswith("CHITTY-")
    assert stack.count_payment_intents() == before  # no PaymentIntent yet
    setup = stack.stripe("GET", f"/v1/setup_intents/{hold_id}").json
    assert setup["usage"] == "off_session" and setup["customer"].startswith("cus_"), setup
    assert setup["metadata"]["chitty_id"] == hold["chitty_id"]
    first = trail(stack, hold_id)
    assert [e["type"] for e in first] == ["scheduled"]
    assert first[0]["actor"] == "client:alpha" and first[0]["status_after"] == "scheduled"
    shown = stack.get_hold(hold_id)
    assert shown.status == 200 and shown.json["status"] == "scheduled"
    assert "setup_client_secret" not in shown.json
    assert stack.get_hold(hold["chitty_id"]).json["id"] == hold_id
    listed = stack.api("GET", "/api/holds?status=scheduled&limit=100").json["data"]
    assert hold_id in [h["id"] for h in listed]
    assert_error(stack.api("POST", f"/api/holds/{hold_id}/capture", {}), 409,
                 "hold_not_capturable")
    assert_error(stack.api("POST", f"/api/holds/{hold_id}/reauthorize"), 409,
                 "hold_not_authorized")

    card = save_card(stack, hold)
    assert jobs_at(stack, at - 60)["authorized"] == 0  # not yet
    advance_to(stack, at)
    report = jobs_at(stack, clock_now(stack))
    assert report["authorized"] == 1, report
    authorized = stack.get_hold(hold_id).json
    assert authorized["id"] == hold_id and authorized["chitty_id"] == hold["chitty_id"]
    assert authorized["status"] == "requires_capture"
    assert len(authorized["payment_intents"]) == 1
    pi_id = authorized["payment_intent"]
    assert authorized["payment_intents"] == [pi_id] and pi_id.startswith("pi_")
    pi = stack.stripe_pi(pi_id)
    assert pi["status"] == "requires_capture" and pi["capture_method"] == "manual"
    assert pi["amount"] == 40000 and pi["customer"] == setup["customer"]
    assert pi["payment_method"] == card
    assert pi["receipt_email"] == "guest@example.com"
    assert pi["metadata"]["chitty_id"] == hold["chitty_id"]
    assert pi["metadata"]["booking_id"] == "B-7"
    # Stripe's capture_before counts from the authorization (the charge): the off-session
    # Visa window of it.
    deadline = capture_before(stack, pi_id)
    assert deadline == authorized_at(stack, pi_id) + VISA_MIT_S
    assert authorized["expires_at"] == rfc3339(deadline)  # off-session Visa
    events = trail(stack, hold_id)
    assert [e["type"] for e in events][:2] == ["scheduled", "authorized"], events
    assert events[1]["actor"] == "scheduler" and events[1]["payment_intent"] == pi_id
    assert jobs_at(stack, clock_now(stack))["authorized"] == 0  # once
    assert stack.get_hold(pi_id).json["id"] == hold_id  # the PaymentIntent finds the hold
    captured = stack.api("POST", f"/api/holds/{hold_id}/capture", {"amount_to_capture": 15000})
    assert captured.status == 200, captured
    assert captured.json["id"] == hold_id and captured.json["amount_captured"] == 15000
    wait_until(lambda: "captured" in types(stack, hold_id), WAIT_S, "captured")
    assert types(stack, hold_id).count("authorized") == 1


def test_without_a_saved_card_the_authorization_fails_until_reauthorize(sched_stack):
    stack = sched_stack
    at = max(ahead(2), clock_now(stack) + 60)
    hold = stack.create_hold(amount=5000, authorize_at=rfc3339(at))
    hold_id = hold["id"]
    advance_to(stack, at)
    report = jobs_at(stack, clock_now(stack))
    assert report["authorization_failed"] == 1, report
    shown = stack.get_hold(hold_id).json
    assert shown["status"] == "requires_payment_method"
    assert shown["payment_intent"] is None
    assert shown["reauthorization"]["code"] == "no_payment_method"
    failed = trail(stack, hold_id)[-1]
    assert failed["type"] == "authorization_failed" and failed["actor"] == "scheduler"
    assert failed["detail"]["code"] == "no_payment_method"
    assert failed["status_after"] == "requires_payment_method"
    assert jobs_at(stack, clock_now(stack) + 600)["authorization_failed"] == 0  # not retried
    listed = stack.api("GET", "/api/holds?status=requires_payment_method&limit=100").json["data"]
    assert hold_id in [h["id"] for h in listed]
    assert_error(stack.api("POST", f"/api/holds/{hold_id}/reauthorize"), 409,
                 "no_payment_method")
    save_card(stack, hold)
    again = stack.api("POST", f"/api/holds/{hold_id}/reauthorize")
    assert again.status == 200, again
    assert again.json["id"] == hold_id and again.json["status"] == "requires_capture"
    assert again.json["reauthorization"] is None
    events = trail(stack, hold_id)
    assert [e["type"] for e in events] == ["scheduled", "authorization_failed",
                                           "authorization_failed", "authorized"], events
    assert events[-1]["actor"] == "client:alpha"


def test_a_declined_card_at_authorize_at_is_recorded_with_stripes_code(sched_stack):
    stack = sched_stack
    at = max(ahead(2), clock_now(stack) + 60)
    hold = stack.create_hold(amount=5000, authorize_at=rfc3339(at))
    save_card(stack, hold, "pm_card_chargeCustomerFail")  # saves fine, then declines
    advance_to(stack, at)
    assert jobs_at(stack, clock_now(stack))["authorization_failed"] == 1
    shown = stack.get_hold(hold["id"]).json
    assert shown["status"] == "requires_payment_method"
    reauth = shown["reauthorization"]
    assert reauth["code"] == "card_declined" and reauth["client_secret"], reauth
    failed = trail(stack, hold["id"])[-1]
    assert failed["type"] == "authorization_failed"
    assert failed["detail"]["code"] == "card_declined"
    assert failed["payment_intent"] == reauth["payment_intent"]
    # The guest confirms that PaymentIntent with another card: its webhook authorizes
    # the hold (no earlier authorization to cancel).
    confirmed = stack.stripe("POST", f"/v1/payment_intents/{reauth['payment_intent']}/confirm",
                             {"client_secret": reauth["client_secret"],
                              "payment_method": "pm_card_visa"},
                             headers={"Authorization": f"Bearer {PK}"})
    assert confirmed.status == 200 and confirmed.json["status"] == "requires_capture", confirmed
    wait_until(lambda: "authorized" in types(stack, hold["id"]), WAIT_S, "the guest's card")
    authorized = stack.get_hold(hold["id"]).json
    assert authorized["payment_intents"] == [reauth["payment_intent"]]
    assert authorized["status"] == "requires_capture" and authorized["reauthorization"] is None


def test_cancelled_or_released_before_any_authorization(sched_stack):
    stack = sched_stack
    at = max(ahead(2), clock_now(stack) + 60)
    cancelled = stack.create_hold(authorize_at=rfc3339(at))
    answer = stack.api("POST", f"/api/holds/{cancelled['id']}/cancel", {"reason": "booking off"})
    assert answer.status == 200 and answer.json["status"] == "canceled", answer
    assert_error(stack.api("POST", f"/api/holds/{cancelled['id']}/cancel", {}), 409,
                 "hold_already_canceled")
    released = stack.create_hold(authorize_at=rfc3339(at), release_after=rfc3339(at + DAY))
    advance_to(stack, at)
    report = jobs_at(stack, clock_now(stack))
    assert report["authorization_failed"] == 1, report  # only the one not cancelled
    advance_to(stack, at + DAY)
    assert jobs_at(stack, clock_now(stack))["released"] == 1
    assert stack.get_hold(released["id"]).json["status"] == "canceled"
    assert types(stack, released["id"])[-1] == "released"
    assert types(stack, cancelled["id"]) == ["scheduled", "canceled"]


def test_bad_scheduled_creates_are_refused_before_stripe(sched_stack):
    stack = sched_stack
    before = len(stack.stripe("GET", "/_test/setup_intents").json)
    now = int(time.time())
    for fields, param in (({"authorize_at": rfc3339(now - 60)}, "authorize_at"),
                          ({"authorize_at": rfc3339(now + 91 * DAY)}, "authorize_at"),
                          ({"authorize_at": "soon"}, "authorize_at"),
                          ({"authorize_at": rfc3339(now + DAY), "payment_method": "pm_card_visa"},
                           "payment_method"),
                          ({"authorize_at": rfc3339(now + 2 * DAY),
                            "release_after": rfc3339(now + DAY)}, "release_after")):
        answer = stack.api("POST", "/api/holds", dict({"amount": 5000, "description": "stay"},
                                                      **fields))
        assert_error(answer, 400, "invalid_request", param)
    assert len(stack.stripe("GET", "/_test/setup_intents").json) == before

"""Re-authorization of long stays through the real stack (CONTRACT.md, Part 2, "The hold's
life": `stay_ends_at`, `reauthorize`, POST /api/holds/:id/reauthorize; docs/lifecycle.md).

Time moves with the Stripe double's clock (POST /_test/clock: authorizations lapse at their
capture_before, off-session Visa holds get 4 d 18 h) and the scheduler runs as of the
double's time (chittycharge-jobs --now, test-mode keys only). Moving the clock lapses every
hold of the stack, so these tests have a stack of their own.
"""

import datetime
import signal
import subprocess
import time
import concurrent.futures

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
def reauth_stack():
    yield from launched_stack(prefix="chittycharge-it-reauth-")


def jobs(stack, *args):
    """A scheduler pass as of the double's time."""
    return stack.run_jobs(f"--now={clock_now(stack)}", *args)


def trail(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return answer.json["data"]


def types(stack, hold_id):
    return [e["type"] for e in trail(stack, hold_id)]


def wait_for_event(stack, hold_id, event_type, what=None):
    wait_until(lambda: event_type in types(stack, hold_id), WAIT_S, what or event_type)


def meta(params, key):
    """metadata[key] of a logged request, decoded flat or nested by the double."""
    nested = params.get("metadata")
    if isinstance(nested, dict):
        return nested.get(key)
    return params.get(f"metadata[{key}]")


def reauth_creates(stack, chitty_id):
    """The off-session PaymentIntent creates the service sent for a hold."""
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == "/v1/payment_intents"
            and str(r["params"].get("off_session")).lower() == "true"
            and meta(r["params"], "chitty_id") == chitty_id]


def cancels_of(stack, pi_id):
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == f"/v1/payment_intents/{pi_id}/cancel"]


def long_stay(stack, pm="pm_card_visa", days=10):
    """A hold for a `days`-day stay with reauthorize, authorized by the guest with `pm`."""
    start = clock_now(stack)
    hold = stack.create_hold(amount=30000, reauthorize=True, stay_ends_at=rfc3339(start + days * DAY),
                             property_id="prop_long")
    assert hold["reauthorize"] is True, hold
    assert hold["stay_ends_at"] == rfc3339(start + days * DAY)
    assert hold["reauthorization"] is None
    assert hold["payment_intent"] == hold["id"] and hold["payment_intents"] == [hold["id"]]
    first = stack.stripe_pi(hold["id"])
    assert first["customer"].startswith("cus_"), first  # the card is saved to a Customer
    assert first["setup_future_usage"] == "off_session", first
    confirmed = stack.confirm(hold["id"], pm)
    assert confirmed.status == 200, confirmed
    if confirmed.json["status"] == "requires_action":  # 3-D Secure, the guest passes it
        done = stack.stripe("POST", f"/_test/payment_intents/{hold['id']}/authenticate", {})
        assert done.status == 200, done
    wait_for_event(stack, hold["id"], "authorized")
    return hold, start


def test_a_ten_day_stay_is_re_authorized_before_the_first_authorization_lapses(reauth_stack):
    stack = reauth_stack
    hold, start = long_stay(stack)
    hold_id, chitty_id = hold["id"], hold["chitty_id"]
    first_window = capture_before(stack, hold_id)
    assert first_window == authorized_at(stack, hold_id) + 7 * DAY  # customer-initiated
    assert stack.get_hold(hold_id).json["expires_at"] == rfc3339(first_window)

    # Day 5: the authorization ends in two days, more than REAUTH_MARGIN_H (24 h): not due.
    advance_to(stack, start + 5 * DAY)
    assert jobs(stack)["reauthorized"] == 0
    assert reauth_creates(stack, chitty_id) == []

    # Day 6 + 1 h: within 24 h of the end, and the stay goes on: re-authorized off-session.
    advance_to(stack, first_window - 23 * 3600)
    report = jobs(stack)
    assert report["reauthorized"] == 1, report
    shown = stack.get_hold(hold_id).json
    assert shown["id"] == hold_id and shown["chitty_id"] == chitty_id
    assert len(shown["payment_intents"]) == 2 and shown["payment_intents"][0] == hold_id
    fresh = shown["payment_intents"][1]
    assert shown["payment_intent"] == fresh
    assert shown["status"] == "requires_capture"
    assert shown["reauthorization"] is None
    new_pi, old_pi = stack.stripe_pi(fresh), stack.stripe_pi(hold_id)
    assert new_pi["status"] == "requires_capture" and new_pi["amount"] == 30000
    assert new_pi["customer"] == old_pi["customer"]
    assert new_pi["capture_method"] == "manual"
    assert new_pi["metadata"]["chitty_id"] == chitty_id
    assert new_pi["metadata"]["property_id"] == "prop_long"
    # Off-session with the saved Visa card: a merchant-initiated window of 4 d 18 h.
    assert capture_before(stack, fresh) == authorized_at(stack, fresh) + VISA_MIT_S
    assert shown["expires_at"] == rfc3339(capture_before(stack, fresh))
    assert old_pi["status"] == "canceled"
    # The new authorization was requires_capture before the old one was cancelled.
    creates = reauth_creates(stack, chitty_id)
    assert len(creates) == 1 and creates[0]["status"] == 200, creates
    cancels = cancels_of(stack, hold_id)
    assert len(cancels) == 1 and cancels[0]["time"] > creates[0]["time"], cancels
    events = [e for e in stack.stripe("GET", "/_test/events").json
              if e["event"]["data"]["object"].get("id") in (fresh, hold_id)]
    order = [(e["event"]["data"]["object"]["id"], e["type"]) for e in events]
    assert order.index((fresh, "payment_intent.amount_capturable_updated")) < \
        order.index((hold_id, "payment_intent.canceled")), order
    wait_for_event(stack, hold_id, "reauthorized")
    reauthorized = [e for e in trail(stack, hold_id) if e["type"] == "reauthorized"]
    assert len(reauthorized) == 1
    assert reauthorized[0]["actor"] == "scheduler"
    assert reauthorized[0]["payment_intent"] == fresh
    assert reauthorized[0]["detail"]["replaces"] == hold_id
    # Every id of the chain (and the chitty_id) finds the hold.
    for asked in (hold_id, fresh, chitty_id):
        got = stack.get_hold(asked)
        assert got.status == 200 and got.json["id"] == hold_id, got
        assert got.json["payment_intent"] == fresh
    listed = stack.api("GET", "/api/holds?property_id=prop_long&limit=100").json["data"]
    assert [h["payment_intent"] for h in listed if h["id"] == hold_id] == [fresh]

    # The new window covers the stay: nothing more is due, and the first window's end
    # passes without a lapse (the old authorization is gone already).
    assert jobs(stack)["reauthorized"] == 0
    lapsed = advance_to(stack, first_window + 3600)
    assert hold_id not in lapsed["lapsed"] and fresh not in lapsed["lapsed"]
    assert jobs(stack)["reauthorized"] == 0
    time.sleep(1)  # late webhooks of the old PaymentIntent change nothing
    assert stack.get_hold(hold_id).json["status"] == "requires_capture"

    # Capture acts on the current PaymentIntent.
    captured = stack.api("POST", f"/api/holds/{hold_id}/capture", {"amount_to_capture": 12000})
    assert captured.status == 200, captured
    assert captured.json["id"] == hold_id and captured.json["payment_intent"] == fresh
    assert captured.json["amount_captured"] == 12000
    assert stack.stripe_pi(fresh)["amount_received"] == 12000
    assert stack.stripe_pi(hold_id)["status"] == "canceled"
    wait_for_event(stack, hold_id, "captured")
    final = types(stack, hold_id)
    assert final.count("reauthorized") == 1 and "canceled" not in final \
        and "expired" not in final, final
    assert final[:2] == ["created", "authorized"], final


def test_authentication_required_keeps_the_old_hold_and_the_guest_confirms_the_new_one(
        reauth_stack):
    stack = reauth_stack
    hold, start = long_stay(stack, pm="pm_card_authenticationRequired")
    hold_id = hold["id"]
    saved_card = stack.stripe_pi(hold_id)["payment_method"]
    advance_to(stack, capture_before(stack, hold_id) - 20 * 3600)
    report = jobs(stack)
    assert report["reauthorization_failed"] == 1, report
    shown = stack.get_hold(hold_id).json
    assert shown["payment_intents"] == [hold_id] and shown["payment_intent"] == hold_id
    assert shown["status"] == "requires_capture"
    assert stack.stripe_pi(hold_id)["status"] == "requires_capture"  # the old hold stays
    reauth = shown["reauthorization"]
    assert reauth["status"] == "failed" and reauth["code"] == "authentication_required", reauth
    pending = reauth["payment_intent"]
    assert reauth["client_secret"].startswith(pending + "_secret_"), reauth
    failed = [e for e in trail(stack, hold_id) if e["type"] == "reauthorization_failed"]
    assert len(failed) == 1 and failed[0]["actor"] == "scheduler"
    assert failed[0]["detail"]["code"] == "authentication_required"
    refused_view = stack.get_hold(pending)  # the refused PaymentIntent finds its hold too
    assert refused_view.status == 200 and refused_view.json["id"] == hold_id, refused_view
    assert refused_view.json["payment_intent"] == hold_id
    # Not retried by the scheduler while the guest is asked.
    assert jobs(stack)["reauthorization_failed"] == 0
    assert len(reauth_creates(stack, hold["chitty_id"])) == 1

    # The guest comes back on-session (Stripe.js with the client secret and the saved card).
    confirmed = stack.stripe("POST", f"/v1/payment_intents/{pending}/confirm",
                             {"client_secret": reauth["client_secret"],
                              "payment_method": saved_card},
                             headers={"Authorization": f"Bearer {PK}"})
    assert confirmed.status == 200 and confirmed.json["status"] == "requires_action", confirmed
    done = stack.stripe("POST", f"/_test/payment_intents/{pending}/authenticate", {})
    assert done.status == 200 and done.json["status"] == "requires_capture", done
    # Its webhook moves the chain on: the old authorization is cancelled only now.
    wait_for_event(stack, hold_id, "reauthorized", "the guest's confirmation to move the chain")
    moved = stack.get_hold(hold_id).json
    assert moved["payment_intents"] == [hold_id, pending]
    assert moved["payment_intent"] == pending and moved["reauthorization"] is None
    assert stack.stripe_pi(hold_id)["status"] == "canceled"
    event = [e for e in trail(stack, hold_id) if e["type"] == "reauthorized"][0]
    assert event["actor"] == "stripe" and event["payment_intent"] == pending
    assert len(cancels_of(stack, hold_id)) == 1


def test_a_declined_re_authorization_keeps_the_old_hold_until_the_guest_uses_another_card(
        reauth_stack):
    stack = reauth_stack
    hold, start = long_stay(stack)
    hold_id = hold["id"]
    saved_card = stack.stripe_pi(hold_id)["payment_method"]
    declining = stack.stripe("POST", f"/_test/payment_methods/{saved_card}/decline",
                             {"decline_code": "insufficient_funds"})
    assert declining.status == 200, declining
    advance_to(stack, capture_before(stack, hold_id) - 20 * 3600)
    assert jobs(stack)["reauthorization_failed"] == 1
    shown = stack.get_hold(hold_id).json
    assert shown["payment_intents"] == [hold_id]
    assert stack.stripe_pi(hold_id)["status"] == "requires_capture"
    reauth = shown["reauthorization"]
    assert reauth["code"] == "card_declined" and reauth["client_secret"], reauth
    failed = [e for e in trail(stack, hold_id) if e["type"] == "reauthorization_failed"][0]
    assert failed["detail"]["decline_code"] == "insufficient_funds", failed
    first_refused = reauth["payment_intent"]

    # POST /reauthorize: a new attempt (Stripe declines again: 402), the refused one is
    # abandoned so its client secret cannot authorize a second hold later.
    again = stack.api("POST", f"/api/holds/{hold_id}/reauthorize")
    assert_error(again, 402, "card_declined")
    assert again.json["id"] == hold_id
    assert stack.stripe_pi(first_refused)["status"] == "canceled"
    reauth = stack.get_hold(hold_id).json["reauthorization"]
    pending = reauth["payment_intent"]
    assert pending != first_refused
    keys = {r["idempotency_key"] for r in reauth_creates(stack, hold["chitty_id"])}
    assert len(keys) == 2, keys

    # The guest confirms that PaymentIntent with another card; the chain moves on.
    confirmed = stack.stripe("POST", f"/v1/payment_intents/{pending}/confirm",
                             {"client_secret": reauth["client_secret"],
                              "payment_method": "pm_card_mastercard"},
                             headers={"Authorization": f"Bearer {PK}"})
    assert confirmed.status == 200 and confirmed.json["status"] == "requires_capture", confirmed
    wait_for_event(stack, hold_id, "reauthorized")
    moved = stack.get_hold(hold_id).json
    assert moved["payment_intents"] == [hold_id, pending] and moved["reauthorization"] is None
    assert stack.stripe_pi(hold_id)["status"] == "canceled"
    assert types(stack, hold_id).count("reauthorization_failed") == 2


def test_reauthorize_now_and_its_refusals(reauth_stack):
    stack = reauth_stack
    unconfirmed = stack.create_hold(reauthorize=True,
                                    stay_ends_at=rfc3339(clock_now(stack) + 10 * DAY))
    assert_error(stack.api("POST", f"/api/holds/{unconfirmed['id']}/reauthorize"), 409,
                 "hold_not_authorized")
    assert_error(stack.api("POST", "/api/holds/pi_nope/reauthorize"), 404, "not_found")
    assert_error(stack.api("POST", f"/api/holds/{unconfirmed['id']}/reauthorize", {"x": 1}),
                 400, "invalid_request")
    hold, _ = long_stay(stack)
    answer = stack.api("POST", f"/api/holds/{hold['id']}/reauthorize")
    assert answer.status == 200, answer
    assert answer.json["id"] == hold["id"] and len(answer.json["payment_intents"]) == 2
    event = [e for e in trail(stack, hold["id"]) if e["type"] == "reauthorized"][0]
    assert event["actor"] == "client:alpha"
    bad = stack.api("POST", "/api/holds", {"amount": 5000, "description": "stay",
                                           "reauthorize": True})
    assert_error(bad, 400, "invalid_request", "stay_ends_at")


def test_two_passes_at_once_re_authorize_each_hold_once(reauth_stack):
    stack = reauth_stack
    holds = [long_stay(stack)[0] for _ in range(3)]
    advance_to(stack, max(capture_before(stack, h["id"]) for h in holds) - 20 * 3600)
    now = clock_now(stack)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: stack.run_jobs(f"--now={now}"), range(2)))
    assert sum(r["reauthorized"] for r in reports) == 3, reports
    for hold in holds:
        creates = reauth_creates(stack, hold["chitty_id"])
        assert len(creates) == 1, creates
        assert len(cancels_of(stack, hold["id"])) == 1
        wait_for_event(stack, hold["id"], "reauthorized")
        assert types(stack, hold["id"]).count("reauthorized") == 1


def test_a_pass_killed_mid_re_authorization_leaves_one_of_each_stripe_effect(reauth_stack):
    stack = reauth_stack
    hold, _ = long_stay(stack)
    hold_id, chitty_id = hold["id"], hold["chitty_id"]
    advance_to(stack, capture_before(stack, hold_id) - 20 * 3600)
    # Stripe authorizes the new hold, then its answer is held back: the pass is killed then.
    stack.stripe("POST", "/_test/faults", {"method": "POST", "path": "^/v1/payment_intents$",
                                           "delay_ms": 5000, "when": "after"})
    try:
        killed = subprocess.Popen([str(stack.run_dir / "chittycharge-jobs"),
                                   f"--now={clock_now(stack)}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: len(reauth_creates(stack, chitty_id)) == 1, WAIT_S, "the create")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        stack.stripe("DELETE", "/_test/faults")
    assert stack.get_hold(hold_id).json["payment_intents"] == [hold_id]  # not adopted yet
    assert stack.stripe_pi(hold_id)["status"] == "requires_capture"
    assert jobs(stack)["reauthorized"] == 0  # the killed pass's lease still holds
    stack.sql(f"UPDATE holds SET lease_until = now() - interval '1 second' "
              f"WHERE id = '{hold_id}'")
    assert jobs(stack)["reauthorized"] == 1
    creates = reauth_creates(stack, chitty_id)
    assert len({c["idempotency_key"] for c in creates}) == 1, creates  # one Stripe key
    assert [c["replayed"] for c in creates].count(False) == 1, creates  # one authorization
    assert len(cancels_of(stack, hold_id)) == 1
    shown = stack.get_hold(hold_id).json
    assert len(shown["payment_intents"]) == 2
    with_chitty = [pi for pi in stack.stripe("GET", "/_test/payment_intents").json
                   if pi["metadata"].get("chitty_id") == chitty_id]
    assert len(with_chitty) == 2  # the first hold and one re-authorization
    wait_for_event(stack, hold_id, "reauthorized")
    assert types(stack, hold_id).count("reauthorized") == 1

"""Itemized capture through the real stack: nginx -> workers -> PostgreSQL + memcached +
the Stripe double.

Written from CONTRACT.md, Part 2, "Claims, evidence, refunds, disputes" ("Itemized
capture") and "Audit trail": the amount captured is the items' sum; the claim is on the
hold (the capture's 200, GET, lists), in the `captured` event's detail and, summarized,
in Stripe's metadata (read from the double); every refusal is the contract's 400 with no
Stripe capture call (the double's request log) and nothing recorded (the ledger).
"""

import json
import re
import urllib.parse
import uuid

import pytest

from conftest import SANDBOX_STRIPE_KEY, assert_error, unique, wait_until

WAIT_S = 10
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

THREE_ITEMS = [
    {"description": "Broken lamp in the living room", "amount": 12000, "category": "damage"},
    {"description": "Deep clean after the party", "amount": 5000, "category": "cleaning"},
    {"description": "Key not returned", "amount": 2500, "category": "fee", "evidence": []},
]
THREE_ITEMS_SUMMARY = "3 items: damage 12000, cleaning 5000, fee 2500"


def types_of(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{hold_id}/events?limit=100")
    assert answer.status == 200, answer
    return [e["type"] for e in answer.json["data"]]


def authorized_hold(stack, **fields):
    """A hold the guest's card authorized, with its `authorized` event recorded."""
    fields.setdefault("property_id", unique("prop-claim"))
    hold = stack.create_hold(**fields)
    assert stack.confirm(hold["id"]).status == 200
    wait_until(lambda: "authorized" in types_of(stack, hold["id"]), WAIT_S,
               "the authorization to reach the audit trail (webhook)")
    return hold


def capture(stack, hold_id, body, headers=None):
    return stack.api("POST", f"/api/holds/{hold_id}/capture", body, headers=headers)


def capture_posts(stack, hold_id):
    """The Stripe capture calls the service made for this PaymentIntent."""
    return [r for r in stack.stripe_requests()
            if r["method"] == "POST" and r["path"] == f"/v1/payment_intents/{hold_id}/capture"]


def expected_claim(items, captured_at):
    return {"items": [{"description": i["description"], "amount": i["amount"],
                       "category": i["category"], "evidence": i.get("evidence") or []}
                      for i in items],
            "total": sum(i["amount"] for i in items), "captured_at": captured_at}


def items_of(count, amount):
    return [{"description": f"item {n}", "amount": amount, "category": "other"}
            for n in range(count)]


def upload_file_at_stripe(stack):
    """A real file at the Stripe double (POST /v1/files, multipart), uploaded there
    directly: it exists, but it is not evidence of any hold of the service."""
    boundary = "claimboundary" + uuid.uuid4().hex
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
            f"dispute_evidence\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"lamp.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png + \
        f"\r\n--{boundary}--\r\n".encode()
    answer = stack.request("POST", stack.stripe_port, "/v1/files", body, {
        "Authorization": f"Bearer {SANDBOX_STRIPE_KEY}",
        "Content-Type": f"multipart/form-data; boundary={boundary}"}, tls=True)
    assert answer.status == 200, answer
    return answer.json["id"]


# ---------------------------------------------------------------- the claim, recorded

def test_an_itemized_capture_of_three_items_captures_their_sum_and_records_the_claim(stack):
    hold = authorized_hold(stack, amount=25000)
    # The capture's webhook is held back as Stripe's comes after its answer (the actor below).
    stack.stripe("POST", "/_test/webhooks", {"delay_ms": 500})
    try:
        answer = capture(stack, hold["id"], {"items": THREE_ITEMS,
                                             "reason": "checkout inspection"},
                         headers={"X-Request-Id": "req-claim-three-items"})
    finally:
        stack.stripe("POST", "/_test/webhooks", {"delay_ms": 0})
    assert answer.status == 200, answer
    captured = answer.json
    assert captured["status"] == "succeeded"
    assert captured["amount_captured"] == 19500
    claim = captured["claim"]
    assert ISO_UTC.match(claim["captured_at"]), claim
    assert claim == expected_claim(THREE_ITEMS, claim["captured_at"])
    assert claim["captured_at"] == captured["captured_at"]
    # The service's metadata keys are not the client's.
    assert "claim_items" not in captured["metadata"] and "claim_total" not in captured["metadata"]

    # Stripe captured the sum, with the claim's summary in its metadata.
    at_stripe = stack.stripe_pi(hold["id"])
    assert at_stripe["amount_received"] == 19500
    assert at_stripe["metadata"]["claim_items"] == THREE_ITEMS_SUMMARY
    assert at_stripe["metadata"]["claim_total"] == "19500"
    assert at_stripe["metadata"]["capture_reason"] == "checkout inspection"
    [post] = capture_posts(stack, hold["id"])
    assert post["params"]["amount_to_capture"] == "19500", post
    assert post["idempotency_key"], post

    # The audit trail: the captured event carries the claim.
    trail = stack.api("GET", f"/api/holds/{hold['id']}/events?limit=100").json["data"]
    assert [e["type"] for e in trail] == ["created", "authorized", "captured"]
    event = trail[-1]
    assert event["actor"] == "client:alpha" and event["request_id"] == "req-claim-three-items"
    assert event["amount"] == 19500
    assert event["detail"]["claim"] == claim
    assert event["detail"]["reason"] == "checkout inspection"

    # GET and the list answer the same claim, from the ledger: memcached's loss changes nothing.
    for flush in (False, True):
        if flush:
            stack.memcached_flush()
        got = stack.get_hold(hold["id"])
        assert got.status == 200, got
        assert got.json["claim"] == claim
        by_chitty = stack.get_hold(hold["chitty_id"])
        assert by_chitty.json["claim"] == claim
        listed = stack.api("GET", "/api/holds?property_id="
                           + urllib.parse.quote(hold["property_id"]))
        assert listed.status == 200, listed
        [row] = listed.json["data"]
        assert row["id"] == hold["id"] and row["claim"] == claim
    # The ledger's row and the intent written before the Stripe call keep it too.
    [(stored,)] = stack.sql(f"SELECT claim::text FROM holds WHERE id = '{hold['id']}'")
    assert json.loads(stored) == claim
    [(request,)] = stack.sql("SELECT request::text FROM stripe_intents WHERE operation = "
                             f"'capture' AND hold_id = '{hold['id']}'")
    assert json.loads(request)["claim"] == expected_claim(THREE_ITEMS, None)


def test_a_plain_capture_has_no_claim(stack):
    hold = authorized_hold(stack)
    answer = capture(stack, hold["id"], {"amount_to_capture": 1500})
    assert answer.status == 200, answer
    assert answer.json["claim"] is None
    assert stack.get_hold(hold["id"]).json["claim"] is None
    assert "claim_items" not in stack.stripe_pi(hold["id"])["metadata"]
    fresh = stack.create_hold()
    assert fresh["claim"] is None


def test_items_with_an_equal_amount_to_capture_are_accepted(stack):
    hold = authorized_hold(stack, amount=25000)
    answer = capture(stack, hold["id"], {"items": THREE_ITEMS, "amount_to_capture": 19500})
    assert answer.status == 200, answer
    assert answer.json["amount_captured"] == 19500
    assert answer.json["claim"]["total"] == 19500


# ---------------------------------------------------------------- refusals: 400, nothing done

REFUSALS = [
    ("amount_to_capture differs from the items' sum",
     {"items": THREE_ITEMS, "amount_to_capture": 19000}, "invalid_request", "items"),
    ("the sum exceeds amount_capturable",
     {"items": [{"description": "Sofa", "amount": 4000, "category": "damage"},
                {"description": "Rug", "amount": 1001, "category": "damage"}]},
     "capture_exceeds_capturable", "items"),
    ("the sum is under usd's minimum (50)", {"items": items_of(3, 10)}, "amount_too_small",
     "items"),
    ("evidence that is an unknown file id",
     {"items": [{"description": "Lamp", "amount": 1200, "category": "damage",
                 "evidence": ["file_NoSuchFile123"]}]}, "invalid_request", "items"),
    ("51 items", {"items": items_of(51, 10)}, "invalid_request", "items"),
    ("no items", {"items": []}, "invalid_request", "items"),
    ("an item with an unknown category",
     {"items": [{"description": "Lamp", "amount": 1200, "category": "theft"}]},
     "invalid_request", "items"),
    ("a plain amount_to_capture under the minimum", {"amount_to_capture": 49}, "amount_too_small",
     "amount_to_capture"),
]


def assert_nothing_happened(stack, hold):
    """No Stripe capture call, no intent, no claim, no event: the hold is as it was."""
    assert capture_posts(stack, hold["id"]) == []
    assert stack.stripe_pi(hold["id"])["status"] == "requires_capture"
    got = stack.get_hold(hold["id"])
    assert got.json["status"] == "requires_capture" and got.json["claim"] is None, got
    assert types_of(stack, hold["id"]) == ["created", "authorized"]
    assert stack.sql("SELECT count(*) FROM stripe_intents WHERE operation = 'capture' "
                     f"AND hold_id = '{hold['id']}'") == [("0",)]
    assert stack.sql(f"SELECT claim IS NULL FROM holds WHERE id = '{hold['id']}'") == [("t",)]


@pytest.mark.parametrize("name, body, code, param", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_capture_is_the_contracts_400_with_no_stripe_call(stack, name, body, code,
                                                                      param):
    hold = authorized_hold(stack)  # 5000 usd
    for headers in (None, {"Idempotency-Key": unique("refused")}):
        assert_error(capture(stack, hold["id"], body, headers=headers), 400, code, param)
    assert_nothing_happened(stack, hold)
    # The hold still captures a valid claim afterwards.
    assert capture(stack, hold["id"], {"items": items_of(2, 25)}).status == 200


def test_evidence_of_a_file_that_is_not_this_holds_is_refused(stack):
    """A file that exists at Stripe but was not uploaded as this hold's evidence (another
    hold's evidence: tests/integration/test_evidence.py)."""
    file_id = upload_file_at_stripe(stack)
    assert file_id.startswith("file_")
    hold = authorized_hold(stack)
    body = {"items": [{"description": "Lamp", "amount": 1200, "category": "damage",
                       "evidence": [file_id]}]}
    answer = capture(stack, hold["id"], body)
    assert_error(answer, 400, "invalid_request", "items")
    assert file_id in answer.json["error"], answer
    assert_nothing_happened(stack, hold)


def test_the_minimum_is_the_holds_currencys(stack):
    gbp = authorized_hold(stack, currency="gbp")
    assert_error(capture(stack, gbp["id"], {"items": items_of(2, 14)}), 400, "amount_too_small",
                 "items")  # 28 < gbp's 30
    assert capture_posts(stack, gbp["id"]) == []
    answer = capture(stack, gbp["id"], {"items": items_of(3, 10)})  # 30: gbp's minimum
    assert answer.status == 200, answer
    assert answer.json["amount_captured"] == 30


# ---------------------------------------------------------------- Idempotency-Key

def test_a_keyed_itemized_capture_replays_and_other_items_under_its_key_are_422(stack):
    hold = authorized_hold(stack, amount=25000)
    key = {"Idempotency-Key": unique("claim-key")}
    first = capture(stack, hold["id"], {"items": THREE_ITEMS}, headers=key)
    assert first.status == 200, first
    again = capture(stack, hold["id"], {"items": THREE_ITEMS}, headers=key)
    assert again.status == 200, again
    assert again.json == first.json
    assert len(capture_posts(stack, hold["id"])) == 1  # replayed by the service
    other = {"items": THREE_ITEMS[:2]}
    assert_error(capture(stack, hold["id"], other, headers=key), 422, "idempotency_key_reused")

    # With memcached's memory of the key gone, the ledger's intent still knows it.
    stack.memcached_flush()
    replay = capture(stack, hold["id"], {"items": THREE_ITEMS}, headers=key)
    assert replay.status == 200, replay
    assert replay.json["amount_captured"] == 19500
    assert replay.json["claim"] == first.json["claim"]
    posts = capture_posts(stack, hold["id"])
    assert len(posts) == 2 and posts[1]["replayed"] is True, posts  # Stripe replayed it
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert_error(capture(stack, hold["id"], other, headers=key), 422, "idempotency_key_reused")
    assert len(capture_posts(stack, hold["id"])) == 2
    assert types_of(stack, hold["id"]).count("captured") == 1


# ---------------------------------------------------------------- metadata keys

@pytest.mark.parametrize("key", ["claim_items", "claim_total"])
def test_the_claim_metadata_keys_are_reserved(stack, key):
    answer = stack.api("POST", "/api/holds", {"amount": 5000, "currency": "usd",
                                              "description": "x", "metadata": {key: "mine"}})
    assert_error(answer, 400, "invalid_request", f"metadata[{key}]")


def test_clients_get_forty_metadata_keys(stack):
    keys = {f"k{n}": "v" for n in range(40)}
    ok = stack.api("POST", "/api/holds", {"amount": 5000, "currency": "usd", "description": "x",
                                          "metadata": keys})
    assert ok.status == 201, ok
    keys["k40"] = "v"
    assert_error(stack.api("POST", "/api/holds", {"amount": 5000, "currency": "usd",
                                                  "description": "x", "metadata": keys}),
                 400, "invalid_request", "metadata")

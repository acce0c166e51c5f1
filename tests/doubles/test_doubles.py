"""Behaviour of the Stripe and ChittyID doubles, end to end over HTTP.

Every /v1 answer goes through doubles_harness.check_stripe_reply (OpenAPI schema),
and the Stripe double runs with --self-check, so neither side can drift from
Stripe's published shapes unnoticed.
"""

import base64
import http.client
import json
import subprocess
import threading
import time

import pytest

from doubles_harness import (SPEC, TEST_CHITTY_TOKEN as CHITTY_TOKEN, TEST_SECRET_KEY as KEY,
                             TEST_WEBHOOK_SECRET as SECRET, CheckedStripe, Client, DoubleProcess,
                             WebhookReceiver, verify_stripe_signature)

PIS = "/v1/payment_intents"


def pi_path(intent, action=""):
    return f"{PIS}/{intent['id']}" + (f"/{action}" if action else "")


def error_of(reply):
    return reply.json["error"]


def held(stripe, **params):
    return stripe.create(payment_method="pm_card_visa", confirm=True, **params)


def events(stripe, drain=True):
    if drain:
        stripe.control("POST", "/_test/webhooks/drain", {"timeout_ms": 5000})
    return stripe.control("GET", "/_test/events")


def event_types(stripe):
    return [e["type"] for e in events(stripe)]


# ============================================================ auth
def test_missing_key_is_401_with_stripe_message(stripe):
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd"}, key=None, expect=401)
    assert error_of(reply)["type"] == "invalid_request_error"
    assert error_of(reply)["message"].startswith("You did not provide an API key.")
    assert reply.header("WWW-Authenticate") == 'Basic realm="Stripe"'


def test_wrong_key_is_401_and_masked(stripe):
    bad = "sk_live_abcdefghijklmnop1234"
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd"}, key=bad, expect=401)
    message = error_of(reply)["message"]
    assert message.startswith("Invalid API Key provided: ")
    assert bad not in message and message.endswith("1234")


def test_basic_auth_with_key_as_user(stripe):
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd",
                              "payment_method_types": ["card"]},
                        key=None, headers={"Authorization": f"Basic {token}"}, expect=200)
    assert reply.json["status"] == "requires_payment_method"


def test_publishable_key_only_on_confirm_and_needs_client_secret(stripe):
    intent = stripe.create()
    pk = "pk_test_51DoublePublishable000000"
    stripe.get(pi_path(intent), key=pk, expect=403)
    stripe.post(PIS, {"amount": 5000, "currency": "usd"}, key=pk, expect=403)
    missing = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa"},
                          key=pk, expect=400)
    assert error_of(missing)["param"] == "client_secret"
    wrong = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa",
                                                     "client_secret": "pi_x_secret_y"},
                        key=pk, expect=400)
    assert error_of(wrong)["code"] == "payment_intent_invalid_parameter"
    ok = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa",
                                                  "client_secret": intent["client_secret"]},
                     key=pk, expect=200)
    assert ok.json["status"] == "requires_capture"


def test_cli_flags():
    receiver = WebhookReceiver()  # its own: late deliveries of the shared double cannot mix in
    with DoubleProcess.stripe("--api-key", "sk_test_only", "--publishable-key", "pk_test_only",
                              "--webhook-url", receiver.url, "--webhook-secret", "whsec_cli",
                              "--latency-ms", "150", "--search-lag-ms", "60000",
                              "--self-check") as process:
        client = CheckedStripe(Client(process.base_url), key="sk_test_only")
        client.post(PIS, {"amount": 5000, "currency": "usd"}, key="sk_test_other", expect=401)
        started = time.monotonic()
        intent = client.create(payment_method="pm_card_visa", confirm=True)
        assert time.monotonic() - started >= 0.15
        client.post(pi_path(intent, "confirm"), {"client_secret": intent["client_secret"]},
                    key="pk_test_other", expect=401)
        delivery = receiver.wait_for(1)[0]
        assert verify_stripe_signature(delivery["body"], delivery["headers"]["Stripe-Signature"],
                                       "whsec_cli")
        assert client.get(f"{PIS}/search", {"query": "status:'requires_capture'"},
                          expect=200).json["data"] == []
        assert client.control("GET", "/_test/webhooks")["url"] == receiver.url
    receiver.close()


# ============================================================ create / validation
def test_create_without_payment_method(stripe):
    reply = stripe.post(PIS, {"amount": 25000, "currency": "USD", "capture_method": "manual",
                              "payment_method_types": ["card"], "description": "Hold",
                              "receipt_email": "guest@example.com",
                              "metadata": {"property_id": "123", "booking ref": "A/B+C"}},
                        headers={"Stripe-Version": "2026-10-28.endive"}, expect=200)
    intent = reply.json
    assert intent["status"] == "requires_payment_method"
    assert intent["currency"] == "usd" and intent["amount_capturable"] == 0
    assert intent["latest_charge"] is None and intent["payment_method"] is None
    assert intent["metadata"] == {"property_id": "123", "booking ref": "A/B+C"}
    assert intent["receipt_email"] == "guest@example.com"
    assert reply.header("Request-Id").startswith("req_")
    assert reply.header("Stripe-Version") == "2026-10-28.endive"


def test_sdk_encoded_body_from_stripe_facts(stripe):
    raw = ("amount=25000&currency=usd&capture_method=manual&description=Caf%C3%A9%20Z%C3%BCrich"
           "%20%E2%80%93%202%20nights%20%26%20tax%3Dyes&metadata[property_id]=123&metadata"
           "[booking%20ref]=A%2FB%2BC&payment_method_types[0]=card&payment_method_options[card]"
           "[request_extended_authorization]=if_available&payment_method_options[card]"
           "[request_incremental_authorization]=if_available&expand[0]=latest_charge"
           "&confirm=true&payment_method=pm_card_visa")
    reply = stripe.client.request("POST", PIS, raw.encode(), {
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 200, reply.body
    intent = reply.json
    assert intent["description"] == "Café Zürich – 2 nights & tax=yes"
    assert intent["metadata"]["booking ref"] == "A/B+C"
    card = intent["latest_charge"]["payment_method_details"]["card"]
    assert card["extended_authorization"]["status"] == "enabled"
    assert card["incremental_authorization"]["status"] == "available"
    assert card["capture_before"] - intent["latest_charge"]["created"] == 30 * 86400


@pytest.mark.parametrize("params, status, code, param", [
    ({"amount": 49, "currency": "usd"}, 400, "amount_too_small", "amount"),
    ({"amount": 100000000, "currency": "usd"}, 400, "amount_too_large", "amount"),
    ({"amount": "12.5", "currency": "usd"}, 400, "parameter_invalid_integer", "amount"),
    ({"amount": "", "currency": "usd"}, 400, "parameter_invalid_empty", "amount"),
    ({"currency": "usd"}, 400, "parameter_missing", "amount"),
    ({"amount": 5000, "currency": "usd", "foo": "1"}, 400, "parameter_unknown", "foo"),
    ({"amount": 5000, "currency": "usd", "payment_method_options": {"card": {"bogus": "1"}}},
     400, "parameter_unknown", "payment_method_options[card][bogus]"),
    ({"amount": 5000, "currency": "usd", "capture_method": "later"}, 400, None, "capture_method"),
    ({"amount": 5000, "currency": "usd", "confirm": "yes"}, 400, None, "confirm"),
    ({"amount": 5000, "currency": "xyz"}, 400, None, "currency"),
    ({"amount": 5000, "currency": "usd", "metadata": {f"k{i}": "v" for i in range(51)}},
     400, None, "metadata"),
    ({"amount": 5000, "currency": "usd", "metadata": {"k" * 41: "v"}}, 400, None,
     "metadata[" + "k" * 41 + "]"),
    ({"amount": 5000, "currency": "usd", "metadata": {"k": "v" * 501}}, 400, None, "metadata[k]"),
    ({"amount": 5000, "currency": "usd", "customer": "cus_123"}, 400, "resource_missing",
     "customer"),
])
def test_create_rejects_like_stripe(stripe, params, status, code, param):
    error = error_of(stripe.post(PIS, params, expect=status))
    assert error["type"] == "invalid_request_error"
    assert error.get("code") == code
    assert error.get("param") == param


def test_amount_minimum_depends_on_currency(stripe):
    assert stripe.create(amount=30, currency="gbp")["amount"] == 30
    message = error_of(stripe.post(PIS, {"amount": 49, "currency": "usd"}, expect=400))["message"]
    assert message == "Amount must be at least $0.50 usd"


def test_newer_card_options_are_accepted(stripe):
    options = {"card": {"request_extended_authorization": "if_available",
                        "request_incremental_authorization": "never",
                        "request_multicapture": "if_available",
                        "request_overcapture": "never"}}
    intent = stripe.create(payment_method_options=options)
    assert intent["payment_method_options"]["card"]["request_multicapture"] == "if_available"
    bad = {"card": {"request_overcapture": "sometimes"}}
    stripe.post(PIS, {"amount": 5000, "currency": "usd", "payment_method_options": bad},
                expect=400)


def test_automatic_payment_methods_need_return_url_for_server_confirm(stripe):
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa",
                              "confirm": True}, expect=400)
    assert error_of(reply)["param"] == "return_url"
    intent = stripe.post(PIS, {"amount": 5000, "currency": "usd"}, expect=200).json
    assert intent["automatic_payment_methods"] == {"allow_redirects": "always", "enabled": True}
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd", "payment_method": "pm_card_visa",
                              "confirm": True, "return_url": "https://example.com/back",
                              "capture_method": "manual"}, expect=200)
    assert reply.json["status"] == "requires_capture"


def test_not_form_encoded_and_unknown_url(stripe):
    reply = stripe.client.request("POST", PIS, b'{"amount": 5000}', {
        "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    assert reply.status == 400 and "x-www-form-urlencoded" in error_of(reply)["message"]
    missing = stripe.get("/v1/charges", expect=404)
    assert error_of(missing)["message"].startswith("Unrecognized request URL (GET: /v1/charges)")


# ============================================================ test payment methods
def test_visa_authorizes_and_holds(stripe):
    intent = held(stripe, expand=["latest_charge"])
    assert intent["status"] == "requires_capture"
    assert intent["amount_capturable"] == 25000 and intent["amount_received"] == 0
    assert intent["payment_method"].startswith("pm_") and intent["payment_method"] != "pm_card_visa"
    charge = intent["latest_charge"]
    assert charge["id"].startswith("ch_") and charge["captured"] is False
    assert charge["paid"] is True and charge["status"] == "succeeded"
    card = charge["payment_method_details"]["card"]
    assert card["last4"] == "4242"
    assert abs(card["capture_before"] - (time.time() + 7 * 86400)) < 10
    plain = stripe.get(pi_path(intent), expect=200).json
    assert plain["latest_charge"] == charge["id"]


@pytest.mark.parametrize("pm", ["pm_card_chargeDeclined", "pm_card_visa_chargeDeclined"])
def test_declined_card_is_402_card_error(stripe, pm):
    reply = stripe.post(PIS, {"amount": 25000, "currency": "usd", "capture_method": "manual",
                              "payment_method_types": ["card"], "payment_method": pm,
                              "confirm": True}, expect=402)
    error = error_of(reply)
    assert (error["type"], error["code"], error["decline_code"]) == \
        ("card_error", "card_declined", "generic_decline")
    assert error["message"] == "Your card was declined."
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["code"] == "card_declined"
    assert stripe.get(pi_path(intent), expect=200).json["status"] == "requires_payment_method"


def test_3ds_requires_action_then_authenticate(stripe):
    intent = stripe.create(payment_method="pm_card_authenticationRequired", confirm=True)
    assert intent["status"] == "requires_action"
    assert intent["next_action"]["type"] == "use_stripe_sdk"
    done = stripe.control("POST", f"/_test/payment_intents/{intent['id']}/authenticate")
    assert done["status"] == "requires_capture" and done["amount_capturable"] == 25000
    charge = stripe.get(pi_path(intent), {"expand": ["latest_charge"]}, expect=200).json
    assert charge["latest_charge"]["payment_method_details"]["card"]["three_d_secure"]


def test_3ds_failed_authentication_and_error_on_requires_action(stripe):
    intent = stripe.create(payment_method="pm_card_authenticationRequired", confirm=True)
    failed = stripe.control("POST", f"/_test/payment_intents/{intent['id']}/authenticate",
                            {"result": "failed"})
    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd", "payment_method_types": ["card"],
                              "payment_method": "pm_card_authenticationRequired", "confirm": True,
                              "error_on_requires_action": True}, expect=402)
    assert error_of(reply)["code"] == "authentication_required"


def test_unknown_payment_method(stripe):
    reply = stripe.post(PIS, {"amount": 5000, "currency": "usd", "payment_method_types": ["card"],
                              "payment_method": "pm_nope", "confirm": True}, expect=400)
    assert error_of(reply)["code"] == "resource_missing"
    assert error_of(reply)["param"] == "payment_method"


def test_confirm_endpoint_from_requires_payment_method(stripe):
    intent = stripe.create()
    stripe.post(pi_path(intent, "confirm"), {}, expect=400)  # no payment method yet
    confirmed = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa"},
                            expect=200).json
    assert confirmed["status"] == "requires_capture"
    again = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa"}, expect=400)
    assert error_of(again)["code"] == "payment_intent_unexpected_state"


def test_retry_after_decline_with_good_card(stripe):
    declined = stripe.post(PIS, {"amount": 5000, "currency": "usd",
                                 "payment_method_types": ["card"], "capture_method": "manual",
                                 "payment_method": "pm_card_chargeDeclined", "confirm": True},
                           expect=402)
    intent = error_of(declined)["payment_intent"]
    ok = stripe.post(pi_path(intent, "confirm"), {"payment_method": "pm_card_visa"}, expect=200)
    assert ok.json["status"] == "requires_capture" and ok.json["last_payment_error"] is None


# ============================================================ retrieve / update
def test_retrieve_unknown_is_resource_missing(stripe):
    error = error_of(stripe.get(f"{PIS}/pi_x", expect=404))
    assert error["type"] == "invalid_request_error" and error["code"] == "resource_missing"
    assert error["param"] == "intent" and error["message"] == "No such payment_intent: 'pi_x'"


def test_retrieve_rejects_unknown_query_param_and_bad_expand(stripe):
    intent = stripe.create()
    stripe.get(pi_path(intent), {"foo": "1"}, expect=400)
    error = error_of(stripe.get(pi_path(intent), {"expand": ["amount"]}, expect=400))
    assert error["message"] == "This property cannot be expanded (amount)."


def test_update_merges_and_unsets_metadata(stripe):
    intent = stripe.create(metadata={"a": "1", "b": "2"}, description="old",
                           receipt_email="x@example.com")
    updated = stripe.post(pi_path(intent), {"metadata": {"b": "", "c": "3"}, "description": "new",
                                            "receipt_email": ""}, expect=200).json
    assert updated["metadata"] == {"a": "1", "c": "3"}
    assert updated["description"] == "new" and updated["receipt_email"] is None
    cleared = stripe.post(pi_path(intent), {"metadata": ""}, expect=200).json
    assert cleared["metadata"] == {}


def test_update_amount_after_authorization_is_refused(stripe):
    intent = held(stripe)
    error = error_of(stripe.post(pi_path(intent), {"amount": 30000}, expect=400))
    assert error["code"] == "payment_intent_unexpected_state"
    meta = stripe.post(pi_path(intent), {"metadata": {"chitty_id": "CHITTY-AUTH-X"}}, expect=200)
    assert meta.json["metadata"]["chitty_id"] == "CHITTY-AUTH-X"


# ============================================================ capture / cancel / increment
def test_full_capture(stripe):
    intent = held(stripe)
    captured = stripe.post(pi_path(intent, "capture"), {"metadata": {"capture_reason": "checkout"},
                                                        "expand": ["latest_charge"]},
                           expect=200).json
    assert captured["status"] == "succeeded"
    assert (captured["amount_received"], captured["amount_capturable"]) == (25000, 0)
    assert captured["metadata"]["capture_reason"] == "checkout"
    charge = captured["latest_charge"]
    assert charge["captured"] is True and charge["amount_captured"] == 25000
    assert charge["amount_refunded"] == 0


def test_partial_capture_releases_rest(stripe):
    intent = held(stripe)
    captured = stripe.post(pi_path(intent, "capture"), {"amount_to_capture": 10000},
                           expect=200).json
    assert (captured["status"], captured["amount_received"], captured["amount_capturable"]) == \
        ("succeeded", 10000, 0)


def test_capture_errors(stripe):
    intent = stripe.create()
    error = error_of(stripe.post(pi_path(intent, "capture"), expect=400))
    assert error["code"] == "payment_intent_unexpected_state"
    assert "requires_payment_method" in error["message"]
    intent = held(stripe)
    too_much = error_of(stripe.post(pi_path(intent, "capture"), {"amount_to_capture": 25001},
                                    expect=400))
    assert too_much["code"] == "amount_too_large" and too_much["param"] == "amount_to_capture"
    stripe.post(pi_path(intent, "capture"), {"final_capture": False}, expect=400)
    stripe.post(pi_path(intent, "capture"), expect=200)
    twice = error_of(stripe.post(pi_path(intent, "capture"), expect=400))
    assert "succeeded" in twice["message"]


def test_multicapture_keeps_the_rest_capturable(stripe):
    intent = held(stripe, payment_method_options={"card": {"request_multicapture": "if_available"}})
    first = stripe.post(pi_path(intent, "capture"), {"amount_to_capture": 5000,
                                                     "final_capture": False}, expect=200).json
    assert (first["status"], first["amount_capturable"], first["amount_received"]) == \
        ("requires_capture", 20000, 5000)


def test_cancel(stripe):
    intent = held(stripe)
    canceled = stripe.post(pi_path(intent, "cancel"), {"cancellation_reason": "abandoned"},
                           expect=200).json
    assert canceled["status"] == "canceled" and canceled["cancellation_reason"] == "abandoned"
    assert canceled["amount_capturable"] == 0 and abs(canceled["canceled_at"] - time.time()) < 10
    again = error_of(stripe.post(pi_path(intent, "cancel"), expect=400))
    assert again["code"] == "payment_intent_unexpected_state" and "canceled" in again["message"]
    stripe.post(pi_path(stripe.create(), "cancel"), {"cancellation_reason": "bored"}, expect=400)
    assert stripe.post(pi_path(stripe.create(), "cancel"), expect=200).json["cancellation_reason"] \
        is None


def test_cancel_captured_is_refused(stripe):
    intent = held(stripe)
    stripe.post(pi_path(intent, "capture"), expect=200)
    stripe.post(pi_path(intent, "cancel"), expect=400)


def test_increment_authorization(stripe):
    plain = held(stripe)
    stripe.post(pi_path(plain, "increment_authorization"), {"amount": 30000}, expect=400)
    intent = held(stripe, payment_method_options={
        "card": {"request_incremental_authorization": "if_available"}})
    more = stripe.post(pi_path(intent, "increment_authorization"), {"amount": 30000},
                       expect=200).json
    assert (more["amount"], more["amount_capturable"]) == (30000, 30000)


def test_expire_control(stripe):
    intent = held(stripe)
    expired = stripe.control("POST", f"/_test/payment_intents/{intent['id']}/expire")
    assert expired["status"] == "canceled" and expired["cancellation_reason"] == "expired"
    old = stripe.get(pi_path(intent), headers={"Stripe-Version": "2024-06-20"}, expect=200)
    assert old.json["cancellation_reason"] == "automatic"
    assert event_types(stripe)[-2:] == ["charge.expired", "payment_intent.canceled"]


# ============================================================ list / search / events
def _three_intents(stripe):
    first = stripe.create(metadata={"property_id": "p1", "tenant_id": "t1"})
    second = held(stripe, metadata={"property_id": "p1", "tenant_id": "t2"})
    third = stripe.create(metadata={"property_id": "p2"}, amount=9000)
    return first, second, third


def search(stripe, query, expect=200, **params):
    return stripe.get(f"{PIS}/search", dict(query=query, **params), expect=expect)


def test_search_clauses(stripe):
    first, second, third = _three_intents(stripe)
    ids = lambda reply: [i["id"] for i in reply.json["data"]]  # noqa: E731
    reply = search(stripe, "metadata['property_id']:'p1'")
    assert ids(reply) == [second["id"], first["id"]]  # newest first
    assert reply.json["object"] == "search_result" and reply.json["url"] == f"{PIS}/search"
    assert ids(search(stripe, "metadata['property_id']:'P1' AND status:'requires_capture'")) == \
        [second["id"]]
    assert ids(search(stripe, 'metadata["property_id"]:"p2" or metadata["tenant_id"]:"t1"')) == \
        [third["id"], first["id"]]
    assert ids(search(stripe, "-metadata['property_id']:'p1'")) == [third["id"]]
    assert ids(search(stripe, "amount>=9000 amount<10000")) == [third["id"]]
    created = first["created"]
    assert len(ids(search(stripe, f"created>={created} AND created<={created + 60}"))) == 3
    assert ids(search(stripe, f"created>{created + 60}")) == []
    assert ids(search(stripe, f"created<{created}")) == []


def test_search_pagination(stripe):
    first, second, third = _three_intents(stripe)
    page1 = search(stripe, "currency:'usd'", limit=2).json
    assert page1["has_more"] is True and len(page1["data"]) == 2
    page2 = search(stripe, "currency:'usd'", limit=2, page=page1["next_page"]).json
    assert page2["has_more"] is False and page2["next_page"] is None
    assert [i["id"] for i in page2["data"]] == [first["id"]]


@pytest.mark.parametrize("query", ["amount~'5'", "status:requires_capture", "foo:'x'",
                                   "status:'a' AND status:'b' OR status:'c'", "(status:'x')", ""])
def test_search_rejects_unsupported_syntax(stripe, query):
    error = error_of(search(stripe, query, expect=400))
    assert error["type"] == "invalid_request_error"


def test_search_limit_and_lag(stripe):
    search(stripe, "status:'x'", limit=101, expect=400)
    stripe.control("POST", "/_test/search-lag", {"ms": 400})
    intent = stripe.create(metadata={"k": "lag"})
    assert search(stripe, "metadata['k']:'lag'").json["data"] == []
    assert stripe.get(pi_path(intent), expect=200).json["id"] == intent["id"]
    time.sleep(0.45)
    assert [i["id"] for i in search(stripe, "metadata['k']:'lag'").json["data"]] == [intent["id"]]


def test_list_payment_intents(stripe):
    first, second, third = _three_intents(stripe)
    page = stripe.get(PIS, {"limit": 2}, expect=200).json
    assert page["object"] == "list" and page["has_more"] is True
    assert [i["id"] for i in page["data"]] == [third["id"], second["id"]]
    rest = stripe.get(PIS, {"limit": 2, "starting_after": second["id"],
                            "expand": ["data.latest_charge"]}, expect=200).json
    assert [i["id"] for i in rest["data"]] == [first["id"]] and rest["has_more"] is False


def test_events_api(stripe):
    intent = held(stripe)
    stripe.post(pi_path(intent, "capture"), expect=200)
    listed = stripe.get("/v1/events", {"limit": 10}, expect=200).json
    assert [e["type"] for e in listed["data"]] == [
        "payment_intent.succeeded", "charge.captured", "payment_intent.amount_capturable_updated"]
    only = stripe.get("/v1/events", {"type": "charge.*"}, expect=200).json["data"]
    assert [e["type"] for e in only] == ["charge.captured"]
    one = stripe.get(f"/v1/events/{only[0]['id']}", expect=200).json
    assert one["data"]["object"]["captured"] is True
    stripe.get("/v1/events/evt_nope", expect=404)


# ============================================================ idempotency
def _create_params(**extra):
    return dict({"amount": 5000, "currency": "usd", "payment_method_types": ["card"],
                 "capture_method": "manual"}, **extra)


def test_idempotent_replay(stripe):
    headers = {"Idempotency-Key": "hold-1"}
    first = stripe.post(PIS, _create_params(), headers=headers, expect=200)
    second = stripe.post(PIS, _create_params(), headers=headers, expect=200)
    assert second.body == first.body
    assert second.header("Idempotent-Replayed") == "true"
    assert first.header("Idempotent-Replayed") is None
    assert second.header("Original-Request") == first.header("Request-Id")
    assert len(stripe.control("GET", "/_test/payment_intents")) == 1


def test_idempotency_mismatch_and_scope(stripe):
    headers = {"Idempotency-Key": "hold-2"}
    first = stripe.post(PIS, _create_params(), headers=headers, expect=200).json
    changed = error_of(stripe.post(PIS, _create_params(amount=6000), headers=headers, expect=400))
    assert changed["type"] == "idempotency_error"
    other_endpoint = stripe.post(f"{PIS}/{first['id']}/cancel", headers=headers, expect=400)
    assert error_of(other_endpoint)["type"] == "idempotency_error"
    other_key = stripe.post(PIS, _create_params(), headers=headers, key="sk_test_other",
                            expect=200).json
    assert other_key["id"] != first["id"]


def test_validation_failures_are_not_stored(stripe):
    headers = {"Idempotency-Key": "hold-3"}
    stripe.post(PIS, _create_params(amount=10), headers=headers, expect=400)
    reply = stripe.post(PIS, _create_params(), headers=headers, expect=200)
    assert reply.header("Idempotent-Replayed") is None


def test_declines_are_replayed(stripe):
    headers = {"Idempotency-Key": "hold-4"}
    params = _create_params(payment_method="pm_card_chargeDeclined", confirm=True)
    first = stripe.post(PIS, params, headers=headers, expect=402)
    second = stripe.post(PIS, params, headers=headers, expect=402)
    assert second.body == first.body and second.header("Idempotent-Replayed") == "true"


def test_concurrent_same_key_is_409(stripe, stripe_process):
    stripe.control("POST", "/_test/faults", {"method": "POST", "path": f"^{PIS}$",
                                             "delay_ms": 600})
    headers = {"Idempotency-Key": "hold-5"}
    results = {}

    def slow():
        results["first"] = CheckedStripe(Client(stripe_process.base_url)).post(
            PIS, _create_params(), headers=headers)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    busy = stripe.post(PIS, _create_params(), headers=headers, expect=409)
    assert error_of(busy)["code"] == "idempotency_key_in_use"
    thread.join()
    assert results["first"].status == 200
    replay = stripe.post(PIS, _create_params(), headers=headers, expect=200)
    assert replay.json["id"] == results["first"].json["id"]


def test_executed_500_is_replayed(stripe):
    stripe.control("POST", "/_test/faults", {"path": f"^{PIS}$", "status": 500, "when": "after"})
    headers = {"Idempotency-Key": "hold-6"}
    first = stripe.post(PIS, _create_params(), headers=headers, expect=500)
    assert error_of(first)["type"] == "api_error"
    again = stripe.post(PIS, _create_params(), headers=headers, expect=500)
    assert again.header("Idempotent-Replayed") == "true"
    assert len(stripe.control("GET", "/_test/payment_intents")) == 1  # it did execute


# ============================================================ faults and latency
def test_fault_status_count_then_recovery(stripe):
    stripe.control("POST", "/_test/faults", {"method": "POST", "path": f"^{PIS}$", "status": 500,
                                             "count": 2,
                                             "headers": {"Stripe-Should-Retry": "true"}})
    for _ in range(2):
        reply = stripe.post(PIS, _create_params(), expect=500)
        assert reply.header("Stripe-Should-Retry") == "true"
    stripe.post(PIS, _create_params(), expect=200)
    assert stripe.control("GET", "/_test/faults") == []
    assert len(stripe.control("GET", "/_test/payment_intents")) == 1


def test_fault_custom_body_and_get_path(stripe):
    intent = stripe.create()
    body = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow"}}
    stripe.control("POST", "/_test/faults", {"method": "GET", "path": "^/v1/payment_intents/pi_",
                                             "status": 429, "body": body})
    assert stripe.get(pi_path(intent), expect=429).json == body
    stripe.get(pi_path(intent), expect=200)


def test_fault_reset_before_and_after(stripe):
    stripe.control("POST", "/_test/faults", {"method": "POST", "path": f"^{PIS}$", "reset": True})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        stripe.client.stripe("POST", PIS, _create_params(), KEY)
    assert stripe.control("GET", "/_test/payment_intents") == []
    log = stripe.control("GET", "/_test/requests")
    assert log[-1]["status"] is None and log[-1]["fault"] == "reset"
    stripe.control("POST", "/_test/faults", {"path": f"^{PIS}$", "reset": True, "when": "after"})
    headers = {"Idempotency-Key": "hold-7"}
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        stripe.client.stripe("POST", PIS, _create_params(), KEY, headers)
    created = stripe.control("GET", "/_test/payment_intents")
    assert len(created) == 1  # the answer was lost, the work was done
    retry = stripe.post(PIS, _create_params(), headers=headers, expect=200)
    assert retry.json["id"] == created[0]["id"] and retry.header("Idempotent-Replayed") == "true"


def test_fault_delay_and_latency(stripe):
    stripe.control("POST", "/_test/faults", {"path": "^/v1/", "delay_ms": 300})
    started = time.monotonic()
    stripe.post(PIS, _create_params(), expect=200)
    assert time.monotonic() - started >= 0.3
    stripe.control("POST", "/_test/latency", {"ms": 200})
    started = time.monotonic()
    stripe.post(PIS, _create_params(), expect=200)
    assert time.monotonic() - started >= 0.2
    stripe.control("POST", "/_test/latency", {"ms": 0})


def test_bad_fault_specs_are_400(stripe):
    for spec in ({"path": "("}, {"path": "x", "status": "500"}, {"path": "x", "when": "later"},
                 {"bogus": 1}):
        reply = stripe.client.request("POST", "/_test/faults", json.dumps(spec).encode())
        assert reply.status == 400, spec


# ============================================================ webhooks
def _verify_all(deliveries):
    for delivery in deliveries:
        header = delivery["headers"]["Stripe-Signature"]
        assert verify_stripe_signature(delivery["body"], header, SECRET), header
    return [json.loads(d["body"]) for d in deliveries]


def test_webhooks_are_signed_and_typed(stripe, receiver):
    headers = {"Idempotency-Key": "wh-1"}
    reply = stripe.post(PIS, _create_params(payment_method="pm_card_visa", confirm=True),
                        headers=headers, expect=200)
    intent = reply.json
    stripe.post(pi_path(intent, "capture"), expect=200)
    sent = _verify_all(receiver.wait_for(3))
    assert [e["type"] for e in sent] == ["payment_intent.amount_capturable_updated",
                                         "charge.captured", "payment_intent.succeeded"]
    first = sent[0]
    assert first["object"] == "event" and first["api_version"] == "2026-10-28.endive"
    assert first["id"].startswith("evt_") and first["livemode"] is False
    assert first["pending_webhooks"] == 1
    assert first["request"] == {"id": reply.header("Request-Id"), "idempotency_key": "wh-1"}
    assert first["data"]["object"]["status"] == "requires_capture"
    for event in sent:
        assert not event_schema_errors(event)
    recorded = events(stripe)
    assert all(r["state"] == "delivered" and r["deliveries"][0]["status"] == 200 for r in recorded)


def event_schema_errors(event):
    errors = SPEC.validate(event, {"$ref": "#/components/schemas/event"})
    obj = event["data"]["object"]
    errors += SPEC.validate(obj, {"$ref": f"#/components/schemas/{obj['object']}"})
    return errors


def test_webhook_types_for_other_transitions(stripe, receiver):
    stripe.post(PIS, _create_params(payment_method="pm_card_chargeDeclined", confirm=True),
                expect=402)
    stripe.create(payment_method="pm_card_authenticationRequired", confirm=True)
    stripe.post(pi_path(held(stripe), "cancel"), expect=200)
    assert event_types(stripe) == ["payment_intent.payment_failed",
                                   "payment_intent.requires_action",
                                   "payment_intent.amount_capturable_updated",
                                   "payment_intent.canceled"]
    _verify_all(receiver.wait_for(4))


def test_paused_flush_reverse_duplicate(stripe, receiver):
    stripe.control("POST", "/_test/webhooks", {"paused": True})
    intent = held(stripe)
    stripe.post(pi_path(intent, "capture"), expect=200)
    time.sleep(0.1)
    assert receiver.received == []
    assert [e["state"] for e in events(stripe)] == ["held"] * 3
    assert stripe.control("POST", "/_test/webhooks/flush",
                          {"order": "reverse", "duplicate": True}) == {"flushed": 3}
    sent = _verify_all(receiver.wait_for(6))
    assert [e["type"] for e in sent] == [
        "payment_intent.succeeded", "payment_intent.succeeded", "charge.captured",
        "charge.captured", "payment_intent.amount_capturable_updated",
        "payment_intent.amount_capturable_updated"]


def test_webhook_retries_then_gives_up(stripe, receiver):
    receiver.statuses = [500, 503]
    held(stripe)
    deliveries = receiver.wait_for(3)
    assert [d["status"] for d in deliveries] == [500, 503, 200]
    record = events(stripe)[0]
    assert [d["attempt"] for d in record["deliveries"]] == [1, 2, 3]
    assert record["deliveries"][1]["at"] - record["deliveries"][0]["at"] >= 0.19
    receiver.clear()
    receiver.statuses = [500] * 4
    stripe.post(pi_path(stripe.get(PIS).json["data"][0], "cancel"), expect=200)
    receiver.wait_for(4)
    last = events(stripe)[-1]
    assert last["state"] == "failed" and len(last["deliveries"]) == 4
    failed = stripe.get("/v1/events", {"delivery_success": False}, expect=200).json["data"]
    assert [e["id"] for e in failed] == [last["id"]]


def test_resend_and_unreachable_endpoint(stripe, receiver):
    held(stripe)
    receiver.wait_for(1)
    event_id = events(stripe)[0]["id"]
    stripe.control("POST", f"/_test/events/{event_id}/resend")
    assert [json.loads(d["body"])["id"] for d in receiver.wait_for(2)] == [event_id, event_id]
    stripe.control("POST", "/_test/webhooks", {"url": "http://127.0.0.1:9/nothing",
                                               "retry_delay_ms": 10})
    held(stripe)
    record = events(stripe)[-1]
    assert record["state"] == "failed" and record["deliveries"][0]["error"]


def test_rotating_secrets_sign_twice(stripe, receiver):
    stripe.control("POST", "/_test/webhooks", {"secret": ["whsec_old", "whsec_new"]})
    held(stripe)
    delivery = receiver.wait_for(1)[0]
    header = delivery["headers"]["Stripe-Signature"]
    assert header.count("v1=") == 2
    assert verify_stripe_signature(delivery["body"], header, "whsec_old")
    assert verify_stripe_signature(delivery["body"], header, "whsec_new")


def test_api_answer_does_not_wait_for_delivery(stripe, receiver):
    receiver.delay_s = 1.0
    started = time.monotonic()
    held(stripe)
    stripe.post(pi_path(stripe.get(PIS).json["data"][0], "capture"), expect=200)
    assert time.monotonic() - started < 0.5
    assert len(events(stripe)) == 3  # drained: all delivered, slowly


def test_webhook_delay(stripe, receiver):
    stripe.control("POST", "/_test/webhooks", {"delay_ms": 300})
    started = time.time()
    held(stripe)
    delivery_time = events(stripe)[0]["deliveries"][0]["at"]
    assert delivery_time - started >= 0.29


# ============================================================ control API and robustness
def test_request_log_never_stores_the_key(stripe):
    stripe.post(PIS, _create_params(metadata={"a": "b"}), expect=200,
                headers={"Stripe-Version": "2026-10-28.endive", "Idempotency-Key": "log-1"})
    stripe.post(PIS, {"amount": 5000}, key=None, expect=401)
    stripe.post(pi_path(stripe.create(), "confirm"), {"client_secret": "x"},
                key="pk_test_abc", expect=400)
    log = stripe.control("GET", "/_test/requests")
    assert KEY not in json.dumps(log)
    assert [entry["auth"] for entry in log] == ["sk_test", "none", "sk_test", "pk_test"]
    first = log[0]
    assert first["params"]["metadata"] == {"a": "b"}
    assert first["params"]["payment_method_types"] == {"0": "card"}
    assert (first["idempotency_key"], first["stripe_version"], first["status"]) == \
        ("log-1", "2026-10-28.endive", 200)
    assert "authorization" not in first["headers"]
    assert stripe.control("DELETE", "/_test/requests") == {"cleared": 4}
    assert stripe.control("GET", "/_test/requests") == []


def test_control_listings_and_clears(stripe):
    stripe.control("POST", "/_test/faults", {"path": "^/v1/events", "status": 503, "count": -1})
    assert stripe.control("GET", "/_test/faults")[0]["remaining"] == -1
    stripe.get("/v1/events", expect=503)
    stripe.get("/v1/events", expect=503)
    assert stripe.control("DELETE", "/_test/faults") == {"cleared": 1}
    stripe.get("/v1/events", expect=200)
    headers = {"Idempotency-Key": "ctl-1"}
    stripe.post(PIS, _create_params(), headers=headers, expect=200)
    assert stripe.control("DELETE", "/_test/idempotency") == {"cleared": 1}
    assert stripe.post(PIS, _create_params(), headers=headers, expect=200) \
        .header("Idempotent-Replayed") is None  # the key was forgotten: a second intent
    settings = stripe.control("GET", "/_test/webhooks")
    assert settings["secrets_configured"] == 1 and settings["paused"] is False
    intent = held(stripe)
    charges = stripe.control("GET", "/_test/charges")
    assert [c["id"] for c in charges] == [intent["latest_charge"]]


def test_reset_clears_everything(stripe):
    held(stripe)
    stripe.control("POST", "/_test/faults", {"path": "x", "status": 500})
    stripe.control("POST", "/_test/reset")
    assert stripe.control("GET", "/_test/payment_intents") == []
    assert stripe.control("GET", "/_test/events") == []
    assert stripe.control("GET", "/_test/faults") == []
    assert stripe.control("GET", "/_test/requests") == []
    assert stripe.control("GET", "/_test/charges") == []


def test_garbage_never_crashes(stripe):
    raw = stripe.client.request
    assert raw("POST", PIS, b"%%%&&==&a[b]]=1&\xff\xfe", {
        "Authorization": f"Bearer {KEY}"}).status == 400
    auth = {"Authorization": f"Bearer {KEY}"}
    assert raw("POST", PIS, b"amount=1&amount[x]=2", auth).status == 400
    assert raw("POST", "/_test/faults", b"{not json").status == 400
    assert raw("POST", "/_test/webhooks", b"[1, 2]").status == 400
    assert raw("GET", "/_test/nothing").status == 404
    assert raw("DELETE", "/_test/reset").status == 405
    assert raw("POST", "/_test/payment_intents/pi_nope/expire").status == 404
    assert raw("GET", "/").status == 404
    assert raw("HEAD", PIS).status == 404 and raw("HEAD", "/_test/health").status == 405
    assert raw("GET", "/_test/health").status == 200


def test_chunked_request_body(stripe):
    conn = http.client.HTTPConnection("127.0.0.1", stripe.client.port, timeout=5)
    body = "amount=5000&currency=usd&payment_method_types[]=card".encode()
    conn.request("POST", PIS, body=iter([body[:10], body[10:]]), encode_chunked=True,
                 headers={"Authorization": f"Bearer {KEY}",
                          "Content-Type": "application/x-www-form-urlencoded"})
    assert conn.getresponse().status == 200
    conn.close()


def test_keep_alive_answers_do_not_stall(stripe):
    stripe.client.request("GET", "/_test/health")
    started = time.monotonic()
    for _ in range(20):
        assert stripe.post(PIS, _create_params(), expect=200).status == 200
    per_request = (time.monotonic() - started) / 20
    assert per_request < 0.02, f"{per_request * 1000:.1f} ms per kept-alive request"


# ============================================================ TLS
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl is not available")
    return str(cert), str(key)


def test_tls_mode(certificate):
    cert, key = certificate
    with DoubleProcess.stripe("--tls-cert", cert, "--tls-key", key, "--self-check",
                              tls=True) as process:
        client = CheckedStripe(Client(process.base_url))
        intent = client.create(payment_method="pm_card_visa", confirm=True)
        assert intent["status"] == "requires_capture"
        plain = Client(process.base_url.replace("https", "http"), timeout_s=2)
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            plain.request("GET", "/_test/health")
    with DoubleProcess.chittyid(CHITTY_TOKEN, "--tls-cert", cert, "--tls-key", key,
                                tls=True) as process:
        assert Client(process.base_url).request("GET", "/health").status == 200


# ============================================================ ChittyID
def mint(client, body, token=CHITTY_TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.request("POST", "/v1/mint", json.dumps(body).encode(), headers)


def test_chittyid_mint(chittyid):
    reply = mint(chittyid, {"entity_type": "AUTH", "metadata": {"pi": "pi_123"}})
    assert reply.status == 200
    assert reply.json["entity_type"] == "AUTH"
    chitty_id = reply.json["chitty_id"]
    assert chitty_id.startswith("CHITTY-AUTH-") and len(chitty_id) == len("CHITTY-AUTH-") + 14
    suffix = chitty_id.rsplit("-", 1)[1]
    assert suffix.isalnum() and suffix.upper() == suffix
    assert chittyid.control("GET", "/_test/minted")[0]["metadata"] == {"pi": "pi_123"}


def test_chittyid_auth_and_validation(chittyid):
    assert mint(chittyid, {"entity_type": "AUTH"}, token=None).status == 401
    assert mint(chittyid, {"entity_type": "AUTH"}, token="wrong").status == 401
    assert mint(chittyid, {"metadata": {}}).status == 400
    assert chittyid.request("POST", "/v1/mint", b"{oops", {
        "Authorization": f"Bearer {CHITTY_TOKEN}"}).status == 400
    assert chittyid.request("GET", "/health").json == {"status": "ok"}
    log = chittyid.control("GET", "/_test/requests")
    assert [e["auth"] for e in log[:3]] == ["none", "invalid", "ok"]
    assert CHITTY_TOKEN not in json.dumps(log)


def test_chittyid_modes(chittyid):
    chittyid.control("POST", "/_test/mode", {"mode": "down"})
    assert mint(chittyid, {"entity_type": "AUTH"}).status == 503
    assert chittyid.request("GET", "/health").status == 503
    assert chittyid.request("GET", "/_test/health").status == 200
    chittyid.control("POST", "/_test/mode", {"mode": "slow", "delay_ms": 300})
    started = time.monotonic()
    assert mint(chittyid, {"entity_type": "AUTH"}).status == 200
    assert time.monotonic() - started >= 0.3
    chittyid.control("POST", "/_test/mode", {"mode": "reset"})
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        mint(chittyid, {"entity_type": "AUTH"})
    chittyid.control("POST", "/_test/mode", {"mode": "up"})
    assert mint(chittyid, {"entity_type": "AUTH"}).status == 200
    assert chittyid.request("POST", "/_test/mode", b'{"mode": "sideways"}').status == 400
    assert chittyid.control("DELETE", "/_test/requests")["cleared"] > 0
    mint(chittyid, {"entity_type": "AUTH"})
    chittyid.control("POST", "/_test/reset")
    assert chittyid.control("GET", "/_test/requests") == []
    assert chittyid.control("GET", "/_test/minted") == []

"""The hold's life in the Stripe double (issue 12): Customers, PaymentMethods,
SetupIntents, saved cards on PaymentIntents (setup_future_usage, off_session),
the movable clock with lapsing authorizations, and the events list the
reconciler reads.

Every /v1 answer goes through doubles_harness.check_stripe_reply (OpenAPI
response schema) and the double runs with --self-check; every request is
checked by the double against the subset's parameter schema (the
parametrized test at the end sends each new endpoint an unknown parameter).
"""

import json
import re
import time

import pytest

from doubles_harness import SPEC, TEST_WEBHOOK_SECRET as SECRET, verify_stripe_signature

PIS = "/v1/payment_intents"
SIS = "/v1/setup_intents"
CUSTOMERS = "/v1/customers"
PK = "pk_test_51DoublePublishable000000"
DAY = 86_400
VISA_MIT_S = 4 * DAY + 18 * 3600
PM_ID = re.compile(r"^pm_[A-Za-z0-9]{24}$")


# ------------------------------------------------------------ helpers
def error_of(reply):
    return reply.json["error"]


def new_customer(stripe, **params):
    return stripe.post(CUSTOMERS, dict({"email": "guest@example.com"}, **params), expect=200).json


def advance(stripe, seconds):
    return stripe.control("POST", "/_test/clock", {"advance_seconds": seconds})


def clock_now(stripe):
    return stripe.control("GET", "/_test/clock")["now"]


def card_of(stripe, intent_id):
    """The latest charge's card details (capture_before lives there)."""
    pi = stripe.get(f"{PIS}/{intent_id}", {"expand": ["latest_charge"]}, expect=200).json
    return pi["latest_charge"]["payment_method_details"]["card"]


def recorded_events(stripe):
    stripe.control("POST", "/_test/webhooks/drain", {"timeout_ms": 5000})
    return stripe.control("GET", "/_test/events")


def event_types(stripe):
    return [r["type"] for r in recorded_events(stripe)]


def saved_card(stripe, pm="pm_card_visa", **customer_params):
    """A customer and a card saved to it through a SetupIntent (usage=off_session)."""
    customer = new_customer(stripe, **customer_params)
    si = stripe.post(SIS, {"customer": customer["id"], "usage": "off_session",
                           "payment_method_types": ["card"], "payment_method": pm,
                           "confirm": True}, expect=200).json
    if si["status"] == "requires_action":
        si = stripe.control("POST", f"/_test/setup_intents/{si['id']}/authenticate")
    assert si["status"] == "succeeded"
    return customer, si["payment_method"]


def off_session_hold(stripe, customer, pm, expect=200, headers=None, **params):
    """A re-authorization as the scheduler makes it: a saved card, off-session."""
    return stripe.post(PIS, dict({
        "amount": 25000, "currency": "usd", "capture_method": "manual",
        "payment_method_types": ["card"], "customer": customer["id"], "payment_method": pm,
        "off_session": True, "confirm": True}, **params), expect=expect, headers=headers)


# ============================================================ customers
def test_customer_create_retrieve_update_delete(stripe):
    created = stripe.post(CUSTOMERS, {"email": "ana@example.com", "name": "Ana Guest",
                                      "description": "booking B-17", "phone": "+15550100",
                                      "metadata": {"booking": "B-17"},
                                      "address": {"city": "Lisbon", "country": "PT"}},
                          expect=200).json
    assert re.fullmatch(r"cus_[A-Za-z0-9]{14}", created["id"])
    assert created["object"] == "customer" and created["livemode"] is False
    assert (created["email"], created["name"], created["phone"]) == \
        ("ana@example.com", "Ana Guest", "+15550100")
    assert created["address"] == {"city": "Lisbon", "country": "PT", "line1": None,
                                  "line2": None, "postal_code": None, "state": None}
    assert created["invoice_settings"]["default_payment_method"] is None
    assert abs(created["created"] - clock_now(stripe)) <= 2
    path = f"{CUSTOMERS}/{created['id']}"
    assert stripe.get(path, expect=200).json == created
    updated = stripe.post(path, {"metadata": {"stay": "3n", "booking": ""}, "email": "",
                                 "name": "Ana G."}, expect=200).json
    assert updated["metadata"] == {"stay": "3n"}
    assert updated["email"] is None and updated["name"] == "Ana G."
    deleted = stripe.call("DELETE", path, expect=200).json
    assert deleted == {"id": created["id"], "object": "customer", "deleted": True}
    assert stripe.get(path, expect=200).json == deleted
    assert error_of(stripe.post(path, {"name": "x"}, expect=404))["code"] == "resource_missing"
    stripe.call("DELETE", path, expect=404)
    missing = error_of(stripe.get(f"{CUSTOMERS}/cus_nope", expect=404))
    assert (missing["message"], missing["param"]) == ("No such customer: 'cus_nope'", "id")
    assert event_types(stripe) == ["customer.created", "customer.updated", "customer.deleted"]


def test_customer_list_newest_first_with_cursors_and_email(stripe):
    first = new_customer(stripe, email="a@example.com")
    second = new_customer(stripe, email="b@example.com")
    third = new_customer(stripe, email="a@example.com")
    page = stripe.get(CUSTOMERS, {"limit": 2}, expect=200).json
    assert [c["id"] for c in page["data"]] == [third["id"], second["id"]]
    assert page["has_more"] is True and page["url"] == CUSTOMERS
    rest = stripe.get(CUSTOMERS, {"limit": 2, "starting_after": second["id"]}, expect=200).json
    assert [c["id"] for c in rest["data"]] == [first["id"]] and rest["has_more"] is False
    newer = stripe.get(CUSTOMERS, {"ending_before": first["id"], "limit": 1}, expect=200).json
    assert [c["id"] for c in newer["data"]] == [second["id"]] and newer["has_more"] is True
    by_email = stripe.get(CUSTOMERS, {"email": "a@example.com"}, expect=200).json
    assert [c["id"] for c in by_email["data"]] == [third["id"], first["id"]]
    stripe.call("DELETE", f"{CUSTOMERS}/{third['id']}", expect=200)
    left = stripe.get(CUSTOMERS, expect=200).json["data"]
    assert [c["id"] for c in left] == [second["id"], first["id"]]


def test_customer_refusals(stripe):
    unmodeled = error_of(stripe.post(CUSTOMERS, {"tax_exempt": "exempt"}, expect=400))
    assert unmodeled["param"] == "tax_exempt" and "does not model" in unmodeled["message"]
    unknown = error_of(stripe.post(CUSTOMERS, {"bogus": "1"}, expect=400))
    assert (unknown["code"], unknown["param"]) == ("parameter_unknown", "bogus")
    long_email = error_of(stripe.post(CUSTOMERS, {"email": "a" * 513}, expect=400))
    assert long_email["param"] == "email"
    bad_expand = error_of(stripe.post(CUSTOMERS, {"expand": ["sources"]}, expect=400))
    assert bad_expand["message"] == "This property cannot be expanded (sources)."


def test_customer_default_payment_method_must_be_attached(stripe):
    customer, pm = saved_card(stripe)
    other = stripe.get("/v1/payment_methods/pm_card_mastercard", expect=200).json["id"]
    path = f"{CUSTOMERS}/{customer['id']}"
    refused = error_of(stripe.post(path, {"invoice_settings": {"default_payment_method": other}},
                                   expect=400))
    assert refused["param"] == "invoice_settings[default_payment_method]"
    assert refused["message"].startswith("The customer does not have a payment method with the "
                                         f"ID {other}.")
    ok = stripe.post(path, {"invoice_settings": {"default_payment_method": pm},
                            "expand": ["invoice_settings.default_payment_method"]},
                     expect=200).json
    assert ok["invoice_settings"]["default_payment_method"]["id"] == pm


def test_create_customer_with_payment_method_attaches_it(stripe):
    customer = new_customer(stripe, payment_method="pm_card_visa")
    methods = stripe.control("GET", "/_test/payment_methods")
    assert [m["customer"] for m in methods] == [customer["id"]]
    assert event_types(stripe) == ["customer.created", "payment_method.attached"]


# ============================================================ payment methods
def test_test_token_becomes_a_concrete_payment_method(stripe):
    first = stripe.get("/v1/payment_methods/pm_card_visa", expect=200).json
    second = stripe.get("/v1/payment_methods/pm_card_visa", expect=200).json
    assert PM_ID.match(first["id"]) and first["id"] != second["id"]
    assert (first["type"], first["card"]["brand"], first["card"]["last4"]) == ("card", "visa",
                                                                             "4242")
    assert first["customer"] is None
    again = stripe.get(f"/v1/payment_methods/{first['id']}", expect=200).json
    assert again == first
    missing = error_of(stripe.get("/v1/payment_methods/pm_nope", expect=404))
    assert (missing["message"], missing["param"], missing["code"]) == \
        ("No such PaymentMethod: 'pm_nope'", "payment_method", "resource_missing")
    stripe.get("/v1/payment_methods/pm_card_doesNotExist", expect=404)


def test_attach_payment_method(stripe):
    customer = new_customer(stripe)
    attached = stripe.post("/v1/payment_methods/pm_card_mastercard/attach",
                           {"customer": customer["id"], "expand": ["customer"]},
                           expect=200).json
    assert PM_ID.match(attached["id"]) and attached["card"]["last4"] == "4444"
    assert attached["customer"]["id"] == customer["id"]
    path = f"/v1/payment_methods/{attached['id']}"
    assert stripe.post(path + "/attach", {"customer": customer["id"]},
                       expect=200).json["customer"] == customer["id"]  # again: a no-op
    other = new_customer(stripe)
    taken = error_of(stripe.post(path + "/attach", {"customer": other["id"]}, expect=400))
    assert taken["message"] == \
        "The payment method you provided has already been attached to a customer."
    no_customer = error_of(stripe.post(path + "/attach", {}, expect=400))
    assert (no_customer["code"], no_customer["param"]) == ("parameter_missing", "customer")
    ghost = error_of(stripe.post(path + "/attach", {"customer": "cus_ghost"}, expect=400))
    assert (ghost["code"], ghost["param"]) == ("resource_missing", "customer")
    assert event_types(stripe).count("payment_method.attached") == 1
    updated = stripe.post(path, {"metadata": {"label": "work"},
                                 "billing_details": {"name": "Ana Guest"}}, expect=200).json
    assert updated["metadata"] == {"label": "work"}
    assert updated["billing_details"]["name"] == "Ana Guest"


def test_attach_runs_the_card_check(stripe):
    customer = new_customer(stripe)
    declined = stripe.post("/v1/payment_methods/pm_card_chargeDeclined/attach",
                           {"customer": customer["id"]}, expect=402)
    error = error_of(declined)
    assert (error["type"], error["code"], error["decline_code"]) == \
        ("card_error", "card_declined", "generic_decline")
    later = stripe.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach",
                        {"customer": customer["id"]}, expect=200).json
    assert later["card"]["last4"] == "0341"
    charge = error_of(off_session_hold(stripe, customer, later["id"], expect=402))
    assert (charge["code"], charge["decline_code"]) == ("card_declined", "generic_decline")


# ============================================================ setup intents
def test_setup_intent_saves_a_card_to_the_customer(stripe):
    customer = new_customer(stripe)
    created = stripe.post(SIS, {"customer": customer["id"], "usage": "off_session",
                                "payment_method_types": ["card"],
                                "metadata": {"booking": "B-1"}}, expect=200).json
    assert re.fullmatch(r"seti_[A-Za-z0-9]{24}", created["id"])
    assert re.fullmatch(rf"{created['id']}_secret_[A-Za-z0-9]{{32}}", created["client_secret"])
    assert (created["status"], created["usage"], created["customer"]) == \
        ("requires_payment_method", "off_session", customer["id"])
    assert created["automatic_payment_methods"] is None
    assert created["metadata"] == {"booking": "B-1"}
    path = f"{SIS}/{created['id']}"
    confirmed = stripe.post(path + "/confirm", {"payment_method": "pm_card_visa",
                                                "expand": ["latest_attempt"]}, expect=200).json
    assert confirmed["status"] == "succeeded" and PM_ID.match(confirmed["payment_method"])
    assert confirmed["latest_attempt"]["status"] == "succeeded"
    assert confirmed["latest_attempt"]["setup_intent"] == created["id"]
    pm = stripe.get(f"/v1/payment_methods/{confirmed['payment_method']}", expect=200).json
    assert pm["customer"] == customer["id"]
    assert event_types(stripe) == ["customer.created", "setup_intent.created",
                                   "payment_method.attached", "setup_intent.succeeded"]
    again = error_of(stripe.post(path + "/confirm", {"payment_method": "pm_card_visa"},
                                 expect=400))
    assert again["code"] == "setup_intent_unexpected_state"
    assert again["message"] == "You cannot confirm this SetupIntent because it has already " \
                               "succeeded."
    assert again["setup_intent"]["id"] == created["id"]
    late = error_of(stripe.post(path, {"payment_method": "pm_card_visa"}, expect=400))
    assert late["message"] == "You cannot update this SetupIntent because it has already " \
                              "succeeded."
    assert stripe.post(path, {"metadata": {"note": "ok"}}, expect=200).json["metadata"] == \
        {"booking": "B-1", "note": "ok"}
    listed = stripe.get(SIS, {"customer": customer["id"]}, expect=200).json
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    assert stripe.get(SIS, {"customer": "cus_other"}, expect=200).json["data"] == []


def test_setup_intent_confirm_with_publishable_key(stripe):
    customer = new_customer(stripe)
    si = stripe.post(SIS, {"customer": customer["id"], "usage": "off_session",
                           "payment_method_types": ["card"]}, expect=200).json
    path = f"{SIS}/{si['id']}"
    stripe.post(SIS, {"customer": customer["id"]}, key=PK, expect=403)
    stripe.get(path, key=PK, expect=403)
    missing = error_of(stripe.post(path + "/confirm", {"payment_method": "pm_card_visa"},
                                   key=PK, expect=400))
    assert (missing["code"], missing["param"]) == ("parameter_missing", "client_secret")
    wrong = error_of(stripe.post(path + "/confirm", {"payment_method": "pm_card_visa",
                                                     "client_secret": "seti_x_secret_y"},
                                 key=PK, expect=400))
    assert wrong["code"] == "setup_intent_invalid_parameter"
    done = stripe.post(path + "/confirm", {"payment_method": "pm_card_visa",
                                           "client_secret": si["client_secret"]},
                       key=PK, expect=200).json
    assert done["status"] == "succeeded"
    log = stripe.control("GET", "/_test/requests")
    assert [e["auth"] for e in log if e["path"].endswith("/confirm")] == \
        ["pk_test", "pk_test", "pk_test"]


def test_setup_intent_3ds_then_authenticate(stripe):
    customer = new_customer(stripe)
    si = stripe.post(SIS, {"customer": customer["id"], "payment_method_types": ["card"],
                           "payment_method": "pm_card_authenticationRequiredOnSetup"},
                     expect=200).json
    assert si["status"] == "requires_confirmation"
    acted = stripe.post(f"{SIS}/{si['id']}/confirm", expect=200).json
    assert acted["status"] == "requires_action"
    assert acted["next_action"]["type"] == "use_stripe_sdk"
    done = stripe.control("POST", f"/_test/setup_intents/{si['id']}/authenticate")
    assert done["status"] == "succeeded" and done["next_action"] is None
    pm = stripe.get(f"/v1/payment_methods/{done['payment_method']}", expect=200).json
    assert pm["customer"] == customer["id"] and pm["card"]["last4"] == "3155"
    assert event_types(stripe)[1:] == ["setup_intent.created", "setup_intent.requires_action",
                                       "payment_method.attached", "setup_intent.succeeded"]
    twice = stripe.client.request("POST", f"/_test/setup_intents/{si['id']}/authenticate")
    assert twice.status == 400


def test_setup_intent_failed_authentication(stripe):
    si = stripe.post(SIS, {"payment_method_types": ["card"], "confirm": True,
                           "payment_method": "pm_card_authenticationRequired"}, expect=200).json
    failed = stripe.control("POST", f"/_test/setup_intents/{si['id']}/authenticate",
                            {"result": "failed"})
    assert failed["status"] == "requires_payment_method" and failed["payment_method"] is None
    assert failed["last_setup_error"]["code"] == "setup_intent_authentication_failure"
    assert event_types(stripe)[-1] == "setup_intent.setup_failed"
    retried = stripe.post(f"{SIS}/{si['id']}/confirm", {"payment_method": "pm_card_visa"},
                          expect=200).json
    assert retried["status"] == "succeeded" and retried["last_setup_error"] is None


def test_setup_intent_decline_is_402(stripe):
    customer = new_customer(stripe)
    reply = stripe.post(SIS, {"customer": customer["id"], "payment_method_types": ["card"],
                              "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds",
                              "confirm": True}, expect=402)
    error = error_of(reply)
    assert (error["type"], error["code"], error["decline_code"]) == \
        ("card_error", "card_declined", "insufficient_funds")
    si = error["setup_intent"]
    assert si["status"] == "requires_payment_method" and si["payment_method"] is None
    assert si["last_setup_error"]["decline_code"] == "insufficient_funds"
    assert error["payment_method"]["card"]["last4"] == "9995"
    assert error["payment_method"]["customer"] is None
    assert event_types(stripe)[-2:] == ["setup_intent.created", "setup_intent.setup_failed"]


def test_setup_intent_refusals(stripe):
    unknown = error_of(stripe.get(f"{SIS}/seti_nope", expect=404))
    assert (unknown["message"], unknown["param"]) == ("No such setupintent: 'seti_nope'",
                                                      "intent")
    bare = stripe.post(SIS, {"payment_method_types": ["card"]}, expect=200).json
    no_pm = error_of(stripe.post(f"{SIS}/{bare['id']}/confirm", expect=400))
    assert no_pm["code"] == "setup_intent_unexpected_state"
    assert no_pm["message"].startswith("You cannot confirm this SetupIntent because it's missing")
    automatic = stripe.post(SIS, {}, expect=200).json
    assert automatic["automatic_payment_methods"] == {"allow_redirects": "always",
                                                      "enabled": True}
    return_url = error_of(stripe.post(f"{SIS}/{automatic['id']}/confirm",
                                      {"payment_method": "pm_card_visa"}, expect=400))
    assert return_url["param"] == "return_url"
    ghost = error_of(stripe.post(SIS, {"customer": "cus_ghost"}, expect=400))
    assert (ghost["code"], ghost["param"]) == ("resource_missing", "customer")
    unmodeled = error_of(stripe.post(SIS, {"single_use": {"amount": 100, "currency": "usd"}},
                                     expect=400))
    assert unmodeled["param"] == "single_use"


def test_setup_intent_checks_who_owns_the_card(stripe):
    owner, pm = saved_card(stripe)
    other = new_customer(stripe)
    foreign = error_of(stripe.post(SIS, {"customer": other["id"], "payment_method": pm,
                                         "payment_method_types": ["card"]}, expect=400))
    assert foreign["param"] == "payment_method" and "setup_intent" not in foreign
    assert foreign["message"] == (
        f"The PaymentMethod {pm} does not belong to the Customer you supplied {other['id']}. "
        "Please use this PaymentMethod with the Customer that it belongs to instead.")
    anonymous = error_of(stripe.post(SIS, {"payment_method": pm,
                                           "payment_method_types": ["card"]}, expect=400))
    assert anonymous["message"] == (
        f"The payment method supplied ({pm}) belongs to the Customer {owner['id']}. Please "
        "include the Customer in the `customer` parameter on the SetupIntent.")


def test_new_events_are_signed_and_match_the_schemas(stripe, receiver):
    customer = new_customer(stripe)
    stripe.post(f"{CUSTOMERS}/{customer['id']}", {"name": "Ana"}, expect=200)
    si = stripe.post(SIS, {"customer": customer["id"], "payment_method_types": ["card"],
                           "payment_method": "pm_card_authenticationRequired", "confirm": True},
                     expect=200).json
    stripe.control("POST", f"/_test/setup_intents/{si['id']}/authenticate")
    stripe.post(SIS, {"payment_method_types": ["card"], "confirm": True,
                      "payment_method": "pm_card_chargeDeclined"}, expect=402)
    stripe.post(f"/v1/payment_methods/{si['payment_method']}", {"metadata": {"a": "b"}},
                expect=200)
    stripe.call("DELETE", f"{CUSTOMERS}/{customer['id']}", expect=200)
    expected = ["customer.created", "customer.updated", "setup_intent.created",
                "setup_intent.requires_action", "payment_method.attached",
                "setup_intent.succeeded", "setup_intent.created", "setup_intent.setup_failed",
                "payment_method.updated", "customer.deleted"]
    assert event_types(stripe) == expected
    sent = receiver.wait_for(len(expected))
    assert len(sent) == len(expected)
    for delivery in sent:
        assert verify_stripe_signature(delivery["body"],
                                       delivery["headers"]["Stripe-Signature"], SECRET)
        event = json.loads(delivery["body"])
        obj = event["data"]["object"]
        assert SPEC.validate(event, {"$ref": "#/components/schemas/event"}) == []
        assert SPEC.validate(obj, {"$ref": f"#/components/schemas/{obj['object']}"}) == []
    assert sorted(json.loads(d["body"])["type"] for d in sent) == sorted(expected)


# ============================================================ payment intents with saved cards
def test_setup_future_usage_saves_the_card_on_authorization(stripe):
    customer = new_customer(stripe)
    pi = stripe.create(customer=customer["id"], setup_future_usage="off_session",
                       payment_method="pm_card_visa", confirm=True, expand=["customer"])
    assert pi["status"] == "requires_capture" and pi["setup_future_usage"] == "off_session"
    assert pi["customer"]["id"] == customer["id"]
    pm = stripe.get(f"/v1/payment_methods/{pi['payment_method']}", expect=200).json
    assert pm["customer"] == customer["id"]
    card = card_of(stripe, pi["id"])
    assert card["capture_before"] == pi["created"] + 7 * DAY  # customer-initiated: 7 days
    charge = stripe.get(f"{PIS}/{pi['id']}", {"expand": ["latest_charge"]},
                        expect=200).json["latest_charge"]
    assert charge["customer"] == customer["id"]
    assert event_types(stripe) == ["customer.created", "payment_method.attached",
                                   "payment_intent.amount_capturable_updated"]
    listed = stripe.get(PIS, {"customer": customer["id"]}, expect=200).json["data"]
    assert [i["id"] for i in listed] == [pi["id"]]
    found = stripe.get(f"{PIS}/search", {"query": f"customer:'{customer['id']}'"},
                       expect=200).json["data"]
    assert [i["id"] for i in found] == [pi["id"]]


def test_setup_future_usage_without_customer_attaches_nothing(stripe):
    pi = stripe.create(setup_future_usage="off_session", payment_method="pm_card_visa",
                       confirm=True)
    assert pi["status"] == "requires_capture" and pi["customer"] is None
    pm = stripe.get(f"/v1/payment_methods/{pi['payment_method']}", expect=200).json
    assert pm["customer"] is None
    assert "payment_method.attached" not in event_types(stripe)


def test_off_session_reauthorization_windows(stripe):
    customer, visa = saved_card(stripe)
    reauth = off_session_hold(stripe, customer, visa).json
    assert reauth["status"] == "requires_capture" and reauth["payment_method"] == visa
    assert card_of(stripe, reauth["id"])["capture_before"] == reauth["created"] + VISA_MIT_S
    _, mastercard = saved_card(stripe, "pm_card_mastercard")
    mc_customer = stripe.get(f"/v1/payment_methods/{mastercard}", expect=200).json["customer"]
    mc = off_session_hold(stripe, {"id": mc_customer}, mastercard).json
    assert card_of(stripe, mc["id"])["capture_before"] == mc["created"] + 7 * DAY
    extended = off_session_hold(stripe, customer, visa, payment_method_options={
        "card": {"request_extended_authorization": "if_available"}}).json
    card = card_of(stripe, extended["id"])
    assert card["capture_before"] == extended["created"] + 30 * DAY
    assert card["extended_authorization"]["status"] == "enabled"


def test_saved_card_needs_its_customer(stripe):
    owner, pm = saved_card(stripe)
    anonymous = error_of(stripe.post(PIS, {
        "amount": 5000, "currency": "usd", "payment_method_types": ["card"],
        "payment_method": pm, "confirm": True, "off_session": True}, expect=400))
    assert (anonymous["code"], anonymous["param"]) == ("parameter_missing", "source")
    assert anonymous["message"] == (
        f"The `payment_method` parameter supplied {pm} belongs to the Customer {owner['id']}. "
        "Please include the Customer in the `customer` parameter on the PaymentIntent.")
    other = new_customer(stripe)
    foreign = error_of(off_session_hold(stripe, other, pm, expect=400))
    assert foreign["param"] == "payment_method" and "code" not in foreign
    intent = stripe.create(customer=owner["id"])
    moved = error_of(stripe.post(f"{PIS}/{intent['id']}", {"customer": other["id"]},
                                 expect=400))
    assert moved["param"] == "customer"
    assert moved["message"].startswith("You cannot modify `customer` on a PaymentIntent")
    confirm = error_of(stripe.post(f"{PIS}/{stripe.create()['id']}/confirm",
                                   {"payment_method": pm}, expect=400))
    assert confirm["param"] == "source" and confirm["payment_intent"]["status"] == \
        "requires_payment_method"


def test_off_session_needs_confirm_and_no_setup_future_usage(stripe):
    customer, pm = saved_card(stripe)
    unconfirmed = error_of(off_session_hold(stripe, customer, pm, confirm=False, expect=400))
    assert unconfirmed["param"] == "off_session"
    both = error_of(off_session_hold(stripe, customer, pm, setup_future_usage="off_session",
                                     expect=400))
    assert both["message"].startswith("You cannot confirm with the `off_session` parameter when "
                                      "`setup_future_usage` is also set")
    assert stripe.control("GET", "/_test/payment_intents") == []


def test_authentication_required_off_session_then_guest_confirms_on_session(stripe):
    customer = new_customer(stripe)
    pm = stripe.post("/v1/payment_methods/pm_card_authenticationRequired/attach",
                     {"customer": customer["id"]}, expect=200).json["id"]
    refused = off_session_hold(stripe, customer, pm, expect=402)
    error = error_of(refused)
    assert (error["type"], error["code"], error["decline_code"]) == \
        ("card_error", "authentication_required", "authentication_required")
    assert error["message"] == "Your card was declined. This transaction requires authentication."
    assert error["payment_method"]["id"] == pm
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method" and intent["payment_method"] is None
    assert intent["last_payment_error"]["code"] == "authentication_required"
    assert intent["last_payment_error"]["payment_method"]["id"] == pm
    assert intent["customer"] == customer["id"]
    # the guest comes back on-session: Stripe.js confirmCardPayment with the client_secret
    confirm = f"{PIS}/{intent['id']}/confirm"
    acting = stripe.post(confirm, {"client_secret": intent["client_secret"],
                                   "payment_method": pm}, key=PK, expect=200).json
    assert acting["status"] == "requires_action"
    assert acting["next_action"]["type"] == "use_stripe_sdk"
    done = stripe.control("POST", f"/_test/payment_intents/{intent['id']}/authenticate")
    assert done["status"] == "requires_capture" and done["amount_capturable"] == 25000
    card = card_of(stripe, intent["id"])
    assert card["three_d_secure"]["result"] == "authenticated"
    charge_created = stripe.get(f"{PIS}/{intent['id']}", {"expand": ["latest_charge"]},
                                expect=200).json["latest_charge"]["created"]
    assert card["capture_before"] == charge_created + 7 * DAY  # on-session again: a CIT
    assert event_types(stripe)[-3:] == ["payment_intent.payment_failed",
                                        "payment_intent.requires_action",
                                        "payment_intent.amount_capturable_updated"]


def test_authentication_required_on_setup_card_off_session(stripe):
    customer = new_customer(stripe)
    bare = stripe.post("/v1/payment_methods/pm_card_authenticationRequiredOnSetup/attach",
                       {"customer": customer["id"]}, expect=200).json["id"]
    refused = error_of(off_session_hold(stripe, customer, bare, expect=402))
    assert refused["code"] == "authentication_required"
    set_up_customer, set_up = saved_card(stripe, "pm_card_authenticationRequiredOnSetup")
    assert off_session_hold(stripe, set_up_customer, set_up).json["status"] == "requires_capture"
    on_session = stripe.create(customer=set_up_customer["id"], payment_method=set_up,
                               confirm=True)
    assert on_session["status"] == "requires_action"  # on-session payments still authenticate


def test_already_set_up_card_and_error_on_requires_action(stripe):
    customer = new_customer(stripe)
    pm = stripe.post("/v1/payment_methods/pm_card_authenticationRequiredSetupForOffSession/attach",
                     {"customer": customer["id"]}, expect=200).json["id"]
    assert off_session_hold(stripe, customer, pm).json["status"] == "requires_capture"
    assert stripe.create(customer=customer["id"], payment_method=pm,
                         confirm=True)["status"] == "requires_action"
    refused = error_of(stripe.post(PIS, {
        "amount": 5000, "currency": "usd", "payment_method_types": ["card"],
        "customer": customer["id"], "payment_method": pm, "confirm": True,
        "error_on_requires_action": True}, expect=402))
    assert refused["code"] == "authentication_required"


def test_a_saved_card_that_starts_declining(stripe):
    """The decline control: a card that authorized the first hold declines the next ones
    (the issuer refuses; STRIPE-NEXT §1.2 "other declines"), off-session and on."""
    customer, pm = saved_card(stripe)
    assert off_session_hold(stripe, customer, pm).json["status"] == "requires_capture"
    changed = stripe.control("POST", f"/_test/payment_methods/{pm}/decline",
                             {"decline_code": "insufficient_funds"})
    assert changed["id"] == pm and changed["customer"] == customer["id"]
    refused = error_of(off_session_hold(stripe, customer, pm, expect=402))
    assert (refused["type"], refused["code"], refused["decline_code"]) == \
        ("card_error", "card_declined", "insufficient_funds")
    assert refused["message"] == "Your card has insufficient funds."
    intent = refused["payment_intent"]
    assert intent["status"] == "requires_payment_method" and intent["client_secret"]
    assert intent["last_payment_error"]["decline_code"] == "insufficient_funds"
    on_session = stripe.post(PIS, {"amount": 5000, "currency": "usd",
                                   "payment_method_types": ["card"], "customer": customer["id"],
                                   "payment_method": pm, "confirm": True}, expect=402)
    assert error_of(on_session)["decline_code"] == "insufficient_funds"
    for path, body, status in ((pm, {"decline_code": "nope"}, 400), (pm, {"other": 1}, 400),
                               ("pm_nope", {}, 404)):
        reply = stripe.client.request("POST", f"/_test/payment_methods/{path}/decline",
                                      json.dumps(body).encode())
        assert reply.status == status, reply.body


# ============================================================ clock
def test_clock_control(stripe):
    before = stripe.control("GET", "/_test/clock")
    assert before["offset_s"] == 0 and abs(before["now"] - before["wall_clock"]) <= 1
    moved = advance(stripe, 3 * DAY)
    assert moved["offset_s"] == 3 * DAY and moved["lapsed"] == []
    assert abs(moved["now"] - (before["now"] + 3 * DAY)) <= 2
    intent = stripe.create(payment_method="pm_card_visa", confirm=True)
    assert abs(intent["created"] - moved["now"]) <= 2
    event = recorded_events(stripe)[-1]["event"]
    assert abs(event["created"] - moved["now"]) <= 2
    target = moved["now"] + DAY
    assert stripe.control("POST", "/_test/clock", {"to": target})["now"] in (target, target + 1)
    for body in ({"advance_seconds": -1}, {"to": 1000}, {}, {"advance_seconds": 1, "to": 5},
                 {"speed": 2}):
        assert stripe.client.request("POST", "/_test/clock", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"}).status == 400
    stripe.control("POST", "/_test/reset")
    assert stripe.control("GET", "/_test/clock")["offset_s"] == 0


def test_hold_lapses_at_capture_before(stripe, receiver):
    intent = stripe.create(payment_method="pm_card_visa", confirm=True)
    deadline = card_of(stripe, intent["id"])["capture_before"]
    early = stripe.control("POST", "/_test/clock", {"to": deadline - 1})
    assert early["lapsed"] == []
    assert stripe.get(f"{PIS}/{intent['id']}", expect=200).json["status"] == "requires_capture"
    late = advance(stripe, 1)
    assert late["lapsed"] == [intent["id"]]
    lapsed = stripe.get(f"{PIS}/{intent['id']}", expect=200).json
    assert (lapsed["status"], lapsed["cancellation_reason"], lapsed["canceled_at"],
            lapsed["amount_capturable"]) == ("canceled", "expired", deadline, 0)
    old_api = stripe.get(f"{PIS}/{intent['id']}", headers={"Stripe-Version": "2024-06-20"},
                         expect=200).json
    assert old_api["cancellation_reason"] == "automatic"
    records = recorded_events(stripe)[-2:]
    assert [r["type"] for r in records] == ["charge.expired", "payment_intent.canceled"]
    assert [r["event"]["created"] for r in records] == [deadline, deadline]
    assert [r["event"]["request"]["id"] for r in records] == [None, None]
    assert records[0]["event"]["data"]["object"]["id"] == intent["latest_charge"]
    assert all(r["state"] == "delivered" for r in records)
    delivered = [d for d in receiver.wait_for(3) if b"charge.expired" in d["body"]]
    assert verify_stripe_signature(delivered[0]["body"],
                                   delivered[0]["headers"]["Stripe-Signature"], SECRET)
    refused = error_of(stripe.post(f"{PIS}/{intent['id']}/capture", expect=400))
    assert refused["code"] == "payment_intent_unexpected_state"


def test_a_long_jump_lapses_holds_in_deadline_order_at_their_own_time(stripe):
    customer, pm = saved_card(stripe)
    on_session = stripe.create(customer=customer["id"], payment_method=pm, confirm=True)
    off_session = off_session_hold(stripe, customer, pm).json  # created later, lapses earlier
    deadlines = {i["id"]: card_of(stripe, i["id"])["capture_before"]
                 for i in (on_session, off_session)}
    assert deadlines[off_session["id"]] < deadlines[on_session["id"]]
    jump = advance(stripe, 10 * DAY)
    assert jump["lapsed"] == [off_session["id"], on_session["id"]]
    for intent_id, deadline in deadlines.items():
        assert stripe.get(f"{PIS}/{intent_id}", expect=200).json["canceled_at"] == deadline
    tail = [r["event"] for r in recorded_events(stripe)][-4:]
    assert [(e["type"], e["created"]) for e in tail] == [
        ("charge.expired", deadlines[off_session["id"]]),
        ("payment_intent.canceled", deadlines[off_session["id"]]),
        ("charge.expired", deadlines[on_session["id"]]),
        ("payment_intent.canceled", deadlines[on_session["id"]])]


def test_an_api_request_notices_a_lapse_as_wall_time_passes(stripe):
    intent = stripe.create(payment_method="pm_card_visa", confirm=True)
    deadline = card_of(stripe, intent["id"])["capture_before"]
    assert stripe.control("POST", "/_test/clock", {"to": deadline - 1})["lapsed"] == []
    time.sleep(1.2)  # the clock runs on: now passes capture_before with no control call
    assert stripe.get(f"{PIS}/{intent['id']}", expect=200).json["status"] == "canceled"
    assert event_types(stripe).count("charge.expired") == 1


def test_idempotency_keys_age_with_the_clock(stripe):
    params = {"amount": 5000, "currency": "usd", "payment_method_types": ["card"]}
    headers = {"Idempotency-Key": "age-1"}
    first = stripe.post(PIS, params, headers=headers, expect=200)
    replay = stripe.post(PIS, params, headers=headers, expect=200)
    assert replay.header("Idempotent-Replayed") == "true"
    assert replay.json["id"] == first.json["id"]
    advance(stripe, DAY + 60)
    fresh = stripe.post(PIS, dict(params, amount=6000), headers=headers, expect=200)
    assert fresh.header("Idempotent-Replayed") is None and fresh.json["amount"] == 6000


# ============================================================ the ten-day stay
def test_ten_day_stay_reauthorizes_and_the_first_hold_lapses(stripe, receiver):
    customer = new_customer(stripe, metadata={"booking": "B-10"})
    first = stripe.create(customer=customer["id"], setup_future_usage="off_session",
                          payment_method="pm_card_visa", confirm=True,
                          metadata={"booking": "B-10"})
    t0 = first["created"]
    saved = first["payment_method"]
    assert card_of(stripe, first["id"])["capture_before"] == t0 + 7 * DAY

    advance(stripe, 5 * DAY)  # day 5: the scheduler re-authorizes off-session
    second = off_session_hold(stripe, customer, saved, metadata={"booking": "B-10"},
                              headers={"Idempotency-Key": "reauth:B-10:1"}).json
    assert second["status"] == "requires_capture"
    second_deadline = card_of(stripe, second["id"])["capture_before"]
    assert second_deadline == second["created"] + VISA_MIT_S  # Visa MIT: 4 d 18 h
    assert second["created"] - t0 >= 5 * DAY

    moved = stripe.control("POST", "/_test/clock", {"to": t0 + 7 * DAY})  # day 7
    assert moved["lapsed"] == [first["id"]]
    old = stripe.get(f"{PIS}/{first['id']}", expect=200).json
    assert (old["status"], old["cancellation_reason"]) == ("canceled", "expired")
    assert stripe.get(f"{PIS}/{second['id']}", expect=200).json["status"] == "requires_capture"

    advance(stripe, 2 * DAY)  # day 9: re-authorize again, then release the previous one
    third = off_session_hold(stripe, customer, saved, metadata={"booking": "B-10"},
                             headers={"Idempotency-Key": "reauth:B-10:2"}).json
    assert third["status"] == "requires_capture"
    stripe.post(f"{PIS}/{second['id']}/cancel", expect=200)
    assert card_of(stripe, third["id"])["capture_before"] == third["created"] + VISA_MIT_S
    assert second_deadline < t0 + 10 * DAY  # it would have lapsed before the stay ends

    moved = advance(stripe, DAY)  # day 10: check-out, capture the damage
    assert moved["lapsed"] == []
    captured = stripe.post(f"{PIS}/{third['id']}/capture", {"amount_to_capture": 4000},
                           expect=200).json
    assert (captured["status"], captured["amount_received"]) == ("succeeded", 4000)

    mine = [r["event"] for r in recorded_events(stripe)
            if r["type"].startswith(("payment_intent.", "charge."))]
    assert [(e["type"], e["data"]["object"]["id"]) for e in mine] == [
        ("payment_intent.amount_capturable_updated", first["id"]),
        ("payment_intent.amount_capturable_updated", second["id"]),
        ("charge.expired", first["latest_charge"]),
        ("payment_intent.canceled", first["id"]),
        ("payment_intent.amount_capturable_updated", third["id"]),
        ("payment_intent.canceled", second["id"]),
        ("charge.captured", third["latest_charge"]),
        ("payment_intent.succeeded", third["id"])]
    assert [e["created"] for e in mine] == sorted(e["created"] for e in mine)
    assert mine[2]["created"] == t0 + 7 * DAY
    assert mine[1]["request"]["idempotency_key"] == "reauth:B-10:1"
    # the reconciler's view: only what happened after the re-auth, newest first
    newer = stripe.get("/v1/events", {"ending_before": mine[1]["id"], "limit": 100,
                                      "types": ["payment_intent.canceled", "charge.expired"]},
                       expect=200).json
    assert [e["type"] for e in newer["data"]] == ["payment_intent.canceled",
                                                  "payment_intent.canceled", "charge.expired"]
    assert newer["has_more"] is False
    sent = receiver.wait_for(len(recorded_events(stripe)))
    assert any(b'"charge.expired"' in d["body"] for d in sent)


# ============================================================ events list
def _six_events(stripe):
    """customer.created, then five PaymentIntent/charge events, 1 h apart on the clock."""
    customer = new_customer(stripe)
    advance(stripe, 3600)
    held = stripe.create(customer=customer["id"], payment_method="pm_card_visa", confirm=True)
    advance(stripe, 3600)
    stripe.post(f"{PIS}/{held['id']}/capture", expect=200)
    advance(stripe, 3600)
    other = stripe.create(payment_method="pm_card_visa", confirm=True)
    advance(stripe, 3600)
    stripe.post(f"{PIS}/{other['id']}/cancel", expect=200)
    return stripe.get("/v1/events", {"limit": 100}, expect=200).json["data"]


def test_events_newest_first_with_cursors(stripe):
    everything = _six_events(stripe)
    assert [e["type"] for e in everything] == [
        "payment_intent.canceled", "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded", "charge.captured", "payment_intent.amount_capturable_updated",
        "customer.created"]
    assert [e["created"] for e in everything] == sorted((e["created"] for e in everything),
                                                        reverse=True)
    ids = [e["id"] for e in everything]
    page = stripe.get("/v1/events", {"limit": 2}, expect=200).json
    assert [e["id"] for e in page["data"]] == ids[:2] and page["has_more"] is True
    after = stripe.get("/v1/events", {"limit": 2, "starting_after": ids[1]}, expect=200).json
    assert [e["id"] for e in after["data"]] == ids[2:4] and after["has_more"] is True
    last = stripe.get("/v1/events", {"limit": 2, "starting_after": ids[3]}, expect=200).json
    assert [e["id"] for e in last["data"]] == ids[4:] and last["has_more"] is False
    # the reconciler walks forward from its cursor with ending_before
    newer = stripe.get("/v1/events", {"limit": 2, "ending_before": ids[4]}, expect=200).json
    assert [e["id"] for e in newer["data"]] == ids[2:4] and newer["has_more"] is True
    newest = stripe.get("/v1/events", {"limit": 2, "ending_before": ids[2]}, expect=200).json
    assert [e["id"] for e in newest["data"]] == ids[:2] and newest["has_more"] is False
    assert stripe.get("/v1/events", {"ending_before": ids[0]}, expect=200).json["data"] == []
    missing = error_of(stripe.get("/v1/events", {"starting_after": "evt_gone"}, expect=400))
    assert (missing["code"], missing["param"]) == ("resource_missing", "starting_after")


def test_events_filters_with_cursors(stripe):
    everything = _six_events(stripe)
    ids = [e["id"] for e in everything]
    # a cursor that does not match the filter still positions the page
    typed = stripe.get("/v1/events", {"types": ["payment_intent.amount_capturable_updated",
                                                "payment_intent.canceled"],
                                      "ending_before": ids[5]}, expect=200).json
    assert [e["id"] for e in typed["data"]] == [ids[0], ids[1], ids[4]]
    wildcard = stripe.get("/v1/events", {"type": "charge.*", "starting_after": ids[0]},
                          expect=200).json
    assert [e["id"] for e in wildcard["data"]] == [ids[3]]
    hour = everything[-1]["created"]
    recent = stripe.get("/v1/events", {"created": {"gte": hour + 2 * 3600}}, expect=200).json
    assert [e["id"] for e in recent["data"]] == ids[:4]  # the capture's two events and later
    window = stripe.get("/v1/events", {"created": {"gt": hour, "lt": hour + 2 * 3600}},
                        expect=200).json
    assert [e["id"] for e in window["data"]] == [ids[4]]
    exact = stripe.get("/v1/events", {"created": everything[1]["created"]}, expect=200).json
    assert [e["id"] for e in exact["data"]] == [ids[1]]
    both = error_of(stripe.get("/v1/events", {"type": "charge.captured",
                                              "types": ["charge.expired"]}, expect=400))
    assert both["message"] == "You may only specify one of these parameters: type, types."
    too_many = error_of(stripe.get("/v1/events", {"types": [f"t.{i}" for i in range(21)]},
                                   expect=400))
    assert too_many["param"] == "types"


# ============================================================ request validation
NEW_ENDPOINTS = [
    ("POST", CUSTOMERS), ("GET", CUSTOMERS), ("GET", f"{CUSTOMERS}/cus_x"),
    ("POST", f"{CUSTOMERS}/cus_x"), ("GET", "/v1/payment_methods/pm_card_visa"),
    ("POST", "/v1/payment_methods/pm_card_visa"),
    ("POST", "/v1/payment_methods/pm_card_visa/attach"), ("POST", SIS), ("GET", SIS),
    ("GET", f"{SIS}/seti_x"), ("POST", f"{SIS}/seti_x"), ("POST", f"{SIS}/seti_x/confirm"),
    ("GET", "/v1/events")]


@pytest.mark.parametrize("method, path", NEW_ENDPOINTS)
def test_every_new_endpoint_checks_its_params_against_the_subset(stripe, method, path):
    template = SPEC.match(method, path)
    assert template is not None, f"{method} {path} is not in the OpenAPI subset"
    error = error_of(stripe.call(method, path, {"bogus_param": "1"}, expect=400))
    assert (error["code"], error["param"]) == ("parameter_unknown", "bogus_param")
    assert stripe.control("GET", "/_test/customers") == []  # nothing executed


def test_parameter_types_are_checked(stripe):
    limit = error_of(stripe.get(CUSTOMERS, {"limit": "ten"}, expect=400))
    assert (limit["code"], limit["param"]) == ("parameter_invalid_integer", "limit")
    usage = error_of(stripe.post(SIS, {"usage": "sometimes"}, expect=400))
    assert usage["param"] == "usage" and "off_session, or on_session" in usage["message"]
    confirm = error_of(stripe.post(SIS, {"confirm": "maybe"}, expect=400))
    assert confirm["message"] == "Invalid boolean: maybe"
    off = error_of(stripe.post(PIS, {"amount": 5000, "currency": "usd", "confirm": True,
                                     "off_session": "sometimes"}, expect=400))
    assert off["param"] == "off_session"

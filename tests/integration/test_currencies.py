"""Currencies through the real stack (CONTRACT.md, Part 2, "Currencies"): usd, eur, gbp,
cad, aud, jpy; jpy in whole yen and only with TIER_LIMITS_JPY; Stripe's minimum of each."""

import pytest

from conftest import assert_error, launched_stack


@pytest.fixture(scope="module")
def yen_stack():
    yield from launched_stack({"TIER_LIMITS_JPY": "30000,60000,120000",
                               "TIER_LIMITS_AUD": "100000,200000,400000"},
                              prefix="chittycharge-it-cur-")


def test_a_jpy_hold_is_whole_yen_under_its_own_limits(yen_stack):
    hold = yen_stack.create_hold(amount=20000, currency="JPY")
    assert (hold["amount"], hold["currency"], hold["tier_limit"]) == (20000, "jpy", 30000)
    sent = yen_stack.stripe_pi(hold["id"])
    assert (sent["amount"], sent["currency"]) == (20000, "jpy")
    assert hold["estimated_processing_fee"] is None
    over = yen_stack.api("POST", "/api/holds", {"amount": 30001, "currency": "jpy",
                                                "description": "stay"})
    assert_error(over, 400, "amount_exceeds_tier_limit", "amount")


def test_a_jpy_hold_without_its_limits_is_refused_before_stripe(stack):
    before = stack.count_payment_intents()
    answer = stack.api("POST", "/api/holds", {"amount": 20000, "currency": "jpy",
                                              "description": "stay"})
    assert_error(answer, 400, "unsupported_currency", "currency")
    assert "TIER_LIMITS_JPY" in answer.json["error"]
    assert stack.count_payment_intents() == before


@pytest.mark.parametrize("currency, minimum", [("usd", 50), ("eur", 50), ("gbp", 30),
                                               ("cad", 50), ("aud", 50), ("jpy", 50)])
def test_each_currency_takes_its_stripe_minimum_and_not_one_less(yen_stack, currency, minimum):
    held = yen_stack.create_hold(amount=minimum, currency=currency)
    assert (held["amount"], held["currency"]) == (minimum, currency)
    under = yen_stack.api("POST", "/api/holds", {"amount": minimum - 1, "currency": currency,
                                                 "description": "stay"})
    assert_error(under, 400, "amount_too_small", "amount")


def test_configured_aud_limits_apply(yen_stack):
    assert yen_stack.create_hold(amount=100000, currency="aud")["tier_limit"] == 100000
    over = yen_stack.api("POST", "/api/holds", {"amount": 100001, "currency": "aud",
                                                "description": "stay"})
    assert_error(over, 400, "amount_exceeds_tier_limit", "amount")

"""Unit tests of the pieces under the doubles: the OpenAPI checker, the form
codec, and the webhook signature scheme (against Stripe's published vectors)."""

import base64
import gzip
import json
from pathlib import Path

import pytest

from doubles_harness import verify_stripe_signature
from formcodec import FormError, encode_form, parse_form
from openapi_check import SHARED_SPEC, VENDORED_SPEC, ParamError, Spec, load_document, load_spec
from stripe_webhooks import signature

SPEC = load_spec()
# Stripe's signature vectors, kept in the repository (tests/data/README.md).
VECTORS = Path(__file__).resolve().parents[1] / "data" / "webhook-vectors.json"
PI = {"$ref": "#/components/schemas/payment_intent"}


def sample_intent():
    """The PaymentIntent of Stripe's first webhook vector (made with stripe-node)."""
    if VECTORS.exists():
        case = json.loads(VECTORS.read_text())["cases"][0]
        return json.loads(case["payload"])["data"]["object"]
    return {"id": "pi_1", "object": "payment_intent", "amount": 1, "capture_method": "manual",
            "confirmation_method": "automatic", "created": 1, "currency": "usd",
            "livemode": False, "payment_method_types": ["card"], "status": "requires_capture"}


# ------------------------------------------------------------ spec file
def test_vendored_spec_is_the_shared_one():
    if not SHARED_SPEC.exists():
        pytest.skip("reference copy not present")
    assert gzip.decompress(VENDORED_SPEC.read_bytes()) == SHARED_SPEC.read_bytes()


def test_newer_api_additions_are_explicit():
    pristine = Spec(load_document(), newer=False)
    reason = {"$ref": "#/components/schemas/payment_intent"}
    intent = dict(sample_intent(), status="canceled", cancellation_reason="expired")
    assert pristine.validate(intent, reason)  # the 2023 subset lacks "expired"
    assert SPEC.validate(intent, reason) == []
    assert pristine.match("post", "/v1/payment_intents/pi_1/confirm") is None
    assert SPEC.match("post", "/v1/payment_intents/pi_1/confirm")[0].endswith("/confirm")


# ------------------------------------------------------------ (a) value validation
def test_real_intent_validates():
    assert SPEC.validate(sample_intent(), PI) == []


@pytest.mark.parametrize("change, fragment", [
    ({"status": "held"}, "is not one of"),
    ({"amount": "25000"}, "expected integer"),
    ({"amount": True}, "expected integer"),
    ({"livemode": None}, "null is not allowed"),
    ({"object": "charge"}, "is not one of"),
    ({"metadata": {"k": "v" * 501}}, "longer than 500"),
    ({"latest_charge": 5}, "expected"),
    ({"payment_method_types": "card"}, "expected array"),
])
def test_invalid_intents_are_reported(change, fragment):
    errors = SPEC.validate(dict(sample_intent(), **change), PI)
    assert any(fragment in error for error in errors), errors


def test_required_and_extra_properties():
    intent = sample_intent()
    del intent["currency"]
    assert SPEC.validate(intent, PI) == ["$: missing required property 'currency'"]
    assert SPEC.validate(dict(sample_intent(), brand_new_field=1), PI) == []  # open objects
    closed = {"type": "object", "properties": {"a": {"type": "string"}},
              "additionalProperties": False}
    assert SPEC.validate({"a": "x", "b": 1}, closed) == ["$: unexpected property 'b'"]


def test_nullable_anyof_oneof_and_pattern():
    expandable = SPEC.component("payment_intent")["properties"]["latest_charge"]
    assert SPEC.validate(None, expandable) == []
    assert SPEC.validate("ch_123", expandable) == []
    assert SPEC.validate({"id": "ch_1"}, expandable)  # a charge object missing its fields
    one_of = {"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}
    assert SPEC.validate("ab", one_of) == ["$: matches 2 oneOf variants"]
    assert SPEC.validate("/v1/events", {"type": "string", "pattern": "^/v1/events"}) == []
    assert SPEC.validate("/v2", {"type": "string", "pattern": "^/v1/events"})


# ------------------------------------------------------------ (b) form parameters
def create_schema():
    return SPEC.params_schema(SPEC.operation("post", "/v1/payment_intents"))


def test_arrays_in_both_bracket_styles():
    schema = create_schema()
    for form in ("payment_method_types[]=card&payment_method_types[]=link",
                 "payment_method_types[0]=card&payment_method_types[1]=link"):
        params = SPEC.check_params(schema, parse_form("amount=100&currency=usd&" + form))
        assert params["payment_method_types"] == ["card", "link"]


def test_types_are_converted():
    params = SPEC.check_params(create_schema(), parse_form(
        "amount=100&currency=usd&confirm=false&off_session=one_off&metadata[0]=zero"))
    assert params == {"amount": 100, "currency": "usd", "confirm": False,
                      "off_session": "one_off", "metadata": {"0": "zero"}}


def test_nested_required_and_empty_unset():
    with pytest.raises(ParamError) as caught:
        SPEC.check_params(create_schema(), parse_form(
            "amount=100&currency=usd&automatic_payment_methods[allow_redirects]=never"))
    assert caught.value.param == "automatic_payment_methods[enabled]"
    assert caught.value.code == "parameter_missing"
    update = SPEC.params_schema(SPEC.operation("post", "/v1/payment_intents/{intent}"))
    assert SPEC.check_params(update, parse_form("metadata=&description=x")) == \
        {"metadata": "", "description": "x"}


def test_query_parameters_of_get_operations():
    schema = SPEC.params_schema(SPEC.operation("get", "/v1/payment_intents/search"))
    with pytest.raises(ParamError) as caught:
        SPEC.check_params(schema, {"limit": "5"})
    assert caught.value.message == "Missing required param: query."
    with pytest.raises(ParamError) as caught:
        SPEC.check_params(schema, {"query": "x", "created": "1"})
    assert caught.value.code == "parameter_unknown"


def test_string_limits_and_enums():
    with pytest.raises(ParamError, match="at most 22 characters"):
        SPEC.check_params(create_schema(), {"amount": "1", "currency": "usd",
                                            "statement_descriptor": "x" * 23})
    cancel = SPEC.params_schema(SPEC.operation("post", "/v1/payment_intents/{intent}/cancel"))
    with pytest.raises(ParamError, match="must be one of abandoned, duplicate"):
        SPEC.check_params(cancel, {"cancellation_reason": "nope"})


# ------------------------------------------------------------ form codec
def test_form_round_trip():
    params = {"amount": 25000, "metadata": {"booking ref": "A/B+C", "city": "Zürich"},
              "payment_method_types": ["card"], "confirm": True,
              "payment_method_options": {
                  "card": {"request_extended_authorization": "if_available"}}}
    encoded = encode_form(params)
    assert "metadata[booking%20ref]=A%2FB%2BC" in encoded
    assert parse_form(encoded) == {
        "amount": "25000", "metadata": {"booking ref": "A/B+C", "city": "Zürich"},
        "payment_method_types": {"0": "card"}, "confirm": "true",
        "payment_method_options": {"card": {"request_extended_authorization": "if_available"}}}


def test_form_edge_cases():
    assert parse_form("a=1+2&b=%2B&&c") == {"a": "1 2", "b": "+", "c": ""}
    assert parse_form("m%5Bk%5D=v") == {"m": {"k": "v"}}  # encoded brackets
    assert parse_form("x[y=1") == {"x[y": "1"}  # malformed name stays literal
    with pytest.raises(FormError):
        parse_form("a[]=1&a[b]=2")


# ------------------------------------------------------------ webhook signatures
def vector_cases():
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text())["cases"]


@pytest.mark.parametrize("case", vector_cases(), ids=lambda case: case["name"])
def test_signature_scheme_matches_stripe_vectors(case):
    payload = base64.b64decode(case["payload_base64"])
    if case["expected_v1_for_secret"]:
        assert signature(payload, case["secret"], case["header_timestamp"]) == \
            case["expected_v1_for_secret"]
    valid = verify_stripe_signature(payload, case["header"], case["secret"],
                                    case["tolerance"], now=case["now"])
    assert valid == (case["expected"] == "valid"), case["reason"]

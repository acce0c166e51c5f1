"""The API description (CONTRACT.md Part 3, "API description") against the real stack:
nginx -> workers -> memcached + PostgreSQL + the Stripe/ChittyID doubles.

`GET /openapi.json` (no token) serves web/openapi.json, an OpenAPI 3.1 document whose
schemas are JSON Schema 2020-12; every route the service has is described (read from
src/gateway/routes.cpp's kRoutes and nginx's static locations); and the service's real
answers, driven through a realistic sequence, match the description: the status is one
the operation describes and the body validates against that answer's schema ($refs
resolved against the whole document). Uses Debian's python3-jsonschema.
"""

import hashlib
import hmac
import json
import re
import subprocess
import time
import urllib.parse
import uuid

import jsonschema
import pytest

from conftest import (BETA_TOKEN, LOWRATE_TOKEN, REPO, WEBHOOK_SECRET, _any_free_port,
                      launched_stack, unique, wait_until)

DESCRIPTION = REPO / "web" / "openapi.json"
ROUTES_CPP = REPO / "src" / "gateway" / "routes.cpp"
NGINX_SERVER = REPO / "nginx" / "common-server.conf.template"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WAIT_S = 10
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x22" * 64



# CONTRACT.md Part 3, "Guest links": exercised by their own test below.
GUEST_ROUTES = {
    ("POST", "/api/holds/{}/guest_link"),
    ("GET", "/pay/{}"),
    ("GET", "/pay/{}/hold"),
    ("POST", "/pay/{}/accept"),
}


def load_description():
    return json.loads(DESCRIPTION.read_text(encoding="utf-8"))


def normalized(path):
    """`/api/holds/:id` and `/api/holds/{id}` are one route: `/api/holds/{}`."""
    return re.sub(r"\{[^}/]+\}|:[A-Za-z_][A-Za-z0-9_]*", "{}", path)


def service_routes():
    """(METHOD, path) of every Route{{"METHOD", "path"}, …} in routes.cpp's kRoutes."""
    found = set(re.findall(r'Route\{\{"([A-Z]+)",\s*"([^"]+)"\}', ROUTES_CPP.read_text()))
    assert found, "no Route{{…}} entries found in routes.cpp: has its shape changed?"
    return {(m, normalized(p)) for m, p in found}


def nginx_static_routes():
    """GET of every exact nginx location that serves a file itself (alias/root, no worker):
    e.g. /openapi.json. The worker's locations are covered by routes.cpp."""
    text = NGINX_SERVER.read_text()
    routes = set()
    for path, block in re.findall(r"location\s*=\s*(/\S+)\s*\{([^}]*)\}", text):
        if "internal;" in block or "fastcgi_pass" in block or "return " in block:
            continue
        if re.search(r"^\s*(alias|root|try_files)\s", block, re.M):
            routes.add(("GET", normalized(path)))
    return routes


def described_routes(doc):
    return {(m.upper(), normalized(p)) for p, item in doc["paths"].items() for m in item
            if m in METHODS}


def all_schemas(node, where="$"):
    """Every JSON Schema in the document: components.schemas and each `schema` of a
    parameter, header or media type."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}"
            if key == "schema" and isinstance(value, dict):
                yield here, value
            elif key == "schemas" and where.endswith("components"):
                for name, schema in value.items():
                    yield f"{here}.{name}", schema
            else:
                yield from all_schemas(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from all_schemas(value, f"{where}[{i}]")


def all_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


def pointer(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


# ---------------------------------------------------------------- (1) the document


def test_openapi_json_is_served_by_nginx_without_a_token_and_is_the_file(stack):
    answer = stack.api("GET", "/openapi.json", token=None)
    assert answer.status == 200, answer
    assert answer.headers.get("Content-Type", "").split(";")[0] == "application/json"
    assert answer.body == DESCRIPTION.read_bytes()
    doc = answer.json
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    assert doc["info"]["title"] and doc["info"]["version"]


def test_every_schema_is_valid_json_schema_2020_12_and_every_ref_resolves():
    doc = load_description()
    assert doc.get("jsonSchemaDialect", "https://json-schema.org/draft/2020-12/schema") == \
        "https://json-schema.org/draft/2020-12/schema"
    schemas = list(all_schemas(doc))
    assert len(schemas) > 40, len(schemas)
    for where, schema in schemas:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise AssertionError(f"{where} is not a valid JSON Schema 2020-12: {e.message}") from e
    for ref in set(all_refs(doc)):
        pointer(doc, ref)  # a KeyError names a dangling $ref
    # Every operation: an id, and every answer described with a description.
    ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            ids.append(op["operationId"])
            assert op["responses"], (method, path)
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status), (method, path, status)
                if "$ref" in response:
                    response = pointer(doc, response["$ref"])
                assert response["description"], (method, path, status)
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ChittyIDToken"] == {**schemes["ChittyIDToken"], "type": "apiKey",
                                        "in": "header", "name": "ChittyID-Token"}


def test_only_the_public_routes_go_without_a_token():
    doc = load_description()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            public = path.startswith("/pay/") or not path.startswith("/api/")
            assert (op.get("security") == []) == public, (method, path)
            if not public:
                assert "401" in op["responses"], (method, path)


# ---------------------------------------------------------------- (2) every route described


def test_every_route_the_service_has_is_described():
    doc = load_description()
    described = described_routes(doc)
    exists = service_routes() | nginx_static_routes()
    assert ("GET", "/openapi.json") in exists  # the nginx side of the parse works
    missing = sorted(exists - described)
    assert not missing, f"routes the service has but openapi.json does not describe: {missing}"
    unknown = sorted(described - exists)
    assert not unknown, f"openapi.json describes routes the service does not have: {unknown}"


def test_the_route_check_would_catch_an_undescribed_route():
    doc = load_description()
    del doc["paths"]["/api/holds/{id}/refund"]
    assert ("POST", "/api/holds/{}/refund") in service_routes() - described_routes(doc)


# ---------------------------------------------------------------- (3) real answers match


class Checker:
    """Validates a real answer against the description of (method, path template)."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver(base_uri="", referrer=doc)
        self.seen = set()

    def response(self, method, template, status):
        op = self.doc["paths"][template][method.lower()]
        described = op["responses"].get(str(status))
        assert described is not None, \
            f"{method} {template} answered {status}, which it does not describe " \
            f"({sorted(op['responses'])})"
        while "$ref" in described:
            described = pointer(self.doc, described["$ref"])
        return described

    def request(self, method, template, body):
        """A body the service accepted must be one the description accepts."""
        op = self.doc["paths"][template][method.lower()]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        validator = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method} {template}: an accepted body fails its schema: {errors}"
        return body

    def __call__(self, answer, method, template):
        described = self.response(method, template, answer.status)
        self.seen.add((method, template, answer.status))
        content = described.get("content")
        if not content:
            assert not answer.body, answer
            return answer
        media = answer.headers.get("Content-Type", "").split(";")[0].strip()
        assert media in content, \
            f"{method} {template} {answer.status}: {media} not in {list(content)}"
        for name, header in described.get("headers", {}).items():
            if header.get("required"):
                assert answer.headers.get(name) is not None, (name, answer.headers)
        if media != "application/json":
            return answer
        validator = jsonschema.Draft202012Validator(content[media]["schema"],
                                                    resolver=self.resolver)
        errors = sorted(validator.iter_errors(answer.json), key=lambda e: list(e.absolute_path))
        assert not errors, (f"{method} {template} {answer.status} does not match its schema: " +
                            "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]) +
                            f"\nbody: {answer.text[:1500]}")
        return answer


@pytest.fixture(scope="module")
def check():
    return Checker(load_description())


def q(value):
    return urllib.parse.quote(value, safe="")


def iso(unix):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def event_types(stack, hold_id):
    answer = stack.api("GET", f"/api/holds/{q(hold_id)}/events?limit=100")
    return [e["type"] for e in answer.json["data"]] if answer.status == 200 else []


def test_the_schemas_reject_what_the_service_must_not_answer(check):
    """The check is not vacuous: a hold with a missing field, a float amount or an unknown
    status, and an error without `code`, fail their schemas."""
    hold_schema = {"$ref": "#/components/schemas/Hold"}
    validator = jsonschema.Draft202012Validator(hold_schema, resolver=check.resolver)
    good = {"id": "pi_1", "chitty_id": None, "status": "requires_capture", "amount": 5000,
            "amount_capturable": 5000, "amount_captured": 0, "amount_refunded": 0,
            "currency": "usd", "description": "d", "customer_email": None, "property_id": None,
            "tenant_id": None, "metadata": {}, "tier": "NEW_GUEST", "tier_limit": 250000,
            "created_at": "2026-12-04T10:00:00Z", "expires_at": None, "captured_at": None,
            "canceled_at": None, "estimated_processing_fee": None, "payment_intent": "pi_1",
            "payment_intents": ["pi_1"], "release_after": None, "authorize_at": None,
            "stay_ends_at": None, "reauthorize": False, "reauthorization": None, "claim": None,
            "disclosure": None, "dispute": None}
    assert validator.is_valid(good)
    assert not validator.is_valid({k: v for k, v in good.items() if k != "claim"})
    assert not validator.is_valid({**good, "amount": 50.5})
    assert not validator.is_valid({**good, "status": "authorized"})
    assert not validator.is_valid({**good, "created_at": "2026-12-04T10:00:00.5+00:00"})
    assert not validator.is_valid({**good, "surprise": 1})
    error = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/Error"},
                                            resolver=check.resolver)
    assert error.is_valid({"error": "x", "code": "not_found"})
    assert not error.is_valid({"error": "x"})


def test_the_services_answers_match_the_description(stack, check):
    api = stack.api
    prop = unique("prop-oa")

    # Public: health, this document, metrics (loopback).
    check(api("GET", "/health", token=None), "GET", "/health")
    check(api("GET", "/openapi.json", token=None), "GET", "/openapi.json")
    check(api("GET", "/metrics", token=None), "GET", "/metrics")

    # The wording, then a hold confirmed server-side that cites it.
    disclosure = check(api("GET", "/api/disclosure"), "GET", "/api/disclosure").json
    create = check.request("POST", "/api/holds", {
        "amount": 25000, "currency": "USD", "description": "Damage deposit, flat 12",
        "property_id": prop, "tenant_id": "tenant-7", "customer_email": "guest@example.com",
        "metadata": {"booking_id": "4711"}, "payment_method": "pm_card_visa",
        "stay_ends_at": iso(time.time() + 30 * 86400),
        "disclosure": {"version": disclosure["version"], "accepted_at": iso(time.time())}})
    created = check(api("POST", "/api/holds", create,
                        headers={"Idempotency-Key": unique("oa-create")}), "POST", "/api/holds")
    assert created.status == 201
    hold = created.json
    hid = q(hold["id"])
    assert hold["status"] == "requires_capture" and hold["client_secret"]
    got = check(api("GET", f"/api/holds/{hid}"), "GET", "/api/holds/{id}").json
    assert got["disclosure"]["version"] == disclosure["version"]
    check(api("GET", f"/api/holds/{q(hold['chitty_id'])}"), "GET", "/api/holds/{id}")
    listed = check(api("GET", f"/api/holds?property_id={q(prop)}&limit=1"), "GET", "/api/holds")
    assert [h["id"] for h in listed.json["data"]] == [hold["id"]]

    # Evidence, an itemized capture citing it, a partial refund, the trail.
    uploaded = check(api("POST", f"/api/holds/{hid}/evidence?filename=lamp.png", raw=PNG,
                         headers={"Content-Type": "image/png"}), "POST", "/api/holds/{id}/evidence")
    assert uploaded.status == 201
    file_id = uploaded.json["id"]
    evidence = check(api("GET", f"/api/holds/{hid}/evidence"), "GET", "/api/holds/{id}/evidence")
    assert [f["id"] for f in evidence.json["data"]] == [file_id]
    claim = check.request("POST", "/api/holds/{id}/capture", {
        "reason": "damage", "items": [
            {"description": "Broken lamp", "amount": 12000, "category": "damage",
             "evidence": [file_id]},
            {"description": "Extra cleaning", "amount": 4500, "category": "cleaning"}]})
    captured = check(api("POST", f"/api/holds/{hid}/capture", claim), "POST",
                     "/api/holds/{id}/capture")
    assert captured.status == 200 and captured.json["claim"]["total"] == 16500
    assert captured.json["estimated_processing_fee"] is not None
    refund = check.request("POST", "/api/holds/{id}/refund", {"amount": 4500, "reason": "waived"})
    refunded = check(api("POST", f"/api/holds/{hid}/refund", refund), "POST",
                     "/api/holds/{id}/refund")
    assert refunded.status == 200 and refunded.json["amount_refunded"] == 4500
    wait_until(lambda: "refunded" in event_types(stack, hold["id"]), WAIT_S, "the refunded event")
    events = check(api("GET", f"/api/holds/{hid}/events?limit=100"), "GET",
                   "/api/holds/{id}/events")
    assert {"created", "evidence_added", "captured", "refunded"} <= \
        {e["type"] for e in events.json["data"]}
    check(api("GET", f"/api/holds/{hid}/events?limit=1"), "GET", "/api/holds/{id}/events")

    # Conflicts on the captured hold.
    for path, body, code in (("capture", {}, "hold_already_captured"),
                             ("cancel", {}, "hold_already_captured"),
                             ("refund", {"amount": 999999}, "refund_exceeds_captured"),
                             ("reauthorize", {}, "hold_not_authorized"),
                             ("dispute/submit", None, "no_dispute")):
        answer = check(api("POST", f"/api/holds/{hid}/{path}", body), "POST",
                       f"/api/holds/{{id}}/{path}")
        assert (answer.status, answer.json["code"]) == (409, code), answer

    # A second hold, confirmed by the guest's browser, released; releasing again conflicts.
    other = check(api("POST", "/api/holds", {"amount": 5000, "description": "second",
                                             "property_id": prop}), "POST", "/api/holds").json
    oid = q(other["id"])
    assert stack.confirm(other["id"]).status == 200
    check(api("POST", f"/api/holds/{oid}/reauthorize", check.request(
        "POST", "/api/holds/{id}/reauthorize", {})), "POST", "/api/holds/{id}/reauthorize")
    cancel = check.request("POST", "/api/holds/{id}/cancel",
                           {"cancellation_reason": "requested_by_customer", "reason": "no damage"})
    canceled = check(api("POST", f"/api/holds/{oid}/cancel", cancel), "POST",
                     "/api/holds/{id}/cancel")
    assert canceled.status == 200 and canceled.json["status"] == "canceled"
    again = check(api("POST", f"/api/holds/{oid}/cancel", {}), "POST", "/api/holds/{id}/cancel")
    assert again.status == 409
    assert check(api("POST", f"/api/holds/{oid}/capture", {}), "POST",
                 "/api/holds/{id}/capture").status == 409
    assert check(api("POST", f"/api/holds/{oid}/refund", {}), "POST",
                 "/api/holds/{id}/refund").status == 409

    # A scheduled hold: a SetupIntent, no PaymentIntent yet.
    later = iso(time.time() + 7 * 86400)
    schedule = check.request("POST", "/api/holds", {
        "amount": 5000, "description": "scheduled", "property_id": prop, "authorize_at": later,
        "release_after": iso(time.time() + 9 * 86400), "reauthorize": True,
        "stay_ends_at": iso(time.time() + 20 * 86400), "tier": "NEW_GUEST"})
    scheduled = check(api("POST", "/api/holds", schedule), "POST", "/api/holds").json
    assert scheduled["status"] == "scheduled" and scheduled["setup_client_secret"]
    check(api("GET", f"/api/holds/{q(scheduled['id'])}"), "GET", "/api/holds/{id}")
    check(api("GET", f"/api/holds?status=scheduled&property_id={q(prop)}"), "GET", "/api/holds")

    check(api("GET", "/api/notifications?status=failed"), "GET", "/api/notifications")

    # What the service refuses as a bad body, the description refuses too.
    for template, body in (("/api/holds", {"description": "x", "ammount": 5}),
                           ("/api/holds", {"description": "x", "amount": 250.5}),
                           ("/api/holds", {"amount": 5000}),
                           ("/api/holds/{id}/capture", {"items": []}),
                           ("/api/holds/{id}/cancel", {"cancellation_reason": "bored"}),
                           ("/api/holds/{id}/refund", {"amount": 0})):
        op = check.doc["paths"][template]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert not jsonschema.Draft202012Validator(schema, resolver=check.resolver).is_valid(body)

    # Errors: 400, 401, 402, 403, 404, 413, 422.
    for answer, method, template in (
            (api("POST", "/api/holds", {"description": "x", "ammount": 5}), "POST", "/api/holds"),
            (api("POST", "/api/holds", raw="{not json"), "POST", "/api/holds"),
            (api("POST", "/api/holds", {"description": "x", "amount": 10}), "POST", "/api/holds"),
            (api("POST", "/api/holds", {"description": "x", "currency": "chf"}), "POST",
             "/api/holds"),
            (api("GET", "/api/holds?limit=0"), "GET", "/api/holds"),
            (api("GET", "/api/notifications?status=all"), "GET", "/api/notifications"),
            (api("POST", f"/api/holds/{hid}/evidence?filename=x.pdf", raw=PNG,
                 headers={"Content-Type": "application/pdf"}), "POST", "/api/holds/{id}/evidence"),
            (api("GET", f"/api/holds/{hid}/events?starting_after=evt_nope"), "GET",
             "/api/holds/{id}/events")):
        assert check(answer, method, template).status == 400, answer
    for method, template, path in (("GET", "/api/holds", "/api/holds"),
                                   ("POST", "/api/holds", "/api/holds"),
                                   ("GET", "/api/holds/{id}", f"/api/holds/{hid}"),
                                   ("GET", "/api/disclosure", "/api/disclosure"),
                                   ("GET", "/api/notifications",
                                    "/api/notifications?status=failed")):
        for token in (None, "tok_wrong"):
            answer = check(api(method, path, {} if method == "POST" else None, token=token),
                           method, template)
            assert answer.status == 401, answer
    declined = check(api("POST", "/api/holds", {"description": "declined",
                                                "payment_method": "pm_card_chargeDeclined"}),
                     "POST", "/api/holds")
    assert declined.status == 402 and declined.json["id"].startswith("pi_"), declined
    too_high = check(api("POST", "/api/holds", {"description": "x", "tier": "PREMIUM_PROPERTY"},
                         token=BETA_TOKEN), "POST", "/api/holds")
    assert too_high.status == 403, too_high
    for method, template in (("GET", "/api/holds/{id}"), ("GET", "/api/holds/{id}/events"),
                             ("GET", "/api/holds/{id}/evidence"),
                             ("POST", "/api/holds/{id}/capture"),
                             ("POST", "/api/holds/{id}/cancel"),
                             ("POST", "/api/holds/{id}/refund"),
                             ("POST", "/api/holds/{id}/reauthorize"),
                             ("POST", "/api/holds/{id}/dispute/submit")):
        path = template.replace("{id}", "pi_" + uuid.uuid4().hex[:24])
        answer = check(api(method, path, {} if method == "POST" else None), method, template)
        assert answer.status == 404, answer
    # Another client's hold is not found either.
    assert check(api("GET", f"/api/holds/{hid}", token=BETA_TOKEN), "GET",
                 "/api/holds/{id}").status == 404
    big = check(api("POST", "/api/holds", raw='{"description": "' + "x" * 70000 + '"}'),
                "POST", "/api/holds")
    assert big.status == 413, big
    key = unique("oa-key")
    first = check(api("POST", f"/api/holds/{hid}/refund", {"amount": 100},
                      headers={"Idempotency-Key": key}), "POST", "/api/holds/{id}/refund")
    assert first.status == 200, first
    reused = check(api("POST", f"/api/holds/{hid}/refund", {"amount": 200},
                       headers={"Idempotency-Key": key}), "POST", "/api/holds/{id}/refund")
    assert reused.status == 422, reused

    # The webhook: a bad signature, a signed event for an unknown PaymentIntent, its repeat.
    body = json.dumps({"id": f"evt_oa_{uuid.uuid4().hex}", "object": "event",
                       "type": "payment_intent.succeeded", "created": int(time.time()),
                       "data": {"object": {"id": "pi_" + uuid.uuid4().hex[:24],
                                           "object": "payment_intent"}}}).encode()
    t = int(time.time())
    signature = f"t={t},v1=" + hmac.new(WEBHOOK_SECRET.encode(), f"{t}.".encode() + body,
                                        hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json"}
    bad = check(api("POST", "/webhook", raw=body, token=None,
                    headers={**headers, "Stripe-Signature": f"t={t},v1={'0' * 64}"}),
                "POST", "/webhook")
    assert bad.status == 400 and bad.json["code"] == "invalid_signature", bad
    for _ in range(2):
        received = check(api("POST", "/webhook", raw=body, token=None,
                             headers={**headers, "Stripe-Signature": signature}),
                         "POST", "/webhook")
        assert received.status == 200, received
    assert received.json.get("duplicate") is True, received

    # Every route of the service was exercised with at least one answer (the guest routes
    # by the guest test below).
    exercised = {(m, normalized(t)) for m, t, _ in check.seen}
    expected = {route for route in service_routes() | nginx_static_routes()
                if route not in GUEST_ROUTES}
    assert expected <= exercised, sorted(expected - exercised)


def test_guest_link_answers_match_the_description(stack, check):
    """CONTRACT.md Part 3, "Guest links", once its routes are in routes.cpp."""
    api = stack.api
    hold = stack.create_hold(property_id=unique("prop-oa-guest"))
    hid = q(hold["id"])
    link = check(api("POST", f"/api/holds/{hid}/guest_link", {}), "POST",
                 "/api/holds/{id}/guest_link")
    assert link.status == 201, link
    token = link.json["url"].rsplit("/pay/", 1)[1]
    assert check(api("POST", f"/api/holds/{hid}/guest_link", {}, token=None), "POST",
                 "/api/holds/{id}/guest_link").status == 401
    assert check(api("POST", f"/api/holds/{hid}/guest_link", {}, token=BETA_TOKEN), "POST",
                 "/api/holds/{id}/guest_link").status == 404
    page = check(api("GET", f"/pay/{q(token)}", token=None), "GET", "/pay/{token}")
    assert page.status == 200, page
    seen = check(api("GET", f"/pay/{q(token)}/hold", token=None), "GET", "/pay/{token}/hold")
    assert seen.status == 200 and seen.json["hold_id"] == hold["id"], seen
    outdated = check(api("POST", f"/pay/{q(token)}/accept", {"disclosure_version": "1999-01-01"},
                         token=None), "POST", "/pay/{token}/accept")
    assert (outdated.status, outdated.json["code"]) == (409, "disclosure_outdated"), outdated
    accepted = check(api("POST", f"/pay/{q(token)}/accept",
                         {"disclosure_version": seen.json["disclosure"]["version"]}, token=None),
                     "POST", "/pay/{token}/accept")
    assert accepted.status < 300, accepted
    check(api("GET", f"/api/holds/{hid}"), "GET", "/api/holds/{id}")
    check(api("GET", f"/api/holds/{hid}/events?limit=100"), "GET", "/api/holds/{id}/events")
    bogus = "x" * 43
    for method, template, body in (("GET", "/pay/{token}", None),
                                   ("GET", "/pay/{token}/hold", None),
                                   ("POST", "/pay/{token}/accept", {"disclosure_version": "x"})):
        answer = check(api(method, template.replace("{token}", bogus), body, token=None),
                       method, template)
        assert answer.status == 404, answer
    exercised = {(m, normalized(t)) for m, t, _ in check.seen}
    assert GUEST_ROUTES <= exercised, sorted(GUEST_ROUTES - exercised)


@pytest.fixture(scope="module")
def unreachable_client_stack():
    """A stack whose client alpha's notification URL refuses connections: its
    notifications fail and are listed."""
    yield from launched_stack({
        "CHITTYCHARGE_CLIENT_WEBHOOKS": f"alpha=http://127.0.0.1:{_any_free_port()}/hooks",
        "CHITTYCHARGE_NOTIFY_SECRET": "notify_openapi_secret_0001",
    }, prefix="chittycharge-it-openapi-")


def test_failed_notifications_match_the_description(unreachable_client_stack, check):
    stack = unreachable_client_stack
    # 429: the low-rate client (6 a minute) spends its budget — on this stack's own
    # memcached, not the shared stack's, whose budget test_reliability counts on.
    for _ in range(2 * 6 + 2):
        answer = check(stack.api("GET", "/api/disclosure", token=LOWRATE_TOKEN), "GET",
                       "/api/disclosure")
        if answer.status == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            break
    else:
        raise AssertionError("the low-rate client was never limited")
    hold = stack.create_hold(payment_method="pm_card_visa")

    def listed():
        stack.run_jobs()
        answer = stack.api("GET", "/api/notifications?status=failed&limit=100")
        ours = [n for n in answer.json.get("data", []) if n["hold_id"] == hold["id"]]
        return answer if ours else None

    answer = wait_until(listed, 30, "a failed notification of the hold to be listed", interval=1)
    check(answer, "GET", "/api/notifications")
    first = [n for n in answer.json["data"] if n["hold_id"] == hold["id"]][0]
    assert first["status"] == "retrying" and first["attempts"] >= 1 and first["last_error"]
    page = check(stack.api("GET", "/api/notifications?status=failed&limit=1"), "GET",
                 "/api/notifications")
    assert len(page.json["data"]) == 1


def test_the_docs_example_runs_as_written(stack):
    """docs/api.md, "The API description": its curl example against the test stack."""
    text = (REPO / "docs" / "api.md").read_text()
    section = text.split("## The API description: `GET /openapi.json`", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    script = "set -euo pipefail\n" + blocks[0].replace("127.0.0.1:8080",
                                                       f"127.0.0.1:{stack.http_port}")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr + done.stdout
    version, count = done.stdout.split()
    doc = load_description()
    assert (version, int(count)) == (doc["openapi"], len(doc["paths"]))

#!/usr/bin/python3
"""Stripe API double for ChittyCharge: PaymentIntents (manual capture), search,
events and signed webhooks, customers, payment methods and SetupIntents
(stripe_customers, stripe_setup) and a movable clock (stripe_clock), with
Stripe's auth, form encoding, parameter validation (against Stripe's OpenAPI
subset), idempotency and error shapes, plus a /_test control API for fault
injection. See README.md for the full contract.

Request pipeline for /v1 (one function per step, below):
  log → latency → fault (may answer first) → route → auth → params (OpenAPI)
  → idempotency claim → execute under the lock (holds past capture_before lapse
  first, then stripe_model / stripe_customers / stripe_setup) → idempotency store
  → optional self-check of the answer against the OpenAPI response schema.

Thread model: one lock (``StripeApp.lock``) guards every piece of state; sleeps
and network I/O never happen while holding it. Webhooks go out from their own
thread (stripe_webhooks.EventHub).
"""

import base64
import dataclasses
import json
import os
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from double_http import Response, Router, main_guard, new_parser, run
from formcodec import FormError, parse_form, parse_pairs
from multipart import MultipartError, is_form_data, parse_form_data
from openapi_check import CONFIRM_PATH, ParamError, load_spec
from stripe_claims import Claims
from stripe_clock import CLOCK, lapse_due
from stripe_customers import Customers
from stripe_model import (RequestContext, StripeError, StripeModel, error_object,
                          invalid_request, new_id, paginate, resource_missing, setup_outcome)
from stripe_search import SearchError, parse_query
from stripe_setup import CONFIRM_PATH as SETUP_CONFIRM_PATH
from stripe_setup import SetupIntents
from stripe_webhooks import EventHub

IDEMPOTENCY_TTL_S = 24 * 3600
MAX_IDEMPOTENCY_KEY = 255
FILE_CONTENTS = re.compile(r"^/v1/files/(?P<file>[^/]+)/contents$")
PUBLISHABLE_KEY_ROUTES = {("POST", CONFIRM_PATH), ("POST", SETUP_CONFIRM_PATH)}
KEY_KINDS = (("sk_test_", "sk_test"), ("rk_test_", "rk_test"), ("pk_test_", "pk_test"))
SECRET_KINDS = ("sk_test", "rk_test")
UNRECOGNIZED_URL = ("Unrecognized request URL ({method}: {path}). Please see "
                    "https://stripe.com/docs or we can help at https://support.stripe.com/.")
NOT_FORM_ENCODED = ("Invalid request (check that your POST content type is "
                    "application/x-www-form-urlencoded). If you have any questions, we can help "
                    "at https://support.stripe.com/.")


# ================================================================== Stripe.js
STRIPE_JS_PATHS = ("/v3", "/v3/")
STRIPE_JS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stripe_js_standin.js")
FORWARDED_PREFIX = re.compile(r"^(/[A-Za-z0-9._-]+)*$")


def stripe_js(request):
    """GET /v3/: the Stripe.js stand-in (stripe_js_standin.js), its /v1 calls aimed back at
    this double: under X-Forwarded-Prefix when a proxy (the local nginx, same origin as the
    page) forwards it, else at this double's own origin."""
    prefix = request.header("X-Forwarded-Prefix") or ""
    if prefix and FORWARDED_PREFIX.match(prefix):
        base = prefix
    else:
        host = request.header("Host") or "127.0.0.1"
        base = "https://" + re.sub(r"[^A-Za-z0-9.:\[\]-]", "", host)
    with open(STRIPE_JS_FILE, encoding="utf-8") as f:
        body = f.read().replace("@@API_BASE@@", base)
    return Response(200, body.encode(), [("Content-Type", "text/javascript; charset=utf-8"),
                                         ("Cache-Control", "no-cache")])


# ================================================================== auth
def api_key_from(request):
    """Bearer <key>, Basic base64(<key>:), or Basic <key>; None when absent."""
    header = (request.header("Authorization") or "").strip()
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials, validate=True).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return credentials
    return header


def key_kind(key):
    for prefix, kind in KEY_KINDS:
        if key and key.startswith(prefix) and len(key) > len(prefix):
            return kind
    return None


def mask_key(key):
    prefix = key[:8] if key_kind(key) else ""
    hidden = max(0, len(key) - len(prefix) - 4)
    return prefix + "*" * hidden + key[len(prefix) + hidden:]


def _auth_error(message, status=401):
    headers = [("WWW-Authenticate", 'Basic realm="Stripe"')] if status == 401 else ()
    return StripeError(status, error_object("invalid_request_error", message), executed=False,
                       headers=headers)


class Auth:
    def __init__(self, secret_key=None, publishable_key=None):
        self.secret_key = secret_key
        self.publishable_key = publishable_key

    def check(self, key, route_id):
        """→ key kind; raises 401 (missing/wrong key) or 403 (publishable key off its route)."""
        if not key:
            raise _auth_error(
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.")
        kind = key_kind(key)
        expected = self.publishable_key if kind == "pk_test" else self.secret_key
        if kind is None or (expected is not None and key != expected):
            raise _auth_error(f"Invalid API Key provided: {mask_key(key)}")
        if kind == "pk_test" and route_id not in PUBLISHABLE_KEY_ROUTES:
            raise _auth_error("This API call cannot be made with a publishable API key. Please "
                              "use a secret API key. You can find a list of your API keys at "
                              "https://dashboard.stripe.com/account/apikeys.", status=403)
        return kind


# ================================================================== idempotency
@dataclass
class IdempotencyEntry:
    key: tuple
    endpoint: str
    fingerprint: str
    request_id: str
    created: float = field(default_factory=CLOCK.time)  # the double's clock (stripe_clock)
    response: Response = None  # None while the first request is executing


class IdempotencyStore:
    """Stripe's rules (STRIPE-FACTS §10), scoped per API key. Caller holds the lock."""

    def __init__(self):
        self.entries = {}

    def claim(self, scope, ctx, endpoint, params):
        """→ (new entry to settle, None) or (None, finished entry to replay)."""
        self._prune()
        idem_key = ctx.idempotency_key
        if len(idem_key) > MAX_IDEMPOTENCY_KEY:
            raise invalid_request(f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY} "
                                  "characters long.", executed=False)
        fingerprint = json.dumps(params, sort_keys=True)
        entry = self.entries.get((scope, idem_key))
        if entry is None:
            entry = IdempotencyEntry((scope, idem_key), endpoint, fingerprint, ctx.request_id)
            self.entries[entry.key] = entry
            return entry, None
        if entry.endpoint != endpoint:
            raise _idempotency_error(
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{entry.endpoint}' vs '{endpoint}'). Try using a key other than "
                f"'{idem_key}' if you meant to execute a different request.")
        if entry.fingerprint != fingerprint:
            raise _idempotency_error(
                "Keys for idempotent requests can only be used with the same parameters they were "
                f"first used with. Try using a key other than '{idem_key}' if you meant to "
                "execute a different request.")
        if entry.response is None:
            raise StripeError(409, error_object(
                "invalid_request_error",
                "There is currently another in-progress request using this Stripe-Idempotency "
                "key (that probably means you submitted twice, and the other request is still "
                f"going through): {idem_key}. Please try again later.",
                "idempotency_key_in_use"), executed=False)
        return None, entry

    def __len__(self):
        return len(self.entries)

    def settle(self, entry, response):
        """Store the answer of an executed request; forget the key otherwise."""
        if response is None:
            self.entries.pop(entry.key, None)
        else:
            entry.response = response

    def clear(self):
        self.entries.clear()

    def _prune(self):
        cutoff = CLOCK.time() - IDEMPOTENCY_TTL_S
        for key in [k for k, e in self.entries.items() if e.created < cutoff]:
            del self.entries[key]


def _idempotency_error(message):
    return StripeError(400, error_object("idempotency_error", message), executed=False)


def replay(entry, ctx):
    stored = entry.response
    headers = [(k, v) for k, v in stored.headers if k != "Request-Id"]
    headers += [("Request-Id", ctx.request_id), ("Original-Request", entry.request_id),
                ("Idempotent-Replayed", "true")]
    response = Response(stored.status, stored.body, headers)
    response.injected = getattr(stored, "injected", False)
    return response


# ================================================================== faults
class Fault:
    """One injected failure rule (see README "Faults")."""

    def __init__(self, spec):
        unknown = set(spec) - {"method", "path", "status", "count", "delay_ms", "reset",
                               "headers", "body", "when"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        self.method = spec.get("method")
        try:
            self.path = re.compile(spec.get("path", ""))
        except re.error as exc:
            raise ValueError(f"path is not a valid regex: {exc}") from None
        self.status = _optional_int(spec, "status")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        self.remaining = _optional_int(spec, "count") or 1  # -1 = forever
        self.delay_ms = _optional_int(spec, "delay_ms") or 0
        self.reset = bool(spec.get("reset", False))
        self.headers = dict(spec.get("headers") or {})
        self.body = spec.get("body")
        self.when = spec.get("when", "before")
        if self.when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        self.spec = spec

    def matches(self, method, path):
        method_ok = self.method is None or self.method.upper() == method
        return method_ok and bool(self.path.search(path))

    @property
    def preempts(self):
        return self.when == "before" and (self.status is not None or self.reset)

    def answer(self, ctx, headers):
        if self.reset:
            return Response(0, drop=True)
        body = self.body if self.body is not None else _default_fault_body(self.status)
        response = Response.json(self.status, body, headers + list(self.headers.items()))
        response.injected = True  # not Stripe's answer: exempt from --self-check
        return response

    def sleep(self):
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)


def _optional_int(spec, name):
    value = spec.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"{name} must be an integer")
    return value


def _default_fault_body(status):
    if status == 429:
        return {"error": error_object("invalid_request_error",
                                      "Request rate limit exceeded. Learn more about rate limits "
                                      "here https://stripe.com/docs/rate-limits.", "rate_limit")}
    if status >= 500:
        return {"error": error_object("api_error", "An unknown error occurred")}
    return {"error": error_object("invalid_request_error", f"Injected fault (HTTP {status}).")}


class FaultList:
    def __init__(self):
        self.rules = []

    def add(self, spec):
        self.rules.append(Fault(spec))

    def take(self, method, path):
        for rule in self.rules:
            if rule.matches(method, path):
                if rule.remaining > 0:
                    rule.remaining -= 1
                if rule.remaining == 0:
                    self.rules.remove(rule)
                return rule
        return None

    def view(self):
        return [dict(rule.spec, remaining=rule.remaining) for rule in self.rules]

    def __len__(self):
        return len(self.rules)

    def clear(self):
        self.rules.clear()


# ================================================================== request log
def _lenient_form(text):
    try:
        return parse_form(text)
    except FormError:
        return {"_unparsed": text}


def _logged_params(request):
    """The POST body as the request log shows it (files as their description)."""
    if request.method != "POST":
        return {}
    content_type = request.header("Content-Type", "")
    if is_form_data(content_type):  # claims: the Files API
        try:
            pairs = parse_form_data(request.body, content_type)
            return parse_pairs([(name, str(value)) for name, value in pairs])  # not the bytes
        except (MultipartError, FormError) as exc:
            return {"_unparsed": f"multipart/form-data, {len(request.body)} bytes: {exc}"}
    return _lenient_form(request.body.decode("utf-8", "replace"))


class RequestLog:
    def __init__(self):
        self.entries = []

    def start(self, request, ctx, auth):
        entry = {"id": ctx.request_id, "time": time.time(), "method": request.method,
                 "path": request.path, "query": _lenient_form(request.query_string),
                 "params": _logged_params(request), "idempotency_key": ctx.idempotency_key,
                 "stripe_version": ctx.api_version, "auth": auth,
                 "headers": {k.lower(): v for k, v in request.headers.items()
                             if k.lower() not in ("authorization", "cookie")},
                 "status": None, "replayed": False, "fault": None,
                 "peer": "%s:%s" % tuple(request.client[:2]) if request.client else None}
        self.entries.append(entry)
        return entry

    def finish(self, entry, response, fault):
        entry["status"] = None if response.drop else response.status
        entry["replayed"] = response.header("Idempotent-Replayed") == "true"
        if fault:
            entry["fault"] = "reset" if fault.reset else ("status" if fault.status else "delay")

    def clear(self):
        self.entries.clear()

    def __len__(self):
        return len(self.entries)


# ================================================================== the app
@dataclass
class Route:
    method: str
    path: str
    template: str
    operation: dict
    path_params: dict
    handler: object

    @property
    def id(self):
        return (self.method, self.template)


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class StripeApp:
    def __init__(self, config):
        self.config = config
        self.spec = load_spec(config.openapi)
        self.lock = threading.RLock()
        self.model = StripeModel(self._emit)
        self.claims = Claims(self.model, self._emit)  # files, refunds, charges, disputes
        # issue 12: customers, payment methods, setup intents (stripe_customers, stripe_setup)
        self.customers = Customers(self.model)
        self.model.customers = self.customers
        self.setups = SetupIntents(self.model, self.customers)
        self.hub = EventHub(threading.Condition(self.lock), url=config.webhook_url,
                            secrets=config.webhook_secret or [])
        self.auth = Auth(config.api_key, config.publishable_key)
        self.idempotency = IdempotencyStore()
        self.faults = FaultList()
        self.log = RequestLog()
        self.api_handlers = self._api_handlers()
        self.control = self._control_router()
        self._restore_knobs()

    def _restore_knobs(self):
        self.latency_ms = self.config.latency_ms
        self.model.search_lag_s = self.config.search_lag_ms / 1000
        self.hub.configure(paused=False, delay_ms=0, retries=3, retry_delay_ms=200)

    def __call__(self, request):
        if request.path.startswith("/_test/"):
            return self._control(request)
        if request.method == "GET" and request.path in STRIPE_JS_PATHS:
            return stripe_js(request)
        return self._api(request)

    def _emit(self, event_type, obj, ctx):
        self.hub.create(event_type, obj, ctx.request_id, ctx.idempotency_key)
        self.claims.on_event(event_type, obj)  # e.g. a dispute test card's dispute

    # ------------------------------------------------------------ /v1 pipeline
    def _api(self, request):
        key = api_key_from(request)
        ctx = RequestContext(new_id("req_", 14), request.header("Idempotency-Key"),
                             request.header("Stripe-Version"), key_kind(key))
        with self.lock:
            entry = self.log.start(request, ctx, ctx.key_kind or ("invalid" if key else "none"))
            fault = self.faults.take(request.method, request.path)
        _sleep_ms(self.latency_ms)
        if fault and fault.preempts:
            fault.sleep()
            response = fault.answer(ctx, self._headers(ctx))
        else:
            response = self._api_response(request, ctx, key, fault)
            if fault and fault.when == "after":
                fault.sleep()
                response = Response(0, drop=True) if fault.reset else response
        with self.lock:
            self.log.finish(entry, response, fault)
        return response

    def _api_response(self, request, ctx, key, fault):
        contents = FILE_CONTENTS.match(request.path) if request.method == "GET" else None
        if contents:  # the files host's download URL (File.url): bytes, not JSON
            return self._file_contents(contents["file"], ctx, key)
        route = None
        try:
            route = self._route(request)
            ctx.key_kind = self.auth.check(key, route.id)
            params = self._params(request, route)
            response = self._execute(route, params, ctx, key, fault)
        except StripeError as exc:
            response = self._error_response(exc, ctx)
        return self._self_check(route, response)

    def _route(self, request):
        found = self.spec.match(request.method, request.path)
        handler = found and self.api_handlers.get((request.method, found[0]))
        if not handler:
            raise invalid_request(UNRECOGNIZED_URL.format(method=request.method, path=request.path),
                                  status=404, executed=False)
        return Route(request.method, request.path, found[0], found[1], found[2], handler)

    def _params(self, request, route):
        content_type = request.header("Content-Type", "")
        form_data = request.method == "POST" and is_form_data(content_type) and \
            self.spec.takes_form_data(route.operation)  # claims: POST /v1/files
        if request.method == "POST" and not form_data:
            if request.body and content_type and \
                    not content_type.startswith("application/x-www-form-urlencoded"):
                raise invalid_request(NOT_FORM_ENCODED, executed=False)
            text = request.body.decode("utf-8", "replace")
        else:
            text = request.query_string
        try:
            raw = parse_pairs(parse_form_data(request.body, content_type)) if form_data \
                else parse_form(text)
            return self.spec.check_params(self.spec.params_schema(route.operation), raw)
        except MultipartError as exc:
            raise invalid_request(f"Invalid multipart/form-data body: {exc}.",
                                  executed=False) from None
        except FormError as exc:
            raise invalid_request(str(exc), exc.param, executed=False) from None
        except ParamError as exc:
            raise invalid_request(exc.message, exc.param, exc.code, executed=False) from None

    def _execute(self, route, params, ctx, key, fault):
        entry = None
        if route.method == "POST" and ctx.idempotency_key is not None:
            with self.lock:
                entry, finished = self.idempotency.claim(key, ctx, route.path, params)
            if finished:
                return replay(finished, ctx)
        try:
            if fault and fault.when == "before":
                fault.sleep()  # delay-only rule: the key stays "in progress" meanwhile
            response, executed = self._run(route, params, ctx)
            if fault and fault.when == "after" and fault.status is not None:
                response = fault.answer(ctx, self._headers(ctx))  # Stripe's own 5xx: stored
        except BaseException:
            if entry:
                with self.lock:
                    self.idempotency.settle(entry, None)
            raise
        if entry:
            with self.lock:
                self.idempotency.settle(entry, response if executed else None)
        return response

    def _file_contents(self, file_id, ctx, key):
        """GET /v1/files/{file}/contents (Stripe serves it on files.stripe.com, needs the
        secret key; not in the OpenAPI subset): the stored bytes with their type."""
        try:
            self.auth.check(key, ("GET", "/v1/files/{file}/contents"))
            with self.lock:
                stored = self.claims.files.get(file_id, param="file")
            return Response(200, stored.data, [("Content-Type", stored.mime)] + self._headers(ctx))
        except StripeError as exc:
            return self._error_response(exc, ctx)

    def _run(self, route, params, ctx):
        """Run the operation under the lock → (response, execution began)."""
        with self.lock:
            try:
                self._lapse_due()
                body = route.handler(route.path_params, params, ctx)
                return Response.json(200, body, self._headers(ctx)), True
            except StripeError as exc:
                return self._error_response(exc, ctx), exc.executed
            except Exception:  # a bug in the double: Stripe's 500, stored like Stripe's
                if self.config.verbose:
                    traceback.print_exc()
                return self._error_response(StripeError(500, error_object(
                    "api_error", "An unknown error occurred")), ctx), True

    def _lapse_due(self):
        """Authorizations whose capture_before the clock passed lapse first (stripe_clock)."""
        return lapse_due(self.model, RequestContext())

    def _headers(self, ctx):
        headers = [("Request-Id", ctx.request_id), ("Stripe-Version", ctx.version),
                   ("Cache-Control", "no-cache, no-store")]
        if ctx.idempotency_key is not None:
            headers.append(("Idempotency-Key", ctx.idempotency_key))
        return headers

    def _error_response(self, exc, ctx):
        log_url = f"https://dashboard.stripe.com/test/logs/{ctx.request_id}?t={int(time.time())}"
        error = dict(exc.error, request_log_url=log_url)
        return Response.json(exc.status, {"error": error}, self._headers(ctx) + exc.headers)

    def _self_check(self, route, response):
        if not self.config.self_check or response.drop or getattr(response, "injected", False):
            return response
        if route is not None:
            schema = self.spec.response_schema(route.operation, response.status)
        else:
            schema = {"$ref": "#/components/schemas/error"}
        errors = self.spec.validate(json.loads(response.body), schema)
        if not errors:
            return response
        print(f"stripe double self-check failed: {errors[:10]}", file=sys.stderr, flush=True)
        return Response.json(500, {"error": error_object(
            "api_error", "stripe double self-check failed: " + "; ".join(errors[:5]))})

    # ------------------------------------------------------------ /v1 handlers
    def _api_handlers(self):
        model = self.model
        return {
            ("POST", "/v1/payment_intents"): lambda ids, p, ctx: model.create(p, ctx),
            ("GET", "/v1/payment_intents"): lambda ids, p, ctx: model.list(p, ctx),
            ("GET", "/v1/payment_intents/search"): self._search,
            ("GET", "/v1/payment_intents/{intent}"):
                lambda ids, p, ctx: model.retrieve(ids["intent"], p, ctx),
            ("POST", "/v1/payment_intents/{intent}"):
                lambda ids, p, ctx: model.update(ids["intent"], p, ctx),
            ("POST", CONFIRM_PATH): lambda ids, p, ctx: model.confirm(ids["intent"], p, ctx),
            ("POST", "/v1/payment_intents/{intent}/capture"):
                lambda ids, p, ctx: model.capture(ids["intent"], p, ctx),
            ("POST", "/v1/payment_intents/{intent}/cancel"):
                lambda ids, p, ctx: model.cancel(ids["intent"], p, ctx),
            ("POST", "/v1/payment_intents/{intent}/increment_authorization"):
                lambda ids, p, ctx: model.increment_authorization(ids["intent"], p, ctx),
            ("GET", "/v1/events"): self._list_events,
            ("GET", "/v1/events/{id}"): self._retrieve_event,
            **self.claims.api_handlers(),  # files, refunds, charges, disputes
            # issue 12: customers, payment methods, setup intents
            **self.customers.handlers(),
            **self.setups.handlers(),
        }

    def _search(self, ids, params, ctx):
        try:
            predicate = parse_query(params["query"])
        except SearchError as exc:
            raise invalid_request(f"Invalid search query: {exc}", "query", executed=False) from None
        return self.model.search(params, ctx, predicate)

    def _list_events(self, ids, params, ctx):
        if "type" in params and "types" in params:
            raise invalid_request("You may only specify one of these parameters: type, types.",
                                  executed=False)
        if len(params.get("types", ())) > 20:
            raise invalid_request("Invalid types: must contain at most 20 event types.", "types",
                                  executed=False)
        # newest first: created desc, then creation order desc (sort is stable)
        records = sorted(reversed(self.hub.events), key=lambda r: r.event["created"],
                         reverse=True)
        page, more = paginate(records, lambda r: r.event["id"], params, "event",
                              lambda r: _event_matches(r, params))
        return {"object": "list", "url": "/v1/events", "has_more": more,
                "data": [r.event for r in page]}

    def _retrieve_event(self, ids, params, ctx):
        record = self.hub.get(ids["id"])
        if record is None:
            raise resource_missing("event", ids["id"], "id")
        return record.event

    # ------------------------------------------------------------ /_test control API
    def _control_router(self):
        router, intent, event = Router(), "/_test/payment_intents/(?P<id>[^/]+)", \
            "/_test/events/(?P<id>[^/]+)"
        for method, pattern, handler in (
                ("GET", "/_test/health", lambda body: {"status": "ok"}),
                ("GET", "/_test/requests", lambda body: list(self.log.entries)),
                ("DELETE", "/_test/requests", lambda body: {"cleared": self._clear(self.log)}),
                ("POST", "/_test/reset", self._c_reset),
                ("GET", "/_test/payment_intents",
                 lambda body: [self.model.render(i) for i in self.model.intents.values()]),
                ("GET", "/_test/charges", lambda body: list(self.model.charges.values())),
                ("POST", intent + "/expire", self._c_expire),
                ("POST", intent + "/authenticate", self._c_authenticate),
                ("GET", "/_test/faults", lambda body: self.faults.view()),
                ("POST", "/_test/faults", self._c_add_fault),
                ("DELETE", "/_test/faults", lambda body: {"cleared": self._clear(self.faults)}),
                ("DELETE", "/_test/idempotency",
                 lambda body: {"cleared": self._clear(self.idempotency)}),
                ("POST", "/_test/latency", self._c_latency),
                ("POST", "/_test/search-lag", self._c_search_lag),
                ("GET", "/_test/webhooks", lambda body: self.hub.settings()),
                ("POST", "/_test/webhooks", self._c_webhooks),
                ("POST", "/_test/webhooks/flush", self._c_flush),
                ("POST", "/_test/webhooks/drain", self._c_drain),
                ("GET", "/_test/events", lambda body: [r.view() for r in self.hub.events]),
                ("POST", event + "/resend", self._c_resend),
                *self.claims.control_routes()):  # files, refunds, disputes
            router.add(method, pattern, handler)
        # issue 12: the clock, customers, payment methods, setup intents
        setup = "/_test/setup_intents/(?P<id>[^/]+)"
        for method, pattern, handler in (
                ("GET", "/_test/clock", lambda body: CLOCK.view()),
                ("POST", "/_test/clock", self._c_clock),
                ("GET", "/_test/customers",
                 lambda body: [self.customers.render_any(c) for c in self.customers.customers]),
                ("GET", "/_test/payment_methods",
                 lambda body: [pm.obj for pm in self.model.payment_methods.values()]),
                ("GET", "/_test/setup_intents",
                 lambda body: [self.setups.render(si) for si, _ in self.setups.intents.values()]),
                ("POST", setup + "/authenticate", self._c_setup_authenticate),
                ("POST", "/_test/payment_methods/(?P<id>[^/]+)/decline",
                 self._c_payment_method_decline)):
            router.add(method, pattern, handler)
        return router

    def _control(self, request):
        handler, groups = self.control.find(request.method, request.path)
        if handler is None:
            status = 405 if groups else 404
            return Response.json(status, {"error": f"no control endpoint {request.method} "
                                                   f"{request.path}"})
        try:
            body = request.json() if request.method == "POST" else {}
            if not isinstance(body, dict):
                raise ControlError(400, "the body must be a JSON object")
            if handler in (self._c_drain,):
                return Response.json(200, handler(body, **groups))
            with self.lock:
                self._lapse_due()
                answer = handler(body, **groups)
                return answer if isinstance(answer, Response) else Response.json(200, answer)
        except ValueError as exc:
            return Response.json(400, {"error": f"bad request: {exc}"})
        except ControlError as exc:
            return Response.json(exc.status, {"error": str(exc)})
        except StripeError as exc:
            return Response.json(exc.status, {"error": exc.error["message"],
                                              "stripe_error": exc.error})

    @staticmethod
    def _clear(store):
        count = len(store)
        store.clear()
        return count

    def _c_reset(self, body):
        self.model.reset()
        self.claims.reset()
        self.customers.reset()
        self.setups.reset()
        CLOCK.reset()
        self.hub.reset()
        for store in (self.idempotency, self.faults, self.log):
            store.clear()
        self._restore_knobs()
        return {"reset": True}

    def _c_expire(self, body, id):  # noqa: A002 (route group name)
        return self.model.expire(id, RequestContext())

    def _c_authenticate(self, body, id):  # noqa: A002
        result = body.get("result", "succeeded")
        if result not in ("succeeded", "failed"):
            raise ControlError(400, "result must be 'succeeded' or 'failed'")
        return self.model.authenticate(id, result == "succeeded", RequestContext())

    def _c_setup_authenticate(self, body, id):  # noqa: A002
        result = body.get("result", "succeeded")
        if result not in ("succeeded", "failed"):
            raise ControlError(400, "result must be 'succeeded' or 'failed'")
        return self.setups.authenticate(id, result == "succeeded", RequestContext())

    def _c_payment_method_decline(self, body, id):  # noqa: A002
        """The issuer starts declining this saved card (a card that worked on-session and
        declines the later off-session hold: STRIPE-NEXT §1.2 "other declines")."""
        unknown = set(body) - {"decline_code"}
        if unknown:
            raise ControlError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        code = body.get("decline_code", "generic_decline")
        if code not in DECLINE_MESSAGES:
            raise ControlError(400, "decline_code must be one of " + ", ".join(DECLINE_MESSAGES))
        pm = self.model.payment_methods.get(id)
        if pm is None:
            raise ControlError(404, f"no payment method {id}")
        card = pm.card
        pm.card = dataclasses.replace(card, outcome="decline", setup=setup_outcome(card),
                                      decline_code=code, message=DECLINE_MESSAGES[code],
                                      off_session="decline", off_session_set_up="decline")
        return pm.obj

    def _c_clock(self, body):
        """Move "now" forward (advance_seconds, or to a unix time), then let due holds lapse."""
        unknown = set(body) - {"advance_seconds", "to"}
        if unknown or len(body) != 1:
            raise ControlError(400, "send exactly one of advance_seconds, to")
        if "advance_seconds" in body:
            CLOCK.advance(_non_negative(body, "advance_seconds"))
        else:
            target = _non_negative(body, "to")
            if target < CLOCK.now():
                raise ControlError(400, f"to ({target}) is before now ({CLOCK.now()}): the clock "
                                        "only moves forward")
            CLOCK.advance_to(target)
        return dict(CLOCK.view(), lapsed=self._lapse_due())

    def _c_add_fault(self, body):
        self.faults.add(body)
        return {"faults": self.faults.view()}

    def _c_latency(self, body):
        self.latency_ms = _non_negative(body, "ms")
        return {"latency_ms": self.latency_ms}

    def _c_search_lag(self, body):
        self.model.search_lag_s = _non_negative(body, "ms") / 1000
        return {"search_lag_ms": int(self.model.search_lag_s * 1000)}

    def _c_webhooks(self, body):
        unknown = set(body) - {"url", "secret", "paused", "delay_ms", "retries", "retry_delay_ms"}
        if unknown:
            raise ControlError(400, f"unknown fields: {sorted(unknown)}")
        changes = {k: _non_negative(body, k) for k in ("delay_ms", "retries", "retry_delay_ms")
                   if k in body}
        if "paused" in body:
            changes["paused"] = bool(body["paused"])
        if "url" in body:
            changes["url"] = body["url"]
        if "secret" in body:
            secret = body["secret"]
            changes["secrets"] = [secret] if isinstance(secret, str) else list(secret or [])
        self.hub.configure(**changes)
        return self.hub.settings()

    def _c_flush(self, body):
        order = body.get("order", "fifo")
        if order not in ("fifo", "reverse"):
            raise ControlError(400, "order must be 'fifo' or 'reverse'")
        return {"flushed": self.hub.flush(order, bool(body.get("duplicate", False)))}

    def _c_drain(self, body):
        timeout_ms = _non_negative(body, "timeout_ms") if "timeout_ms" in body else 5000
        return {"drained": self.hub.drain(timeout_ms / 1000)}

    def _c_resend(self, body, id):  # noqa: A002
        record = self.hub.resend(id)
        if record is None:
            raise ControlError(404, f"no event {id}")
        return record.view()


def _event_matches(record, params):
    event = record.event
    kinds = params.get("types") or ([params["type"]] if "type" in params else None)
    if kinds and not any(_type_matches(event["type"], kind) for kind in kinds):
        return False
    created = params.get("created")
    if isinstance(created, int) and event["created"] != created:
        return False
    if isinstance(created, dict) and not _in_range(event["created"], created):
        return False
    if "delivery_success" in params:
        endpoint = event["pending_webhooks"] > 0
        return endpoint and (record.state == "delivered") == params["delivery_success"]
    return True


def _type_matches(event_type, pattern):
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return event_type == pattern


def _in_range(value, bounds):
    checks = {"gt": value > bounds.get("gt", value - 1), "gte": value >= bounds.get("gte", value),
              "lt": value < bounds.get("lt", value + 1), "lte": value <= bounds.get("lte", value)}
    return all(checks.values())


# The decline codes the decline control offers, with Stripe's messages.
DECLINE_MESSAGES = {"generic_decline": "Your card was declined.",
                    "insufficient_funds": "Your card has insufficient funds.",
                    "do_not_honor": "Your card was declined.",
                    "expired_card": "Your card has expired."}


def _non_negative(body, name):
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ControlError(400, f"{name} must be a non-negative integer")
    return value


def _sleep_ms(ms):
    if ms:
        time.sleep(ms / 1000)


# ================================================================== CLI
def parse_args(argv=None):
    parser = new_parser("Stripe API test double for ChittyCharge (see README.md).")
    parser.add_argument("--api-key",
                        help="the only secret key accepted (default: any sk_test_/rk_test_)")
    parser.add_argument("--publishable-key", help="the only pk_test_ key accepted (default: any)")
    parser.add_argument("--webhook-url", help="POST events here")
    parser.add_argument("--webhook-secret", action="append",
                        help="signing secret; repeat to sign with several (secret rotation)")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every /v1 answer")
    parser.add_argument("--search-lag-ms", type=int, default=0,
                        help="search does not see PaymentIntents younger than this")
    parser.add_argument("--openapi", help="path of openapi-subset.json (default: vendored copy)")
    parser.add_argument("--self-check", action="store_true",
                        help="validate every /v1 answer against the OpenAPI response schema; "
                             "a mismatch becomes a 500 and a line on stderr")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run(StripeApp(args), args)


if __name__ == "__main__":
    main_guard(main)

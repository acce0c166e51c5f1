"""PaymentIntents as the Stripe double keeps them: Stripe-shaped objects, test
cards, and the manual-capture state machine (STRIPE-FACTS §1–§8, §13, §14),
with saved cards: customers, setup_future_usage, off-session confirmation and
per-network authorization windows (STRIPE-NEXT §1, §10). Times come from
stripe_clock.CLOCK.

Not thread-safe: the caller (stripe_double.StripeApp) holds its one lock around
every call. Params arrive already type-checked against the OpenAPI schema
(openapi_check.check_params). Every state change calls
``emit(event_type, object_snapshot, ctx)``. Failures raise ``StripeError``
carrying Stripe's HTTP status and error object; ``executed=False`` marks a
refusal before execution began (Stripe does not store those for idempotency).
"""

import base64
import copy
import hashlib
import itertools
import secrets
import string
import time
from dataclasses import dataclass, field

from stripe_clock import CLOCK

DEFAULT_API_VERSION = "2026-10-28.endive"
WEBHOOK_API_VERSION = DEFAULT_API_VERSION
AUTH_WINDOW_DAYS = 7
EXTENDED_AUTH_DAYS = 30
MAX_AMOUNT = 99_999_999
DAY = 86_400
VISA_MIT_WINDOW_S = 4 * DAY + 18 * 3600  # Visa merchant-initiated (off-session): 4 d 18 h

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix, length=24):
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def now():
    """The double's clock (stripe_clock.CLOCK: wall clock + what tests advanced)."""
    return CLOCK.now()


# ------------------------------------------------------------------ errors
@dataclass
class RequestContext:
    request_id: str = None
    idempotency_key: str = None
    api_version: str = None
    key_kind: str = "sk_test"  # sk_test | rk_test | pk_test

    @property
    def version(self):
        return self.api_version or DEFAULT_API_VERSION


class StripeError(Exception):
    def __init__(self, status, error, executed=True, headers=()):
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.executed = executed
        self.headers = list(headers)


def doc_url(code):
    return f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"


def error_object(type_, message, code=None, param=None, **extra):
    error = {"type": type_, "message": message}
    if code:
        error.update(code=code, doc_url=doc_url(code))
    if param:
        error["param"] = param
    error.update({k: v for k, v in extra.items() if v is not None})
    return dict(sorted(error.items()))


def invalid_request(message, param=None, code=None, status=400, executed=True, **extra):
    return StripeError(status, error_object("invalid_request_error", message, code, param, **extra),
                       executed)


def resource_missing(kind, ident, param, status=404):
    """404 when the URL names the missing object, 400 when a parameter does (as Stripe)."""
    return invalid_request(f"No such {kind}: '{ident}'", param, "resource_missing", status=status)


# ------------------------------------------------------------------ currencies
MINIMUM_AMOUNTS = {  # minor units, Stripe's "minimum charge amounts" table
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500,
    "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000,
    "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000}
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                "vuv", "xaf", "xof", "xpf"}
SUPPORTED_CURRENCIES = set(MINIMUM_AMOUNTS) | ZERO_DECIMAL | set(
    "all amd ang aoa ars awg azn bam bbd bdt bmd bnd bob bsd bwp byn bzd cdf cny cop crc cve dop "
    "dzd egp etb fjd fkp gel gip gmd gtq gyd hnl htg idr ils isk jmd kes kgs khr kyd kzt lak lbp "
    "lkr lrd lsl mad mdl mkd mmk mnt mop mur mvr mwk mzn nad ngn nio npr pab pen pgk php pkr qar "
    "rsd rub sar sbd scr shp sle sos srd std szl tjs top try ttd twd tzs uah uyu uzs wst xcd yer "
    "zar zmw".split())
_SYMBOLS = {"usd": "$", "cad": "$", "aud": "$", "nzd": "$", "sgd": "$", "hkd": "$", "eur": "€",
            "gbp": "£", "jpy": "¥"}


def money(amount, currency):
    symbol = _SYMBOLS.get(currency, "")
    if currency in ZERO_DECIMAL:
        return f"{symbol}{amount:,}"
    return f"{symbol}{amount / 100:,.2f}"


def check_currency(currency):
    if currency not in SUPPORTED_CURRENCIES:
        raise invalid_request(f"Invalid currency: {currency}. Stripe currently supports these "
                              f"currencies: {', '.join(sorted(SUPPORTED_CURRENCIES))}",
                              "currency", executed=False)


def check_amount(amount, currency):
    minimum = MINIMUM_AMOUNTS.get(currency, 50)
    if amount < 1:
        raise invalid_request("This value must be greater than or equal to 1.", "amount",
                              "parameter_invalid_integer", executed=False)
    if amount < minimum:
        raise invalid_request(f"Amount must be at least {money(minimum, currency)} {currency}",
                              "amount", "amount_too_small", executed=False)
    if amount > MAX_AMOUNT:
        raise invalid_request(f"Amount must be no more than {money(MAX_AMOUNT, currency)}",
                              "amount", "amount_too_large", executed=False)


# ------------------------------------------------------------------ metadata
def merge_metadata(current, update):
    """Stripe's rules: '' for a key unsets it, '' for the whole hash unsets all."""
    if update is None:
        return current
    if update == "":
        return {}
    merged = dict(current)
    for key, value in update.items():
        _check_metadata_pair(key, value)
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise invalid_request("Invalid metadata: an object can have at most 50 metadata keys "
                              f"(this request would make {len(merged)}).", "metadata",
                              executed=False)
    return merged


def _check_metadata_pair(key, value):
    param = f"metadata[{key}]"
    if not key or len(key) > 40 or "[" in key or "]" in key:
        raise invalid_request("Invalid metadata: keys must be 1 to 40 characters long and may not "
                              "contain '[' or ']'.", param, executed=False)
    if len(value) > 500:
        raise invalid_request("Invalid metadata: values must be at most 500 characters long.",
                              param, executed=False)


# ------------------------------------------------------------------ test cards
@dataclass(frozen=True)
class TestCard:
    """What a test card does. ``outcome`` is an on-session payment: approve |
    decline | authenticate (3-D Secure first). The other three default from it
    (None = derived, see ``setup_outcome`` / ``payment_outcome``):
    ``setup`` (SetupIntent confirm and attach: approve | decline | authenticate),
    ``off_session`` (an off-session payment with a card not set up for it) and
    ``off_session_set_up`` (once a SetupIntent or setup_future_usage=off_session
    set it up): approve | decline | authentication_required."""
    brand: str
    last4: str
    outcome: str = "approve"  # approve | decline | authenticate
    decline_code: str = None
    message: str = "Your card was declined."
    setup: str = None
    off_session: str = None
    off_session_set_up: str = None


_GENERIC = dict(outcome="decline", decline_code="generic_decline")
_NO_FUNDS = dict(outcome="decline", decline_code="insufficient_funds",
                 message="Your card has insufficient funds.")
TEST_PAYMENT_METHODS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", **_GENERIC),
    "pm_card_visa_chargeDeclined": TestCard("visa", "0002", **_GENERIC),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", **_NO_FUNDS),
    "pm_card_visa_chargeDeclinedInsufficientFunds": TestCard("visa", "9995", **_NO_FUNDS),
    "pm_card_authenticationRequired": TestCard("visa", "3184", outcome="authenticate"),
    "pm_card_authenticationRequiredOnSetup": TestCard("visa", "3155", outcome="authenticate",
                                                      off_session_set_up="approve"),
    # --- issue 12: saved cards (STRIPE-NEXT §10) ---
    "pm_card_amex": TestCard("amex", "0005"),
    "pm_card_discover": TestCard("discover", "1117"),
    "pm_card_authenticationRequiredSetupForOffSession": TestCard(
        "visa", "0446", outcome="authenticate", off_session="approve"),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", setup="approve", **_GENERIC),
}


def setup_outcome(card):
    """SetupIntent confirm / attach: approve | decline | authenticate."""
    return card.setup or card.outcome


def payment_outcome(pm, off_session):
    """approve | decline | authenticate | authentication_required for one payment attempt."""
    card = pm.card
    if not off_session:
        return card.outcome
    rule = card.off_session_set_up if pm.set_up_off_session else None
    rule = rule or card.off_session
    if rule:
        return rule
    return "authentication_required" if card.outcome == "authenticate" else card.outcome


@dataclass
class PaymentMethod:
    id: str
    card: TestCard
    obj: dict
    set_up_off_session: bool = False  # a SetupIntent / setup_future_usage=off_session succeeded


def _empty_billing_details():
    address = dict.fromkeys(("city", "country", "line1", "line2", "postal_code", "state"))
    return {"address": address, "email": None, "name": None, "phone": None}


def _fingerprint(card):
    digest = hashlib.sha256(f"{card.brand}{card.last4}".encode()).digest()
    return base64.b64encode(digest).decode()[:16].replace("+", "x").replace("/", "y")


def _card_basics(card):
    return {"brand": card.brand, "checks": {"address_line1_check": None,
                                            "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US", "exp_month": 12, "exp_year": time.gmtime().tm_year + 3,
            "fingerprint": _fingerprint(card), "funding": "credit", "last4": card.last4}


def payment_method_object(pm_id, card):
    details = _card_basics(card)
    details.update(display_brand=card.brand, generated_from=None, wallet=None,
                   networks={"available": [card.brand], "preferred": None},
                   three_d_secure_usage={"supported": True})
    return {"id": pm_id, "object": "payment_method", "allow_redisplay": "unspecified",
            "billing_details": _empty_billing_details(), "card": details, "created": now(),
            "customer": None, "livemode": False, "metadata": {}, "type": "card"}


# ------------------------------------------------------------------ intents
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing")
UPDATABLE_PAYMENT_FIELDS = ("requires_payment_method", "requires_confirmation", "requires_action")
PAYMENT_FIELDS = ("amount", "currency", "capture_method", "payment_method", "payment_method_types",
                  "payment_method_options", "setup_future_usage", "customer")
# Params that exist in Stripe but need objects the double does not have.
UNMODELED_PARAMS = ("application_fee_amount", "mandate", "mandate_data",
                    "on_behalf_of", "payment_method_data", "shipping", "transfer_data")
CARD_OPTION_KEYS = ("capture_method", "request_three_d_secure", "request_extended_authorization",
                    "request_incremental_authorization", "request_multicapture",
                    "request_overcapture")
EXPANDABLE = ("application", "customer", "invoice", "latest_charge", "on_behalf_of",
              "payment_method", "review")
RETURN_URL_MESSAGE = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. "
    "Because some of these payment methods might redirect your customer off of your page, you "
    "must provide a `return_url`. If you don't want to accept redirect-based payment methods, "
    "set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
    "Payment Intents.")


@dataclass
class Intent:
    pi: dict
    seq: int
    indexed_at: float = field(default_factory=time.monotonic)
    off_session: bool = False  # the last confirmation was off-session (a merchant-initiated hold)


def check_expand(expand, prefix=""):
    for path in expand:
        head = path[len(prefix):].split(".")[0] if path.startswith(prefix) else None
        if head not in EXPANDABLE:
            raise invalid_request(f"This property cannot be expanded ({path}).", executed=False)


def check_expand_paths(expand, allowed, prefix=""):
    """``expand[]`` for objects other than PaymentIntents: each path (after
    ``prefix``, e.g. ``data.`` on lists) must be in ``allowed``."""
    for path in expand:
        inner = path[len(prefix):] if path.startswith(prefix) else None
        if inner is None or (inner not in allowed and inner.split(".")[0] not in allowed):
            raise invalid_request(f"This property cannot be expanded ({path}).", executed=False)


def unexpected_state(intent_view, verb, allowed):
    status = intent_view["status"]
    plural = verb.rstrip("e") + "ed"
    message = (f"You cannot {verb} this PaymentIntent because it has a status of {status}. "
               f"Only a PaymentIntent with one of the following statuses may be {plural}: "
               f"{', '.join(allowed)}.")
    return invalid_request(message, code="payment_intent_unexpected_state",
                           payment_intent=intent_view)


class StripeModel:
    def __init__(self, emit):
        self.emit = emit
        self.search_lag_s = 0.0
        self.customers = None  # stripe_customers.Customers, wired in by StripeApp
        self.reset()

    def reset(self):
        self.intents = {}
        self.charges = {}
        self.payment_methods = {}
        self._seq = itertools.count(1)

    # ---------------------------------------------------------- rendering
    def render(self, intent, expand=(), version=None):
        pi = copy.deepcopy(intent.pi)
        before_basil = (version or DEFAULT_API_VERSION) < "2025-03-31"
        if pi["cancellation_reason"] == "expired" and before_basil:
            pi["cancellation_reason"] = "automatic"
        for path in expand:
            self._expand(pi, path.split(".")[0])
        return pi

    def _expand(self, pi, name):
        if name == "latest_charge" and isinstance(pi["latest_charge"], str):
            pi["latest_charge"] = copy.deepcopy(self.charges[pi["latest_charge"]])
        elif name == "payment_method" and isinstance(pi["payment_method"], str):
            pi["payment_method"] = copy.deepcopy(self.payment_methods[pi["payment_method"]].obj)
        elif name == "customer" and isinstance(pi["customer"], str):
            pi["customer"] = self.customers.render_any(pi["customer"])

    def _out(self, intent, params, ctx):
        return self.render(intent, params.get("expand", ()), ctx.version)

    def _emit_intent(self, event_type, intent, ctx):
        self.emit(event_type, self.render(intent, (), WEBHOOK_API_VERSION), ctx)

    def _emit_charge(self, event_type, charge, ctx):
        self.emit(event_type, copy.deepcopy(charge), ctx)

    # ---------------------------------------------------------- lookups
    def get(self, intent_id):
        intent = self.intents.get(intent_id)
        if intent is None:
            raise resource_missing("payment_intent", intent_id, "intent")
        return intent

    def ordered(self):
        """Newest first: created desc, then creation order desc."""
        return sorted(self.intents.values(), key=lambda i: (i.pi["created"], i.seq), reverse=True)

    def resolve_payment_method(self, pm_id):
        if pm_id in self.payment_methods:
            return self.payment_methods[pm_id]
        card = TEST_PAYMENT_METHODS.get(pm_id)
        if card is None:
            raise resource_missing("PaymentMethod", pm_id, "payment_method", status=400)
        new = new_id("pm_")
        self.payment_methods[new] = PaymentMethod(new, card, payment_method_object(new, card))
        return self.payment_methods[new]

    def _payment_method_param(self, params):
        if "payment_method" not in params:
            return None
        return self.resolve_payment_method(params["payment_method"])

    # ---------------------------------------------------------- customers (issue 12)
    def _customer_param(self, params):
        if not params.get("customer"):
            return None
        return self.customers.require(params["customer"], "customer")["id"]

    def _customer_update(self, intent, params):
        current = intent.pi["customer"]
        if "customer" not in params or params["customer"] in ("", current):
            return current
        if current is not None:
            raise invalid_request(
                "You cannot modify `customer` on a PaymentIntent once it already has been set. To "
                "fulfill a payment with a different Customer, cancel this PaymentIntent and create "
                "a new one.", "customer", executed=False)
        return self._customer_param(params)

    def _check_owner(self, pm, customer, intent):
        """A card saved to a Customer can only be used with that Customer."""
        owner = pm.obj["customer"]
        if owner is None or owner == customer:
            return
        carried = {"payment_intent": self.render(intent)} if intent else {}
        if customer is None:
            raise invalid_request(
                f"The `payment_method` parameter supplied {pm.id} belongs to the Customer "
                f"{owner}. Please include the Customer in the `customer` parameter on the "
                "PaymentIntent.", "source", "parameter_missing", executed=False, **carried)
        raise invalid_request(
            f"The PaymentMethod {pm.id} does not belong to the Customer you supplied {customer}. "
            "Please use this PaymentMethod with the Customer that it belongs to instead.",
            "payment_method", executed=False, **carried)

    # ---------------------------------------------------------- API operations
    def retrieve(self, intent_id, params, ctx):
        check_expand(params.get("expand", ()))
        return self._out(self.get(intent_id), params, ctx)

    def create(self, params, ctx):
        _refuse_unmodeled(params)
        check_expand(params.get("expand", ()))
        currency = params["currency"].lower()
        check_currency(currency)
        check_amount(params["amount"], currency)
        metadata = merge_metadata({}, params.get("metadata", {}))
        apm = _automatic_payment_methods(params, ctx)
        _check_off_session(params, params.get("setup_future_usage"))
        customer = self._customer_param(params)
        pm = self._payment_method_param(params)
        if pm:
            self._check_owner(pm, customer, None)
        if params.get("confirm"):
            _check_confirmable(pm, apm, params, ctx)
        intent = self._new_intent(params, currency, metadata, apm, pm, ctx)
        intent.pi["customer"] = customer
        if params.get("confirm"):
            self._attempt(intent, pm, params, ctx)
        return self._out(intent, params, ctx)

    def _new_intent(self, params, currency, metadata, apm, pm, ctx):
        pi_id = new_id("pi_")
        pi = {
            "id": pi_id, "object": "payment_intent", "amount": params["amount"],
            "amount_capturable": 0, "amount_details": {"tip": {}}, "amount_received": 0,
            "application": None, "application_fee_amount": None, "automatic_payment_methods": apm,
            "canceled_at": None, "cancellation_reason": None,
            "capture_method": params.get("capture_method", _default_capture_method(ctx)),
            "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
            "confirmation_method": params.get("confirmation_method", "automatic"),
            "created": now(), "currency": currency, "customer": None,
            "description": params.get("description"), "excluded_payment_method_types": None,
            "last_payment_error": None, "latest_charge": None, "livemode": False,
            "metadata": metadata, "next_action": None, "on_behalf_of": None,
            "payment_method": pm.id if pm else None, "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"installments": None, "mandate_options": None,
                                                "network": None,
                                                "request_three_d_secure": "automatic"}},
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "processing": None, "receipt_email": params.get("receipt_email"), "review": None,
            "setup_future_usage": params.get("setup_future_usage"), "shipping": None,
            "source": None, "statement_descriptor": params.get("statement_descriptor"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "status": "requires_confirmation" if pm else "requires_payment_method",
            "transfer_data": None, "transfer_group": params.get("transfer_group")}
        _merge_card_options(pi, params)
        intent = Intent(pi, next(self._seq))
        self.intents[pi_id] = intent
        return intent

    def update(self, intent_id, params, ctx):
        _refuse_unmodeled(params)
        check_expand(params.get("expand", ()))
        intent = self.get(intent_id)
        pi = intent.pi
        changes_payment = any(k in params for k in PAYMENT_FIELDS)
        if changes_payment and pi["status"] not in UPDATABLE_PAYMENT_FIELDS:
            raise unexpected_state(self.render(intent), "update", UPDATABLE_PAYMENT_FIELDS)
        currency = params.get("currency", pi["currency"]).lower()
        check_currency(currency)
        check_amount(params.get("amount", pi["amount"]), currency)
        metadata = merge_metadata(pi["metadata"], params.get("metadata"))
        customer = self._customer_update(intent, params)
        pm = self._payment_method_param(params)
        if pm:
            self._check_owner(pm, customer, intent)
        pi.update(currency=currency, amount=params.get("amount", pi["amount"]), metadata=metadata,
                  customer=customer)
        for key in ("description", "receipt_email", "statement_descriptor",
                    "statement_descriptor_suffix", "transfer_group", "capture_method",
                    "setup_future_usage", "payment_method_types"):
            if key in params:
                pi[key] = params[key] if params[key] != "" else None
        _merge_card_options(pi, params)
        if pm:
            pi.update(payment_method=pm.id, status="requires_confirmation")
        return self._out(intent, params, ctx)

    def confirm(self, intent_id, params, ctx):
        check_expand(params.get("expand", ()))
        intent = self.get(intent_id)
        if ctx.key_kind == "pk_test":
            _check_client_secret(intent, params.get("client_secret"))
        pi = intent.pi
        if pi["status"] not in CONFIRMABLE:
            raise unexpected_state(self.render(intent), "confirm", CONFIRMABLE)
        pm_id = params.get("payment_method", pi["payment_method"])
        pm = self.resolve_payment_method(pm_id) if pm_id else None
        _check_confirmable(pm, pi["automatic_payment_methods"], params, ctx)
        _check_off_session(params, params.get("setup_future_usage", pi["setup_future_usage"]),
                           confirming=True)
        self._check_owner(pm, pi["customer"], intent)
        for key in ("receipt_email", "capture_method", "setup_future_usage"):
            if key in params:
                pi[key] = params[key] or None
        _merge_card_options(pi, params)
        self._attempt(intent, pm, params, ctx)
        return self._out(intent, params, ctx)

    def capture(self, intent_id, params, ctx):
        check_expand(params.get("expand", ()))
        intent = self.get(intent_id)
        pi = intent.pi
        if pi["status"] != "requires_capture":
            raise unexpected_state(self.render(intent), "capture", ("requires_capture",))
        amount = params.get("amount_to_capture", pi["amount_capturable"])
        final = params.get("final_capture", True)
        charge = self.charges[pi["latest_charge"]]
        _check_capture(amount, final, pi, charge)
        pi["metadata"] = merge_metadata(pi["metadata"], params.get("metadata"))
        charge.update(captured=True, amount_captured=charge["amount_captured"] + amount,
                      balance_transaction=new_id("txn_"))
        pi["amount_received"] += amount
        pi["amount_capturable"] = 0 if final else pi["amount_capturable"] - amount
        if final:
            pi["status"] = "succeeded"
        self._emit_charge("charge.captured", charge, ctx)
        if final:
            self._emit_intent("payment_intent.succeeded", intent, ctx)
        return self._out(intent, params, ctx)

    def cancel(self, intent_id, params, ctx):
        check_expand(params.get("expand", ()))
        intent = self.get(intent_id)
        if intent.pi["status"] not in CANCELABLE:
            raise unexpected_state(self.render(intent), "cancel", CANCELABLE)
        self._cancel(intent, params.get("cancellation_reason"))
        self._emit_intent("payment_intent.canceled", intent, ctx)
        return self._out(intent, params, ctx)

    def _cancel(self, intent, reason):
        intent.pi.update(status="canceled", canceled_at=now(), cancellation_reason=reason,
                         amount_capturable=0, next_action=None)

    def increment_authorization(self, intent_id, params, ctx):
        check_expand(params.get("expand", ()))
        intent = self.get(intent_id)
        pi = intent.pi
        if pi["status"] != "requires_capture":
            raise unexpected_state(self.render(intent), "increment", ("requires_capture",))
        charge = self.charges[pi["latest_charge"]]
        card = charge["payment_method_details"]["card"]
        if card["incremental_authorization"]["status"] != "available":
            raise invalid_request("Incremental authorization is not available for this "
                                  "PaymentIntent's charge.", code="payment_intent_unexpected_state")
        amount = params["amount"]
        if amount <= pi["amount"]:
            raise invalid_request("The new amount must be greater than the currently authorized "
                                  f"amount ({pi['amount']}).", "amount", executed=False)
        check_amount(amount, pi["currency"])
        pi.update(amount=amount, amount_capturable=amount,
                  metadata=merge_metadata(pi["metadata"], params.get("metadata")))
        if "description" in params:
            pi["description"] = params["description"]
        charge["amount"] = card["amount_authorized"] = amount
        self._emit_intent("payment_intent.amount_capturable_updated", intent, ctx)
        return self._out(intent, params, ctx)

    # ---------------------------------------------------------- confirmation
    def _attempt(self, intent, pm, params, ctx):
        pi = intent.pi
        pi.update(payment_method=pm.id, last_payment_error=None, next_action=None)
        intent.off_session = bool(params.get("off_session"))
        card, outcome = pm.card, payment_outcome(pm, intent.off_session)
        if outcome == "decline":
            self._fail(intent, pm, ctx, "card_declined", card.decline_code, card.message)
        if outcome == "authentication_required" or (
                outcome == "authenticate" and params.get("error_on_requires_action")):
            self._fail(intent, pm, ctx, "authentication_required", "authentication_required",
                       "Your card was declined. This transaction requires authentication.")
        if outcome == "authenticate":
            self._require_action(intent, ctx)
            return
        self._authorize(intent, pm, ctx)

    def _authorize(self, intent, pm, ctx, three_d_secure=False):
        pi = intent.pi
        charge = self._new_charge(intent, pm, three_d_secure=three_d_secure)
        pi.update(latest_charge=charge["id"], next_action=None)
        self._save_for_future(intent, pm, ctx)
        if _is_manual(pi):
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            self._emit_intent("payment_intent.amount_capturable_updated", intent, ctx)
            return
        charge.update(captured=True, amount_captured=pi["amount"],
                      balance_transaction=new_id("txn_"))
        pi.update(status="succeeded", amount_received=pi["amount"])
        self._emit_intent("payment_intent.succeeded", intent, ctx)

    def _save_for_future(self, intent, pm, ctx):
        """setup_future_usage: attach the card to the intent's customer once authorized."""
        usage = intent.pi["setup_future_usage"]
        if not usage:
            return
        if intent.pi["customer"]:
            self.customers.attach(pm, intent.pi["customer"], ctx)
        if usage == "off_session":
            pm.set_up_off_session = True

    def _require_action(self, intent, ctx):
        source = new_id("src_")
        intent.pi.update(status="requires_action", next_action={
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": source,
                               "stripe_js": "https://hooks.stripe.com/redirect/authenticate/"
                                            f"{source}?client_secret=src_client_secret_"
                                            f"{new_id('', 24)}"}})
        self._emit_intent("payment_intent.requires_action", intent, ctx)

    def _fail(self, intent, pm, ctx, code, decline_code, message, with_charge=True):
        """Record a failed attempt, emit payment_failed, raise the 402 card_error."""
        pi = intent.pi
        charge = self._new_charge(intent, pm, failure=(code, message)) if with_charge else None
        error = error_object("card_error", message, code, charge=charge and charge["id"],
                             decline_code=decline_code, payment_method=copy.deepcopy(pm.obj))
        pi.update(status="requires_payment_method", last_payment_error=error,
                  payment_method=None, next_action=None)
        if charge:
            pi["latest_charge"] = charge["id"]
        self._emit_intent("payment_intent.payment_failed", intent, ctx)
        raise StripeError(402, dict(error, payment_intent=self.render(intent, (), ctx.version)))

    def _new_charge(self, intent, pm, failure=None, three_d_secure=False):
        pi, card, created = intent.pi, pm.card, now()
        options = pi["payment_method_options"]["card"]
        charge = {
            "id": new_id("ch_"), "object": "charge", "amount": pi["amount"], "amount_captured": 0,
            "amount_refunded": 0, "application": None, "application_fee": None,
            "application_fee_amount": None, "balance_transaction": None,
            "billing_details": _empty_billing_details(), "calculated_statement_descriptor":
            "CHITTYCHARGE", "captured": False, "created": created, "currency": pi["currency"],
            "customer": pi["customer"], "description": pi["description"], "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": failure[0] if failure else None,
            "failure_message": failure[1] if failure else None, "fraud_details": {},
            "livemode": False, "metadata": dict(pi["metadata"]), "on_behalf_of": None,
            "outcome": _outcome(card, failure), "paid": failure is None,
            "payment_intent": pi["id"], "payment_method": pm.id,
            "payment_method_details": {"card": _charge_card_details(
                card, pi, options, created, failure, three_d_secure, intent.off_session),
                "type": "card"},
            "receipt_email": pi["receipt_email"], "receipt_number": None,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{new_id('', 40)}",
            "refunded": False, "review": None, "shipping": None, "source_transfer": None,
            "statement_descriptor": None, "statement_descriptor_suffix": None,
            "status": "failed" if failure else "succeeded", "transfer_data": None,
            "transfer_group": None}
        self.charges[charge["id"]] = charge
        return charge

    # ---------------------------------------------------------- listing
    def list(self, params, ctx):
        check_expand(params.get("expand", ()), "data.")
        created = params.get("created")
        intents = [i for i in self.ordered() if created_matches(i.pi["created"], created)]
        if "customer" in params:
            intents = [i for i in intents if i.pi["customer"] == params["customer"]]
        page, has_more = paginate(intents, lambda i: i.pi["id"], params, "payment_intent")
        return {"object": "list", "url": "/v1/payment_intents", "has_more": has_more,
                "data": [self.render(i, _inner(params), ctx.version) for i in page]}

    def search(self, params, ctx, predicate):
        check_expand(params.get("expand", ()), "data.")
        limit = _check_limit(params.get("limit", 10))
        visible_before = time.monotonic() - self.search_lag_s
        hits = [i for i in self.ordered() if i.indexed_at <= visible_before and predicate(i.pi)]
        if "page" in params:
            after = _decode_page(params["page"])
            hits = [i for i in hits if (i.pi["created"], i.seq) < after]
        page = hits[:limit]
        more = len(hits) > limit
        return {"object": "search_result", "url": "/v1/payment_intents/search", "has_more": more,
                "next_page": _encode_page(page[-1]) if more else None,
                "data": [self.render(i, _inner(params), ctx.version) for i in page]}

    # ---------------------------------------------------------- test controls
    def authenticate(self, intent_id, succeed, ctx):
        """Finish (or fail) the customer's 3-D Secure step of a requires_action intent."""
        intent = self.get(intent_id)
        if intent.pi["status"] != "requires_action":
            raise unexpected_state(self.render(intent), "authenticate", ("requires_action",))
        pm = self.payment_methods[intent.pi["payment_method"]]
        if succeed:
            self._authorize(intent, pm, ctx, three_d_secure=True)
        else:
            try:
                self._fail(intent, pm, ctx, "payment_intent_authentication_failure", None,
                           "We are unable to authenticate your payment method. Please choose a "
                           "different payment method and try again.", with_charge=False)
            except StripeError:
                pass  # the browser sees the error; the control call reports the new state
        return self.render(intent)

    def expire(self, intent_id, ctx):
        """The card authorization lapses (capture_before passed)."""
        intent = self.get(intent_id)
        if intent.pi["status"] != "requires_capture":
            raise unexpected_state(self.render(intent), "expire", ("requires_capture",))
        self._cancel(intent, "expired")
        self._emit_charge("charge.expired", self.charges[intent.pi["latest_charge"]], ctx)
        self._emit_intent("payment_intent.canceled", intent, ctx)
        return self.render(intent)


# ------------------------------------------------------------------ helpers
def _refuse_unmodeled(params):
    for name in UNMODELED_PARAMS:
        if name in params:
            raise invalid_request(f"The Stripe test double does not model '{name}'.", name,
                                  executed=False)


def _default_capture_method(ctx):
    return "automatic" if ctx.version < "2024-04-10" else "automatic_async"


def _automatic_payment_methods(params, ctx):
    requested = params.get("automatic_payment_methods")
    if requested and requested.get("enabled") and "payment_method_types" in params:
        raise invalid_request("You may only specify one of these parameters: "
                              "automatic_payment_methods, payment_method_types.", executed=False)
    if requested is not None:
        if not requested.get("enabled"):
            return None
        return {"allow_redirects": requested.get("allow_redirects", "always"), "enabled": True}
    if "payment_method_types" in params or ctx.version < "2023-08-16":
        return None
    return {"allow_redirects": "always", "enabled": True}


def _check_confirmable(pm, apm, params, ctx):
    if pm is None:
        raise invalid_request(
            "You cannot confirm this PaymentIntent because it's missing a payment method. You can "
            "either update the PaymentIntent with a payment method and then confirm it again, or "
            "confirm it again directly with a payment method.",
            code="payment_intent_unexpected_state", executed=False)
    redirects_possible = apm and apm.get("allow_redirects") != "never"
    if (redirects_possible and ctx.key_kind != "pk_test" and not params.get("return_url")
            and not params.get("off_session")):
        raise invalid_request(RETURN_URL_MESSAGE, "return_url", executed=False)


def _check_off_session(params, setup_future_usage, confirming=False):
    """off_session only when confirming, and never together with setup_future_usage."""
    if not params.get("off_session"):
        return
    if not confirming and not params.get("confirm"):
        raise invalid_request("You can only use `off_session` when `confirm` is also set to true.",
                              "off_session", executed=False)
    if setup_future_usage:
        raise invalid_request(
            "You cannot confirm with the `off_session` parameter when `setup_future_usage` is "
            "also set on the PaymentIntent because you cannot set up future usages when "
            "processing payments off-session.", "off_session", executed=False)


def _check_client_secret(intent, client_secret):
    if not client_secret:
        raise invalid_request("Missing required param: client_secret.", "client_secret",
                              "parameter_missing", executed=False)
    if client_secret != intent.pi["client_secret"]:
        raise invalid_request(
            "The client_secret provided does not match any associated PaymentIntent on this "
            "account. Ensure the publishable key used belongs to the same account that created "
            "the PaymentIntent.", "client_secret", "payment_intent_invalid_parameter",
            executed=False)


def _check_capture(amount, final, pi, charge):
    if amount < 1:
        raise invalid_request("This value must be greater than or equal to 1.",
                              "amount_to_capture", executed=False)
    if amount > pi["amount_capturable"]:
        raise invalid_request("The requested capture amount is greater than the amount you can "
                              "capture for this charge.", "amount_to_capture", "amount_too_large")
    minimum = MINIMUM_AMOUNTS.get(pi["currency"], 50)  # STRIPE-NEXT §8: captures too
    if amount < minimum:
        raise invalid_request(f"Amount must be at least {money(minimum, pi['currency'])} "
                              f"{pi['currency']}", "amount_to_capture", "amount_too_small")
    multicapture = charge["payment_method_details"]["card"]["multicapture"]["status"]
    if not final and multicapture != "available":
        raise invalid_request("final_capture=false is only allowed when multicapture is available "
                              "for the charge.", "final_capture")


def _merge_card_options(pi, params):
    requested = params.get("payment_method_options", {})
    card = requested.get("card") if isinstance(requested, dict) else None
    if isinstance(card, dict):
        options = pi["payment_method_options"]["card"]
        options.update({k: v for k, v in card.items() if k in CARD_OPTION_KEYS and v != ""})


def _is_manual(pi):
    return pi["capture_method"] == "manual" or \
        pi["payment_method_options"]["card"].get("capture_method") == "manual"


def _available(options, name):
    return "available" if options.get(name) == "if_available" else "unavailable"


def _authorization_window_s(card, extended, off_session):
    """STRIPE-FACTS §6 / STRIPE-NEXT §1.2: Visa merchant-initiated 4 d 18 h, else 7 d."""
    if extended:
        return EXTENDED_AUTH_DAYS * DAY
    if off_session and card.brand == "visa":
        return VISA_MIT_WINDOW_S
    return AUTH_WINDOW_DAYS * DAY


def _charge_card_details(card, pi, options, created, failure, three_d_secure, off_session=False):
    approved = failure is None
    extended = approved and options.get("request_extended_authorization") == "if_available"
    window = _authorization_window_s(card, extended, off_session)
    details = _card_basics(card)
    details.update({
        "amount_authorized": pi["amount"] if approved else None,
        "capture_before": created + window if approved and _is_manual(pi) else None,
        "extended_authorization": {"status": "enabled" if extended else "disabled"},
        "incremental_authorization": {
            "status": _available(options, "request_incremental_authorization")},
        "installments": None, "mandate": None,
        "multicapture": {"status": _available(options, "request_multicapture")},
        "network": card.brand, "network_token": {"used": False},
        "overcapture": {"maximum_amount_capturable": pi["amount"],
                        "status": _available(options, "request_overcapture")},
        "three_d_secure": {"authentication_flow": "challenge", "result": "authenticated",
                           "result_reason": None, "version": "2.2.0"} if three_d_secure else None,
        "wallet": None})
    return details


def _outcome(card, failure):
    if failure is None:
        return {"network_status": "approved_by_network", "reason": None, "risk_level": "normal",
                "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"}
    return {"network_status": "declined_by_network", "reason": card.decline_code or failure[0],
            "risk_level": "normal", "risk_score": 32, "type": "issuer_declined",
            "seller_message": "The bank did not return any further details with this decline."}


def paginate(items, id_of, params, kind, keep=None):
    """Stripe list pagination over newest-first ``items``: (page, has_more).

    The cursors are positions among *all* ``items``; ``keep`` (a filter such as
    an event type) then applies to what lies beyond the cursor, so a cursor
    object need not match the filter itself."""
    limit = _check_limit(params.get("limit", 10))
    ids = [id_of(item) for item in items]

    def position(param):
        if params[param] not in ids:
            raise resource_missing(kind, params[param], param, status=400)
        return ids.index(params[param])

    def kept(window):
        return window if keep is None else [item for item in window if keep(item)]

    if "ending_before" in params:
        newer = kept(items[:position("ending_before")])
        return newer[-limit:], len(newer) > limit
    if "starting_after" in params:
        items = items[position("starting_after") + 1:]
    items = kept(items)
    return items[:limit], len(items) > limit


def _inner(params):
    return [path[len("data."):] for path in params.get("expand", ())]


def _check_limit(limit):
    if not 1 <= limit <= 100:
        raise invalid_request(f"Invalid limit: {limit}. The limit must be between 1 and 100.",
                              "limit", executed=False)
    return limit


def created_matches(created, condition):
    """``created`` (int, or {gt, gte, lt, lte}) as Stripe's list endpoints filter it."""
    if condition is None:
        return True
    if isinstance(condition, int):
        return created == condition
    tests = {"gt": created.__gt__, "gte": created.__ge__, "lt": created.__lt__,
             "lte": created.__le__}
    return all(tests[op](value) for op, value in condition.items())


def _encode_page(intent):
    return base64.urlsafe_b64encode(f"{intent.pi['created']}:{intent.seq}".encode()).decode()


def _decode_page(token):
    try:
        created, seq = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        return int(created), int(seq)
    except (ValueError, UnicodeDecodeError):
        raise invalid_request(f"Invalid page: {token}", "page", executed=False) from None

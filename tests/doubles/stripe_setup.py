"""SetupIntents for the Stripe double (issue 12: save a card for later off-session holds).

States: ``requires_payment_method`` (no card yet, or the last attempt failed)
→ ``requires_confirmation`` (card set, not confirmed) → confirm →
``succeeded``, or ``requires_action`` for 3-D Secure cards (finished with
``POST /_test/setup_intents/{id}/authenticate``), or a 402 ``card_error`` for
the decline cards (back to ``requires_payment_method`` with
``last_setup_error``). On success the card is attached to the SetupIntent's
Customer (``payment_method.attached``) and, with ``usage=off_session`` (the
default), counts as set up for off-session payments
(stripe_model.payment_outcome). Confirm also works with the publishable key
and the ``client_secret`` (Stripe.js ``confirmCardSetup``).

Events: ``setup_intent.created`` (before any confirmation),
``setup_intent.requires_action``, ``setup_intent.succeeded``,
``setup_intent.setup_failed``.

Refusal wording follows recorded Stripe answers where known (see README);
not thread-safe: the caller holds StripeApp's lock.
"""

import copy
import itertools

from stripe_model import (RETURN_URL_MESSAGE, StripeError, _automatic_payment_methods,
                          check_expand_paths, error_object, invalid_request, merge_metadata,
                          new_id, now, paginate, resource_missing, setup_outcome)
from stripe_model import created_matches

CONFIRM_PATH = "/v1/setup_intents/{intent}/confirm"
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
UNMODELED_PARAMS = ("attach_to_self", "flow_directions", "mandate_data", "on_behalf_of",
                    "payment_method_data", "single_use")
EXPANDABLE = ("application", "customer", "latest_attempt", "mandate", "on_behalf_of",
              "payment_method", "single_use_mandate")
CARD_OPTION_KEYS = ("network", "request_three_d_secure")
AUTHENTICATION_FAILED = ("We are unable to authenticate your payment method. Please choose a "
                         "different payment method and try again.")
MISSING_PAYMENT_METHOD = (
    "You cannot confirm this SetupIntent because it's missing a payment method. You can either "
    "update the SetupIntent with a payment method and then confirm it again, or confirm it again "
    "directly with a payment method or ConfirmationToken.")


class SetupIntents:
    def __init__(self, model, customers):
        self.model = model          # stripe_model.StripeModel: payment methods, emit
        self.customers = customers  # stripe_customers.Customers
        self.reset()

    def reset(self):
        self.intents = {}   # id → (setup_intent dict, seq)
        self.attempts = {}  # setatt_… → setup_attempt dict
        self._seq = itertools.count(1)

    def handlers(self):
        return {
            ("POST", "/v1/setup_intents"): lambda ids, p, ctx: self.create(p, ctx),
            ("GET", "/v1/setup_intents"): lambda ids, p, ctx: self.list(p, ctx),
            ("GET", "/v1/setup_intents/{intent}"):
                lambda ids, p, ctx: self.retrieve(ids["intent"], p, ctx),
            ("POST", "/v1/setup_intents/{intent}"):
                lambda ids, p, ctx: self.update(ids["intent"], p, ctx),
            ("POST", CONFIRM_PATH): lambda ids, p, ctx: self.confirm(ids["intent"], p, ctx),
        }

    # ---------------------------------------------------------- rendering
    def get(self, seti_id):
        if seti_id not in self.intents:
            raise resource_missing("setupintent", seti_id, "intent")
        return self.intents[seti_id][0]

    def render(self, si, expand=()):
        si = copy.deepcopy(si)
        for path in expand:
            name = path.split(".")[0]
            if name == "customer" and si["customer"]:
                si["customer"] = self.customers.render_any(si["customer"])
            elif name == "payment_method" and si["payment_method"]:
                si["payment_method"] = copy.deepcopy(
                    self.model.payment_methods[si["payment_method"]].obj)
            elif name == "latest_attempt" and si["latest_attempt"]:
                si["latest_attempt"] = copy.deepcopy(self.attempts[si["latest_attempt"]])
        return si

    def _out(self, si, params):
        return self.render(si, params.get("expand", ()))

    def _emit(self, event_type, si, ctx):
        self.model.emit(event_type, self.render(si), ctx)

    # ---------------------------------------------------------- API operations
    def create(self, params, ctx):
        _refuse_unmodeled(params)
        check_expand_paths(params.get("expand", ()), EXPANDABLE)
        customer = self._customer_param(params)
        pm = self._payment_method_param(params)
        if pm:
            _check_owner(pm, customer, None)
        metadata = merge_metadata({}, params.get("metadata", {}))
        apm = _automatic_payment_methods(params, ctx)
        seti_id = new_id("seti_")
        si = {
            "id": seti_id, "object": "setup_intent", "application": None,
            "automatic_payment_methods": apm, "cancellation_reason": None,
            "client_secret": f"{seti_id}_secret_{new_id('', 32)}", "created": now(),
            "customer": customer, "description": params.get("description"),
            "flow_directions": None, "last_setup_error": None, "latest_attempt": None,
            "livemode": False, "mandate": None, "metadata": metadata, "next_action": None,
            "on_behalf_of": None, "payment_method": pm.id if pm else None,
            "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                                "request_three_d_secure": "automatic"}},
            "payment_method_types": params.get("payment_method_types", ["card"]),
            "single_use_mandate": None,
            "status": "requires_confirmation" if pm else "requires_payment_method",
            "usage": params.get("usage", "off_session")}
        _merge_card_options(si, params)
        self.intents[seti_id] = (si, next(self._seq))
        self._emit("setup_intent.created", si, ctx)
        if params.get("confirm"):
            self._confirm(si, pm, params, ctx)
        return self._out(si, params)

    def retrieve(self, seti_id, params, ctx):
        check_expand_paths(params.get("expand", ()), EXPANDABLE)
        return self._out(self.get(seti_id), params)

    def update(self, seti_id, params, ctx):
        _refuse_unmodeled(params)
        check_expand_paths(params.get("expand", ()), EXPANDABLE)
        si = self.get(seti_id)
        payment_fields = ("payment_method", "payment_method_types", "payment_method_options")
        if any(k in params for k in payment_fields) and si["status"] not in CONFIRMABLE:
            raise self._unexpected(si, "update")
        customer = self._customer_param(params) if "customer" in params else si["customer"]
        pm = self._payment_method_param(params)
        if pm:
            _check_owner(pm, customer, self.render(si))
        si["metadata"] = merge_metadata(si["metadata"], params.get("metadata"))
        if "description" in params:
            si["description"] = params["description"] or None
        if "payment_method_types" in params:
            si["payment_method_types"] = params["payment_method_types"]
        _merge_card_options(si, params)
        si["customer"] = customer
        if pm:
            si.update(payment_method=pm.id, status="requires_confirmation", next_action=None)
        return self._out(si, params)

    def confirm(self, seti_id, params, ctx):
        check_expand_paths(params.get("expand", ()), EXPANDABLE)
        si = self.get(seti_id)
        if ctx.key_kind == "pk_test":
            _check_client_secret(si, params.get("client_secret"))
        pm_id = params.get("payment_method", si["payment_method"])
        if not pm_id:
            raise invalid_request(MISSING_PAYMENT_METHOD, code="setup_intent_unexpected_state",
                                  executed=False, setup_intent=self.render(si))
        if si["status"] not in CONFIRMABLE:
            raise self._unexpected(si, "confirm")
        pm = self.model.resolve_payment_method(pm_id)
        _merge_card_options(si, params)
        self._confirm(si, pm, params, ctx)
        return self._out(si, params)

    def list(self, params, ctx):
        check_expand_paths(params.get("expand", ()), EXPANDABLE, "data.")
        _refuse_unmodeled(params)
        ordered = sorted(self.intents.values(), key=lambda e: (e[0]["created"], e[1]),
                         reverse=True)

        def keep(entry):
            si = entry[0]
            return all((
                "customer" not in params or si["customer"] == params["customer"],
                "payment_method" not in params or si["payment_method"] == params["payment_method"],
                created_matches(si["created"], params.get("created"))))

        page, more = paginate(ordered, lambda e: e[0]["id"], params, "setupintent", keep)
        inner = [p[len("data."):] for p in params.get("expand", ())]
        return {"object": "list", "url": "/v1/setup_intents", "has_more": more,
                "data": [self.render(si, inner) for si, _ in page]}

    # ---------------------------------------------------------- confirmation
    def _confirm(self, si, pm, params, ctx):
        redirects = si["automatic_payment_methods"] and \
            si["automatic_payment_methods"].get("allow_redirects") != "never"
        if redirects and ctx.key_kind != "pk_test" and not params.get("return_url"):
            raise invalid_request(RETURN_URL_MESSAGE, "return_url", executed=False)
        _check_owner(pm, si["customer"], self.render(si))
        si.update(payment_method=pm.id, last_setup_error=None, next_action=None)
        outcome = setup_outcome(pm.card)
        if outcome == "decline":
            self._decline(si, pm, ctx)
        if outcome == "authenticate":
            self._new_attempt(si, pm, "requires_action")
            source = new_id("src_")
            si.update(status="requires_action", next_action={
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": source,
                                   "stripe_js": "https://hooks.stripe.com/redirect/authenticate/"
                                                f"{source}?client_secret=src_client_secret_"
                                                f"{new_id('', 24)}"}})
            self._emit("setup_intent.requires_action", si, ctx)
            return
        self._succeed(si, pm, ctx, three_d_secure=False)

    def _succeed(self, si, pm, ctx, three_d_secure):
        self._new_attempt(si, pm, "succeeded", three_d_secure=three_d_secure)
        if si["customer"]:
            self.customers.attach(pm, si["customer"], ctx)
        if si["usage"] == "off_session":
            pm.set_up_off_session = True
        si.update(status="succeeded", payment_method=pm.id, next_action=None,
                  last_setup_error=None)
        self._emit("setup_intent.succeeded", si, ctx)

    def _decline(self, si, pm, ctx):
        card = pm.card
        error = error_object("card_error", card.message, "card_declined",
                             decline_code=card.decline_code, payment_method=copy.deepcopy(pm.obj))
        self._new_attempt(si, pm, "failed", error=error)
        si.update(status="requires_payment_method", payment_method=None, next_action=None,
                  last_setup_error=error)
        self._emit("setup_intent.setup_failed", si, ctx)
        raise StripeError(402, dict(error, setup_intent=self.render(si)))

    def _new_attempt(self, si, pm, status, error=None, three_d_secure=False):
        attempt_id = new_id("setatt_")
        card = pm.obj["card"]
        self.attempts[attempt_id] = {
            "id": attempt_id, "object": "setup_attempt", "application": None,
            "created": now(), "customer": si["customer"], "flow_directions": None,
            "livemode": False, "on_behalf_of": None, "payment_method": pm.id,
            "payment_method_details": {"card": {
                "brand": card["brand"], "checks": None, "country": card["country"],
                "exp_month": card["exp_month"], "exp_year": card["exp_year"],
                "fingerprint": card["fingerprint"], "funding": card["funding"],
                "last4": card["last4"], "network": card["brand"],
                "three_d_secure": {"authentication_flow": "challenge", "result": "authenticated",
                                   "result_reason": None, "version": "2.2.0"}
                if three_d_secure else None, "wallet": None}, "type": "card"},
            "setup_error": error, "setup_intent": si["id"], "status": status,
            "usage": si["usage"]}
        si["latest_attempt"] = attempt_id

    def _unexpected(self, si, verb):
        status = si["status"]
        if status == "succeeded":
            message = f"You cannot {verb} this SetupIntent because it has already succeeded."
        elif status == "canceled":
            message = f"You cannot {verb} this SetupIntent because it has been canceled."
        else:
            message = (f"You cannot {verb} this SetupIntent because it has a status of {status}. "
                       "Only a SetupIntent with one of the following statuses may be "
                       f"{verb.rstrip('e')}ed: {', '.join(CONFIRMABLE)}.")
        return invalid_request(message, code="setup_intent_unexpected_state",
                               setup_intent=self.render(si))

    # ---------------------------------------------------------- params
    def _customer_param(self, params):
        if not params.get("customer"):
            return None
        return self.customers.require(params["customer"], "customer")["id"]

    def _payment_method_param(self, params):
        if not params.get("payment_method"):
            return None
        return self.model.resolve_payment_method(params["payment_method"])

    # ---------------------------------------------------------- test controls
    def authenticate(self, seti_id, succeed, ctx):
        """Finish (or fail) the customer's 3-D Secure step of a requires_action SetupIntent."""
        si = self.get(seti_id)
        if si["status"] != "requires_action":
            raise invalid_request(
                f"You cannot authenticate this SetupIntent because it has a status of "
                f"{si['status']}. Only a SetupIntent with one of the following statuses may be "
                "authenticated: requires_action.", code="setup_intent_unexpected_state",
                setup_intent=self.render(si))
        pm = self.model.payment_methods[si["payment_method"]]
        if succeed:
            self._succeed(si, pm, ctx, three_d_secure=True)
        else:
            error = error_object("invalid_request_error", AUTHENTICATION_FAILED,
                                 "setup_intent_authentication_failure",
                                 payment_method=copy.deepcopy(pm.obj))
            self._new_attempt(si, pm, "failed", error=error)
            si.update(status="requires_payment_method", payment_method=None, next_action=None,
                      last_setup_error=error)
            self._emit("setup_intent.setup_failed", si, ctx)
        return self.render(si)


# ------------------------------------------------------------------ helpers
def _refuse_unmodeled(params):
    for name in UNMODELED_PARAMS:
        if name in params:
            raise invalid_request(f"The Stripe test double does not model '{name}'.", name,
                                  executed=False)


def _merge_card_options(si, params):
    requested = params.get("payment_method_options", {})
    card = requested.get("card") if isinstance(requested, dict) else None
    if isinstance(card, dict):
        if "mandate_options" in card:
            raise invalid_request("The Stripe test double does not model "
                                  "'payment_method_options[card][mandate_options]'.",
                                  "payment_method_options[card][mandate_options]", executed=False)
        si["payment_method_options"]["card"].update(
            {k: v for k, v in card.items() if k in CARD_OPTION_KEYS})


def _check_owner(pm, customer, intent_view):
    """Recorded wording (create carries no setup_intent, update/confirm do)."""
    owner = pm.obj["customer"]
    if owner is None or owner == customer:
        return
    carried = {"setup_intent": intent_view} if intent_view else {}
    if customer is None:
        message = (f"The payment method supplied ({pm.id}) belongs to the Customer {owner}. "
                   "Please include the Customer in the `customer` parameter on the SetupIntent.")
    else:
        message = (f"The PaymentMethod {pm.id} does not belong to the Customer you supplied "
                   f"{customer}. Please use this PaymentMethod with the Customer that it belongs "
                   "to instead.")
    raise invalid_request(message, "payment_method", executed=False, **carried)


def _check_client_secret(si, client_secret):
    if not client_secret:
        raise invalid_request("Missing required param: client_secret.", "client_secret",
                              "parameter_missing", executed=False)
    if client_secret != si["client_secret"]:
        raise invalid_request(
            "The client_secret provided does not match any associated SetupIntent on this "
            "account. Ensure the publishable key used belongs to the same account that created "
            "the SetupIntent.", "client_secret", "setup_intent_invalid_parameter",
            executed=False)

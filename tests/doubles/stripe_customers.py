"""Customers and PaymentMethods for the Stripe double (issue 12: saving a card).

- Customers: create, retrieve (a deleted one answers ``{"id","object":"customer",
  "deleted":true}``), update, delete, list. Events ``customer.created``,
  ``customer.updated``, ``customer.deleted``.
- PaymentMethods: retrieve, update (metadata, billing_details) and attach to a
  Customer. A ``pm_card_…`` test token used anywhere becomes a new concrete
  ``pm_…`` (stripe_model.resolve_payment_method), as in Stripe. Attaching runs
  the card's setup check: the decline test cards refuse with a 402
  ``card_error`` (``pm_card_chargeCustomerFail`` attaches and declines later).
  Event ``payment_method.attached``.

The PaymentMethods themselves live in ``StripeModel.payment_methods`` (the
intents use them); this module owns who they belong to. Not thread-safe: the
caller (stripe_double.StripeApp) holds its lock around every call; params are
already checked against the OpenAPI schema.
"""

import copy
import itertools
import secrets
import string
from dataclasses import dataclass

from stripe_model import created_matches
from stripe_model import (StripeError, check_expand_paths, error_object, invalid_request,
                          merge_metadata, new_id, now, paginate, resource_missing, setup_outcome)

# Params Stripe has that need objects the double does not have.
UNMODELED_CUSTOMER_PARAMS = (
    "balance", "bank_account", "card", "cash_balance", "coupon", "default_alipay_account",
    "default_bank_account", "default_card", "default_source", "invoice_prefix",
    "next_invoice_sequence", "promotion_code", "shipping", "source", "tax", "tax_exempt",
    "tax_id_data", "test_clock")
UNMODELED_PM_PARAMS = ("card", "link", "us_bank_account")
CUSTOMER_EXPANDABLE = ("default_source", "invoice_settings.default_payment_method", "test_clock")
PM_EXPANDABLE = ("customer",)
ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")


@dataclass
class Customer:
    obj: dict
    seq: int
    deleted: bool = False


def refuse_unmodeled(params, names):
    for name in names:
        if name in params:
            raise invalid_request(f"The Stripe test double does not model '{name}'.", name,
                                  executed=False)


class Customers:
    def __init__(self, model):
        self.model = model  # stripe_model.StripeModel: payment methods, emit
        self.reset()

    def reset(self):
        self.customers = {}
        self._seq = itertools.count(1)

    def handlers(self):
        """(method, OpenAPI path template) → handler(path_ids, params, ctx)."""
        return {
            ("POST", "/v1/customers"): lambda ids, p, ctx: self.create(p, ctx),
            ("GET", "/v1/customers"): lambda ids, p, ctx: self.list(p, ctx),
            ("GET", "/v1/customers/{customer}"):
                lambda ids, p, ctx: self.retrieve(ids["customer"], p, ctx),
            ("POST", "/v1/customers/{customer}"):
                lambda ids, p, ctx: self.update(ids["customer"], p, ctx),
            ("DELETE", "/v1/customers/{customer}"):
                lambda ids, p, ctx: self.delete(ids["customer"], p, ctx),
            ("GET", "/v1/payment_methods/{payment_method}"):
                lambda ids, p, ctx: self.retrieve_pm(ids["payment_method"], p, ctx),
            ("POST", "/v1/payment_methods/{payment_method}"):
                lambda ids, p, ctx: self.update_pm(ids["payment_method"], p, ctx),
            ("POST", "/v1/payment_methods/{payment_method}/attach"):
                lambda ids, p, ctx: self.attach_pm(ids["payment_method"], p, ctx),
        }

    # ---------------------------------------------------------- lookups
    def require(self, customer_id, param):
        """A live customer named by a parameter, else 400 resource_missing."""
        record = self.customers.get(customer_id)
        if record is None or record.deleted:
            raise resource_missing("customer", customer_id, param, status=400)
        return record.obj

    def _get(self, customer_id):
        """A customer named by the URL (404 ``param: id`` as Stripe)."""
        record = self.customers.get(customer_id)
        if record is None:
            raise resource_missing("customer", customer_id, "id")
        return record

    def render_any(self, customer_id):
        record = self.customers.get(customer_id)
        if record is None or record.deleted:
            return deleted_stub(customer_id)
        return copy.deepcopy(record.obj)

    def _out(self, obj, params):
        obj = copy.deepcopy(obj)
        if "invoice_settings.default_payment_method" in params.get("expand", ()):
            default = obj["invoice_settings"]["default_payment_method"]
            if default:
                obj["invoice_settings"]["default_payment_method"] = copy.deepcopy(
                    self.model.payment_methods[default].obj)
        return obj

    # ---------------------------------------------------------- customers
    def create(self, params, ctx):
        refuse_unmodeled(params, UNMODELED_CUSTOMER_PARAMS)
        check_expand_paths(params.get("expand", ()), CUSTOMER_EXPANDABLE)
        _check_invoice_settings(params)
        customer_id = "cus_" + new_id("", 14)
        obj = {
            "id": customer_id, "object": "customer", "address": None, "balance": 0,
            "created": now(), "currency": None, "default_source": None, "delinquent": False,
            "description": None, "discount": None, "email": None,
            "invoice_prefix": "".join(secrets.choice(string.ascii_uppercase + string.digits)
                                      for _ in range(8)),
            "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                                 "footer": None, "rendering_options": None},
            "livemode": False, "metadata": merge_metadata({}, params.get("metadata", {})),
            "name": None, "next_invoice_sequence": 1, "phone": None, "preferred_locales": [],
            "shipping": None, "tax_exempt": "none", "test_clock": None}
        _apply_fields(obj, params)
        pm = self.model.resolve_payment_method(params["payment_method"]) \
            if params.get("payment_method") else None
        if pm:
            _check_attachable(pm, customer_id)
        self.customers[customer_id] = Customer(obj, next(self._seq))
        self.model.emit("customer.created", copy.deepcopy(obj), ctx)
        if pm:
            self.attach(pm, customer_id, ctx)
        self._set_default(obj, params)
        return self._out(obj, params)

    def retrieve(self, customer_id, params, ctx):
        check_expand_paths(params.get("expand", ()), CUSTOMER_EXPANDABLE)
        record = self._get(customer_id)
        if record.deleted:
            return deleted_stub(customer_id)
        return self._out(record.obj, params)

    def update(self, customer_id, params, ctx):
        refuse_unmodeled(params, UNMODELED_CUSTOMER_PARAMS)
        check_expand_paths(params.get("expand", ()), CUSTOMER_EXPANDABLE)
        record = self._get(customer_id)
        if record.deleted:
            raise resource_missing("customer", customer_id, "id")
        _check_invoice_settings(params)
        obj = record.obj
        metadata = merge_metadata(obj["metadata"], params.get("metadata"))
        self._set_default(obj, params, check_only=True)
        _apply_fields(obj, params)
        obj["metadata"] = metadata
        self._set_default(obj, params)
        self.model.emit("customer.updated", copy.deepcopy(obj), ctx)
        return self._out(obj, params)

    def delete(self, customer_id, params, ctx):
        record = self._get(customer_id)
        if record.deleted:
            raise resource_missing("customer", customer_id, "id")
        record.deleted = True
        for pm in self.model.payment_methods.values():
            if pm.obj["customer"] == customer_id:
                pm.obj["customer"] = None  # Stripe detaches the customer's payment methods
        self.model.emit("customer.deleted", copy.deepcopy(record.obj), ctx)
        return deleted_stub(customer_id)

    def list(self, params, ctx):
        check_expand_paths(params.get("expand", ()), CUSTOMER_EXPANDABLE, "data.")
        refuse_unmodeled(params, ("test_clock",))
        live = sorted((r for r in self.customers.values() if not r.deleted),
                      key=lambda r: (r.obj["created"], r.seq), reverse=True)

        def keep(record):
            email_ok = "email" not in params or record.obj["email"] == params["email"]
            return email_ok and created_matches(record.obj["created"], params.get("created"))

        page, more = paginate(live, lambda r: r.obj["id"], params, "customer", keep)
        inner = {"expand": [p[len("data."):] for p in params.get("expand", ())]}
        return {"object": "list", "url": "/v1/customers", "has_more": more,
                "data": [self._out(r.obj, inner) for r in page]}

    def _set_default(self, obj, params, check_only=False):
        settings = params.get("invoice_settings")
        if not isinstance(settings, dict) or "default_payment_method" not in settings:
            return
        pm_id = settings["default_payment_method"]
        if pm_id:
            pm = self.model.payment_methods.get(pm_id)
            if pm is None or pm.obj["customer"] != obj["id"]:
                raise invalid_request(
                    f"The customer does not have a payment method with the ID {pm_id}. The "
                    "payment method must be attached to the customer.",
                    "invoice_settings[default_payment_method]", executed=False)
        if not check_only:
            obj["invoice_settings"]["default_payment_method"] = pm_id or None

    # ---------------------------------------------------------- payment methods
    def _pm_from_url(self, pm_id):
        if pm_id not in self.model.payment_methods and not pm_id.startswith("pm_card_"):
            raise resource_missing("PaymentMethod", pm_id, "payment_method")
        try:
            return self.model.resolve_payment_method(pm_id)
        except StripeError:  # an unknown pm_card_… token
            raise resource_missing("PaymentMethod", pm_id, "payment_method") from None

    def _pm_out(self, pm, params):
        obj = copy.deepcopy(pm.obj)
        if "customer" in params.get("expand", ()) and obj["customer"]:
            obj["customer"] = self.render_any(obj["customer"])
        return obj

    def retrieve_pm(self, pm_id, params, ctx):
        check_expand_paths(params.get("expand", ()), PM_EXPANDABLE)
        return self._pm_out(self._pm_from_url(pm_id), params)

    def update_pm(self, pm_id, params, ctx):
        refuse_unmodeled(params, UNMODELED_PM_PARAMS)
        check_expand_paths(params.get("expand", ()), PM_EXPANDABLE)
        pm = self._pm_from_url(pm_id)
        metadata = merge_metadata(pm.obj["metadata"], params.get("metadata"))
        details = params.get("billing_details")
        if isinstance(details, dict):
            billing = pm.obj["billing_details"]
            for key in ("email", "name", "phone"):
                if key in details:
                    billing[key] = details[key] or None
            if isinstance(details.get("address"), dict):
                billing["address"].update({k: v or None for k, v in details["address"].items()})
            elif details.get("address") == "":
                billing["address"] = dict.fromkeys(ADDRESS_KEYS)
        pm.obj["metadata"] = metadata
        self.model.emit("payment_method.updated", copy.deepcopy(pm.obj), ctx)
        return self._pm_out(pm, params)

    def attach_pm(self, pm_id, params, ctx):
        check_expand_paths(params.get("expand", ()), PM_EXPANDABLE)
        pm = self._pm_from_url(pm_id)
        customer_id = self.require(params["customer"], "customer")["id"]
        if pm.obj["customer"] not in (None, customer_id):
            raise invalid_request("The payment method you provided has already been attached to "
                                  "a customer.")
        _check_attachable(pm, customer_id)
        self.attach(pm, customer_id, ctx)
        return self._pm_out(pm, params)

    def attach(self, pm, customer_id, ctx):
        """Attach without checks (a setup or payment already proved the card)."""
        if pm.obj["customer"] == customer_id:
            return
        pm.obj["customer"] = customer_id
        self.model.emit("payment_method.attached", copy.deepcopy(pm.obj), ctx)


# ------------------------------------------------------------------ helpers
def deleted_stub(customer_id):
    return {"id": customer_id, "object": "customer", "deleted": True}


def _check_attachable(pm, customer_id):
    """Attaching verifies the card: the decline test cards refuse (402)."""
    card = pm.card
    if setup_outcome(card) == "decline":
        raise StripeError(402, error_object("card_error", card.message, "card_declined",
                                            decline_code=card.decline_code))


def _check_invoice_settings(params):
    settings = params.get("invoice_settings")
    if isinstance(settings, dict):
        for key in settings:
            if key != "default_payment_method":
                raise invalid_request("The Stripe test double does not model "
                                      f"'invoice_settings[{key}]'.", f"invoice_settings[{key}]",
                                      executed=False)


def _apply_fields(obj, params):
    for key in ("description", "email", "name", "phone"):
        if key in params:
            obj[key] = params[key] or None
    if "preferred_locales" in params:
        obj["preferred_locales"] = list(params["preferred_locales"] or [])
    if "address" in params:
        address = params["address"]
        obj["address"] = None if address == "" else {k: address.get(k) or None
                                                      for k in ADDRESS_KEYS}


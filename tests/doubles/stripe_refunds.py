"""Refunds and charges of the Stripe double: POST/GET /v1/refunds,
GET/POST /v1/refunds/{refund}, GET/POST /v1/charges/{charge}
(STRIPE-NEXT §7; messages from real Stripe answers quoted by integrators
[secondary], see README).

- A refund needs a captured charge (``payment_intent`` → its ``latest_charge``,
  or ``charge``); ``amount`` defaults to what is left (``amount_captured -
  amount_refunded``); partial refunds add up to at most ``amount_captured``.
- Card refunds succeed at once (test mode); the charge's ``amount_refunded`` and
  ``refunded`` follow. Events: ``charge.refunded`` (Charge), ``refund.created``
  (Refund). A refund can fail later (``fail``, or the ``pm_card_refundFail``
  card): ``refund.updated`` + ``refund.failed``, and the amount is refundable again.
- A charge under a chargeback (dispute with ``is_charge_refundable: false``) is
  refused with ``charge_disputed``.

Not thread-safe: StripeApp's lock is held around every call. Charges are the
dicts stripe_model keeps in ``model.charges``; this module adds to them only
``amount_refunded``, ``refunded``, ``description``, ``metadata``,
``receipt_email``, ``fraud_details``, ``transfer_group``.
"""

import copy

from stripe_model import (StripeError, error_object, invalid_request, merge_metadata, money,
                          new_id, now, resource_missing)
from stripe_resources import check_expand, inner_expand, list_answer

REFUND_EXPANDABLE = ("charge", "payment_intent")
CHARGE_EXPANDABLE = ("refunds", "payment_intent", "application", "application_fee", "customer",
                     "invoice", "on_behalf_of", "review", "source_transfer", "transfer")
UNMODELED_REFUND_PARAMS = ("customer", "instructions_email", "origin", "refund_application_fee",
                           "reverse_transfer")
FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card",
                   "charge_for_pending_refund_disputed", "insufficient_funds", "declined",
                   "merchant_request", "unknown")
REFUND_FAIL_CARD = ("visa", "5126")  # pm_card_refundFail: the refund fails after it succeeded


class Refunds:
    def __init__(self, model, emit, dispute_of):
        self.model = model
        self.emit = emit
        self.dispute_of = dispute_of  # charge id → dispute dict or None
        self.reset()

    def reset(self):
        self.refunds = {}  # id → Refund object, creation order

    # ---------------------------------------------------------- refunds
    def create(self, params, ctx):
        _refuse_unmodeled(params)
        check_expand(params.get("expand", ()), REFUND_EXPANDABLE)
        if "amount" in params and params["amount"] < 1:
            raise invalid_request("Invalid positive integer", "amount", executed=False)
        charge = self._refundable_charge(params)
        if "currency" in params and params["currency"].lower() != charge["currency"]:
            raise invalid_request(f"The currency {params['currency'].lower()} does not match the "
                                  f"charge's currency ({charge['currency']}).", "currency",
                                  executed=False)
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        amount = params.get("amount", remaining)
        _check_amount(charge, amount, remaining)
        refund = {"id": new_id("re_"), "object": "refund", "amount": amount,
                  "balance_transaction": new_id("txn_"), "charge": charge["id"],
                  "created": now(), "currency": charge["currency"],
                  "destination_details": {"card": {"reference": None, "reference_status":
                                                   "pending", "reference_type":
                                                   "acquirer_reference_number", "type": "refund"},
                                          "type": "card"},
                  "metadata": merge_metadata({}, params.get("metadata", {})),
                  "payment_intent": charge["payment_intent"], "reason": params.get("reason"),
                  "receipt_number": None, "source_transfer_reversal": None,
                  "status": "succeeded", "transfer_reversal": None}
        self.refunds[refund["id"]] = refund
        self._book(charge, amount)
        self.emit("charge.refunded", copy.deepcopy(charge), ctx)
        self.emit("refund.created", copy.deepcopy(refund), ctx)
        answer = self.render(refund, params.get("expand", ()))
        if self._card_of(charge) == REFUND_FAIL_CARD:
            self.fail(refund["id"], "expired_or_canceled_card", ctx)  # "some time later"
        return answer

    def retrieve(self, refund_id, params, ctx):
        check_expand(params.get("expand", ()), REFUND_EXPANDABLE)
        return self.render(self.get(refund_id), params.get("expand", ()))

    def update(self, refund_id, params, ctx):
        check_expand(params.get("expand", ()), REFUND_EXPANDABLE)
        refund = self.get(refund_id)
        refund["metadata"] = merge_metadata(refund["metadata"], params.get("metadata"))
        self.emit("refund.updated", copy.deepcopy(refund), ctx)
        return self.render(refund, params.get("expand", ()))

    def list(self, params, ctx):
        check_expand(params.get("expand", ()), REFUND_EXPANDABLE, "data.")
        refunds = [r for r in reversed(self.refunds.values())
                   if params.get("charge") in (None, r["charge"])
                   and params.get("payment_intent") in (None, r["payment_intent"])]
        inner = inner_expand(params)
        return list_answer("/v1/refunds", refunds, params, "refund",
                           lambda r: self.render(r, inner))

    def fail(self, refund_id, reason, ctx):
        """The card network gives the money back (test mode: at once)."""
        refund = self.get(refund_id)
        if refund["status"] not in ("succeeded", "pending"):
            raise invalid_request(f"Refund {refund_id} has a status of {refund['status']}; only a "
                                  "succeeded or pending refund can fail.")
        refund.update(status="failed", failure_reason=reason,
                      failure_balance_transaction=new_id("txn_"))
        self._book(self.model.charges[refund["charge"]], -refund["amount"])
        self.emit("refund.updated", copy.deepcopy(refund), ctx)
        self.emit("refund.failed", copy.deepcopy(refund), ctx)
        return self.render(refund)

    def get(self, refund_id):
        refund = self.refunds.get(refund_id)
        if refund is None:
            raise resource_missing("refund", refund_id, "refund")
        return refund

    def render(self, refund, expand=()):
        out = copy.deepcopy(refund)
        if "charge" in expand:
            out["charge"] = self.render_charge(self.model.charges[refund["charge"]])
        if "payment_intent" in expand and refund["payment_intent"]:
            out["payment_intent"] = self.model.render(self.model.get(refund["payment_intent"]))
        return out

    def _refundable_charge(self, params):
        charge = self._charge_param(params)
        intent_id = charge["payment_intent"] if charge else params["payment_intent"]
        if charge is None:
            intent = self.model.intents.get(intent_id)
            if intent is None:
                raise resource_missing("payment_intent", intent_id, "payment_intent", status=400)
            charge = self.model.charges.get(intent.pi["latest_charge"])
        if charge is None or charge["status"] != "succeeded" or not charge["amount_captured"]:
            raise invalid_request(f"This PaymentIntent ({intent_id}) does not have a successful "
                                  "charge to refund.")
        dispute = self.dispute_of(charge["id"])
        if dispute is not None and not dispute["is_charge_refundable"]:
            raise invalid_request(f"Charge {charge['id']} has been charged back; cannot issue a "
                                  "refund.", code="charge_disputed")
        return charge

    def _charge_param(self, params):
        if "charge" not in params and "payment_intent" not in params:
            raise invalid_request("One of the following params should be provided for this "
                                  "request: payment_intent or charge.", "payment_intent",
                                  "parameter_missing", executed=False)
        if "charge" not in params:
            return None
        charge = self.model.charges.get(params["charge"])
        if charge is None:
            raise resource_missing("charge", params["charge"], "charge", status=400)
        if params.get("payment_intent") not in (None, charge["payment_intent"]):
            raise invalid_request(f"Charge {charge['id']} does not belong to PaymentIntent "
                                  f"{params['payment_intent']}.", "charge", executed=False)
        return charge

    @staticmethod
    def _book(charge, amount):
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"] > 0

    def _card_of(self, charge):
        pm = self.model.payment_methods.get(charge["payment_method"])
        return (pm.card.brand, pm.card.last4) if pm else None

    # ---------------------------------------------------------- charges
    def retrieve_charge(self, charge_id, params, ctx):
        check_expand(params.get("expand", ()), CHARGE_EXPANDABLE)
        return self.render_charge(self.get_charge(charge_id), params.get("expand", ()))

    def update_charge(self, charge_id, params, ctx):
        for name in ("customer", "shipping"):
            if name in params:
                raise invalid_request(f"The Stripe test double does not model '{name}'.", name,
                                      executed=False)
        check_expand(params.get("expand", ()), CHARGE_EXPANDABLE)
        charge = self.get_charge(charge_id)
        charge["metadata"] = merge_metadata(charge["metadata"], params.get("metadata"))
        for key in ("description", "receipt_email", "transfer_group"):
            if key in params:
                charge[key] = params[key] or None
        if "fraud_details" in params:
            report = params["fraud_details"]["user_report"]
            charge["fraud_details"] = {"user_report": report} if report else {}
        self.emit("charge.updated", copy.deepcopy(charge), ctx)
        return self.render_charge(charge, params.get("expand", ()))

    def get_charge(self, charge_id):
        charge = self.model.charges.get(charge_id)
        if charge is None:
            raise resource_missing("charge", charge_id, "charge")
        return charge

    def render_charge(self, charge, expand=()):
        out = copy.deepcopy(charge)
        if "refunds" in expand:
            mine = [self.render(r) for r in reversed(self.refunds.values())
                    if r["charge"] == charge["id"]]
            out["refunds"] = {"object": "list", "data": mine, "has_more": False,
                              "url": f"/v1/charges/{charge['id']}/refunds"}
        if "payment_intent" in expand and charge["payment_intent"]:
            out["payment_intent"] = self.model.render(self.model.get(charge["payment_intent"]))
        return out


def _refuse_unmodeled(params):
    for name in UNMODELED_REFUND_PARAMS:
        if name in params:
            raise invalid_request(f"The Stripe test double does not model '{name}'.", name,
                                  executed=False)


def _check_amount(charge, amount, remaining):
    currency = charge["currency"]
    if remaining <= 0:
        raise StripeError(400, error_object(
            "invalid_request_error", f"Charge {charge['id']} has already been refunded.",
            "charge_already_refunded"))
    if amount <= remaining:
        return
    if charge["amount_refunded"] == 0:
        limit = f"charge amount ({money(charge['amount_captured'], currency)})"
    else:
        limit = f"unrefunded amount on charge ({money(remaining, currency)})"
    raise invalid_request(f"Refund amount ({money(amount, currency)}) is greater than {limit}",
                          "amount")

"""Disputes of the Stripe double (STRIPE-NEXT §4): GET /v1/disputes, GET/POST
/v1/disputes/{dispute}, POST /v1/disputes/{dispute}/close, the dispute test cards,
and the control operations that open, escalate and decide a dispute.

Life of a dispute here:
- opened on a captured charge (control call, or a dispute test card once its
  PaymentIntent succeeds): ``needs_response`` (a chargeback: funds withdrawn,
  ``is_charge_refundable: false``) or ``warning_needs_response`` (an inquiry: no
  money moves, the charge can still be refunded). Events
  ``charge.dispute.created`` (+ ``charge.dispute.funds_withdrawn``).
- ``POST /v1/disputes/{id}`` with ``submit=false`` stages evidence (merged into
  what is staged, any number of times); with ``submit=true`` — or with evidence
  and no ``submit``, Stripe's default — it submits once: ``under_review`` /
  ``warning_under_review``, ``submission_count`` + 1. Afterwards evidence and
  ``submit`` are refused; ``metadata`` stays updatable. Each update:
  ``charge.dispute.updated``. File fields must name a File with purpose
  dispute_evidence; text ≤ 150,000 characters in all, files ≤ 4.5 MB in all.
- closed: ``/close`` (accept: ``lost``, or ``warning_closed`` for an inquiry), the
  control call (``won``/``lost``), or Stripe's test-mode evidence
  ``uncategorized_text`` = ``winning_evidence`` / ``losing_evidence`` on submission.
  Events ``charge.dispute.funds_reinstated`` (won chargeback) and
  ``charge.dispute.closed``.

Not thread-safe: StripeApp's lock is held around every call.
"""

import copy

from stripe_model import (DAY, StripeError, TestCard, error_object, invalid_request,
                          merge_metadata, new_id, now, resource_missing)
from stripe_resources import check_expand, inner_expand, list_answer

REASONS = ("bank_cannot_process", "check_returned", "credit_not_processed", "customer_initiated",
           "debit_not_authorized", "duplicate", "fraudulent", "general",
           "incorrect_account_details", "insufficient_funds", "noncompliant",
           "product_not_received", "product_unacceptable", "subscription_canceled",
           "unrecognized")
RESPONDABLE = ("needs_response", "warning_needs_response")
INQUIRY = ("warning_needs_response", "warning_under_review", "warning_closed")
CLOSED = ("won", "lost", "warning_closed")
FILE_FIELDS = ("cancellation_policy", "customer_communication", "customer_signature",
               "duplicate_charge_documentation", "receipt", "refund_policy",
               "service_documentation", "shipping_documentation", "uncategorized_file")
TEXT_FIELDS = ("access_activity_log", "billing_address", "cancellation_policy_disclosure",
               "cancellation_rebuttal", "customer_email_address", "customer_name",
               "customer_purchase_ip", "duplicate_charge_explanation", "duplicate_charge_id",
               "product_description", "refund_policy_disclosure", "refund_refusal_explanation",
               "service_date", "shipping_address", "shipping_carrier", "shipping_date",
               "shipping_tracking_number", "uncategorized_text")
MAX_EVIDENCE_CHARS = 150_000
MAX_EVIDENCE_FILE_BYTES = 4_500_000  # [secondary] WooCommerce Payments' measured limit
TOO_MUCH_FILE_EVIDENCE = (
    "The files you've attached to this dispute as evidence will exceed the limit for a dispute's "
    "total size. Try using smaller files as evidence. Hint: if you've attached images, you might "
    "want to try providing them in lower resolutions.")
DEFAULT_DUE_DAYS = 7
DISPUTE_FEES = {"jpy": 2000}  # else 1500 minor units (15.00) [unconfirmed]
VISA_REASON_CODES = {"fraudulent": "10.4", "product_not_received": "13.1",
                     "product_unacceptable": "13.3", "duplicate": "12.6.1",
                     "credit_not_processed": "13.6", "subscription_canceled": "13.2",
                     "general": "13.7"}
TEST_OUTCOMES = {"winning_evidence": "won", "losing_evidence": "lost"}
EXPANDABLE = ("charge", "payment_intent") + tuple(f"evidence.{f}" for f in FILE_FIELDS)

# Stripe's dispute test cards: the charge succeeds, then is disputed (after capture).
DISPUTE_TEST_CARDS = {
    "pm_card_createDispute": (TestCard("visa", "0259"), "fraudulent", "needs_response"),
    "pm_card_createDisputeProductNotReceived": (TestCard("visa", "2685"),
                                                "product_not_received", "needs_response"),
    "pm_card_createDisputeInquiry": (TestCard("visa", "1976"), "fraudulent",
                                     "warning_needs_response"),
}
OTHER_TEST_CARDS = {"pm_card_refundFail": TestCard("visa", "5126")}


def install_test_cards(table):
    """Add the claims test cards to stripe_model.TEST_PAYMENT_METHODS."""
    table.update({name: card for name, (card, _, _) in DISPUTE_TEST_CARDS.items()})
    table.update(OTHER_TEST_CARDS)


_BY_CARD = {card: (reason, status) for card, reason, status in DISPUTE_TEST_CARDS.values()}


class Disputes:
    def __init__(self, model, files, emit):
        self.model = model
        self.files = files
        self.emit = emit
        self.reset()

    def reset(self):
        self.disputes = {}  # id → Dispute object, creation order

    # ---------------------------------------------------------- API operations
    def retrieve(self, dispute_id, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE)
        return self.render(self.get(dispute_id), params.get("expand", ()))

    def list(self, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE, "data.")
        found = [d for d in reversed(self.disputes.values())
                 if params.get("charge") in (None, d["charge"])
                 and params.get("payment_intent") in (None, d["payment_intent"])]
        inner = inner_expand(params)
        return list_answer("/v1/disputes", found, params, "dispute",
                           lambda d: self.render(d, inner))

    def update(self, dispute_id, params, ctx):
        check_expand(params.get("expand", ()), EXPANDABLE)
        dispute = self.get(dispute_id)
        evidence = params.get("evidence")
        submit = params.get("submit", evidence is not None)  # Stripe's default is true
        if (evidence is not None or submit) and dispute["status"] not in RESPONDABLE:
            raise _not_respondable(dispute, "update the evidence of")
        staged = self._merged_evidence(dispute["evidence"], evidence or {})
        if submit and not any(staged.values()):
            raise invalid_request("You must provide evidence before submitting a dispute "
                                  "response.", "evidence", executed=False)
        dispute["metadata"] = merge_metadata(dispute["metadata"], params.get("metadata"))
        dispute["evidence"] = staged
        details = dispute["evidence_details"]
        details["has_evidence"] = any(v for k, v in staged.items() if k != "enhanced_evidence")
        if submit:
            details["submission_count"] += 1
            details["past_due"] = details["due_by"] is not None and now() > details["due_by"]
            dispute["status"] = "warning_under_review" if _is_inquiry(dispute) else "under_review"
        self._emit("charge.dispute.updated", dispute, ctx)
        outcome = TEST_OUTCOMES.get(staged.get("uncategorized_text")) if submit else None
        if outcome:  # Stripe test mode decides such a dispute right after submission
            self._decide(dispute, outcome if not _is_inquiry(dispute) else "warning_closed", ctx)
        return self.render(dispute, params.get("expand", ()))

    def close(self, dispute_id, params, ctx):
        """Accept the dispute: ``lost`` (``warning_closed`` for an inquiry). Irreversible."""
        check_expand(params.get("expand", ()), EXPANDABLE)
        dispute = self.get(dispute_id)
        if dispute["status"] not in RESPONDABLE:
            raise _not_respondable(dispute, "close")
        self._decide(dispute, "warning_closed" if _is_inquiry(dispute) else "lost", ctx)
        return self.render(dispute, params.get("expand", ()))

    # ---------------------------------------------------------- control operations
    def open(self, charge_id, ctx, reason="fraudulent", amount=None, status="needs_response",
             due_by=...):
        charge = self.model.charges.get(charge_id)
        if charge is None:
            raise resource_missing("charge", charge_id, "charge")
        if not charge["captured"] or charge["status"] != "succeeded":
            raise invalid_request(f"Charge {charge_id} has not been captured: only captured "
                                  "charges can be disputed.")
        if self.for_charge(charge_id) is not None:
            raise invalid_request(f"Charge {charge_id} already has a dispute.")
        if reason not in REASONS or status not in RESPONDABLE:
            raise ValueError(f"reason must be one of {', '.join(REASONS)}; status one of "
                             f"{', '.join(RESPONDABLE)}")
        disputable = charge["amount_captured"] - charge["amount_refunded"]
        amount = disputable if amount is None else amount
        if not isinstance(amount, int) or isinstance(amount, bool) or not 1 <= amount <= \
                charge["amount_captured"]:
            raise ValueError(f"amount must be an integer from 1 to {charge['amount_captured']}")
        created = now()
        dispute = _new_dispute(charge, self._brand(charge), reason, amount, status, created,
                               created + DEFAULT_DUE_DAYS * DAY if due_by is ... else due_by)
        self.disputes[dispute["id"]] = dispute
        charge["disputed"] = True
        self._emit("charge.dispute.created", dispute, ctx)
        if not _is_inquiry(dispute):
            self._withdraw(dispute, ctx)
        return self.render(dispute)

    def escalate(self, dispute_id, ctx):
        """An inquiry becomes a chargeback (``needs_response``; funds withdrawn)."""
        dispute = self.get(dispute_id)
        if dispute["status"] not in ("warning_needs_response", "warning_under_review"):
            raise _not_respondable(dispute, "escalate")
        dispute.update(status="needs_response", is_charge_refundable=False)
        dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
        self._emit("charge.dispute.updated", dispute, ctx)
        self._withdraw(dispute, ctx)
        return self.render(dispute)

    def decide(self, dispute_id, outcome, ctx):
        dispute = self.get(dispute_id)
        if dispute["status"] in CLOSED:
            raise _not_respondable(dispute, "decide")
        if _is_inquiry(dispute):
            if outcome not in ("won", "warning_closed"):
                raise ValueError("an inquiry closes with 'warning_closed' (or 'won'); to lose "
                                 "it, escalate it first")
            outcome = "warning_closed"
        elif outcome not in ("won", "lost"):
            raise ValueError("outcome must be 'won' or 'lost' ('warning_closed' for an inquiry)")
        self._decide(dispute, outcome, ctx)
        return self.render(dispute)

    # ---------------------------------------------------------- hooks and lookups
    def on_intent_succeeded(self, intent, ctx):
        """Stripe's dispute test cards: the captured charge is disputed."""
        charge = self.model.charges.get(intent["latest_charge"])
        pm = charge and self.model.payment_methods.get(charge["payment_method"])
        behaviour = pm and _BY_CARD.get(pm.card)
        if behaviour and charge["captured"] and self.for_charge(charge["id"]) is None:
            reason, status = behaviour
            self.open(charge["id"], ctx, reason=reason, status=status)

    def for_charge(self, charge_id):
        return next((d for d in self.disputes.values() if d["charge"] == charge_id), None)

    def get(self, dispute_id):
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise resource_missing("dispute", dispute_id, "dispute")
        return dispute

    def render(self, dispute, expand=()):
        out = copy.deepcopy(dispute)
        for path in expand:
            if path == "charge":
                out["charge"] = copy.deepcopy(self.model.charges[dispute["charge"]])
            elif path == "payment_intent" and dispute["payment_intent"]:
                out["payment_intent"] = self.model.render(self.model.get(dispute["payment_intent"]))
            elif path.startswith("evidence.") and out["evidence"].get(path[9:]):
                out["evidence"][path[9:]] = copy.deepcopy(
                    self.files.get(out["evidence"][path[9:]]).obj)
        return out

    # ---------------------------------------------------------- internals
    def _merged_evidence(self, current, update):
        staged = dict(current)
        for name, value in update.items():
            if name in FILE_FIELDS and value:
                self._check_file(name, value)
            staged[name] = value or None
        text = sum(len(staged[name] or "") for name in TEXT_FIELDS)
        if text > MAX_EVIDENCE_CHARS:
            raise invalid_request(f"Evidence text fields may have at most {MAX_EVIDENCE_CHARS:,} "
                                  f"characters in all (this update would make {text:,}).",
                                  "evidence", executed=False)
        file_ids = {staged[name] for name in FILE_FIELDS if staged[name]}
        if sum(len(self.files.get(f).data) for f in file_ids) > MAX_EVIDENCE_FILE_BYTES:
            raise invalid_request(TOO_MUCH_FILE_EVIDENCE, "evidence", executed=False)
        return staged

    def _check_file(self, name, file_id):
        param = f"evidence[{name}]"
        stored = self.files.find(file_id)
        if stored is None:
            raise StripeError(400, error_object("invalid_request_error",
                                                f"No such file upload: '{file_id}'",
                                                "resource_missing", param), executed=False)
        if stored.obj["purpose"] != "dispute_evidence":
            raise invalid_request(f"The file {file_id} has purpose {stored.obj['purpose']}; "
                                  "dispute evidence must have purpose dispute_evidence.", param,
                                  executed=False)

    def _decide(self, dispute, outcome, ctx):
        reinstate = outcome == "won" and len(dispute["balance_transactions"]) == 1
        dispute["status"] = outcome
        if reinstate:
            dispute["balance_transactions"].append(_balance_transaction(dispute, reversal=True))
            self._emit("charge.dispute.funds_reinstated", dispute, ctx)
        self._emit("charge.dispute.closed", dispute, ctx)

    def _withdraw(self, dispute, ctx):
        dispute["balance_transactions"].append(_balance_transaction(dispute, reversal=False))
        self._emit("charge.dispute.funds_withdrawn", dispute, ctx)

    def _emit(self, event_type, dispute, ctx):
        self.emit(event_type, copy.deepcopy(dispute), ctx)

    def _brand(self, charge):
        return charge["payment_method_details"]["card"]["brand"]


def _is_inquiry(dispute):
    return dispute["status"] in INQUIRY


def _not_respondable(dispute, verb):
    return invalid_request(f"You cannot {verb} this dispute because it has a status of "
                           f"{dispute['status']}. Only a dispute with one of the following "
                           f"statuses may be updated with evidence or closed: "
                           f"{', '.join(RESPONDABLE)}.")


def _new_dispute(charge, brand, reason, amount, status, created, due_by):
    code = VISA_REASON_CODES.get(reason) if brand == "visa" else None
    inquiry = status in INQUIRY
    evidence = dict.fromkeys(sorted(FILE_FIELDS + TEXT_FIELDS))
    evidence["enhanced_evidence"] = {}
    return {"id": new_id("du_"), "object": "dispute", "amount": amount,
            "balance_transactions": [], "charge": charge["id"], "created": created,
            "currency": charge["currency"], "enhanced_eligibility_types": [],
            "evidence": evidence,
            "evidence_details": {"due_by": due_by, "enhanced_eligibility": {},
                                 "has_evidence": False, "past_due": False,
                                 "submission_count": 0},
            "is_charge_refundable": inquiry, "livemode": False, "metadata": {},
            "network_reason_code": code, "payment_intent": charge["payment_intent"],
            "payment_method_details": {"card": {"brand": brand,
                                                "case_type": "inquiry" if inquiry else "chargeback",
                                                "network_reason_code": code}, "type": "card"},
            "reason": reason, "status": status}


def _balance_transaction(dispute, reversal):
    currency = dispute["currency"]
    fee = 0 if reversal else DISPUTE_FEES.get(currency, 1500)
    amount = dispute["amount"] if reversal else -dispute["amount"]
    created = now()
    fees = [{"amount": fee, "application": None, "currency": currency,
             "description": "Dispute fee", "type": "stripe_fee"}] if fee else []
    kind = "reversal" if reversal else "withdrawal"
    return {"id": new_id("txn_"), "object": "balance_transaction", "amount": amount,
            "available_on": created, "created": created, "currency": currency,
            "description": f"Chargeback {kind} for {dispute['charge']}", "exchange_rate": None,
            "fee": fee, "fee_details": fees, "net": amount - fee,
            "reporting_category": "dispute_reversal" if reversal else "dispute",
            "source": dispute["id"], "status": "available", "type": "adjustment"}
